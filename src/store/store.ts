import { and, asc, desc, eq, gt, isNotNull, isNull, lt, lte, sql } from 'drizzle-orm';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import * as schema from './schema';
import { createIdvRepositories } from './idvStore';

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
export type Nonce = typeof schema.nonces.$inferSelect;
export type NotificationRecord = typeof schema.notifications.$inferSelect;
export type NotificationEvent = NonNullable<NotificationRecord['event']>;
export type CredentialStatusRecord = typeof schema.credentialStatus.$inferSelect;
export type CredentialStatusEvent = typeof schema.credentialStatusEvents.$inferSelect;
export type ApplicationPrefill = typeof schema.applicationPrefill.$inferSelect;

/** The IDV outcome as the applications table keeps it (no PII beyond what the KCC carries). */
export interface IdvOutcome {
  status: 'approved' | 'rejected' | 'review';
  provider: string;
  countryOfResidence: string;
  tier?: string;
  evidence: unknown[];
  reason?: string;
}

const p = (name: string) => sql.placeholder(name);

/** An application row with every optional column present (the prepared INSERT binds them all). */
function applicationRow(row: typeof schema.applications.$inferInsert) {
  return {
    formSubmittedAt: null,
    idvProvider: null,
    countryOfResidence: null,
    tier: null,
    evidence: null,
    decisionReason: null,
    decidedBy: null,
    decidedAt: null,
    ...row,
  };
}

