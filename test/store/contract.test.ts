import Database from 'better-sqlite3';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, sqliteStore } from '../../src/runtime/sqlite';
import { purgeExpired } from '../../src/store/purge';
import * as schema from '../../src/store/schema';
import { createSqliteStats, createStore, type Database as StoreDb } from '../../src/store/sqlite';
import type { StatsQueries } from '../../src/store/stats';
import type { FormAnswer, IdvResultWrite, NewApplication, Store } from '../../src/store/types';
import { startD1 } from '../helpers/workerd';
import { startTestPostgres } from '../helpers/postgres';
import { openPostgres } from '../../src/runtime/postgres';

/**
 * One contract for the repositories, run on better-sqlite3 (Node), on D1 in workerd
 * (miniflare) and on a real PostgreSQL server (test/helpers/postgres.ts): every method, and
 * single-use consumption with exactly one winner among many concurrent consumers.
 */
interface Backend {
  store: Store;
  /** The business metrics and /readyz counts over the same database. */
  stats: StatsQueries;
  /** Whether the migrations were recorded by a migrator (the D1 helper applies them without wrangler's table). */
  migrationsRecorded: boolean;
  /** Empties a table (tests assert counts and purges exactly). */
  deleteAll(table: string): Promise<void>;
  close(): Promise<void>;
}

function sqliteBackend(db: StoreDb, close: () => Promise<void>, migrationsRecorded = true): Backend {
  return {
    store: createStore(db),
    stats: createSqliteStats(db),
    migrationsRecorded,
    deleteAll: async (table) => void (await db.run(sql.raw(`DELETE FROM ${table}`))),
    close,
  };
}

const backends: [string, () => Promise<Backend>][] = [
  [
    'better-sqlite3',
    async () => {
      const sqlite = new Database(':memory:');
      const db = drizzle(sqlite, { schema });
      migrate(db, { migrationsFolder: MIGRATIONS_DIR });
      return sqliteBackend(db as unknown as StoreDb, async () => void sqlite.close());
    },
  ],
  [
    'better-sqlite3 with group commit (as the server runs it)',
    async () => {
      const sqlite = new Database(':memory:');
      const db = drizzle(sqlite, { schema });
      migrate(db, { migrationsFolder: MIGRATIONS_DIR });
      const { store } = sqliteStore(sqlite, db as unknown as StoreDb);
      return {
        store,
        stats: createSqliteStats(db as unknown as StoreDb),
        migrationsRecorded: true,
        deleteAll: async (table) => void sqlite.prepare(`DELETE FROM ${table}`).run(),
        close: async () => void sqlite.close(),
      };
    },
  ],
  [
    'D1 (workerd via miniflare)',
    async () => {
      const { mf, db } = await startD1();
      return sqliteBackend(db, () => mf.dispose(), false);
    },
  ],
  [
    'PostgreSQL (postgres.js)',
    async () => {
      const server = await startTestPostgres();
      const pg = await openPostgres(await server.createDatabase(), { poolSize: 10 });
      return {
        store: pg.store,
        stats: pg.stats,
        migrationsRecorded: true,
        deleteAll: async (table) => void (await pg.client.unsafe(`DELETE FROM ${table}`)),
        close: async () => {
          await pg.close();
          await server.stop();
        },
      };
    },
  ],
];

