import { and, asc, eq, isNull, ne } from 'drizzle-orm';
import type { OperatorAccountRepository, PendingApprovalRepository } from '../types';
import { type Dialect, first, touched } from '../dialect';
import { stampOnce } from './singleUse';

/** Named console accounts and four-eyes proposals (low traffic: console sign-ins and decisions). */
export function createOperatorAccountRepositories(d: Dialect) {
  const { db } = d;
  const { operatorAccounts: a, pendingApprovals: pa } = d.tables;

  const operatorAccounts: OperatorAccountRepository = {
    async create(row) {
      return (await touched(db.insert(a).values(row).onConflictDoNothing().returning({ name: a.name }))) === 1;
    },
    async get(name) {
      return first(db.select().from(a).where(eq(a.name, name)).limit(1));
    },
    async list() {
      return db.select().from(a).orderBy(asc(a.name));
    },
    async any() {
      return (await db.select({ name: a.name }).from(a).limit(1)).length > 0;
    },
    async setSecret(name, secretHash, now) {
      return (
        (await touched(
          db
            .update(a)
            .set({ secretHash, updatedAt: now })
            .where(and(eq(a.name, name), isNull(a.disabledAt)))
            .returning({ name: a.name }),
        )) === 1
      );
    },
    async disable(name, now) {
      return (await stampOnce(d, a, 'disabledAt', now, eq(a.name, name), { updatedAt: now })) === 1;
    },
  };

  const pendingApprovals: PendingApprovalRepository = {
    async propose(row) {
      return (await touched(db.insert(pa).values(row).onConflictDoNothing().returning({ id: pa.applicationId }))) === 1;
    },
    async get(applicationId) {
      return first(db.select().from(pa).where(eq(pa.applicationId, applicationId)).limit(1));
    },
    async takeForConfirmation(applicationId, party) {
      // One conditional DELETE: two confirmers race, one takes it; the proposer never does.
      return first(
        db
          .delete(pa)
          .where(and(eq(pa.applicationId, applicationId), ne(pa.party, party)))
          .returning(),
      );
    },
    async clear(applicationId) {
      await db.delete(pa).where(eq(pa.applicationId, applicationId));
    },
  };

  return { operatorAccounts, pendingApprovals };
}
