import { and, asc, eq, isNull, ne } from 'drizzle-orm';
import type { OperatorAccountRepository, PendingApprovalRepository } from '../types';
import type { PostgresDatabase } from './database';
import * as schema from './schema';

/** Named console accounts and four-eyes proposals on PostgreSQL, as src/store/sqlite/operatorAccounts.ts. */
export function createPostgresOperatorAccounts(db: PostgresDatabase): {
  operatorAccounts: OperatorAccountRepository;
  pendingApprovals: PendingApprovalRepository;
} {
  const a = schema.operatorAccounts;
  const pa = schema.pendingApprovals;
  return {
    operatorAccounts: {
      async create(row) {
        return (await db.insert(a).values(row).onConflictDoNothing().returning({ name: a.name })).length === 1;
      },
      async get(name) {
        return (await db.select().from(a).where(eq(a.name, name)).limit(1))[0];
      },
      async list() {
        return db.select().from(a).orderBy(asc(a.name));
      },
      async any() {
        return (await db.select({ name: a.name }).from(a).limit(1)).length > 0;
      },
      async setSecret(name, secretHash, now) {
        return (
          (
            await db
              .update(a)
              .set({ secretHash, updatedAt: now })
              .where(and(eq(a.name, name), isNull(a.disabledAt)))
              .returning({ name: a.name })
          ).length === 1
        );
      },
      async disable(name, now) {
        return (
          (
            await db
              .update(a)
              .set({ disabledAt: now, updatedAt: now })
              .where(and(eq(a.name, name), isNull(a.disabledAt)))
              .returning({ name: a.name })
          ).length === 1
        );
      },
    },
    pendingApprovals: {
      async propose(row) {
        return (await db.insert(pa).values(row).onConflictDoNothing().returning({ id: pa.applicationId })).length === 1;
      },
      async get(applicationId) {
        return (await db.select().from(pa).where(eq(pa.applicationId, applicationId)).limit(1))[0];
      },
      async takeForConfirmation(applicationId, party) {
        return (
          await db
            .delete(pa)
            .where(and(eq(pa.applicationId, applicationId), ne(pa.party, party)))
            .returning()
        )[0];
      },
      async clear(applicationId) {
        await db.delete(pa).where(eq(pa.applicationId, applicationId));
      },
    },
  };
}