const NOW = 1_800_000_000;
const CONCURRENT = 40;
let seq = 0;
const uid = (p: string) => `${p}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

const ANSWER: FormAnswer = { provider: 'sandbox', countryOfResidence: 'US' };

/**
 * Every method of every repository of the Store port, by name. Typed so that a repository or a
 * method added to src/store/types.ts and not listed here fails `tsc`, and checked at run time on
 * every backend (the group-commit wrapper and the PostgreSQL adapter build their stores apart).
 */
const STORE_METHODS: { [R in keyof Store]: Record<keyof Store[R], true> } = {
  idvSessions: { createOnce: true, get: true, openInState: true, findByReference: true, attachVendorSession: true, applyIfNewer: true, commitResult: true },
  idvEvents: { exists: true, recordOnce: true, setDisposition: true, listForApplication: true },
  applicationStatus: { abandonedCandidates: true, set: true, search: true },
  applicationAssignments: { assign: true, release: true, get: true },
  pii: { store: true, get: true, schedulePurge: true, erase: true, purgeDue: true },
  presentedClaims: { get: true, erase: true, purgeDue: true },
  audit: { record: true, listForApplication: true },
  outbox: {
    enqueue: true,
    due: true,
    claim: true,
    markDelivered: true,
    markRetry: true,
    markFailed: true,
    get: true,
    list: true,
    recordDelivery: true,
    deliveries: true,
    pendingCount: true,
  },
  siopRequests: { create: true, consume: true, get: true, deleteExpired: true },
  applications: {
    create: true,
    createWithCode: true,
    get: true,
    findByFormToken: true,
    findByFormTokenWithPrefill: true,
    getWithPrefill: true,
    submitIdv: true,
    withdraw: true,
    decideReview: true,
    listByStatus: true,
    listForApplicant: true,
  },
  preAuthorizedCodes: { create: true, redeem: true, get: true, redeemBound: true, giveBack: true, reissue: true, deleteExpired: true },
  accessTokens: { create: true, createWithCNonce: true, get: true, revokeByCode: true },
  cNonces: { create: true, consume: true, deleteExpired: true },
  transactions: { create: true, get: true, completeWithCredential: true },
  nonces: { create: true, consume: true, pruneExpired: true },
  notifications: { create: true, get: true, forCredential: true, recordEvent: true },
  issuedCredentials: {
    record: true,
    listForApplication: true,
    claim: true,
    releaseClaim: true,
    claimOf: true,
    keepSigned: true,
    reclaim: true,
    recordIssued: true,
    count: true,
    get: true,
  },
  statusLists: { current: true, open: true, get: true, reserveInNewest: true, reserve: true, bumpVersion: true, cached: true, cache: true, setIndices: true },
  credentialStatus: {
    tryAllocate: true,
    get: true,
    listForSubject: true,
    revoke: true,
    suspend: true,
    reinstate: true,
    recordEvent: true,
    events: true,
    expiredUnannounced: true,
    markExpiryAnnounced: true,
  },
  applicationPrefill: { create: true, get: true },
  operatorSessions: { create: true, touch: true, end: true, endAllFor: true, endAllExcept: true, purge: true },
  operatorAccounts: { create: true, get: true, list: true, any: true, setSecret: true, disable: true },
  pendingApprovals: { propose: true, get: true, takeForConfirmation: true, clear: true },
  existingCustomerLinks: { record: true, otherDids: true },
};

/** Exactly one of many concurrent attempts returns a row. */
async function oneWinner<T>(attempt: () => Promise<T | undefined>): Promise<T> {
  const results = await Promise.all(Array.from({ length: CONCURRENT }, attempt));
  const winners = results.filter((r) => r !== undefined);
  expect(winners).toHaveLength(1);
  return winners[0] as T;
}

describe.each(backends)('store contract on %s', (_name, open) => {
  let backend: Backend;
  let store: Store;

  beforeAll(async () => {
    backend = await open();
    store = backend.store;
  });
  afterAll(async () => backend?.close());
  beforeEach(async () => {
    // Every test starts from empty tables (counts and purges are asserted exactly).
    for (const table of [
      'siop_requests',
      'applications',
      'pre_authorized_codes',
      'access_tokens',
      'c_nonces',
      'transactions',
      'issued_credentials',
      'nonces',
      'notifications',
      'idv_sessions',
      'idv_events',
      'idv_pii',
      'presented_claims',
      'audit_log',
      'outbox_events',
      'webhook_deliveries',
      'status_lists',
      'status_list_cache',
      'credential_status',
      'credential_status_events',
      'application_prefill',
      'operator_sessions',
      'issuance_claims',
      'operator_accounts',
      'pending_approvals',
    ]) {
      await backend.deleteAll(table);
    }
  });

  async function newApplication(overrides: Partial<NewApplication> = {}) {
    const row = {
      id: uid('app'),
      applicantDid: 'did:jwk:holder',
      credentialConfigurationId: 'KnownCustomerCredential',
      status: 'pending' as const,
      formTokenHash: uid('form'),
      formExpiresAt: NOW + 3600,
      createdAt: NOW,
      updatedAt: NOW,
      ...overrides,
    };
    await store.applications.create(row);
    return row;
  }

  it('has every repository method of the port, and nothing else', () => {
    const methods = (o: object) => Object.keys(o).sort();
    expect(methods(store)).toEqual(methods(STORE_METHODS));
    for (const [repository, expected] of Object.entries(STORE_METHODS)) {
      const actual = (store as unknown as Record<string, Record<string, unknown>>)[repository];
      expect(methods(actual), repository).toEqual(methods(expected));
      for (const method of Object.keys(expected)) expect(typeof actual[method], `${repository}.${method}`).toBe('function');
    }
  });

  describe('stats', () => {
    it('counts applications, credentials and the outbox backlog, and says whether every migration is applied', async () => {
      await newApplication({ status: 'review' });
      await newApplication({ status: 'approved' });
      await store.issuedCredentials.record({ id: uid('cred'), applicationId: 'a', subjectDid: 'did:jwk:h', jwtSha256: 'x', issuedAt: NOW, expiresAt: NOW + 1 });
      await store.outbox.enqueue({ id: uid('evt'), type: 't', body: '{}', createdAt: NOW - 5 });
      await store.outbox.recordDelivery({ eventId: 'e', attempt: 1, statusCode: 204, durationMs: 3, at: NOW });
      await store.outbox.recordDelivery({ eventId: 'e', attempt: 2, statusCode: 500, durationMs: 3, at: NOW });
      const s = await backend.stats.snapshot();
      expect(s).toMatchObject({
        applicationsByStatus: { pending: 0, review: 1, approved: 1, rejected: 0 },
        manualReviewQueue: 1,
        credentialsIssued: 1,
        credentialsRevoked: 0,
        webhookDeliveries: { succeeded: 1, failed: 1 },
        outboxBacklog: 1,
        outboxOldestCreatedAt: NOW - 5,
      });
      const r = await backend.stats.readiness();
      expect(r.database).toBe('ok');
      if (backend.migrationsRecorded) expect(r).toEqual({ ready: true, database: 'ok', pendingMigrations: [] });
      else expect(r.pendingMigrations.length).toBeGreaterThan(0);
    });
  });

  describe('siopRequests', () => {
    it('consumes a nonce once, before it expires', async () => {
      await store.siopRequests.create({ nonce: 'n1', presentationDefinitionId: 'pd', createdAt: NOW, expiresAt: NOW + 600 });
      const used = await store.siopRequests.consume('n1', NOW + 1);
      expect(used).toMatchObject({ nonce: 'n1', presentationDefinitionId: 'pd', consumedAt: NOW + 1, expiresAt: NOW + 600 });
      expect(await store.siopRequests.consume('n1', NOW + 2)).toBeUndefined();
      expect(await store.siopRequests.consume('unknown', NOW)).toBeUndefined();
      await store.siopRequests.create({ nonce: 'n2', createdAt: NOW, expiresAt: NOW + 10 });
      expect(await store.siopRequests.consume('n2', NOW + 10)).toBeUndefined(); // expires_at is exclusive
    });

    it('has exactly one winner among concurrent consumers', async () => {
      await store.siopRequests.create({ nonce: 'race', createdAt: NOW, expiresAt: NOW + 600 });
      const won = await oneWinner(() => store.siopRequests.consume('race', NOW));
      expect(won.nonce).toBe('race');
    });

    it('deletes expired requests only', async () => {
      await store.siopRequests.create({ nonce: 'old', createdAt: NOW - 700, expiresAt: NOW - 100 });
      await store.siopRequests.create({ nonce: 'edge', createdAt: NOW - 600, expiresAt: NOW });
      await store.siopRequests.create({ nonce: 'live', createdAt: NOW, expiresAt: NOW + 600 });
      expect(await store.siopRequests.deleteExpired(NOW)).toBe(2);
      expect(await store.siopRequests.consume('live', NOW)).toBeDefined();
      expect(await store.siopRequests.deleteExpired(NOW)).toBe(0);
    });

    it('reads a request without consuming it', async () => {
      await store.siopRequests.create({ nonce: 'peek', presentationDefinitionId: 'pd', createdAt: NOW, expiresAt: NOW + 600 });
      expect(await store.siopRequests.get('peek')).toEqual({
        nonce: 'peek',
        presentationDefinitionId: 'pd',
        createdAt: NOW,
        expiresAt: NOW + 600,
        consumedAt: null,
      });
      expect(await store.siopRequests.get('peek')).toMatchObject({ consumedAt: null });
      expect((await store.siopRequests.consume('peek', NOW))?.nonce).toBe('peek');
      expect(await store.siopRequests.get('peek')).toMatchObject({ consumedAt: NOW });
      expect(await store.siopRequests.get('unknown')).toBeUndefined();
    });
  });

  describe('applications', () => {
    it('creates, gets and finds by form token', async () => {
      const app = await newApplication();
      expect(await store.applications.get(app.id)).toMatchObject({ id: app.id, status: 'pending', formSubmittedAt: null, evidence: null });
      expect((await store.applications.findByFormToken(app.formTokenHash))?.id).toBe(app.id);
      expect(await store.applications.get('nope')).toBeUndefined();
      expect(await store.applications.findByFormToken('nope')).toBeUndefined();
    });

    it("takes a form link's one answer, only while pending and unexpired, and leaves the decision to the result's commit", async () => {
      const app = await newApplication();
      const submitted = await store.applications.submitIdv(app.formTokenHash, ANSWER, NOW + 5);
      expect(submitted).toMatchObject({
        status: 'pending',
        formSubmittedAt: NOW + 5,
        idvProvider: 'sandbox',
        countryOfResidence: 'US',
        tier: null,
        evidence: null,
        decisionReason: null,
        decidedBy: null,
        decidedAt: null,
        updatedAt: NOW + 5,
      });
      expect(await store.applications.submitIdv(app.formTokenHash, ANSWER, NOW + 6)).toBeUndefined();
      const expired = await newApplication({ formExpiresAt: NOW });
      expect(await store.applications.submitIdv(expired.formTokenHash, ANSWER, NOW)).toBeUndefined();
      const decided = await newApplication({ status: 'approved' });
      expect(await store.applications.submitIdv(decided.formTokenHash, ANSWER, NOW)).toBeUndefined();
    });

    it('withdraws with its audit entry, event and the erasure of the sealed claims in one commit: once, only while the link is open', async () => {
      const withClaims = async () => {
        const app = { id: uid('app'), applicantDid: 'did:jwk:holder', credentialConfigurationId: 'KnownCustomerCredential', status: 'pending' as const };
        const formTokenHash = uid('form');
        await store.applications.createWithCode(
          { ...app, formTokenHash, formExpiresAt: NOW + 3600, createdAt: NOW, updatedAt: NOW },
          { codeHash: uid('code'), applicationId: app.id, applicantDid: app.applicantDid, expiresAt: NOW + 600 },
          undefined,
          { applicationId: app.id, keyId: 'k1', ciphertext: 'sealed-claims', createdAt: NOW },
        );
        return { id: app.id, formTokenHash };
      };
      const record = (id = uid('evt')) => ({
        audit: { actor: 'applicant', action: 'consent.declined' },
        event: { id, type: 'application.withdrawn', body: '{}', createdAt: NOW },
        eraseReason: 'consent_declined',
      });
      const app = await withClaims();
      const withdrawn = await store.applications.withdraw(app.formTokenHash, NOW, record('evt-withdrawn'));
      expect(withdrawn).toMatchObject({ id: app.id, status: 'withdrawn', formSubmittedAt: NOW, decidedBy: 'applicant', decisionReason: 'consent_declined' });
      expect((await store.audit.listForApplication(app.id)).map((e) => e.action)).toEqual(['consent.declined']);
      expect(await store.outbox.get('evt-withdrawn')).toBeDefined();
      expect(await store.presentedClaims.get(app.id)).toMatchObject({ ciphertext: null, erasedAt: NOW, erasedReason: 'consent_declined' });
      // Once: a second withdrawal writes nothing.
      expect(await store.applications.withdraw(app.formTokenHash, NOW, record('evt-again'))).toBeUndefined();
      expect(await store.outbox.get('evt-again')).toBeUndefined();
      expect(await store.audit.listForApplication(app.id)).toHaveLength(1);
      // A link that took another answer: no entry, no event, the claims kept.
      const answered = await withClaims();
      await store.applications.submitIdv(answered.formTokenHash, { provider: 'hosted', countryOfResidence: 'DE' }, NOW);
      expect(await store.applications.withdraw(answered.formTokenHash, NOW, record('evt-answered'))).toBeUndefined();
      expect(await store.outbox.get('evt-answered')).toBeUndefined();
      expect(await store.audit.listForApplication(answered.id)).toEqual([]);
      expect((await store.presentedClaims.get(answered.id))?.ciphertext).toBe('sealed-claims');
      // Concurrent withdrawals of one link: one winner, one entry, one event.
      const raced = await withClaims();
      await oneWinner(() => store.applications.withdraw(raced.formTokenHash, NOW, record(uid('evt-raced'))));
      expect(await store.audit.listForApplication(raced.id)).toHaveLength(1);
      expect((await store.outbox.list()).filter((e) => e.id.startsWith('evt-raced'))).toHaveLength(1);
    });

    it('has exactly one winner among concurrent IDV submissions', async () => {
      const app = await newApplication();
      await oneWinner(() => store.applications.submitIdv(app.formTokenHash, ANSWER, NOW));
    });

    it('decides an application only while it awaits review, once', async () => {
      const app = await newApplication();
      expect(await store.applications.decideReview(app.id, { status: 'approved', decidedBy: 'operator' }, NOW)).toBeUndefined(); // still pending
      await store.applications.submitIdv(app.formTokenHash, ANSWER, NOW);
      await store.applicationStatus.set(app.id, { status: 'review', provider: 'sandbox', reason: 'manual' }, NOW);
      const decided = await oneWinner(() =>
        store.applications.decideReview(app.id, { status: 'approved', tier: 'Enhanced', reason: 'ok', decidedBy: 'operator' }, NOW + 9),
      );
      expect(decided).toMatchObject({
        status: 'approved',
        tier: 'Enhanced',
        decisionReason: 'ok',
        decidedBy: 'operator',
        decidedAt: NOW + 9,
        updatedAt: NOW + 9,
      });
      expect(await store.applications.decideReview(app.id, { status: 'rejected', decidedBy: 'operator' }, NOW + 10)).toBeUndefined();
      expect((await store.applications.get(app.id))?.status).toBe('approved');
    });

    it('lists by status, oldest first, up to a limit', async () => {
      const b = await newApplication({ status: 'review', createdAt: NOW + 2 });
      const a = await newApplication({ status: 'review', createdAt: NOW + 1 });
      const c = await newApplication({ status: 'review', createdAt: NOW + 3 });
      await newApplication({ status: 'approved' });
      expect((await store.applications.listByStatus('review')).map((r) => r.id)).toEqual([a.id, b.id, c.id]);
      expect((await store.applications.listByStatus('review', 2)).map((r) => r.id)).toEqual([a.id, b.id]);
      expect(await store.applications.listByStatus('rejected')).toEqual([]);
    });

    it("lists an applicant's applications newest first; within one second, the one touched last or whose form was submitted first", async () => {
      const older = await newApplication({ createdAt: NOW - 60, updatedAt: NOW - 60 });
      // A wallet that lost the SIOPv2 answer opens a second application in the same second; the
      // first stays untouched, the second is submitted.
      const untouched = await newApplication();
      const decided = await newApplication();
      await store.applications.submitIdv(decided.formTokenHash, ANSWER, NOW);
      await newApplication({ applicantDid: 'did:jwk:other' });
      expect((await store.applications.listForApplicant('did:jwk:holder')).map((r) => r.id)).toEqual([decided.id, untouched.id, older.id]);
      expect((await store.applications.listForApplicant('did:jwk:holder', 1)).map((r) => r.id)).toEqual([decided.id]);
    });

    it('refuses a duplicate form token hash (unique index)', async () => {
      const app = await newApplication();
      await expect(newApplication({ formTokenHash: app.formTokenHash })).rejects.toThrow();
    });

    it('creates an application with its code together, and neither when one write fails', async () => {
      const row = {
        id: uid('app'),
        applicantDid: 'did:jwk:holder',
        credentialConfigurationId: 'KnownCustomerCredential',
        status: 'pending' as const,
        formTokenHash: uid('form'),
        formExpiresAt: NOW + 3600,
        createdAt: NOW,
        updatedAt: NOW,
      };
      await store.applications.createWithCode(row, { codeHash: 'code-1', applicationId: row.id, applicantDid: row.applicantDid, expiresAt: NOW + 600 });
      expect(await store.applications.get(row.id)).toMatchObject({ id: row.id, status: 'pending', tier: null, decidedAt: null });
      expect(await store.preAuthorizedCodes.get('code-1')).toEqual({
        codeHash: 'code-1',
        applicationId: row.id,
        applicantDid: row.applicantDid,
        expiresAt: NOW + 600,
        consumedAt: null,
      });
      // The code's INSERT fails (its hash exists): the application's INSERT is rolled back with it.
      const second = { ...row, id: uid('app'), formTokenHash: uid('form') };
      await expect(
        store.applications.createWithCode(second, { codeHash: 'code-1', applicationId: second.id, applicantDid: row.applicantDid, expiresAt: NOW + 600 }),
      ).rejects.toThrow();
      expect(await store.applications.get(second.id)).toBeUndefined();
      expect(await store.preAuthorizedCodes.get('code-1')).toMatchObject({ applicationId: row.id });
    });

    it('creates a renewal with its code and prefill together, and none of them when the prefill fails', async () => {
      const row = {
        id: uid('app'),
        applicantDid: 'did:jwk:holder',
        credentialConfigurationId: 'KnownCustomerCredential',
        status: 'approved' as const,
        formTokenHash: uid('form'),
        formExpiresAt: NOW + 3600,
        createdAt: NOW,
        updatedAt: NOW,
      };
      const prefill = {
        applicationId: row.id,
        tierId: 'KnownCustomerCredential',
        verifiedEvidence: [],
        missingChecks: [],
        supersedes: ['urn:uuid:old'],
        presentedCredentials: [{ id: 'urn:uuid:old', issuer: 'did:web:pfi' }],
        countryOfResidence: 'US',
        createdAt: NOW,
      };
      await store.applications.createWithCode(
        row,
        { codeHash: uid('code'), applicationId: row.id, applicantDid: row.applicantDid, expiresAt: NOW + 600 },
        prefill,
      );
      expect(await store.applicationPrefill.get(row.id)).toEqual(prefill);
      expect(await store.presentedClaims.get(row.id)).toBeUndefined();
      // The prefill's INSERT fails (one exists for that application id): application and code roll back.
      const second = { ...row, id: uid('app'), formTokenHash: uid('form') };
      const code = uid('code');
      await expect(
        store.applications.createWithCode(second, { codeHash: code, applicationId: second.id, applicantDid: row.applicantDid, expiresAt: NOW + 600 }, prefill),
      ).rejects.toThrow();
      expect(await store.applications.get(second.id)).toBeUndefined();
      expect(await store.preAuthorizedCodes.get(code)).toBeUndefined();
    });

    it('creates an application with its prefill and the sealed claims together, and none of them when the claims fail', async () => {
      const row = {
        id: uid('app'),
        applicantDid: 'did:jwk:holder',
        credentialConfigurationId: 'KnownCustomerCredential',
        status: 'pending' as const,
        formTokenHash: uid('form'),
        formExpiresAt: NOW + 3600,
        createdAt: NOW,
        updatedAt: NOW,
      };
      const prefill = (applicationId: string) => ({
        applicationId,
        tierId: 'KnownCustomerCredential',
        verifiedEvidence: [],
        missingChecks: ['sanction_screening'],
        supersedes: [],
        presentedCredentials: [],
        countryOfResidence: null,
        createdAt: NOW,
      });
      const claims = { applicationId: row.id, keyId: 'k1', ciphertext: 'sealed', createdAt: NOW };
      await store.applications.createWithCode(
        row,
        { codeHash: uid('code'), applicationId: row.id, applicantDid: row.applicantDid, expiresAt: NOW + 600 },
        prefill(row.id),
        claims,
      );
      expect(await store.presentedClaims.get(row.id)).toEqual({ ...claims, purgeAfter: null, erasedAt: null, erasedReason: null });
      // Decided at once: the retention clock starts with the row.
      const decided = { ...row, id: uid('app'), formTokenHash: uid('form'), status: 'approved' as const };
      await store.applications.createWithCode(
        decided,
        { codeHash: uid('code'), applicationId: decided.id, applicantDid: row.applicantDid, expiresAt: NOW + 600 },
        prefill(decided.id),
        { ...claims, applicationId: decided.id, purgeAfter: NOW + 86400 },
      );
      expect((await store.presentedClaims.get(decided.id))?.purgeAfter).toBe(NOW + 86400);
      // The claims' INSERT fails (a row exists for that application id): application, code and prefill roll back.
      const second = { ...row, id: uid('app'), formTokenHash: uid('form') };
      const code = uid('code');
      await expect(
        store.applications.createWithCode(
          second,
          { codeHash: code, applicationId: second.id, applicantDid: row.applicantDid, expiresAt: NOW + 600 },
          prefill(second.id),
          { ...claims, applicationId: row.id },
        ),
      ).rejects.toThrow();
      expect(await store.applications.get(second.id)).toBeUndefined();
      expect(await store.preAuthorizedCodes.get(code)).toBeUndefined();
      expect(await store.applicationPrefill.get(second.id)).toBeUndefined();
    });

    it('finds an application by form token or id with its prefill, or null prefill', async () => {
      const plain = await newApplication();
      expect(await store.applications.findByFormTokenWithPrefill(plain.formTokenHash)).toEqual({
        application: await store.applications.get(plain.id),
        prefill: null,
      });
      const renewal = await newApplication();
      const prefill = {
        applicationId: renewal.id,
        tierId: 'Standard',
        verifiedEvidence: [{ kind: 'document_verification', checks: ['passport'], verifiedAt: NOW, source: 'urn:uuid:old' }],
        missingChecks: ['liveness'],
        supersedes: ['urn:uuid:old'],
        presentedCredentials: [],
        countryOfResidence: 'US',
        createdAt: NOW,
      };
      await store.applicationPrefill.create(prefill);
      const found = await store.applications.findByFormTokenWithPrefill(renewal.formTokenHash);
      expect(found?.application.id).toBe(renewal.id);
      expect(found?.prefill).toEqual(prefill);
      expect(await store.applications.findByFormTokenWithPrefill('nope')).toBeUndefined();
      // By id, as the credential endpoints read it.
      expect(await store.applications.getWithPrefill(renewal.id)).toEqual(found);
      expect(await store.applications.getWithPrefill(plain.id)).toEqual({ application: await store.applications.get(plain.id), prefill: null });
      expect(await store.applications.getWithPrefill('nope')).toBeUndefined();
    });
  });

  describe('preAuthorizedCodes', () => {
    it('redeems a code once, for its DID, before it expires', async () => {
      await store.preAuthorizedCodes.create({ codeHash: 'c1', applicationId: 'a1', applicantDid: 'did:jwk:me', expiresAt: NOW + 1800 });
      expect(await store.preAuthorizedCodes.redeem('c1', 'did:jwk:other', NOW)).toBeUndefined();
      expect(await store.preAuthorizedCodes.redeem('c1', 'did:jwk:me', NOW)).toMatchObject({ codeHash: 'c1', applicationId: 'a1', consumedAt: NOW });
      expect(await store.preAuthorizedCodes.redeem('c1', 'did:jwk:me', NOW)).toBeUndefined();
      expect(await store.preAuthorizedCodes.get('c1')).toMatchObject({ consumedAt: NOW });
      expect(await store.preAuthorizedCodes.get('c2')).toBeUndefined();
      await store.preAuthorizedCodes.create({ codeHash: 'c3', applicationId: 'a1', applicantDid: 'did:jwk:me', expiresAt: NOW });
      expect(await store.preAuthorizedCodes.redeem('c3', 'did:jwk:me', NOW)).toBeUndefined();
    });

    it("answers a redemption with the credentials presented for the code's own application (null without a prefill)", async () => {
      const presented = (id: string) => [{ id, issuer: 'did:web:other.test', expiresAt: NOW + 86400, credentialStatus: [] }];
      const prefill = (applicationId: string, id: string) => ({
        applicationId,
        tierId: 'Standard',
        verifiedEvidence: [],
        missingChecks: [],
        supersedes: [],
        presentedCredentials: presented(id) as never,
        countryOfResidence: null,
        createdAt: NOW,
      });
      await store.applicationPrefill.create(prefill('p-other', 'urn:uuid:other'));
      await store.applicationPrefill.create(prefill('p-own', 'urn:uuid:own'));
      await store.preAuthorizedCodes.create({ codeHash: 'p1', applicationId: 'p-own', applicantDid: 'did:jwk:me', expiresAt: NOW + 1800 });
      await store.preAuthorizedCodes.create({ codeHash: 'p2', applicationId: 'p-none', applicantDid: 'did:jwk:me', expiresAt: NOW + 1800 });
      expect((await store.preAuthorizedCodes.redeem('p1', 'did:jwk:me', NOW))?.presentedCredentials).toEqual(presented('urn:uuid:own'));
      expect(await store.preAuthorizedCodes.redeemBound('p2', NOW)).toMatchObject({ codeHash: 'p2', applicationId: 'p-none', presentedCredentials: null });
    });

    it('gives a redeemed code back only while no access token was recorded for it', async () => {
      await store.preAuthorizedCodes.create({ codeHash: 'g1', applicationId: 'a1', applicantDid: 'did:jwk:me', expiresAt: NOW + 1800 });
      expect(await store.preAuthorizedCodes.redeem('g1', 'did:jwk:me', NOW)).toBeDefined();
      expect(await store.preAuthorizedCodes.giveBack('g1', NOW + 1)).toBe(false); // not this redemption's stamp
      expect(await store.preAuthorizedCodes.giveBack('g1', NOW)).toBe(true);
      expect(await store.preAuthorizedCodes.redeem('g1', 'did:jwk:me', NOW)).toBeDefined();
      await store.accessTokens.create({ jti: 'j-g1', applicationId: 'a1', applicantDid: 'did:jwk:me', codeHash: 'g1', expiresAt: NOW + 60 });
      expect(await store.preAuthorizedCodes.giveBack('g1', NOW)).toBe(false);
      expect(await store.preAuthorizedCodes.redeem('g1', 'did:jwk:me', NOW)).toBeUndefined();
    });

    it("reissues an application's grant: its tokens revoked, its open codes spent, the new code live, other applications untouched", async () => {
      const code = (codeHash: string, applicationId: string) => ({ codeHash, applicationId, applicantDid: 'did:jwk:me', expiresAt: NOW + 1800 });
      await store.preAuthorizedCodes.create(code('r-spent', 'app-r'));
      await store.preAuthorizedCodes.create(code('r-open', 'app-r'));
      await store.preAuthorizedCodes.create(code('other-open', 'app-other'));
      expect(await store.preAuthorizedCodes.redeem('r-spent', 'did:jwk:me', NOW)).toBeDefined();
      await store.accessTokens.create({ jti: 'j-r', applicationId: 'app-r', applicantDid: 'did:jwk:me', codeHash: 'r-spent', expiresAt: NOW + 60 });
      await store.accessTokens.create({ jti: 'j-other', applicationId: 'app-other', applicantDid: 'did:jwk:me', codeHash: 'other-open', expiresAt: NOW + 60 });
      expect(await store.preAuthorizedCodes.reissue(code('r-new', 'app-r'), NOW + 5)).toBe(1);
      expect(await store.accessTokens.get('j-r')).toMatchObject({ revokedAt: NOW + 5 });
      expect(await store.accessTokens.get('j-other')).toMatchObject({ revokedAt: null });
      expect(await store.preAuthorizedCodes.get('r-spent')).toMatchObject({ consumedAt: NOW });
      expect(await store.preAuthorizedCodes.get('r-open')).toMatchObject({ consumedAt: NOW + 5 });
      expect(await store.preAuthorizedCodes.get('other-open')).toMatchObject({ consumedAt: null });
      expect(await store.preAuthorizedCodes.redeem('r-new', 'did:jwk:me', NOW + 6)).toMatchObject({ applicationId: 'app-r' });
      // A second reissue spends nothing already spent and revokes nothing twice.
      expect(await store.preAuthorizedCodes.reissue(code('r-newer', 'app-r'), NOW + 7)).toBe(0);
      expect(await store.preAuthorizedCodes.get('r-newer')).toMatchObject({ consumedAt: null });
    });

    it("keeps a claim's signed credential once, and replaces a claim only from the id it names", async () => {
      expect(await store.issuedCredentials.claim('app-k', 'vc-k1', NOW)).toBe(true);
      expect(await store.issuedCredentials.claimOf('app-k')).toEqual({ applicationId: 'app-k', credentialId: 'vc-k1', claimedAt: NOW, jwt: null });
      const kept = await Promise.all([
        store.issuedCredentials.keepSigned('app-k', 'vc-k1', 'jwt-a'),
        store.issuedCredentials.keepSigned('app-k', 'vc-k1', 'jwt-b'),
      ]);
      expect(new Set(kept).size).toBe(1);
      expect(await store.issuedCredentials.keepSigned('app-k', 'vc-k1', 'jwt-c')).toBe(kept[0]);
      expect(await store.issuedCredentials.keepSigned('app-k', 'other', 'jwt-c')).toBeUndefined();
      expect(await store.issuedCredentials.reclaim('app-k', 'other', 'vc-k2', NOW + 1)).toBe(false);
      await oneWinner(async () => (await store.issuedCredentials.reclaim('app-k', 'vc-k1', `vc-k2-${Math.random()}`, NOW + 1)) || undefined);
      expect((await store.issuedCredentials.claimOf('app-k'))?.jwt).toBeNull();
      expect(await store.issuedCredentials.claimOf('none')).toBeUndefined();
    });

    it('has exactly one winner among concurrent redemptions', async () => {
      await store.preAuthorizedCodes.create({ codeHash: 'race', applicationId: 'a1', applicantDid: 'did:jwk:me', expiresAt: NOW + 1800 });
      await oneWinner(() => store.preAuthorizedCodes.redeem('race', 'did:jwk:me', NOW));
    });

    it('deletes codes expired at or before a time', async () => {
      await store.preAuthorizedCodes.create({ codeHash: 'old', applicationId: 'a', applicantDid: 'd', expiresAt: NOW - 1 });
      await store.preAuthorizedCodes.create({ codeHash: 'live', applicationId: 'a', applicantDid: 'd', expiresAt: NOW + 1 });
      expect(await store.preAuthorizedCodes.deleteExpired(NOW)).toBe(1);
      expect(await store.preAuthorizedCodes.get('old')).toBeUndefined();
      expect(await store.preAuthorizedCodes.get('live')).toBeDefined();
    });
  });

  describe('accessTokens', () => {
    it('creates, gets and revokes by code, once', async () => {
      for (const jti of ['t1', 't2']) await store.accessTokens.create({ jti, applicationId: 'a', applicantDid: 'd', codeHash: 'code', expiresAt: NOW + 60 });
      await store.accessTokens.create({ jti: 't3', applicationId: 'a', applicantDid: 'd', codeHash: 'other', expiresAt: NOW + 60 });
      expect(await store.accessTokens.get('t1')).toMatchObject({ jti: 't1', revokedAt: null, codeHash: 'code' });
      expect(await store.accessTokens.get('none')).toBeUndefined();
      expect(await store.accessTokens.revokeByCode('code', NOW)).toBe(2);
      expect(await store.accessTokens.revokeByCode('code', NOW + 1)).toBe(0);
      expect((await store.accessTokens.get('t2'))?.revokedAt).toBe(NOW);
      expect((await store.accessTokens.get('t3'))?.revokedAt).toBeNull();
    });

    it('creates a token with its first c_nonce together, and neither when one write fails', async () => {
      await store.accessTokens.createWithCNonce(
        { jti: 'tw', applicationId: 'a', applicantDid: 'd', codeHash: 'code', expiresAt: NOW + 60, tokenSha256: 'digest-of-tw' },
        { nonce: 'cn-w', accessTokenJti: 'tw', expiresAt: NOW + 60 },
      );
      expect(await store.accessTokens.get('tw')).toEqual({
        jti: 'tw',
        applicationId: 'a',
        applicantDid: 'd',
        codeHash: 'code',
        expiresAt: NOW + 60,
        revokedAt: null,
        tokenSha256: 'digest-of-tw',
      });
      expect(await store.cNonces.consume('cn-w', 'tw', NOW)).toMatchObject({ nonce: 'cn-w', accessTokenJti: 'tw' });
      // The c_nonce's INSERT fails (it exists): the token's INSERT is rolled back with it.
      await expect(
        store.accessTokens.createWithCNonce(
          { jti: 'tx2', applicationId: 'a', applicantDid: 'd', codeHash: 'code', expiresAt: NOW + 60 },
          { nonce: 'cn-w', accessTokenJti: 'tx2', expiresAt: NOW + 60 },
        ),
      ).rejects.toThrow();
      expect(await store.accessTokens.get('tx2')).toBeUndefined();
    });
  });

  describe('cNonces', () => {
    it('consumes a c_nonce once, for its access token, before it expires', async () => {
      await store.cNonces.create({ nonce: 'cn', accessTokenJti: 't1', expiresAt: NOW + 300 });
      expect(await store.cNonces.consume('cn', 't2', NOW)).toBeUndefined();
      expect(await store.cNonces.consume('cn', 't1', NOW)).toMatchObject({ nonce: 'cn', consumedAt: NOW });
      expect(await store.cNonces.consume('cn', 't1', NOW)).toBeUndefined();
      await store.cNonces.create({ nonce: 'late', accessTokenJti: 't1', expiresAt: NOW });
      expect(await store.cNonces.consume('late', 't1', NOW)).toBeUndefined();
    });

    it('has exactly one winner among concurrent consumers', async () => {
      await store.cNonces.create({ nonce: 'race', accessTokenJti: 't1', expiresAt: NOW + 300 });
      await oneWinner(() => store.cNonces.consume('race', 't1', NOW));
    });

    it('deletes expired c_nonces only', async () => {
      await store.cNonces.create({ nonce: 'old', accessTokenJti: 't', expiresAt: NOW - 1 });
      await store.cNonces.create({ nonce: 'live', accessTokenJti: 't', expiresAt: NOW + 1 });
      expect(await store.cNonces.deleteExpired(NOW)).toBe(1);
      expect(await store.cNonces.consume('live', 't', NOW)).toBeDefined();
    });
  });

  describe('transactions', () => {
    const credential = (id: string) => ({ id, applicationId: 'a', subjectDid: 'did:jwk:h', jwtSha256: `sha-${id}`, issuedAt: NOW, expiresAt: NOW + 86400 });

    it('creates and gets', async () => {
      await store.transactions.create({ id: 'tx', applicationId: 'a', accessTokenJti: 't', holderDid: 'did:jwk:h', createdAt: NOW });
      expect(await store.transactions.get('tx')).toMatchObject({ id: 'tx', consumedAt: null, credentialId: null });
      expect(await store.transactions.get('none')).toBeUndefined();
    });

    it('completes with its credential once, atomically; exactly one winner among concurrent completions', async () => {
      const complete = (id: string, c: ReturnType<typeof credential>, now: number) => store.transactions.completeWithCredential(id, c, now);
      await store.transactions.create({ id: 'tx', applicationId: 'a', accessTokenJti: 't', holderDid: 'did:jwk:h', createdAt: NOW });
      expect(await complete('tx', credential('urn:uuid:1'), NOW + 3)).toBe(true);
      expect(await complete('tx', credential('urn:uuid:2'), NOW + 4)).toBe(false);
      expect(await store.transactions.get('tx')).toMatchObject({ consumedAt: NOW + 3, credentialId: 'urn:uuid:1' });
      expect((await store.issuedCredentials.listForApplication('a')).map((c) => [c.id, c.transactionId])).toEqual([['urn:uuid:1', 'tx']]);
      await store.transactions.create({ id: 'race', applicationId: 'a', accessTokenJti: 't', holderDid: 'did:jwk:h', createdAt: NOW });
      let n = 0;
      const outcomes = await Promise.all(Array.from({ length: CONCURRENT }, () => complete('race', credential(`urn:uuid:race-${++n}`), NOW)));
      expect(outcomes.filter(Boolean)).toHaveLength(1);
      const recorded = (await store.issuedCredentials.listForApplication('a')).filter((c) => c.transactionId === 'race');
      expect(recorded).toHaveLength(1);
      expect((await store.transactions.get('race'))?.credentialId).toBe(recorded[0].id);
    });

    it('answers false to a repeated completion with the same credential, and consumes nothing when the credential cannot be recorded', async () => {
      await store.transactions.create({ id: 'tx', applicationId: 'a', accessTokenJti: 't', holderDid: 'did:jwk:h', createdAt: NOW, profile: 'v1' });
      expect(await store.transactions.get('tx')).toMatchObject({ profile: 'v1' });
      expect(await store.transactions.completeWithCredential('tx', credential('urn:uuid:same'), NOW)).toBe(true);
      expect(await store.transactions.completeWithCredential('tx', credential('urn:uuid:same'), NOW)).toBe(false);
      expect(await store.issuedCredentials.listForApplication('a')).toHaveLength(1);
      // The credential id is taken by another record: the INSERT fails and the UPDATE is rolled back.
      await store.transactions.create({ id: 'tx-2', applicationId: 'a', accessTokenJti: 't', holderDid: 'did:jwk:h', createdAt: NOW });
      await expect(store.transactions.completeWithCredential('tx-2', credential('urn:uuid:same'), NOW)).rejects.toThrow();
      expect(await store.transactions.get('tx-2')).toMatchObject({ consumedAt: null, credentialId: null, profile: 'draft13' });
      expect(await store.transactions.completeWithCredential('tx-2', credential('urn:uuid:fresh'), NOW + 1)).toBe(true);
    });
  });

  describe('issuedCredentials', () => {
    it('records, lists per application and counts; one credential per transaction', async () => {
      expect(await store.issuedCredentials.count()).toBe(0);
      await store.issuedCredentials.record({ id: 'vc1', applicationId: 'a', subjectDid: 'd', jwtSha256: 'h1', issuedAt: NOW, expiresAt: NOW + 1 });
      await store.issuedCredentials.record({
        id: 'vc2',
        applicationId: 'a',
        subjectDid: 'd',
        transactionId: 'tx',
        jwtSha256: 'h2',
        issuedAt: NOW,
        expiresAt: NOW + 1,
      });
      await store.issuedCredentials.record({ id: 'vc3', applicationId: 'b', subjectDid: 'd', jwtSha256: 'h3', issuedAt: NOW, expiresAt: NOW + 1 });
      expect((await store.issuedCredentials.listForApplication('a')).map((r) => r.id).sort()).toEqual(['vc1', 'vc2']);
      expect(await store.issuedCredentials.listForApplication('none')).toEqual([]);
      expect(await store.issuedCredentials.count()).toBe(3);
      await expect(
        store.issuedCredentials.record({
          id: 'vc4',
          applicationId: 'a',
          subjectDid: 'd',
          transactionId: 'tx',
          jwtSha256: 'h4',
          issuedAt: NOW,
          expiresAt: NOW + 1,
        }),
      ).rejects.toThrow();
    });

    it('records an issued credential with its event and notification together; with a transaction, once', async () => {
      const credential = (id: string) => ({ id, applicationId: 'a', subjectDid: 'did:jwk:h', jwtSha256: `sha-${id}`, issuedAt: NOW, expiresAt: NOW + 86400 });
      const event = (id: string) => ({
        id: `evt_${id}`,
        type: 'credential.issued',
        body: `{"credential_id":"${id}"}`,
        createdAt: NOW,
        traceParent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`,
      });
      const notification = (id: string) => ({ id: `n-${id}`, applicationId: 'a', accessTokenJti: 't', credentialId: id, createdAt: NOW });

      // The Credential Endpoint: no transaction.
      expect(
        await store.issuedCredentials.recordIssued({ credential: credential('vc1'), event: event('vc1'), notification: notification('vc1'), now: NOW }),
      ).toBe(true);
      expect(await store.issuedCredentials.get('vc1')).toMatchObject({ transactionId: null, jwtSha256: 'sha-vc1' });
      expect(await store.outbox.get('evt_vc1')).toMatchObject({ body: '{"credential_id":"vc1"}', traceParent: event('vc1').traceParent });
      expect(await store.notifications.get('n-vc1')).toMatchObject({ credentialId: 'vc1', event: null });
      // A record that cannot be written (its id is taken) takes its event and notification with it.
      await expect(
        store.issuedCredentials.recordIssued({ credential: credential('vc1'), event: event('vc1-again'), notification: notification('vc1-again'), now: NOW }),
      ).rejects.toThrow();
      expect(await store.outbox.get('evt_vc1-again')).toBeUndefined();
      expect(await store.notifications.get('n-vc1-again')).toBeUndefined();

      // The Deferred Credential Endpoint: the transaction is consumed with them, by one winner.
      await store.transactions.create({ id: 'tx', applicationId: 'a', accessTokenJti: 't', holderDid: 'did:jwk:h', createdAt: NOW });
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.issuedCredentials.recordIssued({ credential: credential(`vc-tx-${i}`), transactionId: 'tx', event: event(`vc-tx-${i}`), now: NOW + 2 }),
        ),
      );
      expect(outcomes.filter(Boolean)).toHaveLength(1);
      const recorded = (await store.issuedCredentials.listForApplication('a')).filter((c) => c.transactionId === 'tx');
      expect(recorded).toHaveLength(1);
      expect(await store.transactions.get('tx')).toMatchObject({ consumedAt: NOW + 2, credentialId: recorded[0].id });
      expect(await store.outbox.pendingCount()).toBe(2);
      expect(
        await store.issuedCredentials.recordIssued({ credential: credential('vc-late'), transactionId: 'tx', event: event('vc-late'), now: NOW + 3 }),
      ).toBe(false);
      expect(await store.issuedCredentials.get('vc-late')).toBeUndefined();
      expect(await store.outbox.get('evt_vc-late')).toBeUndefined();
      expect(
        await store.issuedCredentials.recordIssued({ credential: credential('vc-none'), transactionId: 'unknown', event: event('vc-none'), now: NOW }),
      ).toBe(false);
      expect(await store.issuedCredentials.get('vc-none')).toBeUndefined();
    });

    it('records an SD-JWT VC batch in one commit: every copy or none; only the first names the transaction; a deferred transaction keeps what was asked', async () => {
      const copy = (id: string) => ({
        id,
        applicationId: 'b',
        subjectDid: 'did:jwk:h',
        jwtSha256: `sha-${id}`,
        issuedAt: NOW,
        expiresAt: NOW + 86400,
        format: 'dc+sd-jwt' as const,
      });
      const event = (id: string) => ({ id: `evt_${id}`, type: 'credential.issued', body: `{"credential_id":"${id}"}`, createdAt: NOW });
      const holderKeys: { jwk: Record<string, string>; did?: string }[] = [
        { jwk: { kty: 'EC', crv: 'P-256', x: 'x1', y: 'y1' } },
        { jwk: { kty: 'OKP', crv: 'Ed25519', x: 'x2' }, did: 'did:jwk:h' },
      ];
      await store.transactions.create({
        id: 'tx-sd',
        applicationId: 'b',
        accessTokenJti: 't',
        holderDid: 'did:jwk:h',
        createdAt: NOW,
        profile: 'v1',
        format: 'dc+sd-jwt',
        configurationId: 'KnownCustomerCredential_sd_jwt',
        holderKeys,
      });
      expect(await store.transactions.get('tx-sd')).toMatchObject({ format: 'dc+sd-jwt', configurationId: 'KnownCustomerCredential_sd_jwt', holderKeys });
      const outcomes = await Promise.all(
        [0, 1, 2].map((r) =>
          store.issuedCredentials.recordIssued({
            credential: copy(`sd-${r}-0`),
            copies: [copy(`sd-${r}-1`), copy(`sd-${r}-2`)],
            transactionId: 'tx-sd',
            event: event(`sd-${r}`),
            now: NOW + 1,
          }),
        ),
      );
      expect(outcomes.filter(Boolean)).toHaveLength(1);
      const recorded = await store.issuedCredentials.listForApplication('b');
      expect(recorded).toHaveLength(3);
      expect(recorded.map((c) => c.format)).toEqual(['dc+sd-jwt', 'dc+sd-jwt', 'dc+sd-jwt']);
      expect(recorded.filter((c) => c.transactionId === 'tx-sd')).toHaveLength(1);
      // Without a transaction: a batch whose second copy cannot be written (id taken) leaves nothing behind.
      await expect(
        store.issuedCredentials.recordIssued({ credential: copy('sd-x-0'), copies: [copy(recorded[0].id)], event: event('sd-x'), now: NOW }),
      ).rejects.toThrow();
      expect(await store.issuedCredentials.get('sd-x-0')).toBeUndefined();
      expect(await store.outbox.get('evt_sd-x')).toBeUndefined();
    });

    it('gets a credential by id', async () => {
      await store.issuedCredentials.record({ id: 'vc1', applicationId: 'a', subjectDid: 'd', jwtSha256: 'h1', issuedAt: NOW, expiresAt: NOW + 1 });
      expect(await store.issuedCredentials.get('vc1')).toEqual({
        id: 'vc1',
        applicationId: 'a',
        subjectDid: 'd',
        transactionId: null,
        jwtSha256: 'h1',
        issuedAt: NOW,
        expiresAt: NOW + 1,
        format: 'jwt_vc_json',
      });
      expect(await store.issuedCredentials.get('none')).toBeUndefined();
    });
  });

  describe('OID4VCI 1.0 repositories', () => {
    it('redeemBound: redeems a code once without a client_id, before it expires; one winner', async () => {
      const redeemBound = (codeHash: string, now: number) => store.preAuthorizedCodes.redeemBound(codeHash, now);
      await store.preAuthorizedCodes.create({ codeHash: 'b1', applicationId: 'a', applicantDid: 'd', expiresAt: NOW + 60 });
      expect(await redeemBound('b1', NOW)).toMatchObject({ codeHash: 'b1', consumedAt: NOW });
      expect(await redeemBound('b1', NOW)).toBeUndefined();
      expect(await store.preAuthorizedCodes.redeem('b1', 'd', NOW)).toBeUndefined();
      await store.preAuthorizedCodes.create({ codeHash: 'b2', applicationId: 'a', applicantDid: 'd', expiresAt: NOW });
      expect(await redeemBound('b2', NOW)).toBeUndefined();
      await store.preAuthorizedCodes.create({ codeHash: 'b3', applicationId: 'a', applicantDid: 'd', expiresAt: NOW + 60 });
      await oneWinner(() => redeemBound('b3', NOW));
    });

    it('nonces: consumed once before expiry, one winner among concurrent consumers, pruned after expiry', async () => {
      const { nonces } = store;
      await nonces.create({ nonce: 'live', expiresAt: NOW + 60 });
      await nonces.create({ nonce: 'race', expiresAt: NOW + 60 });
      await nonces.create({ nonce: 'edge', expiresAt: NOW });
      await nonces.create({ nonce: 'old', expiresAt: NOW - 1 });
      expect(await nonces.consume('live', NOW)).toMatchObject({ nonce: 'live', consumedAt: NOW });
      expect(await nonces.consume('live', NOW)).toBeUndefined();
      expect(await nonces.consume('edge', NOW)).toBeUndefined();
      expect(await nonces.consume('unknown', NOW)).toBeUndefined();
      await oneWinner(() => nonces.consume('race', NOW));
      expect(await nonces.pruneExpired(NOW)).toBe(1); // 'old' only: expires_at < now
      expect(await nonces.pruneExpired(NOW + 61)).toBe(3);
    });

    it('notifications: create, get, and record the wallet event for its own application only', async () => {
      const { notifications } = store;
      await notifications.create({ id: 'nt1', applicationId: 'app-1', accessTokenJti: 't', credentialId: 'urn:uuid:1', createdAt: NOW });
      expect(await notifications.get('nt1')).toMatchObject({ id: 'nt1', event: null, eventAt: null });
      expect(await notifications.get('none')).toBeUndefined();
      expect(await notifications.recordEvent('nt1', 'app-2', { event: 'credential_accepted' }, NOW)).toBeUndefined();
      expect(await notifications.recordEvent('nt1', 'app-1', { event: 'credential_accepted' }, NOW + 1)).toMatchObject({ event: 'credential_accepted' });
      expect(await notifications.recordEvent('nt1', 'app-1', { event: 'credential_deleted', description: 'gone' }, NOW + 2)).toMatchObject({
        event: 'credential_deleted',
      });
      expect(await notifications.get('nt1')).toMatchObject({ event: 'credential_deleted', eventDescription: 'gone', eventAt: NOW + 2 });
    });
  });

  describe('statusLists', () => {
    it('creates list 1 on first use, opens further lists idempotently, and gets them', async () => {
      expect(await store.statusLists.current(131072, NOW)).toMatchObject({ id: 1, size: 131072 });
      expect(await store.statusLists.current(999, NOW + 1)).toMatchObject({ id: 1, size: 131072 });
      expect(await store.statusLists.open(2, 200000, NOW)).toMatchObject({ id: 2, size: 200000 });
      expect(await store.statusLists.open(2, 5, NOW + 1)).toMatchObject({ id: 2, size: 200000 });
      expect(await store.statusLists.current(131072, NOW)).toMatchObject({ id: 2 });
      expect(await store.statusLists.get(1)).toMatchObject({ id: 1, size: 131072, version: 0 });
      expect(await store.statusLists.get(3)).toBeUndefined();
    });

    it('reserves slots in the newest list under its fill limit, and in a list under a maximum', async () => {
      expect(await store.statusLists.reserveInNewest(0.5)).toBeUndefined(); // no list yet
      await store.statusLists.open(1, 4, NOW);
      await store.statusLists.open(2, 4, NOW);
      expect(await store.statusLists.reserveInNewest(0.5)).toEqual({ id: 2, size: 4 });
      expect(await store.statusLists.reserveInNewest(0.5)).toEqual({ id: 2, size: 4 });
      expect(await store.statusLists.reserveInNewest(0.5)).toBeUndefined(); // 2 of 4 taken
      expect(await store.statusLists.reserve(1, 2)).toBe(true);
      const wins = await Promise.all(Array.from({ length: 10 }, () => store.statusLists.reserve(1, 2)));
      expect(wins.filter(Boolean)).toHaveLength(1);
      expect(await store.statusLists.reserve(1, 2)).toBe(false);
      expect(await store.statusLists.reserve(9, 2)).toBe(false);
    });

    it('bumps the version, caches the signed list per purpose, and lists set indices', async () => {
      await store.statusLists.open(1, 16, NOW);
      await store.statusLists.bumpVersion(1);
      await store.statusLists.bumpVersion(1);
      expect((await store.statusLists.get(1))?.version).toBe(2);
      expect(await store.statusLists.cached(1, 'revocation')).toBeUndefined();
      await store.statusLists.cache({ listId: 1, purpose: 'revocation', version: 2, jwt: 'jwt-a', expiresAt: NOW + 60 });
      await store.statusLists.cache({ listId: 1, purpose: 'suspension', version: 2, jwt: 'jwt-s', expiresAt: NOW + 60 });
      await store.statusLists.cache({ listId: 1, purpose: 'revocation', version: 3, jwt: 'jwt-b', expiresAt: NOW + 90 });
      expect(await store.statusLists.cached(1, 'revocation')).toEqual({ version: 3, jwt: 'jwt-b', expiresAt: NOW + 90 });
      expect(await store.statusLists.cached(1, 'suspension')).toEqual({ version: 2, jwt: 'jwt-s', expiresAt: NOW + 60 });
      for (const [id, index] of [
        ['r', 3],
        ['s', 5],
        ['both', 7],
        ['none', 9],
      ] as const) {
        await store.credentialStatus.tryAllocate({
          credentialId: id,
          listId: 1,
          listIndex: index,
          subjectDid: 'd',
          tierId: 'Standard',
          evidence: [],
          issuedAt: NOW,
          expiresAt: NOW + 1,
          updatedAt: NOW,
        });
      }
      await store.credentialStatus.revoke('r', null, NOW);
      await store.credentialStatus.suspend('s', null, NOW);
      await store.credentialStatus.suspend('both', null, NOW);
      await store.credentialStatus.revoke('both', null, NOW);
      expect((await store.statusLists.setIndices(1, 'revocation')).sort((x, y) => x - y)).toEqual([3, 7]);
      expect((await store.statusLists.setIndices(1, 'suspension')).sort((x, y) => x - y)).toEqual([5, 7]);
      expect(await store.statusLists.setIndices(2, 'revocation')).toEqual([]);
    });
  });

  describe('credentialStatus', () => {
    const entry = (credentialId: string, listIndex: number, issuedAt = NOW) => ({
      credentialId,
      listId: 1,
      listIndex,
      subjectDid: 'did:jwk:s',
      tierId: 'Standard',
      evidence: [{ kind: 'document_verification', checks: ['passport'], verifiedAt: issuedAt }],
      issuedAt,
      expiresAt: issuedAt + 100,
      updatedAt: issuedAt,
    });

    it('allocates an index once per list, gets and lists a subject newest first', async () => {
      expect(await store.credentialStatus.tryAllocate(entry('vc1', 10, NOW))).toBe(true);
      expect(await store.credentialStatus.tryAllocate(entry('vc2', 10, NOW))).toBe(false); // index taken
      expect(await store.credentialStatus.tryAllocate(entry('vc2', 11, NOW + 5))).toBe(true);
      expect(await store.credentialStatus.get('vc1')).toEqual({
        ...entry('vc1', 10, NOW),
        revokedAt: null,
        revocationReason: null,
        suspendedAt: null,
        suspensionReason: null,
        expiryAnnouncedAt: null,
      });
      expect(await store.credentialStatus.get('none')).toBeUndefined();
      // An entry without a recorded credential (a request that died in between) is no credential of the subject.
      expect(await store.credentialStatus.listForSubject('did:jwk:s')).toEqual([]);
      for (const id of ['vc1', 'vc2'])
        await store.issuedCredentials.record({
          id,
          applicationId: 'app',
          subjectDid: 'did:jwk:s',
          transactionId: null,
          jwtSha256: 'x',
          issuedAt: NOW,
          expiresAt: NOW + 100,
        });
      expect((await store.credentialStatus.listForSubject('did:jwk:s')).map((r) => r.credentialId)).toEqual(['vc2', 'vc1']);
      expect(await store.credentialStatus.listForSubject('did:jwk:other')).toEqual([]);
    });

    it('lists unrevoked credentials past exp whose expiry was not announced, and stamps each once', async () => {
      await store.credentialStatus.tryAllocate(entry('old', 1, NOW - 200)); // exp NOW - 100
      await store.credentialStatus.tryAllocate(entry('older', 2, NOW - 300)); // exp NOW - 200
      await store.credentialStatus.tryAllocate(entry('revoked', 3, NOW - 200));
      await store.credentialStatus.tryAllocate(entry('live', 4, NOW)); // exp NOW + 100
      await store.credentialStatus.revoke('revoked', 'fraud', NOW);
      expect((await store.credentialStatus.expiredUnannounced(NOW)).map((r) => r.credentialId)).toEqual(['older', 'old']);
      expect((await store.credentialStatus.expiredUnannounced(NOW, 1)).map((r) => r.credentialId)).toEqual(['older']);
      expect(await store.credentialStatus.markExpiryAnnounced('older', NOW)).toBe(true);
      expect(await store.credentialStatus.markExpiryAnnounced('older', NOW + 1)).toBe(false);
      expect((await store.credentialStatus.get('older'))?.expiryAnnouncedAt).toBe(NOW);
      expect((await store.credentialStatus.expiredUnannounced(NOW)).map((r) => r.credentialId)).toEqual(['old']);
    });

    it('suspends, reinstates and revokes under their conditions; revocation is permanent', async () => {
      await store.credentialStatus.tryAllocate(entry('vc', 1));
      expect(await store.credentialStatus.reinstate('vc', NOW)).toBeUndefined(); // not suspended
      expect(await store.credentialStatus.suspend('vc', 'check', NOW + 1)).toMatchObject({
        suspendedAt: NOW + 1,
        suspensionReason: 'check',
        updatedAt: NOW + 1,
      });
      expect(await store.credentialStatus.suspend('vc', 'again', NOW + 2)).toBeUndefined();
      expect(await store.credentialStatus.reinstate('vc', NOW + 3)).toMatchObject({ suspendedAt: null, suspensionReason: null, updatedAt: NOW + 3 });
      expect(await store.credentialStatus.revoke('vc', 'fraud', NOW + 4)).toMatchObject({ revokedAt: NOW + 4, revocationReason: 'fraud' });
      expect(await store.credentialStatus.revoke('vc', 'twice', NOW + 5)).toBeUndefined();
      expect(await store.credentialStatus.suspend('vc', null, NOW + 6)).toBeUndefined();
      expect(await store.credentialStatus.revoke('none', null, NOW)).toBeUndefined();
      expect(await store.credentialStatus.get('vc')).toMatchObject({ revokedAt: NOW + 4, revocationReason: 'fraud', suspendedAt: null });
    });

    it('records status events and lists them in order', async () => {
      await store.credentialStatus.recordEvent({ credentialId: 'vc', action: 'suspend', reason: 'check', actor: 'operator', at: NOW });
      await store.credentialStatus.recordEvent({ credentialId: 'vc', action: 'reinstate', actor: 'operator', at: NOW + 1 });
      await store.credentialStatus.recordEvent({ credentialId: 'other', action: 'revoke', actor: 'operator', at: NOW });
      const events = await store.credentialStatus.events('vc');
      expect(events.map(({ action, reason, actor, at }) => ({ action, reason, actor, at }))).toEqual([
        { action: 'suspend', reason: 'check', actor: 'operator', at: NOW },
        { action: 'reinstate', reason: null, actor: 'operator', at: NOW + 1 },
      ]);
      expect(events[0].id).toBeLessThan(events[1].id);
      expect(await store.credentialStatus.events('none')).toEqual([]);
    });
  });

  describe('applicationPrefill', () => {
    it('creates and gets the prefill of an application', async () => {
      const row = { applicationId: 'app-p', tierId: 'Enhanced', verifiedEvidence: [], missingChecks: ['sanction_screening'], supersedes: [], createdAt: NOW };
      await store.applicationPrefill.create(row);
      expect(await store.applicationPrefill.get('app-p')).toEqual({ ...row, presentedCredentials: [], countryOfResidence: null });
      const withPresented = {
        ...row,
        applicationId: 'app-q',
        presentedCredentials: [{ id: 'urn:uuid:1', issuer: 'did:example:pfi', expiresAt: NOW + 60, credentialStatus: [{ type: 'BitstringStatusListEntry' }] }],
      };
      await store.applicationPrefill.create(withPresented);
      expect((await store.applicationPrefill.get('app-q'))?.presentedCredentials).toEqual(withPresented.presentedCredentials);
      expect(await store.applicationPrefill.get('none')).toBeUndefined();
      await expect(store.applicationPrefill.create(row)).rejects.toThrow();
    });
  });

  describe('idvSessions', () => {
    const session = (applicationId: string, overrides = {}) => ({
      applicationId,
      provider: 'persona',
      state: 'created',
      idempotencyKey: `idem-${applicationId}`,
      lastEventAt: 0,
      createdAt: NOW,
      updatedAt: NOW,
      ...overrides,
    });

    it('creates a session once; a second create returns the first, openInState refuses it', async () => {
      const first = await store.idvSessions.createOnce(session('a1'));
      expect(first).toEqual({ ...session('a1'), vendorReference: null, webviewUrl: null, outcome: null });
      expect(await store.idvSessions.createOnce(session('a1', { provider: 'other', state: 'in_progress' }))).toEqual(first);
      expect(await store.idvSessions.openInState(session('a1', { state: 'approved' }))).toBe(false);
      expect(await store.idvSessions.openInState(session('a2', { state: 'approved', lastEventAt: 5, outcome: '{"status":"approved"}' }))).toBe(true);
      expect(await store.idvSessions.get('a2')).toMatchObject({ state: 'approved', lastEventAt: 5, outcome: '{"status":"approved"}' });
      expect(await store.idvSessions.get('none')).toBeUndefined();
      const opened = await Promise.all(Array.from({ length: 10 }, () => store.idvSessions.openInState(session('a3'))));
      expect(opened.filter(Boolean)).toHaveLength(1);
    });

    it('attaches the vendor session and finds it by the vendor reference', async () => {
      await store.idvSessions.createOnce(session('a1'));
      expect(await store.idvSessions.findByReference('persona', 'inq_1')).toBeUndefined();
      await store.idvSessions.attachVendorSession('a1', 'inq_1', 'https://vendor.example/inq_1', NOW + 7);
      expect(await store.idvSessions.findByReference('persona', 'inq_1')).toMatchObject({
        applicationId: 'a1',
        vendorReference: 'inq_1',
        webviewUrl: 'https://vendor.example/inq_1',
        updatedAt: NOW + 7,
      });
      expect(await store.idvSessions.findByReference('other', 'inq_1')).toBeUndefined();
    });

    it('applies only newer events; an absent outcome keeps the stored one', async () => {
      await store.idvSessions.createOnce(session('a1'));
      expect(await store.idvSessions.applyIfNewer('a1', { state: 'in_progress', eventAt: 1000 }, NOW + 1)).toMatchObject({
        state: 'in_progress',
        lastEventAt: 1000,
        outcome: null,
        updatedAt: NOW + 1,
      });
      expect(await store.idvSessions.applyIfNewer('a1', { state: 'approved', outcome: { s: 1 }, eventAt: 3000 }, NOW + 2)).toMatchObject({
        state: 'approved',
        outcome: { s: 1 },
      });
      expect(await store.idvSessions.applyIfNewer('a1', { state: 'declined', outcome: { s: 0 }, eventAt: 2000 }, NOW + 3)).toBeUndefined(); // older
      expect(await store.idvSessions.applyIfNewer('a1', { state: 'approved', outcome: { s: 2 }, eventAt: 3000 }, NOW + 3)).toBeUndefined(); // same time
      expect(await store.idvSessions.applyIfNewer('a1', { state: 'needs_review', eventAt: 4000 }, NOW + 4)).toMatchObject({
        state: 'needs_review',
        outcome: { s: 1 },
        lastEventAt: 4000,
      });
      expect(await store.idvSessions.applyIfNewer('a1', { state: 'approved', outcome: null, eventAt: 5000 }, NOW + 5)).toMatchObject({ outcome: null });
      expect(await store.idvSessions.applyIfNewer('none', { state: 'approved', eventAt: 5000 }, NOW)).toBeUndefined();
    });

    it('commits a result with what it decides together, or nothing when the session write loses', async () => {
      const TRACED = `00-${'3'.repeat(32)}-${'4'.repeat(16)}-01`;
      const app = { id: uid('app'), applicantDid: 'did:jwk:holder', credentialConfigurationId: 'KnownCustomerCredential', status: 'pending' as const };
      // With a presented credential's sealed claims, which follow the form's PII schedule.
      await store.applications.createWithCode(
        { ...app, formTokenHash: uid('form'), formExpiresAt: NOW + 3600, createdAt: NOW, updatedAt: NOW },
        { codeHash: uid('code'), applicationId: app.id, applicantDid: app.applicantDid, expiresAt: NOW + 600 },
        undefined,
        { applicationId: app.id, keyId: 'k1', ciphertext: 'sealed-claims', createdAt: NOW },
      );
      await store.pii.store({ applicationId: app.id, keyId: 'k1', ciphertext: 'sealed', createdAt: NOW });
      const event = (id: string) => ({
        id,
        type: 'application.approved',
        body: `{"id":"${id}"}`,
        createdAt: NOW + 1,
        traceParent: id === 'evt_1' ? TRACED : null,
      });
      const write = (session: IdvResultWrite['session'], overrides: Partial<IdvResultWrite> = {}): IdvResultWrite => ({
        applicationId: app.id,
        session,
        status: { status: 'approved', provider: 'persona', countryOfResidence: 'DE', evidence: [{ kind: 'document_verification' }], reason: null },
        audit: { actor: 'idv:persona', action: 'idv.state_changed', detail: { from: 'created', to: 'approved' } },
        events: [event('evt_1'), event('evt_2')],
        purgeAfter: NOW + 86400,
        now: NOW + 1,
        ...overrides,
      });
      const opened = session(app.id, { state: 'approved', lastEventAt: 2000, outcome: { s: 1 } });
      expect(await store.idvSessions.commitResult(write({ open: opened }))).toBe(true);
      expect((await store.outbox.get('evt_1'))?.traceParent).toBe(TRACED);
      expect((await store.outbox.get('evt_2'))?.traceParent).toBeNull();
      expect(await store.idvSessions.get(app.id)).toMatchObject({ state: 'approved', lastEventAt: 2000, outcome: { s: 1 } });
      expect(await store.applications.get(app.id)).toMatchObject({
        status: 'approved',
        countryOfResidence: 'DE',
        decidedBy: 'idv:persona',
        decidedAt: NOW + 1,
        evidence: [{ kind: 'document_verification' }],
      });
      expect(await store.audit.listForApplication(app.id)).toMatchObject([
        { action: 'idv.state_changed', actor: 'idv:persona', detail: { from: 'created', to: 'approved' }, at: NOW + 1 },
      ]);
      expect((await store.outbox.get('evt_2'))?.body).toBe('{"id":"evt_2"}');
      expect((await store.pii.get(app.id))?.purgeAfter).toBe(NOW + 86400);
      expect((await store.presentedClaims.get(app.id))?.purgeAfter).toBe(NOW + 86400);

      // Lost: the session exists (open), or a newer or equally new event was applied (advance): nothing written.
      const lost = { status: { status: 'rejected' as const, provider: 'persona', reason: 'lost' }, events: [event('evt_3')], purgeAfter: NOW + 5 };
      expect(await store.idvSessions.commitResult(write({ open: opened }, lost))).toBe(false);
      expect(await store.idvSessions.commitResult(write({ advance: { state: 'declined', outcome: null, eventAt: 2000 } }, lost))).toBe(false);
      expect(await store.applications.get(app.id)).toMatchObject({ status: 'approved', decisionReason: null });
      expect(await store.audit.listForApplication(app.id)).toHaveLength(1);
      expect(await store.outbox.get('evt_3')).toBeUndefined();
      expect((await store.pii.get(app.id))?.purgeAfter).toBe(NOW + 86400);
      expect((await store.presentedClaims.get(app.id))?.purgeAfter).toBe(NOW + 86400);

      // A newer event wins: a repeated event id is one outbox row, an absent status leaves the application.
      expect(
        await store.idvSessions.commitResult(
          write(
            { advance: { state: 'needs_review', outcome: null, eventAt: 3000 } },
            { status: undefined, events: [event('evt_1'), event('evt_4')], purgeAfter: undefined },
          ),
        ),
      ).toBe(true);
      expect(await store.idvSessions.get(app.id)).toMatchObject({ state: 'needs_review', lastEventAt: 3000, outcome: null, updatedAt: NOW + 1 });
      expect(await store.applications.get(app.id)).toMatchObject({ status: 'approved' });
      expect(await store.audit.listForApplication(app.id)).toHaveLength(2);
      expect(await store.outbox.get('evt_4')).toBeDefined();
      expect(await store.outbox.pendingCount()).toBe(3);

      // Of concurrent results for the same newer event time exactly one commits.
      const raced = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.idvSessions.commitResult(write({ advance: { state: 'approved', outcome: { i }, eventAt: 4000 } }, { events: [event(`evt_race_${i}`)] })),
        ),
      );
      expect(raced.filter(Boolean)).toHaveLength(1);
      expect(await store.audit.listForApplication(app.id)).toHaveLength(3);
      expect(await store.outbox.pendingCount()).toBe(4);
    });

    it("commits the hosted form's consent entry and sealed PII with its result (PII purge clock set as inserted), or neither when it loses", async () => {
      const app = await newApplication();
      const submission = {
        consent: { actor: 'applicant', action: 'consent.given', detail: { optional: ['marketing'] }, at: NOW },
        pii: { keyId: 'k1', ciphertext: 'sealed-form', createdAt: NOW },
      };
      const write = (session: IdvResultWrite['session'], overrides: Partial<IdvResultWrite> = {}): IdvResultWrite => ({
        applicationId: app.id,
        session,
        audit: { actor: 'applicant', action: 'idv.state_changed', detail: { from: 'created', to: 'approved' } },
        events: [],
        purgeAfter: NOW + 86400,
        submission,
        presentedClaims: false,
        now: NOW + 1,
        ...overrides,
      });
      const opened = session(app.id, { state: 'approved', lastEventAt: 2000 });
      // Lost (a session exists already): neither the consent entry nor the PII.
      await store.idvSessions.openInState(session(app.id, { state: 'in_progress', lastEventAt: 1000 }));
      expect(await store.idvSessions.commitResult(write({ open: opened }))).toBe(false);
      expect(await store.audit.listForApplication(app.id)).toEqual([]);
      expect(await store.pii.get(app.id)).toBeUndefined();
      // Won: the consent entry before the decision's, the PII with its purge clock.
      expect(await store.idvSessions.commitResult(write({ advance: { state: 'approved', outcome: null, eventAt: 2000 } }))).toBe(true);
      expect((await store.audit.listForApplication(app.id)).map((e) => [e.action, e.at])).toEqual([
        ['consent.given', NOW],
        ['idv.state_changed', NOW + 1],
      ]);
      expect(await store.pii.get(app.id)).toMatchObject({ keyId: 'k1', ciphertext: 'sealed-form', createdAt: NOW, purgeAfter: NOW + 86400, erasedAt: null });
      // Undecided (review): the PII without a purge clock.
      const review = await newApplication();
      expect(
        await store.idvSessions.commitResult(
          write({ open: session(review.id, { state: 'needs_review', lastEventAt: 2000 }) }, { applicationId: review.id, purgeAfter: undefined }),
        ),
      ).toBe(true);
      expect((await store.pii.get(review.id))?.purgeAfter).toBeNull();
    });

    it('a result that answers the form link takes the answer in its own commit: once, only while the link is open, and nothing when it loses', async () => {
      const answering = (app: { id: string; formTokenHash: string }, overrides: Partial<IdvResultWrite> = {}): IdvResultWrite => ({
        applicationId: app.id,
        session: { open: session(app.id, { provider: 'hosted', state: 'approved', lastEventAt: 2000 }) },
        status: { status: 'approved', provider: 'hosted', countryOfResidence: 'DE', evidence: [{ kind: 'document_verification' }], reason: null },
        audit: { actor: 'applicant', action: 'idv.state_changed', detail: { from: 'created', to: 'approved' } },
        events: [{ id: uid('evt'), type: 'application.approved', body: '{}', createdAt: NOW + 1 }],
        submission: {
          consent: { actor: 'applicant', action: 'consent.given', detail: {}, at: NOW + 1 },
          pii: { keyId: 'k1', ciphertext: 'sealed', createdAt: NOW + 1 },
        },
        purgeAfter: NOW + 86400,
        answers: { formTokenHash: app.formTokenHash },
        now: NOW + 1,
        ...overrides,
      });
      const app = await newApplication();
      expect(await store.idvSessions.commitResult(answering(app))).toBe(true);
      expect(await store.applications.get(app.id)).toMatchObject({
        status: 'approved',
        formSubmittedAt: NOW + 1,
        idvProvider: 'hosted',
        countryOfResidence: 'DE',
        decidedBy: 'idv:hosted',
        decidedAt: NOW + 1,
      });
      expect(await store.idvSessions.get(app.id)).toMatchObject({ provider: 'hosted', state: 'approved', lastEventAt: 2000 });
      expect((await store.audit.listForApplication(app.id)).map((e) => e.action)).toEqual(['consent.given', 'idv.state_changed']);
      expect(await store.pii.get(app.id)).toMatchObject({ ciphertext: 'sealed', purgeAfter: NOW + 86400 });
      // Answered: a second answer writes nothing (its event, PII and entries included).
      const again = answering(app, { events: [{ id: 'evt-again', type: 'application.rejected', body: '{}', createdAt: NOW + 2 }] });
      expect(await store.idvSessions.commitResult(again)).toBe(false);
      expect(await store.outbox.get('evt-again')).toBeUndefined();
      expect(await store.audit.listForApplication(app.id)).toHaveLength(2);

      // A link answered otherwise (submitIdv), withdrawn, or expired: nothing, not even the session.
      const answered = await newApplication();
      await store.applications.submitIdv(answered.formTokenHash, { provider: 'persona', countryOfResidence: 'FR' }, NOW);
      const withdrawn = await newApplication();
      await store.applications.withdraw(withdrawn.formTokenHash, NOW);
      const expired = await newApplication({ formExpiresAt: NOW + 1 });
      for (const other of [answered, withdrawn, expired]) {
        expect(await store.idvSessions.commitResult(answering(other)), other.id).toBe(false);
        expect(await store.idvSessions.get(other.id)).toBeUndefined();
        expect(await store.audit.listForApplication(other.id)).toEqual([]);
        expect(await store.pii.get(other.id)).toBeUndefined();
      }
      expect((await store.applications.get(answered.id))?.status).toBe('pending');
      expect((await store.applications.get(withdrawn.id))?.status).toBe('withdrawn');
      // A session already there (a vendor's): the answer is not taken here.
      const vendor = await newApplication();
      await store.idvSessions.openInState(session(vendor.id, { state: 'in_progress', lastEventAt: 1000 }));
      expect(await store.idvSessions.commitResult(answering(vendor))).toBe(false);
      expect(await store.applications.get(vendor.id)).toMatchObject({ status: 'pending', formSubmittedAt: null });

      // Concurrent answers of one link: exactly one commits, one decision, one set of entries.
      const raced = await newApplication();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.idvSessions.commitResult(
            answering(raced, { events: [{ id: `evt-raced-${i}`, type: 'application.approved', body: '{}', createdAt: NOW + 1 }] }),
          ),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.audit.listForApplication(raced.id)).toHaveLength(2);
      expect((await store.outbox.list()).filter((e) => e.id.startsWith('evt-raced-'))).toHaveLength(1);
    });
  });

  describe('idvEvents', () => {
    const event = (id: string, occurredAt: number, applicationId: string | null = 'a1') => ({
      id,
      provider: 'persona',
      applicationId,
      vendorReference: 'inq_1',
      type: 'inquiry.completed',
      occurredAt,
      receivedAt: NOW,
    });

    it('records an event once, says whether it exists, sets its disposition, lists by vendor time', async () => {
      expect(await store.idvEvents.exists('persona:e1')).toBe(false);
      expect(await store.idvEvents.recordOnce(event('persona:e2', 2000))).toBe(true);
      expect(await store.idvEvents.recordOnce(event('persona:e2', 2000))).toBe(false);
      expect(await store.idvEvents.recordOnce(event('persona:e1', 1000))).toBe(true);
      expect(await store.idvEvents.recordOnce(event('persona:e3', 500, null))).toBe(true);
      expect(await store.idvEvents.exists('persona:e1')).toBe(true);
      await store.idvEvents.setDisposition('persona:e1', 'applied', 'approved');
      await store.idvEvents.setDisposition('persona:e3', 'stale', null, 'a1');
      const listed = await store.idvEvents.listForApplication('a1');
      expect(listed.map((e) => [e.id, e.disposition, e.stateAfter])).toEqual([
        ['persona:e3', 'stale', null],
        ['persona:e1', 'applied', 'approved'],
        ['persona:e2', null, null],
      ]);
      expect(await store.idvEvents.listForApplication('none')).toEqual([]);
    });
  });

  describe('applicationStatus', () => {
    it('lists abandoned applications: pending, never submitted, link expired, no IDV session', async () => {
      const abandoned = await newApplication({ formExpiresAt: NOW - 10, idvProvider: 'sandbox' });
      const edge = await newApplication({ formExpiresAt: NOW });
      await newApplication({ formExpiresAt: NOW + 10 }); // link still valid
      await newApplication({ formExpiresAt: NOW - 10, status: 'review' });
      await newApplication({ formExpiresAt: NOW - 10, formSubmittedAt: NOW - 20 });
      const withSession = await newApplication({ formExpiresAt: NOW - 10 });
      await store.idvSessions.createOnce({
        applicationId: withSession.id,
        provider: 'persona',
        state: 'created',
        idempotencyKey: 'k',
        lastEventAt: 0,
        createdAt: NOW,
        updatedAt: NOW,
      });
      const found = await store.applicationStatus.abandonedCandidates(NOW);
      expect(found.sort((x, y) => x.id.localeCompare(y.id))).toEqual(
        [
          { id: abandoned.id, idvProvider: 'sandbox' },
          { id: edge.id, idvProvider: null },
        ].sort((x, y) => x.id.localeCompare(y.id)),
      );
      expect(await store.applicationStatus.abandonedCandidates(NOW, 1)).toHaveLength(1);
    });

    it('sets the status; decided ones record who decided, absent fields keep their value', async () => {
      const app = await newApplication();
      const decided = await store.applicationStatus.set(
        app.id,
        { status: 'approved', provider: 'persona', countryOfResidence: 'US', tier: 'Standard', evidence: [{ kind: 'document_verification' }] },
        NOW + 1,
      );
      expect(decided).toMatchObject({
        status: 'approved',
        idvProvider: 'persona',
        countryOfResidence: 'US',
        tier: 'Standard',
        decidedBy: 'idv:persona',
        decidedAt: NOW + 1,
        updatedAt: NOW + 1,
      });
      expect(decided!.evidence).toEqual([{ kind: 'document_verification' }]);
      const review = await store.applicationStatus.set(app.id, { status: 'review', provider: 'persona', countryOfResidence: '', reason: 'mismatch' }, NOW + 2);
      expect(review).toMatchObject({
        status: 'review',
        countryOfResidence: 'US',
        tier: 'Standard',
        decisionReason: 'mismatch',
        decidedBy: null,
        decidedAt: null,
      });
      expect(review!.evidence).toEqual([{ kind: 'document_verification' }]);
      expect(await store.applicationStatus.set(app.id, { status: 'rejected', provider: 'persona', decidedBy: 'operator' }, NOW + 3)).toMatchObject({
        status: 'rejected',
        decidedBy: 'operator',
        decisionReason: null,
      });
      expect(await store.applicationStatus.set('none', { status: 'approved', provider: 'persona' }, NOW)).toBeUndefined();
    });

    it('searches by status, provider, country and id or DID, most recently updated first', async () => {
      const a = await newApplication({ status: 'review', idvProvider: 'persona', countryOfResidence: 'US', updatedAt: NOW + 1 });
      const b = await newApplication({ status: 'review', idvProvider: 'sandbox', countryOfResidence: 'DE', updatedAt: NOW + 2, applicantDid: 'did:jwk:b' });
      const c = await newApplication({ status: 'approved', idvProvider: 'persona', countryOfResidence: 'US', updatedAt: NOW + 3 });
      const ids = async (filter: Parameters<Store['applicationStatus']['search']>[0]) => (await store.applicationStatus.search(filter)).map((r) => r.id);
      expect(await ids({})).toEqual([c.id, b.id, a.id]);
      expect(await ids({ status: 'review' })).toEqual([b.id, a.id]);
      expect(await ids({ provider: 'persona' })).toEqual([c.id, a.id]);
      expect(await ids({ country: 'US', status: 'review' })).toEqual([a.id]);
      expect(await ids({ q: a.id })).toEqual([a.id]);
      expect(await ids({ q: 'did:jwk:b' })).toEqual([b.id]);
      expect(await ids({ limit: 1 })).toEqual([c.id]);
      expect(await ids({ status: 'rejected' })).toEqual([]);
    });

    it('pages the queue by age (oldest or newest first) and filters by assignee; assign replaces, release frees', async () => {
      const a = await newApplication({ status: 'review', createdAt: NOW + 10, updatedAt: NOW + 30 });
      const b = await newApplication({ status: 'review', createdAt: NOW + 20, updatedAt: NOW + 20 });
      const c = await newApplication({ status: 'review', createdAt: NOW + 30, updatedAt: NOW + 10 });
      const ids = async (filter: Parameters<Store['applicationStatus']['search']>[0]) => (await store.applicationStatus.search(filter)).map((r) => r.id);
      expect(await ids({ order: 'oldest' })).toEqual([a.id, b.id, c.id]);
      expect(await ids({ order: 'newest' })).toEqual([c.id, b.id, a.id]);
      expect(await ids({ order: 'oldest', limit: 2, offset: 0 })).toEqual([a.id, b.id]);
      expect(await ids({ order: 'oldest', limit: 2, offset: 2 })).toEqual([c.id]);
      await store.applicationAssignments.assign(b.id, 'console:alice', NOW + 40);
      await store.applicationAssignments.assign(c.id, 'console:alice', NOW + 41);
      await store.applicationAssignments.assign(c.id, 'console:bob', NOW + 42);
      expect(await store.applicationAssignments.get(c.id)).toEqual({ applicationId: c.id, assignee: 'console:bob', assignedAt: NOW + 42 });
      expect(await ids({ order: 'oldest', assignee: 'console:alice' })).toEqual([b.id]);
      expect(await ids({ order: 'oldest', assignee: null })).toEqual([a.id]);
      expect((await store.applicationStatus.search({ order: 'oldest' })).map((r) => r.assignee)).toEqual([null, 'console:alice', 'console:bob']);
      expect(await store.applicationAssignments.release(b.id)).toBe(true);
      expect(await store.applicationAssignments.release(b.id)).toBe(false);
      expect(await store.applicationAssignments.get(b.id)).toBeUndefined();
      expect(await ids({ order: 'oldest', assignee: null })).toEqual([a.id, b.id]);
    });
  });

  describe('pii', () => {
    it('stores once, schedules the purge, purges what is due, erases once', async () => {
      await store.pii.store({ applicationId: 'a1', keyId: 'k1', ciphertext: 'c1', createdAt: NOW });
      await store.pii.store({ applicationId: 'a1', keyId: 'k2', ciphertext: 'other', createdAt: NOW + 1 }); // no-op
      await store.pii.store({ applicationId: 'a2', keyId: 'k1', ciphertext: 'c2', createdAt: NOW });
      await store.pii.store({ applicationId: 'a3', keyId: 'k1', ciphertext: 'c3', createdAt: NOW });
      expect(await store.pii.get('a1')).toEqual({
        applicationId: 'a1',
        keyId: 'k1',
        ciphertext: 'c1',
        createdAt: NOW,
        purgeAfter: null,
        erasedAt: null,
        erasedReason: null,
      });
      expect(await store.pii.get('none')).toBeUndefined();
      await store.pii.schedulePurge('a1', NOW + 10);
      await store.pii.schedulePurge('a2', NOW + 100);
      expect(await store.pii.purgeDue(NOW + 9)).toEqual([]);
      expect(await store.pii.purgeDue(NOW + 10)).toEqual(['a1']);
      expect(await store.pii.get('a1')).toMatchObject({ ciphertext: null, erasedAt: NOW + 10, erasedReason: 'retention' });
      expect(await store.pii.purgeDue(NOW + 10)).toEqual([]);
      await store.pii.schedulePurge('a1', NOW + 20); // erased: no effect
      expect((await store.pii.get('a1'))?.purgeAfter).toBe(NOW + 10);
      expect(await store.pii.erase('a3', 'operator_request', NOW + 11)).toBe(true);
      expect(await store.pii.erase('a3', 'operator_request', NOW + 12)).toBe(false);
      expect(await store.pii.erase('none', 'operator_request', NOW)).toBe(false);
      expect(await store.pii.get('a3')).toMatchObject({ ciphertext: null, erasedAt: NOW + 11, erasedReason: 'operator_request', keyId: 'k1' });
      expect(await store.pii.get('a2')).toMatchObject({ ciphertext: 'c2', purgeAfter: NOW + 100 });
    });
  });

  describe('presentedClaims', () => {
    it('purges what is due, erases once, keeps the record of when and why', async () => {
      const create = async (purgeAfter?: number) => {
        const id = uid('app');
        await store.applications.createWithCode(
          {
            id,
            applicantDid: 'did:jwk:holder',
            credentialConfigurationId: 'K',
            status: 'pending',
            formTokenHash: uid('form'),
            formExpiresAt: NOW,
            createdAt: NOW,
            updatedAt: NOW,
          },
          { codeHash: uid('code'), applicationId: id, applicantDid: 'did:jwk:holder', expiresAt: NOW + 600 },
          undefined,
          { applicationId: id, keyId: 'k1', ciphertext: `c-${id}`, createdAt: NOW, ...(purgeAfter !== undefined ? { purgeAfter } : {}) },
        );
        return id;
      };
      const due = await create(NOW + 10);
      const later = await create(NOW + 100);
      const undecided = await create();
      expect(await store.presentedClaims.get('none')).toBeUndefined();
      expect(await store.presentedClaims.purgeDue(NOW + 9)).toEqual([]);
      expect(await store.presentedClaims.purgeDue(NOW + 10)).toEqual([due]);
      expect(await store.presentedClaims.get(due)).toMatchObject({ ciphertext: null, erasedAt: NOW + 10, erasedReason: 'retention', keyId: 'k1' });
      expect(await store.presentedClaims.purgeDue(NOW + 1000)).toEqual([later]);
      expect(await store.presentedClaims.get(undecided)).toMatchObject({ ciphertext: `c-${undecided}`, erasedAt: null });
      expect(await store.presentedClaims.erase(undecided, 'operator_request', NOW + 11)).toBe(true);
      expect(await store.presentedClaims.erase(undecided, 'operator_request', NOW + 12)).toBe(false);
      expect(await store.presentedClaims.erase('none', 'operator_request', NOW)).toBe(false);
      expect(await store.presentedClaims.get(undecided)).toMatchObject({ ciphertext: null, erasedAt: NOW + 11, erasedReason: 'operator_request' });
    });
  });

  describe('audit', () => {
    it('records entries with JSON detail and lists an application’s in order', async () => {
      await store.audit.record({ applicationId: 'a1', actor: 'operator', action: 'decide', detail: { status: 'approved' }, at: NOW + 1 });
      await store.audit.record({ applicationId: 'a1', actor: 'system', action: 'open', at: NOW });
      await store.audit.record({ applicationId: 'a1', actor: 'system', action: 'notify', at: NOW + 1 });
      await store.audit.record({ applicationId: null, actor: 'system', action: 'purge', at: NOW });
      const entries = await store.audit.listForApplication('a1');
      expect(entries.map(({ actor, action, detail, at }) => ({ actor, action, detail, at }))).toEqual([
        { actor: 'system', action: 'open', detail: null, at: NOW },
        { actor: 'operator', action: 'decide', detail: { status: 'approved' }, at: NOW + 1 },
        { actor: 'system', action: 'notify', detail: null, at: NOW + 1 },
      ]);
      expect(await store.audit.listForApplication('none')).toEqual([]);
    });
  });

  describe('outbox', () => {
    it('enqueues once; due, claimed by one dispatcher, retried, delivered or failed', async () => {
      expect(await store.outbox.enqueue({ id: 'evt_1', type: 'application.approved', body: '{"a":1}', createdAt: NOW })).toBe(true);
      expect(await store.outbox.enqueue({ id: 'evt_1', type: 'application.approved', body: '{"other":1}', createdAt: NOW + 1 })).toBe(false);
      const traceParent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      expect(await store.outbox.enqueue({ id: 'evt_2', type: 'application.rejected', body: '{"a":2}', createdAt: NOW + 1, traceParent })).toBe(true);
      expect((await store.outbox.get('evt_2'))?.traceParent).toBe(traceParent);
      expect(await store.outbox.get('evt_1')).toEqual({
        id: 'evt_1',
        type: 'application.approved',
        body: '{"a":1}',
        createdAt: NOW,
        attempts: 0,
        nextAttemptAt: NOW,
        leaseUntil: null,
        deliveredAt: null,
        failedAt: null,
        lastError: null,
        traceParent: null,
      });
      expect(await store.outbox.get('none')).toBeUndefined();
      expect((await store.outbox.due(NOW, 10)).map((e) => e.id)).toEqual(['evt_1']);
      expect((await store.outbox.due(NOW + 1, 10)).map((e) => e.id)).toEqual(['evt_1', 'evt_2']);
      expect((await store.outbox.due(NOW + 1, 1)).map((e) => e.id)).toEqual(['evt_1']);
      expect(await store.outbox.pendingCount()).toBe(2);

      const claimed = await oneWinner(() => store.outbox.claim('evt_1', NOW + 1, NOW + 31));
      expect(claimed).toMatchObject({ id: 'evt_1', attempts: 1, leaseUntil: NOW + 31 });
      expect((await store.outbox.due(NOW + 1, 10)).map((e) => e.id)).toEqual(['evt_2']); // leased
      expect((await store.outbox.claim('evt_1', NOW + 31, NOW + 61))?.attempts).toBe(2); // lease ran out
      await store.outbox.markRetry('evt_1', NOW + 100, 'HTTP 503');
      expect(await store.outbox.get('evt_1')).toMatchObject({ nextAttemptAt: NOW + 100, leaseUntil: null, lastError: 'HTTP 503', attempts: 2 });
      expect((await store.outbox.due(NOW + 99, 10)).map((e) => e.id)).toEqual(['evt_2']);
      await store.outbox.markDelivered('evt_1', NOW + 100);
      expect(await store.outbox.get('evt_1')).toMatchObject({ deliveredAt: NOW + 100, lastError: null });
      expect(await store.outbox.claim('evt_1', NOW + 200, NOW + 230)).toBeUndefined();
      await store.outbox.markFailed('evt_2', NOW + 5, 'gave up');
      expect(await store.outbox.get('evt_2')).toMatchObject({ failedAt: NOW + 5, lastError: 'gave up', leaseUntil: null });
      expect(await store.outbox.claim('evt_2', NOW + 200, NOW + 230)).toBeUndefined();
      expect(await store.outbox.due(NOW + 1000, 10)).toEqual([]);
      expect(await store.outbox.pendingCount()).toBe(0);
      expect((await store.outbox.list()).map((e) => e.id)).toEqual(['evt_2', 'evt_1']);
      expect((await store.outbox.list(1)).map((e) => e.id)).toEqual(['evt_2']);
    });

    it('records delivery attempts and lists an event’s in order', async () => {
      await store.outbox.recordDelivery({ eventId: 'evt_1', attempt: 1, statusCode: 503, durationMs: 12, at: NOW });
      await store.outbox.recordDelivery({ eventId: 'evt_1', attempt: 2, error: 'timeout', durationMs: 5000, at: NOW + 30 });
      await store.outbox.recordDelivery({ eventId: 'evt_2', attempt: 1, statusCode: 200, durationMs: 8, at: NOW });
      const deliveries = await store.outbox.deliveries('evt_1');
      expect(deliveries.map(({ eventId, attempt, statusCode, error, durationMs, at }) => ({ eventId, attempt, statusCode, error, durationMs, at }))).toEqual([
        { eventId: 'evt_1', attempt: 1, statusCode: 503, error: null, durationMs: 12, at: NOW },
        { eventId: 'evt_1', attempt: 2, statusCode: null, error: 'timeout', durationMs: 5000, at: NOW + 30 },
      ]);
      expect(await store.outbox.deliveries('none')).toEqual([]);
    });
  });

  describe('operatorSessions', () => {
    const session = (idHash: string, operator = 'Bob', credentialTag = 'tag-1') => ({
      idHash,
      operator,
      credentialTag,
      createdAt: NOW,
      lastSeenAt: NOW,
      expiresAt: NOW + 3600,
    });

    it('touch keeps a live session alive and refuses an idle, expired or ended one', async () => {
      await store.operatorSessions.create(session('s1'));
      expect(await store.operatorSessions.touch('s1', NOW + 100, NOW + 100 - 600)).toMatchObject({ operator: 'Bob', lastSeenAt: NOW + 100 });
      expect(await store.operatorSessions.touch('s1', NOW + 800, NOW + 800 - 600)).toBeUndefined();
      await store.operatorSessions.create(session('s2'));
      expect(await store.operatorSessions.touch('s2', NOW + 3600, NOW)).toBeUndefined();
      await store.operatorSessions.create(session('s3'));
      await store.operatorSessions.end('s3', NOW + 1);
      expect(await store.operatorSessions.touch('s3', NOW + 2, NOW)).toBeUndefined();
      expect(await store.operatorSessions.touch('unknown', NOW, NOW)).toBeUndefined();
    });

    it('keeps the role and name of a workforce (SSO) session; account sessions have neither', async () => {
      await store.operatorSessions.create({ ...session('w1', 'sso:party-digest'), role: 'admin', displayName: 'Rita Reviewer' });
      expect(await store.operatorSessions.touch('w1', NOW + 1, NOW)).toMatchObject({
        operator: 'sso:party-digest',
        role: 'admin',
        displayName: 'Rita Reviewer',
      });
      await store.operatorSessions.create(session('w2'));
      expect(await store.operatorSessions.touch('w2', NOW + 1, NOW)).toMatchObject({ role: null, displayName: null });
    });

    it('ends all of one operator, all of another credential, and purges old ones', async () => {
      await store.operatorSessions.create(session('a', 'Bob'));
      await store.operatorSessions.create(session('b', 'Bob'));
      await store.operatorSessions.create(session('c', 'Alice'));
      await store.operatorSessions.create(session('d', 'Alice', 'tag-old'));
      expect(await store.operatorSessions.endAllFor('Bob', NOW + 1)).toBe(2);
      expect(await store.operatorSessions.endAllExcept(['tag-1'], NOW + 1)).toBe(1);
      expect(await store.operatorSessions.touch('c', NOW + 2, NOW)).toBeDefined();
      expect(await store.operatorSessions.touch('d', NOW + 2, NOW)).toBeUndefined();
      expect(await store.operatorSessions.purge(NOW + 2)).toBe(3);
      expect(await store.operatorSessions.purge(NOW + 3601)).toBe(1);
    });

    it('endAllExcept keeps several credentials, and with none ends every live session', async () => {
      await store.operatorSessions.create(session('a', 'Bob', 'tag-a'));
      await store.operatorSessions.create(session('b', 'Alice', 'tag-b'));
      await store.operatorSessions.create(session('c', 'Carol', 'tag-c'));
      expect(await store.operatorSessions.endAllExcept(['tag-a', 'tag-b'], NOW + 1)).toBe(1);
      expect(await store.operatorSessions.touch('c', NOW + 2, NOW)).toBeUndefined();
      expect(await store.operatorSessions.endAllExcept([], NOW + 1)).toBe(2);
    });
  });

  describe('operatorAccounts', () => {
    const account = (name: string, role: 'reviewer' | 'admin' = 'reviewer') => ({
      name,
      role,
      secretHash: `hash-${name}`,
      createdAt: NOW,
      updatedAt: NOW,
      disabledAt: null,
      controlledBy: name === 'bob' ? ['account:ana', 'admin-token'] : [],
    });

    it('creates once per name, lists by name, resets and disables only live accounts', async () => {
      expect(await store.operatorAccounts.any()).toBe(false);
      expect(await store.operatorAccounts.create(account('bob', 'admin'))).toBe(true);
      expect(await store.operatorAccounts.create(account('alice'))).toBe(true);
      expect(await store.operatorAccounts.create(account('bob'))).toBe(false);
      expect(await store.operatorAccounts.any()).toBe(true);
      expect((await store.operatorAccounts.list()).map((a) => [a.name, a.role])).toEqual([
        ['alice', 'reviewer'],
        ['bob', 'admin'],
      ]);
      expect(await store.operatorAccounts.get('bob')).toEqual(account('bob', 'admin'));
      expect(await store.operatorAccounts.get('nobody')).toBeUndefined();
      expect(await store.operatorAccounts.setSecret('alice', 'hash-2', NOW + 5, ['account:bob'])).toBe(true);
      // Who could know the new secret (four-eyes) is replaced with it.
      expect(await store.operatorAccounts.get('alice')).toMatchObject({ secretHash: 'hash-2', updatedAt: NOW + 5, controlledBy: ['account:bob'] });
      expect(await store.operatorAccounts.disable('alice', NOW + 6)).toBe(true);
      expect(await store.operatorAccounts.disable('alice', NOW + 7)).toBe(false);
      expect(await store.operatorAccounts.setSecret('alice', 'hash-3', NOW + 8, [])).toBe(false);
      expect(await store.operatorAccounts.disable('nobody', NOW)).toBe(false);
      expect(await store.operatorAccounts.get('alice')).toMatchObject({ secretHash: 'hash-2', disabledAt: NOW + 6 });
      // A removed account's name stays taken.
      expect(await store.operatorAccounts.create(account('alice'))).toBe(false);
    });
  });

  describe('pendingApprovals', () => {
    const proposal = (applicationId: string, party: string) => ({
      applicationId,
      party,
      actor: `console:${party}`,
      fromStatus: 'review',
      tier: 'Standard',
      countryOfResidence: null,
      reason: null,
      createdAt: NOW,
    });

    it('one proposal per application, taken once and only by another party', async () => {
      expect(await store.pendingApprovals.propose(proposal('app-1', 'account:bob'))).toBe(true);
      expect(await store.pendingApprovals.propose(proposal('app-1', 'account:alice'))).toBe(false);
      expect(await store.pendingApprovals.get('app-1')).toEqual(proposal('app-1', 'account:bob'));
      expect(await store.pendingApprovals.takeForConfirmation('app-1', 'account:bob')).toBeUndefined();
      const taken = await oneWinner(() => store.pendingApprovals.takeForConfirmation('app-1', 'account:alice'));
      expect(taken).toEqual(proposal('app-1', 'account:bob'));
      expect(await store.pendingApprovals.get('app-1')).toBeUndefined();
      expect(await store.pendingApprovals.propose(proposal('app-2', 'admin-token'))).toBe(true);
      await store.pendingApprovals.clear('app-2');
      await store.pendingApprovals.clear('app-3');
      expect(await store.pendingApprovals.get('app-2')).toBeUndefined();
    });
  });

  describe('existingCustomerLinks', () => {
    it('records one link per application and finds the other DIDs of the same bank customer', async () => {
      const link = (applicationId: string, subjectDigest: string, applicantDid: string, createdAt = NOW) => ({
        applicationId,
        subjectDigest,
        applicantDid,
        createdAt,
      });
      expect(await store.existingCustomerLinks.otherDids('digest-a', 'did:key:one')).toEqual([]);
      await store.existingCustomerLinks.record(link('app-1', 'digest-a', 'did:key:one'));
      // Once per application: a second record of the same application changes nothing.
      await store.existingCustomerLinks.record(link('app-1', 'digest-a', 'did:key:other'));
      expect(await store.existingCustomerLinks.otherDids('digest-a', 'did:key:one')).toEqual([]);
      expect(await store.existingCustomerLinks.otherDids('digest-a', 'did:key:two')).toEqual(['did:key:one']);
      await store.existingCustomerLinks.record(link('app-2', 'digest-a', 'did:key:two', NOW + 1));
      await store.existingCustomerLinks.record(link('app-3', 'digest-a', 'did:key:one', NOW + 2));
      await store.existingCustomerLinks.record(link('app-4', 'digest-b', 'did:key:three'));
      expect(await store.existingCustomerLinks.otherDids('digest-a', 'did:key:three')).toEqual(['did:key:one', 'did:key:two']);
      expect(await store.existingCustomerLinks.otherDids('digest-b', 'did:key:three')).toEqual([]);
    });
  });

  describe('purgeExpired', () => {
    it('deletes expired nonces and c_nonces, and codes past their retention', async () => {
      await store.siopRequests.create({ nonce: 'old', createdAt: NOW - 700, expiresAt: NOW - 100 });
      await store.siopRequests.create({ nonce: 'live', createdAt: NOW, expiresAt: NOW + 100 });
      await store.cNonces.create({ nonce: 'old', accessTokenJti: 't', expiresAt: NOW - 1 });
      await store.cNonces.create({ nonce: 'live', accessTokenJti: 't', expiresAt: NOW + 1 });
      await store.preAuthorizedCodes.create({ codeHash: 'long-gone', applicationId: 'a', applicantDid: 'd', expiresAt: NOW - 90_000 });
      await store.preAuthorizedCodes.create({ codeHash: 'recent', applicationId: 'a', applicantDid: 'd', expiresAt: NOW - 60 });
      expect(await purgeExpired(store, NOW)).toEqual({ siopRequests: 1, preAuthorizedCodes: 1, cNonces: 1, nonces: 0 });
      // A recently expired code stays so that a replay is still detected (RFC 6749 §4.1.2).
      expect(await store.preAuthorizedCodes.get('recent')).toBeDefined();
      expect(await purgeExpired(store, NOW, { codeRetentionSeconds: 0 })).toEqual({ siopRequests: 0, preAuthorizedCodes: 1, cNonces: 0, nonces: 0 });
    });
  });
});