export function createStore(db: Database) {
  const { siopRequests, applications, preAuthorizedCodes, accessTokens, cNonces, transactions, issuedCredentials, nonces, notifications } = schema;

  // Hot-path statements are prepared once (SQL built and compiled once per connection),
  // with named placeholders; D1 prepares them the same way.
  const q = {
    insertSiopRequest: db
      .insert(siopRequests)
      .values({ nonce: p('nonce'), presentationDefinitionId: p('presentationDefinitionId'), createdAt: p('createdAt'), expiresAt: p('expiresAt') })
      .prepare(),
    consumeSiopRequest: db
      .update(siopRequests)
      .set({ consumedAt: sql`${p('now')}` })
      .where(and(eq(siopRequests.nonce, p('nonce')), isNull(siopRequests.consumedAt), gt(siopRequests.expiresAt, p('now'))))
      .returning()
      .prepare(),
    insertApplication: db
      .insert(applications)
      .values({
        id: p('id'),
        applicantDid: p('applicantDid'),
        credentialConfigurationId: p('credentialConfigurationId'),
        status: p('status'),
        formTokenHash: p('formTokenHash'),
        formExpiresAt: p('formExpiresAt'),
        formSubmittedAt: p('formSubmittedAt'),
        idvProvider: p('idvProvider'),
        countryOfResidence: p('countryOfResidence'),
        tier: p('tier'),
        evidence: p('evidence'),
        decisionReason: p('decisionReason'),
        decidedBy: p('decidedBy'),
        decidedAt: p('decidedAt'),
        createdAt: p('createdAt'),
        updatedAt: p('updatedAt'),
      })
      .prepare(),
    applicationById: db.select().from(applications).where(eq(applications.id, p('id'))).limit(1).prepare(),
    applicationByFormToken: db.select().from(applications).where(eq(applications.formTokenHash, p('formTokenHash'))).limit(1).prepare(),
    applicationWithPrefillByFormToken: db
      .select({ application: applications, prefill: schema.applicationPrefill })
      .from(applications)
      .leftJoin(schema.applicationPrefill, eq(schema.applicationPrefill.applicationId, applications.id))
      .where(eq(applications.formTokenHash, p('formTokenHash')))
      .limit(1)
      .prepare(),
    insertCode: db
      .insert(preAuthorizedCodes)
      .values({ codeHash: p('codeHash'), applicationId: p('applicationId'), applicantDid: p('applicantDid'), expiresAt: p('expiresAt') })
      .prepare(),
    redeemCode: db
      .update(preAuthorizedCodes)
      .set({ consumedAt: sql`${p('now')}` })
      .where(
        and(
          eq(preAuthorizedCodes.codeHash, p('codeHash')),
          eq(preAuthorizedCodes.applicantDid, p('applicantDid')),
          isNull(preAuthorizedCodes.consumedAt),
          gt(preAuthorizedCodes.expiresAt, p('now')),
        ),
      )
      .returning()
      .prepare(),
    insertAccessToken: db
      .insert(accessTokens)
      .values({ jti: p('jti'), applicationId: p('applicationId'), applicantDid: p('applicantDid'), codeHash: p('codeHash'), expiresAt: p('expiresAt') })
      .prepare(),
    accessTokenByJti: db.select().from(accessTokens).where(eq(accessTokens.jti, p('jti'))).limit(1).prepare(),
    insertCNonce: db.insert(cNonces).values({ nonce: p('nonce'), accessTokenJti: p('accessTokenJti'), expiresAt: p('expiresAt') }).prepare(),
    consumeCNonce: db
      .update(cNonces)
      .set({ consumedAt: sql`${p('now')}` })
      .where(and(eq(cNonces.nonce, p('nonce')), eq(cNonces.accessTokenJti, p('accessTokenJti')), isNull(cNonces.consumedAt), gt(cNonces.expiresAt, p('now'))))
      .returning()
      .prepare(),
    siopRequestByNonce: db.select().from(siopRequests).where(eq(siopRequests.nonce, p('nonce'))).limit(1).prepare(),
    prefillByApplication: db.select().from(schema.applicationPrefill).where(eq(schema.applicationPrefill.applicationId, p('applicationId'))).limit(1).prepare(),
    newestStatusList: db.select().from(schema.statusLists).orderBy(desc(schema.statusLists.id)).limit(1).prepare(),
    insertCredential: db
      .insert(issuedCredentials)
      .values({
        id: p('id'),
        applicationId: p('applicationId'),
        subjectDid: p('subjectDid'),
        transactionId: p('transactionId'),
        jwtSha256: p('jwtSha256'),
        issuedAt: p('issuedAt'),
        expiresAt: p('expiresAt'),
      })
      .prepare(),
    submitIdv: db
      .update(applications)
      .set({
        status: sql`${p('status')}`,
        formSubmittedAt: sql`${p('now')}`,
        idvProvider: sql`${p('provider')}`,
        countryOfResidence: sql`${p('countryOfResidence')}`,
        tier: sql`${p('tier')}`,
        evidence: sql`${p('evidence')}`,
        decisionReason: sql`${p('reason')}`,
        decidedBy: sql`${p('decidedBy')}`,
        decidedAt: sql`${p('decidedAt')}`,
        updatedAt: sql`${p('now')}`,
      })
      .where(
        and(
          eq(applications.formTokenHash, p('formTokenHash')),
          isNull(applications.formSubmittedAt),
          eq(applications.status, 'pending'),
          gt(applications.formExpiresAt, p('now')),
        ),
      )
      .returning()
      .prepare(),
    // One slot in the newest list while it is under `maxFill` of its size.
    reserveInNewestStatusList: db
      .update(schema.statusLists)
      .set({ allocated: sql`${schema.statusLists.allocated} + 1` })
      .where(
        and(
          sql`${schema.statusLists.id} = (SELECT max(id) FROM status_lists)`,
          sql`${schema.statusLists.allocated} < CAST(${schema.statusLists.size} * ${p('maxFill')} AS INTEGER)`,
        ),
      )
      .returning({ id: schema.statusLists.id, size: schema.statusLists.size })
      .prepare(),
    reserveStatusSlot: db
      .update(schema.statusLists)
      .set({ allocated: sql`${schema.statusLists.allocated} + 1` })
      .where(and(eq(schema.statusLists.id, p('id')), sql`${schema.statusLists.allocated} < ${p('max')}`))
      .returning({ id: schema.statusLists.id })
      .prepare(),
    allocateStatusIndex: db
      .insert(schema.credentialStatus)
      .values({
        credentialId: p('credentialId'),
        listId: p('listId'),
        listIndex: p('listIndex'),
        subjectDid: p('subjectDid'),
        tierId: p('tierId'),
        evidence: p('evidence'),
        issuedAt: p('issuedAt'),
        expiresAt: p('expiresAt'),
        updatedAt: p('updatedAt'),
      })
      .onConflictDoNothing()
      .returning({ id: schema.credentialStatus.credentialId })
      .prepare(),
  };
  const { statusLists, credentialStatus, credentialStatusEvents, applicationPrefill, statusListCache } = schema;

  // Writes that belong together: one D1 batch, or on better-sqlite3 one transaction, its wrapper
  // built once (better-sqlite3's own, lighter than drizzle's per-call transaction object).
  const d1 = db as unknown as { batch?: (queries: unknown[]) => Promise<unknown[]> };
  const client = (db as unknown as { $client?: { transaction?: <A extends unknown[]>(fn: (...args: A) => void) => (...args: A) => void } }).$client;
  const syncTransaction = <A extends unknown[]>(fn: (...args: A) => void) => (typeof d1.batch !== 'function' && client?.transaction ? client.transaction(fn) : undefined);
  const insertApplicationWithCode = syncTransaction((row: typeof applications.$inferInsert, code: typeof preAuthorizedCodes.$inferInsert) => {
    q.insertApplication.run(applicationRow(row));
    q.insertCode.run(code);
  });
  const insertAccessTokenWithCNonce = syncTransaction((row: typeof accessTokens.$inferInsert, cNonce: typeof cNonces.$inferInsert) => {
    q.insertAccessToken.run(row);
    q.insertCNonce.run(cNonce);
  });

  return {
    // Issue 5: IDV sessions, vendor events, PII vault, audit trail, outbound-webhook outbox.
    ...createIdvRepositories(db),
    siopRequests: {
      async create(row: typeof siopRequests.$inferInsert): Promise<void> {
        await q.insertSiopRequest.run({ presentationDefinitionId: null, ...row });
      },
      /** Marks the nonce used if it exists, is unexpired and unused; returns the request or undefined. */
      async consume(nonce: string, now: number): Promise<SiopRequest | undefined> {
        const rows = await q.consumeSiopRequest.all({ nonce, now });
        return rows[0];
      },
      /** Reads a request without consuming it (to verify a response against it first). */
      async get(nonce: string): Promise<SiopRequest | undefined> {
        return (await q.siopRequestByNonce.all({ nonce }))[0];
      },
      /** Deletes requests whose nonce expired at or before `now` (used or not); returns how many. */
      async deleteExpired(now: number): Promise<number> {
        const rows = await db.delete(siopRequests).where(lte(siopRequests.expiresAt, now)).returning({ nonce: siopRequests.nonce });
        return rows.length;
      },
    },

    applications: {
      async create(row: typeof applications.$inferInsert): Promise<void> {
        await q.insertApplication.run(applicationRow(row));
      },
      /**
       * Creates an application together with its pre-authorized code, atomically (one SQLite
       * transaction on better-sqlite3, one batch on D1): a crash can never leave an application
       * whose offer has no code to redeem.
       */
      async createWithCode(row: typeof applications.$inferInsert, code: typeof preAuthorizedCodes.$inferInsert): Promise<void> {
        if (insertApplicationWithCode) return insertApplicationWithCode(row, code);
        await d1.batch!([db.insert(applications).values(row), db.insert(preAuthorizedCodes).values(code)]);
      },
      async get(id: string): Promise<Application | undefined> {
        return (await q.applicationById.all({ id }))[0];
      },
      async findByFormToken(formTokenHash: string): Promise<Application | undefined> {
        return (await q.applicationByFormToken.all({ formTokenHash }))[0];
      },
      /** The application behind a form token with its prefill (upgrade/renewal; null when none), in one read. */
      async findByFormTokenWithPrefill(formTokenHash: string): Promise<{ application: Application; prefill: ApplicationPrefill | null } | undefined> {
        return (await q.applicationWithPrefillByFormToken.all({ formTokenHash }))[0];
      },
      /**
       * Records the IDV result of a form submission, once: only while the form is unsubmitted,
       * unexpired and the application still pending.
       */
      async submitIdv(formTokenHash: string, outcome: IdvOutcome, now: number): Promise<Application | undefined> {
        const decided = outcome.status !== 'review';
        const rows = await q.submitIdv.all({
          formTokenHash,
          now,
          status: outcome.status,
          provider: outcome.provider,
          countryOfResidence: outcome.countryOfResidence,
          tier: outcome.tier ?? null,
          evidence: JSON.stringify(outcome.evidence),
          reason: outcome.reason ?? null,
          decidedBy: decided ? `idv:${outcome.provider}` : null,
          decidedAt: decided ? now : null,
        });
        return rows[0] as Application | undefined;
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
        await q.insertCode.run(row);
      },
      /** Redeems a code for the DID it was issued to; undefined if unknown, expired, used, or another DID's. */
      async redeem(codeHash: string, applicantDid: string, now: number): Promise<PreAuthorizedCode | undefined> {
        return (await q.redeemCode.all({ codeHash, applicantDid, now }))[0];
      },
      async get(codeHash: string): Promise<PreAuthorizedCode | undefined> {
        const rows = await db.select().from(preAuthorizedCodes).where(eq(preAuthorizedCodes.codeHash, codeHash)).limit(1);
        return rows[0];
      },
      /**
       * Redeems a code when the wallet sent no client_id (OID4VCI 1.0 §6.1: optional for the
       * pre-authorized grant). The code is already bound to its applicant DID, which the token names.
       */
      async redeemBound(codeHash: string, now: number): Promise<PreAuthorizedCode | undefined> {
        const rows = await db
          .update(preAuthorizedCodes)
          .set({ consumedAt: now })
          .where(and(eq(preAuthorizedCodes.codeHash, codeHash), isNull(preAuthorizedCodes.consumedAt), gt(preAuthorizedCodes.expiresAt, now)))
          .returning();
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
        await q.insertAccessToken.run(row);
      },
      /** The token record and its first c_nonce in one write (one transaction / one D1 batch). */
      async createWithCNonce(row: typeof accessTokens.$inferInsert, cNonce: typeof cNonces.$inferInsert): Promise<void> {
        if (insertAccessTokenWithCNonce) return insertAccessTokenWithCNonce(row, cNonce);
        await d1.batch!([db.insert(accessTokens).values(row), db.insert(cNonces).values(cNonce)]);
      },
      async get(jti: string): Promise<AccessTokenRecord | undefined> {
        return (await q.accessTokenByJti.all({ jti }))[0];
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
        await q.insertCNonce.run(row);
      },
      async consume(nonce: string, accessTokenJti: string, now: number): Promise<CNonce | undefined> {
        return (await q.consumeCNonce.all({ nonce, accessTokenJti, now }))[0];
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
      /**
       * Consumes the transaction AND records its credential atomically (one SQLite transaction
       * on better-sqlite3, one batch on D1): the conditional UPDATE decides the single winner, and
       * the INSERT only takes effect for the row that UPDATE just stamped with this credential id.
       * So a crash can never leave a used transaction without its credential record.
       * Returns false if the transaction was already used.
       */
      async completeWithCredential(id: string, credential: Omit<typeof issuedCredentials.$inferInsert, 'transactionId'>, now: number): Promise<boolean> {
        const update = db
          .update(transactions)
          .set({ consumedAt: now, credentialId: credential.id })
          .where(and(eq(transactions.id, id), isNull(transactions.consumedAt)))
          .returning({ id: transactions.id });
        // INSERT … SELECT through the query builder (not db.run(sql)): drizzle's D1 batch needs a
        // prepared query, and a raw SQLiteRaw with parameters fails there ("reading 'bind'").
        const insert = db.insert(issuedCredentials).select(
          sql`SELECT ${credential.id}, ${credential.applicationId}, ${credential.subjectDid}, ${id}, ${credential.jwtSha256}, ${credential.issuedAt}, ${credential.expiresAt}
          FROM transactions WHERE id = ${id} AND credential_id = ${credential.id}`,
        );
        const anyDb = db as unknown as {
          batch?: (queries: unknown[]) => Promise<unknown[]>;
          transaction: (fn: (tx: unknown) => unknown) => unknown;
        };
        if (typeof anyDb.batch === 'function') {
          const [won] = (await anyDb.batch([update, insert])) as [Array<{ id: string }>];
          return won.length === 1;
        }
        const won = anyDb.transaction(() => {
          const rows = (update as unknown as { all: () => Array<{ id: string }> }).all();
          if (rows.length === 1) (insert as unknown as { run: () => unknown }).run();
          return rows;
        }) as Array<{ id: string }>;
        return won.length === 1;
      },
    },

    /** Nonce Endpoint c_nonces (OID4VCI 1.0 §7): not bound to a token, single use. */
    nonces: {
      async create(row: typeof nonces.$inferInsert): Promise<void> {
        await db.insert(nonces).values(row);
      },
      async consume(nonce: string, now: number): Promise<Nonce | undefined> {
        const rows = await db
          .update(nonces)
          .set({ consumedAt: now })
          .where(and(eq(nonces.nonce, nonce), isNull(nonces.consumedAt), gt(nonces.expiresAt, now)))
          .returning();
        return rows[0];
      },
      /** Deletes nonces that expired before `now` (the endpoint is open, so rows must not pile up). */
      async pruneExpired(now: number): Promise<number> {
        const rows = await db.delete(nonces).where(lt(nonces.expiresAt, now)).returning({ nonce: nonces.nonce });
        return rows.length;
      },
    },

    notifications: {
      async create(row: typeof notifications.$inferInsert): Promise<void> {
        await db.insert(notifications).values(row);
      },
      async get(id: string): Promise<NotificationRecord | undefined> {
        const rows = await db.select().from(notifications).where(eq(notifications.id, id)).limit(1);
        return rows[0];
      },
      /** Records the wallet's event for a notification_id of this application; idempotent (OID4VCI 1.0 §11). */
      async recordEvent(
        id: string,
        applicationId: string,
        event: { event: NotificationEvent; description?: string },
        now: number,
      ): Promise<NotificationRecord | undefined> {
        const rows = await db
          .update(notifications)
          .set({ event: event.event, eventDescription: event.description ?? null, eventAt: now })
          .where(and(eq(notifications.id, id), eq(notifications.applicationId, applicationId)))
          .returning();
        return rows[0];
      },
    },

    issuedCredentials: {
      async record(row: typeof issuedCredentials.$inferInsert): Promise<void> {
        await q.insertCredential.run({ transactionId: null, ...row });
      },
      async listForApplication(applicationId: string): Promise<IssuedCredential[]> {
        return db.select().from(issuedCredentials).where(eq(issuedCredentials.applicationId, applicationId));
      },
      async count(): Promise<number> {
        const rows = await db.select({ n: sql<number>`count(*)` }).from(issuedCredentials);
        return Number(rows[0]?.n ?? 0);
      },
      async get(id: string): Promise<IssuedCredential | undefined> {
        const rows = await db.select().from(issuedCredentials).where(eq(issuedCredentials.id, id)).limit(1);
        return rows[0];
      },
    },

    statusLists: {
      /** The newest list, created (id 1) on first use. */
      async current(size: number, now: number): Promise<{ id: number; size: number }> {
        const rows = await q.newestStatusList.all();
        if (rows[0]) return rows[0];
        await db.insert(statusLists).values({ id: 1, size, createdAt: now }).onConflictDoNothing();
        const again = await db.select().from(statusLists).orderBy(desc(statusLists.id)).limit(1);
        return again[0];
      },
      /** Opens list `id` (idempotent: two concurrent openers agree on it). */
      async open(id: number, size: number, now: number): Promise<{ id: number; size: number }> {
        await db.insert(statusLists).values({ id, size, createdAt: now }).onConflictDoNothing();
        const rows = await db.select().from(statusLists).where(eq(statusLists.id, id)).limit(1);
        return rows[0];
      },
      async get(id: number): Promise<{ id: number; size: number; version: number } | undefined> {
        const rows = await db.select().from(statusLists).where(eq(statusLists.id, id)).limit(1);
        return rows[0];
      },
      /** Reserves one slot in the newest list while under `maxFill` of its size; undefined when there is none or it is full. */
      async reserveInNewest(maxFill: number): Promise<{ id: number; size: number } | undefined> {
        return (await q.reserveInNewestStatusList.all({ maxFill }))[0];
      },
      /** Reserves one slot in list `id` while fewer than `max` are taken (one conditional UPDATE); false when full. */
      async reserve(id: number, max: number): Promise<boolean> {
        const rows = await q.reserveStatusSlot.all({ id, max });
        return rows.length === 1;
      },
      /** Marks list `id` changed, so its cached status list credentials are rebuilt. */
      async bumpVersion(id: number): Promise<void> {
        await db.update(statusLists).set({ version: sql`${statusLists.version} + 1` }).where(eq(statusLists.id, id));
      },
      async cached(id: number, purpose: string): Promise<{ version: number; jwt: string; expiresAt: number } | undefined> {
        const rows = await db
          .select({ version: statusListCache.version, jwt: statusListCache.jwt, expiresAt: statusListCache.expiresAt })
          .from(statusListCache)
          .where(and(eq(statusListCache.listId, id), eq(statusListCache.purpose, purpose)))
          .limit(1);
        return rows[0];
      },
      async cache(row: typeof statusListCache.$inferInsert): Promise<void> {
        await db
          .insert(statusListCache)
          .values(row)
          .onConflictDoUpdate({ target: [statusListCache.listId, statusListCache.purpose], set: { version: row.version, jwt: row.jwt, expiresAt: row.expiresAt } });
      },
      /** Indices of list `id` whose bit is set for the purpose (revoked, or suspended and not revoked). */
      async setIndices(id: number, purpose: 'revocation' | 'suspension'): Promise<number[]> {
        const flag = purpose === 'revocation' ? isNotNull(credentialStatus.revokedAt) : isNotNull(credentialStatus.suspendedAt);
        const rows = await db.select({ i: credentialStatus.listIndex }).from(credentialStatus).where(and(eq(credentialStatus.listId, id), flag));
        return rows.map((r) => r.i);
      },
    },

    credentialStatus: {
      /** Claims (list, index) for a credential; false when the index is taken (the caller draws again). */
      async tryAllocate(row: typeof credentialStatus.$inferInsert): Promise<boolean> {
        const rows = await q.allocateStatusIndex.all(row);
        return rows.length === 1;
      },
      async get(credentialId: string): Promise<CredentialStatusRecord | undefined> {
        const rows = await db.select().from(credentialStatus).where(eq(credentialStatus.credentialId, credentialId)).limit(1);
        return rows[0];
      },
      async listForSubject(subjectDid: string): Promise<CredentialStatusRecord[]> {
        return db.select().from(credentialStatus).where(eq(credentialStatus.subjectDid, subjectDid)).orderBy(desc(credentialStatus.issuedAt));
      },
      /** Revokes (permanent); undefined if unknown or already revoked. */
      async revoke(credentialId: string, reason: string | null, now: number): Promise<CredentialStatusRecord | undefined> {
        const rows = await db
          .update(credentialStatus)
          .set({ revokedAt: now, revocationReason: reason, updatedAt: now })
          .where(and(eq(credentialStatus.credentialId, credentialId), isNull(credentialStatus.revokedAt)))
          .returning();
        return rows[0];
      },
      /** Suspends; undefined if unknown, revoked or already suspended. */
      async suspend(credentialId: string, reason: string | null, now: number): Promise<CredentialStatusRecord | undefined> {
        const rows = await db
          .update(credentialStatus)
          .set({ suspendedAt: now, suspensionReason: reason, updatedAt: now })
          .where(and(eq(credentialStatus.credentialId, credentialId), isNull(credentialStatus.revokedAt), isNull(credentialStatus.suspendedAt)))
          .returning();
        return rows[0];
      },
      /** Lifts a suspension; undefined if unknown, revoked or not suspended. */
      async reinstate(credentialId: string, now: number): Promise<CredentialStatusRecord | undefined> {
        const rows = await db
          .update(credentialStatus)
          .set({ suspendedAt: null, suspensionReason: null, updatedAt: now })
          .where(and(eq(credentialStatus.credentialId, credentialId), isNull(credentialStatus.revokedAt), isNotNull(credentialStatus.suspendedAt)))
          .returning();
        return rows[0];
      },
      async recordEvent(row: typeof credentialStatusEvents.$inferInsert): Promise<void> {
        await db.insert(credentialStatusEvents).values(row);
      },
      async events(credentialId: string): Promise<CredentialStatusEvent[]> {
        return db.select().from(credentialStatusEvents).where(eq(credentialStatusEvents.credentialId, credentialId)).orderBy(asc(credentialStatusEvents.id));
      },
    },

    applicationPrefill: {
      async create(row: typeof applicationPrefill.$inferInsert): Promise<void> {
        await db.insert(applicationPrefill).values(row);
      },
      async get(applicationId: string): Promise<ApplicationPrefill | undefined> {
        return (await q.prefillByApplication.all({ applicationId }))[0];
      },
    },
  };
}

export type Store = ReturnType<typeof createStore>;
