import { and, asc, desc, eq, gt, isNotNull, isNull, lt, lte, sql } from 'drizzle-orm';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type { Sql } from 'postgres';
import type { Application, ApplicationPrefill, IdvOutcome, Store } from '../types';
import * as schema from './schema';
import { createPostgresIdvRepositories } from './idvStore';
import { createPostgresOperatorAccounts } from './operatorAccounts';
import { createPostgresOperatorSessions } from './operatorSessions';
import type { PostgresDatabase } from './database';

/**
 * The repositories of src/store/store.ts on PostgreSQL (drizzle's pg core), member for member,
 * for many Node instances on one database. The same rules hold: every single-use value is
 * consumed by ONE conditional `UPDATE … WHERE consumed_at IS NULL … RETURNING`. Under READ
 * COMMITTED a second UPDATE of the same row waits for the first to commit and then re-checks its
 * WHERE on the new row version, so of N concurrent consumers on any number of instances exactly
 * one gets the row. Writes that belong together are ONE statement (data-modifying CTEs), atomic
 * like a transaction but in one round trip and without pinning a connection across statements.
 */
export type { PostgresDatabase } from './database';

/** An application row with every optional column present (as store.ts inserts it). */
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

/** JSON text for the raw statements (drizzle's own statements encode typed JSON columns themselves). */
const jsonOrNull = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

