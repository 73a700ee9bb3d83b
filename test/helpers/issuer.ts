import type { Context } from 'hono';
import Database from 'better-sqlite3';
import type { ResolverRegistry } from 'did-resolver';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import type { IssuerConfigInput } from '../../src/config';
import type { JwsAlgorithm } from '../../src/crypto/keys';
import { silentLogger, type Logger } from '../../src/http/context';
import { buildIssuer, type BuildIssuerOptions, type IssuerKey } from '../../src/issuer';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { MIGRATIONS_DIR, sqliteStore } from '../../src/runtime/sqlite';
import * as schema from '../../src/store/schema';
import type { Database as StoreDb } from '../../src/store/sqlite';
import type { Fetch } from '../../src/wallet/client';
import type { IdvDeps } from '../../src/idv/deps';

export const PUBLIC_URL = 'http://issuer.test';
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef0123';

/** A controllable clock (milliseconds), starting now so wallet-made tokens line up. */
export function testClock(start = Date.now()) {
  let t = start;
  const clock = () => t;
  clock.advance = (seconds: number) => {
    t += seconds * 1000;
  };
  return clock;
}

export async function makeIssuerKeys(alg: JwsAlgorithm = 'EdDSA', options: { didDhtIdentity?: boolean } = {}): Promise<IssuerKey[]> {
  const crypto = createNodeCryptoProvider();
  const keys: IssuerKey[] = [{ id: 'key-1', alg, privateJwk: await crypto.generateKeyPair(alg), createdAt: '2026-01-01T00:00:00Z' }];
  if (options.didDhtIdentity) {
    keys.push({ id: '0', alg: 'EdDSA', privateJwk: await crypto.generateKeyPair('EdDSA'), createdAt: '2026-01-01T00:00:00Z', role: 'did-dht-identity' });
  }
  return keys;
}

/** An issuer on an in-memory SQLite database, tested through `app.request`. */
export async function makeTestIssuer(
  options: {
    config?: Partial<IssuerConfigInput>;
    alg?: JwsAlgorithm;
    clock?: () => number;
    logger?: Logger;
    file?: string;
    /** Issuer keys (default: one fresh key of `alg`, plus a did:dht identity key when config.didMethod is dht). */
    keys?: IssuerKey[];
    /** Extra applicant DID resolvers (did:web, did:dht), as the Node runtime passes. */
    didMethods?: ResolverRegistry;
    /** IDV vendors, PII vault, outbound webhooks (default: hosted form only). */
    idv?: IdvDeps;
    /** How the app reads a client's address (rate-limit tests). */
    clientAddress?: (c: Context) => string | undefined;
    statusListFetch?: BuildIssuerOptions['statusListFetch'];
    /** The existing-customer bank sign-in settings (EXISTING_CUSTOMER_*) and the fetch to the bank. */
    existingCustomer?: BuildIssuerOptions['existingCustomer'];
    existingCustomerFetch?: BuildIssuerOptions['existingCustomerFetch'];
    /** The review console's workforce sign-in settings (OPERATOR_SSO_*) and the fetch to the provider. */
    operatorSso?: BuildIssuerOptions['operatorSso'];
    operatorSsoFetch?: BuildIssuerOptions['operatorSsoFetch'];
    presentedCredentialTrust?: BuildIssuerOptions['presentedCredentialTrust'];
    presentedFetch?: BuildIssuerOptions['presentedFetch'];
    /** Another store (PostgreSQL: openPostgres(url).store) and its stats, instead of the in-memory SQLite one. */
    store?: BuildIssuerOptions['store'];
    stats?: BuildIssuerOptions['stats'];
  } = {},
) {
  const sqlite = new Database(options.file ?? ':memory:');
  sqlite.pragma('journal_mode = WAL');
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  const crypto = createNodeCryptoProvider();
  const issuer = await buildIssuer({
    // Rate limits and the operator sign-in brake are off unless a test turns them on (test/security/).
    config: { publicUrl: PUBLIC_URL, adminToken: ADMIN_TOKEN, rateLimits: { enabled: false }, operatorAuthLimits: { enabled: false }, ...options.config },
    db: db as unknown as StoreDb,
    // As the server runs it: concurrent requests' writes share commits (src/runtime/groupCommit.ts).
    store: options.store ?? sqliteStore(sqlite, db as unknown as StoreDb).store,
    stats: options.stats,
    crypto,
    keys: options.keys ?? (await makeIssuerKeys(options.alg, { didDhtIdentity: options.config?.didMethod === 'dht' })),
    clock: options.clock,
    logger: options.logger ?? silentLogger,
    didMethods: options.didMethods,
    idv: options.idv,
    clientAddress: options.clientAddress,
    statusListFetch: options.statusListFetch,
    existingCustomer: options.existingCustomer,
    existingCustomerFetch: options.existingCustomerFetch,
    operatorSso: options.operatorSso,
    operatorSsoFetch: options.operatorSsoFetch,
    presentedCredentialTrust: options.presentedCredentialTrust,
    presentedFetch: options.presentedFetch,
  });
  /** A wallet-side fetch wired straight into the app (no server). */
  const fetch: Fetch = async (input, init) => issuer.app.request(input, init);
  return { ...issuer, sqlite, fetch };
}
