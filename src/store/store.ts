import { and, asc, eq, gt, isNull, lte, sql } from 'drizzle-orm';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import * as schema from './schema';

/**
 * Repositories over drizzle's SQLite core, so the same code runs on better-sqlite3 (Node)
 * and D1 (Workers). No interactive transactions (D1 has none): every single-use value is
 * consumed by ONE conditional `UPDATE … WHERE consumed_at IS NULL … RETURNING`, so two
 * concurrent requests can never both win.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Database = BaseSQLiteDatabase<'sync' | 'async', any, typeof schema>;

export type SiopRequest = typeof schema.siopRequests.$inferSelect;
export type Application = typeof schema.applications.$inferSelect;
export type ApplicationStatus = Application['status'];
export type PreAuthorizedCode = typeof schema.preAuthorizedCodes.$inferSelect;
export type AccessTokenRecord = typeof schema.accessTokens.$inferSelect;
export type CNonce = typeof schema.cNonces.$inferSelect;
export type Transaction = typeof schema.transactions.$inferSelect;
export type IssuedCredential = typeof schema.issuedCredentials.$inferSelect;

/** The IDV outcome as the applications table keeps it (no PII beyond what the KCC carries). */
export interface IdvOutcome {
  status: 'approved' | 'rejected' | 'review';
  provider: string;
  countryOfResidence: string;
  tier?: string;
  evidence: unknown[];
  reason?: string;
}

