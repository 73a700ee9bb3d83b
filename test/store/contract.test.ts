import Database from 'better-sqlite3';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR } from '../../src/runtime/sqlite';
import { purgeExpired } from '../../src/store/purge';
import * as schema from '../../src/store/schema';
import { createStore, type Database as StoreDb, type IdvOutcome, type Store } from '../../src/store/store';
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
  /** Empties a table (tests assert counts and purges exactly). */
  deleteAll(table: string): Promise<void>;
  close(): Promise<void>;
}

function sqliteBackend(db: StoreDb, close: () => Promise<void>): Backend {
  return { store: createStore(db), deleteAll: async (table) => void (await db.run(sql.raw(`DELETE FROM ${table}`))), close };
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
    'D1 (workerd via miniflare)',
    async () => {
      const { mf, db } = await startD1();
      return sqliteBackend(db, () => mf.dispose());
    },
  ],
  [
    'PostgreSQL (postgres.js)',
    async () => {
      const server = await startTestPostgres();
      const pg = await openPostgres(await server.createDatabase(), { poolSize: 10 });
      return {
        store: pg.store,
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

const APPROVED: IdvOutcome = { status: 'approved', provider: 'sandbox', countryOfResidence: 'US', tier: 'Standard', evidence: [{ kind: 'document_verification' }] };
const REVIEW: IdvOutcome = { status: 'review', provider: 'sandbox', countryOfResidence: 'DE', evidence: [], reason: 'manual' };

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
    for (const table of ['siop_requests', 'applications', 'pre_authorized_codes', 'access_tokens', 'c_nonces', 'transactions', 'issued_credentials']) {
      await backend.deleteAll(table);
    }
  });

  async function newApplication(overrides: Partial<typeof schema.applications.$inferInsert> = {}) {
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
  });

  describe('applications', () => {
    it('creates, gets and finds by form token', async () => {
      const app = await newApplication();
      expect(await store.applications.get(app.id)).toMatchObject({ id: app.id, status: 'pending', formSubmittedAt: null, evidence: null });
      expect((await store.applications.findByFormToken(app.formTokenHash))?.id).toBe(app.id);
      expect(await store.applications.get('nope')).toBeUndefined();
      expect(await store.applications.findByFormToken('nope')).toBeUndefined();
    });

    it('records an IDV outcome once, only while pending and unexpired', async () => {
      const app = await newApplication();
      const submitted = await store.applications.submitIdv(app.formTokenHash, APPROVED, NOW + 5);
      expect(submitted).toMatchObject({ status: 'approved', formSubmittedAt: NOW + 5, idvProvider: 'sandbox', countryOfResidence: 'US', tier: 'Standard', decidedBy: 'idv:sandbox', decidedAt: NOW + 5, updatedAt: NOW + 5 });
      expect(JSON.parse(submitted!.evidence!)).toEqual([{ kind: 'document_verification' }]);
      expect(await store.applications.submitIdv(app.formTokenHash, APPROVED, NOW + 6)).toBeUndefined();
      const expired = await newApplication({ formExpiresAt: NOW });
      expect(await store.applications.submitIdv(expired.formTokenHash, APPROVED, NOW)).toBeUndefined();
      const review = await store.applications.submitIdv((await newApplication()).formTokenHash, REVIEW, NOW);
      expect(review).toMatchObject({ status: 'review', decidedBy: null, decidedAt: null, tier: null, decisionReason: 'manual' });
    });

    it('has exactly one winner among concurrent IDV submissions', async () => {
      const app = await newApplication();
      await oneWinner(() => store.applications.submitIdv(app.formTokenHash, APPROVED, NOW));
    });

    it('decides an application only while it awaits review, once', async () => {
      const app = await newApplication();
      expect(await store.applications.decideReview(app.id, { status: 'approved', decidedBy: 'operator' }, NOW)).toBeUndefined(); // still pending
      await store.applications.submitIdv(app.formTokenHash, REVIEW, NOW);
      const decided = await oneWinner(() => store.applications.decideReview(app.id, { status: 'approved', tier: 'Enhanced', reason: 'ok', decidedBy: 'operator' }, NOW + 9));
      expect(decided).toMatchObject({ status: 'approved', tier: 'Enhanced', decisionReason: 'ok', decidedBy: 'operator', decidedAt: NOW + 9, updatedAt: NOW + 9 });
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

    it('refuses a duplicate form token hash (unique index)', async () => {
      const app = await newApplication();
      await expect(newApplication({ formTokenHash: app.formTokenHash })).rejects.toThrow();
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
    // The repository's single-use step is `consume(id, credentialId, now)` on this branch and
    // `completeWithCredential(id, credential, now)` (consume + record, atomically) once the
    // deferred-issuance change is merged: the contract tests whichever the store has.
    type TransactionRepo = Store['transactions'] & {
      consume?: (id: string, credentialId: string, now: number) => Promise<{ credentialId: string | null } | undefined>;
      completeWithCredential?: (id: string, credential: Omit<typeof schema.issuedCredentials.$inferInsert, 'transactionId'>, now: number) => Promise<boolean>;
    };
    const repo = () => store.transactions as TransactionRepo;
    const credential = (id: string) => ({ id, applicationId: 'a', subjectDid: 'did:jwk:h', jwtSha256: `sha-${id}`, issuedAt: NOW, expiresAt: NOW + 86400 });

    it('creates and gets', async () => {
      await store.transactions.create({ id: 'tx', applicationId: 'a', accessTokenJti: 't', holderDid: 'did:jwk:h', createdAt: NOW });
      expect(await store.transactions.get('tx')).toMatchObject({ id: 'tx', consumedAt: null, credentialId: null });
      expect(await store.transactions.get('none')).toBeUndefined();
    });

    it('completes with its credential once, atomically; exactly one winner among concurrent completions', async (ctx) => {
      const complete = repo().completeWithCredential;
      if (!complete) return ctx.skip();
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
  });

  describe('issuedCredentials', () => {
    it('records, lists per application and counts; one credential per transaction', async () => {
      expect(await store.issuedCredentials.count()).toBe(0);
      await store.issuedCredentials.record({ id: 'vc1', applicationId: 'a', subjectDid: 'd', jwtSha256: 'h1', issuedAt: NOW, expiresAt: NOW + 1 });
      await store.issuedCredentials.record({ id: 'vc2', applicationId: 'a', subjectDid: 'd', transactionId: 'tx', jwtSha256: 'h2', issuedAt: NOW, expiresAt: NOW + 1 });
      await store.issuedCredentials.record({ id: 'vc3', applicationId: 'b', subjectDid: 'd', jwtSha256: 'h3', issuedAt: NOW, expiresAt: NOW + 1 });
      expect((await store.issuedCredentials.listForApplication('a')).map((r) => r.id).sort()).toEqual(['vc1', 'vc2']);
      expect(await store.issuedCredentials.listForApplication('none')).toEqual([]);
      expect(await store.issuedCredentials.count()).toBe(3);
      await expect(store.issuedCredentials.record({ id: 'vc4', applicationId: 'a', subjectDid: 'd', transactionId: 'tx', jwtSha256: 'h4', issuedAt: NOW, expiresAt: NOW + 1 })).rejects.toThrow();
    });
  });

  describe('repositories of the OID4VCI 1.0 work (tested when the store has them)', () => {
    // Merged into main alongside this suite: Nonce Endpoint nonces, notifications and
    // redeemBound. Typed here structurally so that the suite compiles with or without them.
    type Later = {
      preAuthorizedCodes: { redeemBound?: (codeHash: string, now: number) => Promise<{ codeHash: string; consumedAt: number | null } | undefined> };
      nonces?: {
        create(row: { nonce: string; expiresAt: number }): Promise<void>;
        consume(nonce: string, now: number): Promise<{ nonce: string; consumedAt: number | null } | undefined>;
        pruneExpired(now: number): Promise<number>;
      };
      notifications?: {
        create(row: { id: string; applicationId: string; accessTokenJti: string; credentialId: string; createdAt: number }): Promise<void>;
        get(id: string): Promise<{ id: string; event: string | null; eventDescription: string | null; eventAt: number | null } | undefined>;
        recordEvent(id: string, applicationId: string, event: { event: 'credential_accepted' | 'credential_failure' | 'credential_deleted'; description?: string }, now: number): Promise<{ event: string | null } | undefined>;
      };
    };
    const later = () => store as unknown as Later;

    it('redeemBound: redeems a code once without a client_id, before it expires; one winner', async (ctx) => {
      const redeemBound = later().preAuthorizedCodes.redeemBound;
      if (!redeemBound) return ctx.skip();
      await store.preAuthorizedCodes.create({ codeHash: 'b1', applicationId: 'a', applicantDid: 'd', expiresAt: NOW + 60 });
      expect(await redeemBound('b1', NOW)).toMatchObject({ codeHash: 'b1', consumedAt: NOW });
      expect(await redeemBound('b1', NOW)).toBeUndefined();
      expect(await store.preAuthorizedCodes.redeem('b1', 'd', NOW)).toBeUndefined();
      await store.preAuthorizedCodes.create({ codeHash: 'b2', applicationId: 'a', applicantDid: 'd', expiresAt: NOW });
      expect(await redeemBound('b2', NOW)).toBeUndefined();
      await store.preAuthorizedCodes.create({ codeHash: 'b3', applicationId: 'a', applicantDid: 'd', expiresAt: NOW + 60 });
      await oneWinner(() => redeemBound('b3', NOW));
    });

    it('nonces: consumed once before expiry, one winner among concurrent consumers, pruned after expiry', async (ctx) => {
      const nonces = later().nonces;
      if (!nonces) return ctx.skip();
      await backend.deleteAll('nonces');
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

    it('notifications: create, get, and record the wallet event for its own application only', async (ctx) => {
      const notifications = later().notifications;
      if (!notifications) return ctx.skip();
      await notifications.create({ id: 'nt1', applicationId: 'app-1', accessTokenJti: 't', credentialId: 'urn:uuid:1', createdAt: NOW });
      expect(await notifications.get('nt1')).toMatchObject({ id: 'nt1', event: null, eventAt: null });
      expect(await notifications.get('none')).toBeUndefined();
      expect(await notifications.recordEvent('nt1', 'app-2', { event: 'credential_accepted' }, NOW)).toBeUndefined();
      expect(await notifications.recordEvent('nt1', 'app-1', { event: 'credential_accepted' }, NOW + 1)).toMatchObject({ event: 'credential_accepted' });
      expect(await notifications.recordEvent('nt1', 'app-1', { event: 'credential_deleted', description: 'gone' }, NOW + 2)).toMatchObject({ event: 'credential_deleted' });
      expect(await notifications.get('nt1')).toMatchObject({ event: 'credential_deleted', eventDescription: 'gone', eventAt: NOW + 2 });
    });
  });

  describe('writes that belong together', () => {
    const app = (id: string) => ({ id, applicantDid: 'did:jwk:x', credentialConfigurationId: 'KnownCustomerCredential', status: 'approved' as const, formTokenHash: `form-${id}`, formExpiresAt: NOW + 60, createdAt: NOW, updatedAt: NOW });
    const code = (applicationId: string, codeHash: string) => ({ codeHash, applicationId, applicantDid: 'did:jwk:x', expiresAt: NOW + 60 });

    it('an application and its pre-authorized code: both or neither', async () => {
      const a = uid('app');
      await store.applications.createWithCode(app(a), code(a, `code-${a}`));
      expect(await store.applications.get(a)).toMatchObject({ id: a, status: 'approved', formSubmittedAt: null });
      expect(await store.preAuthorizedCodes.get(`code-${a}`)).toMatchObject({ applicationId: a, consumedAt: null, expiresAt: NOW + 60 });
      const b = uid('app');
      await expect(store.applications.createWithCode(app(b), code(b, `code-${a}`))).rejects.toThrow();
      expect(await store.applications.get(b)).toBeUndefined();
    });

    it('an access token and its first c_nonce: both or neither', async () => {
      const token = (jti: string) => ({ jti, applicationId: 'a', applicantDid: 'd', codeHash: 'c', expiresAt: NOW + 60 });
      await store.accessTokens.createWithCNonce(token('t1'), { nonce: 'cn1', accessTokenJti: 't1', expiresAt: NOW + 60 });
      expect(await store.accessTokens.get('t1')).toMatchObject({ jti: 't1', revokedAt: null, expiresAt: NOW + 60 });
      expect(await store.cNonces.consume('cn1', 't1', NOW)).toMatchObject({ nonce: 'cn1', consumedAt: NOW });
      await expect(store.accessTokens.createWithCNonce(token('t2'), { nonce: 'cn1', accessTokenJti: 't2', expiresAt: NOW + 60 })).rejects.toThrow();
      expect(await store.accessTokens.get('t2')).toBeUndefined();
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