export function createPostgresStore(db: PostgresDatabase): Store {
  const { siopRequests, applications, preAuthorizedCodes, accessTokens, cNonces, transactions, issuedCredentials, nonces, notifications } = schema;
  const { statusLists, credentialStatus, credentialStatusEvents, applicationPrefill, statusListCache } = schema;
  const p = (name: string) => sql.placeholder(name);
  // What every flow runs is built once and prepared (drizzle builds a query in about as much CPU
  // as PostgreSQL takes to run it; a prepared one is also parsed and planned once per connection).
  const q = {
    insertSiopRequest: db
      .insert(siopRequests)
      .values({ nonce: p('nonce'), presentationDefinitionId: p('presentationDefinitionId'), createdAt: p('createdAt'), expiresAt: p('expiresAt') })
      .prepare('insert_siop_request'),
    consumeSiopRequest: db
      .update(siopRequests)
      .set({ consumedAt: sql`${p('now')}` })
      .where(and(eq(siopRequests.nonce, p('nonce')), isNull(siopRequests.consumedAt), gt(siopRequests.expiresAt, p('now'))))
      .returning()
      .prepare('consume_siop_request'),
    siopRequestByNonce: db
      .select()
      .from(siopRequests)
      .where(eq(siopRequests.nonce, p('nonce')))
      .limit(1)
      .prepare('siop_request_by_nonce'),
    applicationById: db
      .select()
      .from(applications)
      .where(eq(applications.id, p('id')))
      .limit(1)
      .prepare('application_by_id'),
    applicationByFormToken: db
      .select()
      .from(applications)
      .where(eq(applications.formTokenHash, p('formTokenHash')))
      .limit(1)
      .prepare('application_by_form_token'),
    applicationWithPrefillByFormToken: db
      .select({ application: applications, prefill: applicationPrefill })
      .from(applications)
      .leftJoin(applicationPrefill, eq(applicationPrefill.applicationId, applications.id))
      .where(eq(applications.formTokenHash, p('formTokenHash')))
      .limit(1)
      .prepare('application_with_prefill_by_form_token'),
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
      .prepare('submit_idv'),
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
      .prepare('redeem_code'),
    accessTokenByJti: db
      .select()
      .from(accessTokens)
      .where(eq(accessTokens.jti, p('jti')))
      .limit(1)
      .prepare('access_token_by_jti'),
    consumeCNonce: db
      .update(cNonces)
      .set({ consumedAt: sql`${p('now')}` })
      .where(and(eq(cNonces.nonce, p('nonce')), eq(cNonces.accessTokenJti, p('accessTokenJti')), isNull(cNonces.consumedAt), gt(cNonces.expiresAt, p('now'))))
      .returning()
      .prepare('consume_c_nonce'),
    insertCNonce: db
      .insert(cNonces)
      .values({ nonce: p('nonce'), accessTokenJti: p('accessTokenJti'), expiresAt: p('expiresAt') })
      .prepare('insert_c_nonce'),
    transactionById: db
      .select()
      .from(transactions)
      .where(eq(transactions.id, p('id')))
      .limit(1)
      .prepare('transaction_by_id'),
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
      .prepare('insert_credential'),
    prefillByApplication: db
      .select()
      .from(applicationPrefill)
      .where(eq(applicationPrefill.applicationId, p('applicationId')))
      .limit(1)
      .prepare('prefill_by_application'),
    newestStatusList: db
      .select({ id: statusLists.id, size: statusLists.size })
      .from(statusLists)
      .orderBy(desc(statusLists.id))
      .limit(1)
      .prepare('newest_status_list'),
    // One slot in the newest list while it is under `maxFill` of its size; floor, as SQLite's
    // CAST(… AS INTEGER) truncates (PostgreSQL's cast would round).
    reserveInNewestStatusList: db
      .update(statusLists)
      .set({ allocated: sql`${statusLists.allocated} + 1` })
      .where(
        and(
          sql`${statusLists.id} = (SELECT max(id) FROM status_lists)`,
          sql`${statusLists.allocated} < floor(${statusLists.size} * ${p('maxFill')}::double precision)`,
        ),
      )
      .returning({ id: statusLists.id, size: statusLists.size })
      .prepare('reserve_in_newest_status_list'),
    allocateStatusIndex: db
      .insert(credentialStatus)
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
      .returning({ id: credentialStatus.credentialId })
      .prepare('allocate_status_index'),
  };
  // Writes that belong together: one statement through the driver's tagged template (prepared).
  const client = db.$client;

  return {
    ...createPostgresIdvRepositories(db),
    operatorSessions: createPostgresOperatorSessions(db),
    ...createPostgresOperatorAccounts(db),
    siopRequests: {
      async create(row) {
        await q.insertSiopRequest.execute({ presentationDefinitionId: null, ...row });
      },
      async consume(nonce, now) {
        return (await q.consumeSiopRequest.execute({ nonce, now }))[0];
      },
      async get(nonce) {
        return (await q.siopRequestByNonce.execute({ nonce }))[0];
      },
      async deleteExpired(now) {
        const rows = await db.delete(siopRequests).where(lte(siopRequests.expiresAt, now)).returning({ nonce: siopRequests.nonce });
        return rows.length;
      },
    },

    applications: {
      async create(row) {
        await db.insert(applications).values(applicationRow(row));
      },
      async createWithCode(row, code, prefill) {
        const a = applicationRow(row);
        if (!prefill) {
          await client`
          WITH app AS (
            INSERT INTO applications (id, applicant_did, credential_configuration_id, status, form_token_hash, form_expires_at, form_submitted_at,
              idv_provider, country_of_residence, tier, evidence, decision_reason, decided_by, decided_at, created_at, updated_at)
            VALUES (${a.id}, ${a.applicantDid}, ${a.credentialConfigurationId}, ${a.status}, ${a.formTokenHash}, ${a.formExpiresAt}, ${a.formSubmittedAt},
              ${a.idvProvider}, ${a.countryOfResidence}, ${a.tier}, ${jsonOrNull(a.evidence)}, ${a.decisionReason}, ${a.decidedBy}, ${a.decidedAt}, ${a.createdAt}, ${a.updatedAt})
            RETURNING id
          )
          INSERT INTO pre_authorized_codes (code_hash, application_id, applicant_did, expires_at, consumed_at)
          SELECT ${code.codeHash}::text, ${code.applicationId}::text, ${code.applicantDid}::text, ${code.expiresAt}::bigint, ${code.consumedAt ?? null}::bigint FROM app`;
          return;
        }
        // A renewal or upgrade: its prefill in the same statement (all three rows or none).
        await client`
          WITH app AS (
            INSERT INTO applications (id, applicant_did, credential_configuration_id, status, form_token_hash, form_expires_at, form_submitted_at,
              idv_provider, country_of_residence, tier, evidence, decision_reason, decided_by, decided_at, created_at, updated_at)
            VALUES (${a.id}, ${a.applicantDid}, ${a.credentialConfigurationId}, ${a.status}, ${a.formTokenHash}, ${a.formExpiresAt}, ${a.formSubmittedAt},
              ${a.idvProvider}, ${a.countryOfResidence}, ${a.tier}, ${jsonOrNull(a.evidence)}, ${a.decisionReason}, ${a.decidedBy}, ${a.decidedAt}, ${a.createdAt}, ${a.updatedAt})
            RETURNING id
          ), code AS (
            INSERT INTO pre_authorized_codes (code_hash, application_id, applicant_did, expires_at, consumed_at)
            SELECT ${code.codeHash}::text, ${code.applicationId}::text, ${code.applicantDid}::text, ${code.expiresAt}::bigint, ${code.consumedAt ?? null}::bigint FROM app
            RETURNING application_id
          )
          INSERT INTO application_prefill (application_id, tier_id, verified_evidence, missing_checks, supersedes, presented_credentials, country_of_residence, created_at)
          SELECT ${prefill.applicationId}::text, ${prefill.tierId}::text, ${JSON.stringify(prefill.verifiedEvidence)}::text, ${JSON.stringify(prefill.missingChecks)}::text,
            ${JSON.stringify(prefill.supersedes)}::text, ${JSON.stringify(prefill.presentedCredentials ?? [])}::text, ${prefill.countryOfResidence ?? null}::text, ${prefill.createdAt}::bigint FROM code`;
      },
      async get(id) {
        return (await q.applicationById.execute({ id }))[0];
      },
      async findByFormToken(formTokenHash) {
        return (await q.applicationByFormToken.execute({ formTokenHash }))[0];
      },
      async findByFormTokenWithPrefill(formTokenHash): Promise<{ application: Application; prefill: ApplicationPrefill | null } | undefined> {
        return (await q.applicationWithPrefillByFormToken.execute({ formTokenHash }))[0];
      },
      async withdraw(formTokenHash, now) {
        // Declined consent: the same single-use conditions as submitIdv (a link withdraws or submits, never both).
        const rows = await db
          .update(applications)
          .set({ status: 'withdrawn', formSubmittedAt: now, decisionReason: 'consent_declined', decidedBy: 'applicant', decidedAt: now, updatedAt: now })
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
      async submitIdv(formTokenHash: string, outcome: IdvOutcome, now: number) {
        const decided = outcome.status !== 'review';
        const rows = await q.submitIdv.execute({
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
        return rows[0];
      },
      async decideReview(id, decision, now) {
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
      async listByStatus(status, limit = 100) {
        return db.select().from(applications).where(eq(applications.status, status)).orderBy(asc(applications.createdAt)).limit(limit);
      },
      async listForApplicant(applicantDid, limit = 100) {
        return db.select().from(applications).where(eq(applications.applicantDid, applicantDid)).orderBy(desc(applications.createdAt)).limit(limit);
      },
    },

    preAuthorizedCodes: {
      async create(row) {
        await db.insert(preAuthorizedCodes).values(row);
      },
      async redeem(codeHash, applicantDid, now) {
        return (await q.redeemCode.execute({ codeHash, applicantDid, now }))[0];
      },
      async get(codeHash) {
        return (await db.select().from(preAuthorizedCodes).where(eq(preAuthorizedCodes.codeHash, codeHash)).limit(1))[0];
      },
      async redeemBound(codeHash, now) {
        const rows = await db
          .update(preAuthorizedCodes)
          .set({ consumedAt: now })
          .where(and(eq(preAuthorizedCodes.codeHash, codeHash), isNull(preAuthorizedCodes.consumedAt), gt(preAuthorizedCodes.expiresAt, now)))
          .returning();
        return rows[0];
      },
      async deleteExpired(before) {
        const rows = await db.delete(preAuthorizedCodes).where(lte(preAuthorizedCodes.expiresAt, before)).returning({ codeHash: preAuthorizedCodes.codeHash });
        return rows.length;
      },
    },

    accessTokens: {
      async create(row) {
        await db.insert(accessTokens).values(row);
      },
      async createWithCNonce(row, cNonce) {
        await client`
          WITH token AS (
            INSERT INTO access_tokens (jti, application_id, applicant_did, code_hash, expires_at, revoked_at, token_sha256)
            VALUES (${row.jti}, ${row.applicationId}, ${row.applicantDid}, ${row.codeHash}, ${row.expiresAt}, ${row.revokedAt ?? null}, ${row.tokenSha256 ?? null})
            RETURNING jti
          )
          INSERT INTO c_nonces (nonce, access_token_jti, expires_at, consumed_at)
          SELECT ${cNonce.nonce}::text, ${cNonce.accessTokenJti}::text, ${cNonce.expiresAt}::bigint, ${cNonce.consumedAt ?? null}::bigint FROM token`;
      },
      async get(jti) {
        return (await q.accessTokenByJti.execute({ jti }))[0];
      },
      async revokeByCode(codeHash, now) {
        const rows = await db
          .update(accessTokens)
          .set({ revokedAt: now })
          .where(and(eq(accessTokens.codeHash, codeHash), isNull(accessTokens.revokedAt)))
          .returning({ jti: accessTokens.jti });
        return rows.length;
      },
    },

    cNonces: {
      async create(row) {
        await q.insertCNonce.execute(row);
      },
      async consume(nonce, accessTokenJti, now) {
        return (await q.consumeCNonce.execute({ nonce, accessTokenJti, now }))[0];
      },
      async deleteExpired(now) {
        const rows = await db.delete(cNonces).where(lte(cNonces.expiresAt, now)).returning({ nonce: cNonces.nonce });
        return rows.length;
      },
    },

    transactions: {
      async create(row) {
        await db.insert(transactions).values(row);
      },
      async get(id) {
        return (await q.transactionById.execute({ id }))[0];
      },
      /** The conditional UPDATE picks the single winner; its credential record is written in the same statement. */
      async completeWithCredential(id, credential, now) {
        const rows = await client`
          WITH won AS (
            UPDATE transactions SET consumed_at = ${now}, credential_id = ${credential.id}
            WHERE id = ${id} AND consumed_at IS NULL
            RETURNING id
          )
          INSERT INTO issued_credentials (id, application_id, subject_did, transaction_id, jwt_sha256, issued_at, expires_at)
          SELECT ${credential.id}::text, ${credential.applicationId}::text, ${credential.subjectDid}::text, won.id, ${credential.jwtSha256}::text,
            ${credential.issuedAt}::bigint, ${credential.expiresAt}::bigint
          FROM won
          RETURNING id`;
        return rows.length === 1;
      },
    },

    nonces: {
      async create(row) {
        await db.insert(nonces).values(row);
      },
      async consume(nonce, now) {
        const rows = await db
          .update(nonces)
          .set({ consumedAt: now })
          .where(and(eq(nonces.nonce, nonce), isNull(nonces.consumedAt), gt(nonces.expiresAt, now)))
          .returning();
        return rows[0];
      },
      async pruneExpired(now) {
        const rows = await db.delete(nonces).where(lt(nonces.expiresAt, now)).returning({ nonce: nonces.nonce });
        return rows.length;
      },
    },

    notifications: {
      async create(row) {
        await db.insert(notifications).values(row);
      },
      async get(id) {
        return (await db.select().from(notifications).where(eq(notifications.id, id)).limit(1))[0];
      },
      async recordEvent(id, applicationId, event, now) {
        const rows = await db
          .update(notifications)
          .set({ event: event.event, eventDescription: event.description ?? null, eventAt: now })
          .where(and(eq(notifications.id, id), eq(notifications.applicationId, applicationId)))
          .returning();
        return rows[0];
      },
    },

    issuedCredentials: {
      async record(row) {
        await q.insertCredential.execute({ transactionId: null, ...row });
      },
      async claim(applicationId, credentialId, now) {
        const rows = await db
          .insert(schema.issuanceClaims)
          .values({ applicationId, credentialId, claimedAt: now })
          .onConflictDoNothing()
          .returning({ id: schema.issuanceClaims.applicationId });
        return rows.length === 1;
      },
      async releaseClaim(applicationId, credentialId) {
        await db
          .delete(schema.issuanceClaims)
          .where(and(eq(schema.issuanceClaims.applicationId, applicationId), eq(schema.issuanceClaims.credentialId, credentialId)));
      },
      async listForApplication(applicationId) {
        return db.select().from(issuedCredentials).where(eq(issuedCredentials.applicationId, applicationId));
      },
      async count() {
        const rows = await db.select({ n: sql<string>`count(*)` }).from(issuedCredentials);
        return Number(rows[0]?.n ?? 0);
      },
      async get(id) {
        return (await db.select().from(issuedCredentials).where(eq(issuedCredentials.id, id)).limit(1))[0];
      },
    },

    statusLists: {
      async current(size, now) {
        const rows = await q.newestStatusList.execute();
        if (rows[0]) return rows[0];
        await db.insert(statusLists).values({ id: 1, size, createdAt: now }).onConflictDoNothing();
        return (await q.newestStatusList.execute())[0];
      },
      async open(id, size, now) {
        await db.insert(statusLists).values({ id, size, createdAt: now }).onConflictDoNothing();
        const rows = await db.select({ id: statusLists.id, size: statusLists.size }).from(statusLists).where(eq(statusLists.id, id)).limit(1);
        return rows[0];
      },
      async get(id) {
        const rows = await db
          .select({ id: statusLists.id, size: statusLists.size, version: statusLists.version })
          .from(statusLists)
          .where(eq(statusLists.id, id))
          .limit(1);
        return rows[0];
      },
      async reserveInNewest(maxFill) {
        return (await q.reserveInNewestStatusList.execute({ maxFill }))[0];
      },
      async reserve(id, max) {
        const rows = await db
          .update(statusLists)
          .set({ allocated: sql`${statusLists.allocated} + 1` })
          .where(and(eq(statusLists.id, id), lt(statusLists.allocated, max)))
          .returning({ id: statusLists.id });
        return rows.length === 1;
      },
      async bumpVersion(id) {
        await db
          .update(statusLists)
          .set({ version: sql`${statusLists.version} + 1` })
          .where(eq(statusLists.id, id));
      },
      async cached(id, purpose) {
        const rows = await db
          .select({ version: statusListCache.version, jwt: statusListCache.jwt, expiresAt: statusListCache.expiresAt })
          .from(statusListCache)
          .where(and(eq(statusListCache.listId, id), eq(statusListCache.purpose, purpose)))
          .limit(1);
        return rows[0];
      },
      async cache(row) {
        await db
          .insert(statusListCache)
          .values(row)
          .onConflictDoUpdate({
            target: [statusListCache.listId, statusListCache.purpose],
            set: { version: row.version, jwt: row.jwt, expiresAt: row.expiresAt },
          });
      },
      async setIndices(id, purpose) {
        const flag = purpose === 'revocation' ? isNotNull(credentialStatus.revokedAt) : isNotNull(credentialStatus.suspendedAt);
        const rows = await db
          .select({ i: credentialStatus.listIndex })
          .from(credentialStatus)
          .where(and(eq(credentialStatus.listId, id), flag));
        return rows.map((r) => r.i);
      },
    },

    credentialStatus: {
      async tryAllocate(row) {
        const rows = await q.allocateStatusIndex.execute(row);
        return rows.length === 1;
      },
      async get(credentialId) {
        return (await db.select().from(credentialStatus).where(eq(credentialStatus.credentialId, credentialId)).limit(1))[0];
      },
      async listForSubject(subjectDid) {
        return db.select().from(credentialStatus).where(eq(credentialStatus.subjectDid, subjectDid)).orderBy(desc(credentialStatus.issuedAt));
      },
      async revoke(credentialId, reason, now) {
        const rows = await db
          .update(credentialStatus)
          .set({ revokedAt: now, revocationReason: reason, updatedAt: now })
          .where(and(eq(credentialStatus.credentialId, credentialId), isNull(credentialStatus.revokedAt)))
          .returning();
        return rows[0];
      },
      async suspend(credentialId, reason, now) {
        const rows = await db
          .update(credentialStatus)
          .set({ suspendedAt: now, suspensionReason: reason, updatedAt: now })
          .where(and(eq(credentialStatus.credentialId, credentialId), isNull(credentialStatus.revokedAt), isNull(credentialStatus.suspendedAt)))
          .returning();
        return rows[0];
      },
      async reinstate(credentialId, now) {
        const rows = await db
          .update(credentialStatus)
          .set({ suspendedAt: null, suspensionReason: null, updatedAt: now })
          .where(and(eq(credentialStatus.credentialId, credentialId), isNull(credentialStatus.revokedAt), isNotNull(credentialStatus.suspendedAt)))
          .returning();
        return rows[0];
      },
      async recordEvent(row) {
        await db.insert(credentialStatusEvents).values(row);
      },
      async events(credentialId) {
        return db.select().from(credentialStatusEvents).where(eq(credentialStatusEvents.credentialId, credentialId)).orderBy(asc(credentialStatusEvents.id));
      },
      async expiredUnannounced(now, limit = 100) {
        return db
          .select()
          .from(credentialStatus)
          .where(and(isNull(credentialStatus.expiryAnnouncedAt), lte(credentialStatus.expiresAt, now), isNull(credentialStatus.revokedAt)))
          .orderBy(asc(credentialStatus.expiresAt))
          .limit(limit);
      },
      async markExpiryAnnounced(credentialId, now) {
        const rows = await db
          .update(credentialStatus)
          .set({ expiryAnnouncedAt: now })
          .where(and(eq(credentialStatus.credentialId, credentialId), isNull(credentialStatus.expiryAnnouncedAt)))
          .returning({ id: credentialStatus.credentialId });
        return rows.length === 1;
      },
    },

    applicationPrefill: {
      async create(row) {
        await db.insert(applicationPrefill).values(row);
      },
      async get(applicationId) {
        return (await q.prefillByApplication.execute({ applicationId }))[0];
      },
    },
  };
}