export function createStore(db: Database) {
  const { siopRequests, applications, preAuthorizedCodes, accessTokens, cNonces, transactions, issuedCredentials } = schema;

  return {
    siopRequests: {
      async create(row: typeof siopRequests.$inferInsert): Promise<void> {
        await db.insert(siopRequests).values(row);
      },
      /** Marks the nonce used if it exists, is unexpired and unused; returns the request or undefined. */
      async consume(nonce: string, now: number): Promise<SiopRequest | undefined> {
        const rows = await db
          .update(siopRequests)
          .set({ consumedAt: now })
          .where(and(eq(siopRequests.nonce, nonce), isNull(siopRequests.consumedAt), gt(siopRequests.expiresAt, now)))
          .returning();
        return rows[0];
      },
      /** Deletes requests whose nonce expired at or before `now` (used or not); returns how many. */
      async deleteExpired(now: number): Promise<number> {
        const rows = await db.delete(siopRequests).where(lte(siopRequests.expiresAt, now)).returning({ nonce: siopRequests.nonce });
        return rows.length;
      },
    },

    applications: {
      async create(row: typeof applications.$inferInsert): Promise<void> {
        await db.insert(applications).values(row);
      },
      async get(id: string): Promise<Application | undefined> {
        const rows = await db.select().from(applications).where(eq(applications.id, id)).limit(1);
        return rows[0];
      },
      async findByFormToken(formTokenHash: string): Promise<Application | undefined> {
        const rows = await db.select().from(applications).where(eq(applications.formTokenHash, formTokenHash)).limit(1);
        return rows[0];
      },
      /**
       * Records the IDV result of a form submission, once: only while the form is unsubmitted,
       * unexpired and the application still pending.
       */
      async submitIdv(formTokenHash: string, outcome: IdvOutcome, now: number): Promise<Application | undefined> {
        const decided = outcome.status !== 'review';
        const rows = await db
          .update(applications)
          .set({
            status: outcome.status,
            formSubmittedAt: now,
            idvProvider: outcome.provider,
            countryOfResidence: outcome.countryOfResidence,
            tier: outcome.tier ?? null,
            evidence: JSON.stringify(outcome.evidence),
            decisionReason: outcome.reason ?? null,
            decidedBy: decided ? `idv:${outcome.provider}` : null,
            decidedAt: decided ? now : null,
            updatedAt: now,
          })
          .where(
            and(
              eq(applications.formTokenHash, formTokenHash),
              isNull(applications.formSubmittedAt),
              eq(applications.status, 'pending'),
              gt(applications.formExpiresAt, now),
            ),
          )
          .returning();
        return rows[0];
      },
      /** An operator's decision on an application awaiting review; undefined if it is not in review. */
      async decideReview(
        id: string,
        decision: { status: 'approved' | 'rejected'; tier?: string; reason?: string; decidedBy: string },
        now: number,
      ): Promise<Application | undefined> {
        const rows = await db
          .update(applications)
          .set({
            status: decision.status,
            ...(decision.tier ? { tier: decision.tier } : {}),
            decisionReason: decision.reason ?? null,
            decidedBy: decision.decidedBy,
            decidedAt: now,
            updatedAt: now,
          })
          .where(and(eq(applications.id, id), eq(applications.status, 'review')))
          .returning();
        return rows[0];
      },
      async listByStatus(status: ApplicationStatus, limit = 100): Promise<Application[]> {
        return db.select().from(applications).where(eq(applications.status, status)).orderBy(asc(applications.createdAt)).limit(limit);
      },
    },

    preAuthorizedCodes: {
      async create(row: typeof preAuthorizedCodes.$inferInsert): Promise<void> {
        await db.insert(preAuthorizedCodes).values(row);
      },
      /** Redeems a code for the DID it was issued to; undefined if unknown, expired, used, or another DID's. */
      async redeem(codeHash: string, applicantDid: string, now: number): Promise<PreAuthorizedCode | undefined> {
        const rows = await db
          .update(preAuthorizedCodes)
          .set({ consumedAt: now })
          .where(
            and(
              eq(preAuthorizedCodes.codeHash, codeHash),
              eq(preAuthorizedCodes.applicantDid, applicantDid),
              isNull(preAuthorizedCodes.consumedAt),
              gt(preAuthorizedCodes.expiresAt, now),
            ),
          )
          .returning();
        return rows[0];
      },
      async get(codeHash: string): Promise<PreAuthorizedCode | undefined> {
        const rows = await db.select().from(preAuthorizedCodes).where(eq(preAuthorizedCodes.codeHash, codeHash)).limit(1);
        return rows[0];
      },
      /** Deletes codes that expired at or before `before`; returns how many. */
      async deleteExpired(before: number): Promise<number> {
        const rows = await db.delete(preAuthorizedCodes).where(lte(preAuthorizedCodes.expiresAt, before)).returning({ codeHash: preAuthorizedCodes.codeHash });
        return rows.length;
      },
    },

    accessTokens: {
      async create(row: typeof accessTokens.$inferInsert): Promise<void> {
        await db.insert(accessTokens).values(row);
      },
      async get(jti: string): Promise<AccessTokenRecord | undefined> {
        const rows = await db.select().from(accessTokens).where(eq(accessTokens.jti, jti)).limit(1);
        return rows[0];
      },
      /** RFC 6749 §4.1.2: a replayed code revokes the tokens issued from it. */
      async revokeByCode(codeHash: string, now: number): Promise<number> {
        const rows = await db
          .update(accessTokens)
          .set({ revokedAt: now })
          .where(and(eq(accessTokens.codeHash, codeHash), isNull(accessTokens.revokedAt)))
          .returning({ jti: accessTokens.jti });
        return rows.length;
      },
    },

    cNonces: {
      async create(row: typeof cNonces.$inferInsert): Promise<void> {
        await db.insert(cNonces).values(row);
      },
      async consume(nonce: string, accessTokenJti: string, now: number): Promise<CNonce | undefined> {
        const rows = await db
          .update(cNonces)
          .set({ consumedAt: now })
          .where(and(eq(cNonces.nonce, nonce), eq(cNonces.accessTokenJti, accessTokenJti), isNull(cNonces.consumedAt), gt(cNonces.expiresAt, now)))
          .returning();
        return rows[0];
      },
      /** Deletes c_nonces that expired at or before `now` (used or not); returns how many. */
      async deleteExpired(now: number): Promise<number> {
        const rows = await db.delete(cNonces).where(lte(cNonces.expiresAt, now)).returning({ nonce: cNonces.nonce });
        return rows.length;
      },
    },

    transactions: {
      async create(row: typeof transactions.$inferInsert): Promise<void> {
        await db.insert(transactions).values(row);
      },
      async get(id: string): Promise<Transaction | undefined> {
        const rows = await db.select().from(transactions).where(eq(transactions.id, id)).limit(1);
        return rows[0];
      },
      /** Consumes the transaction for one credential; undefined if it was already used. */
      async consume(id: string, credentialId: string, now: number): Promise<Transaction | undefined> {
        const rows = await db
          .update(transactions)
          .set({ consumedAt: now, credentialId })
          .where(and(eq(transactions.id, id), isNull(transactions.consumedAt)))
          .returning();
        return rows[0];
      },
    },

    issuedCredentials: {
      async record(row: typeof issuedCredentials.$inferInsert): Promise<void> {
        await db.insert(issuedCredentials).values(row);
      },
      async listForApplication(applicationId: string): Promise<IssuedCredential[]> {
        return db.select().from(issuedCredentials).where(eq(issuedCredentials.applicationId, applicationId));
      },
      async count(): Promise<number> {
        const rows = await db.select({ n: sql<number>`count(*)` }).from(issuedCredentials);
        return Number(rows[0]?.n ?? 0);
      },
    },
  };
}

export type Store = ReturnType<typeof createStore>;
