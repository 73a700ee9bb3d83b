import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import type { IssuerConfigInput } from '../../src/config';
import type { JwsAlgorithm } from '../../src/crypto/keys';
import { silentLogger, type Logger } from '../../src/http/context';
import { buildIssuer, type BuildIssuerOptions, type IssuerKey } from '../../src/issuer';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { MIGRATIONS_DIR } from '../../src/runtime/sqlite';
import * as schema from '../../src/store/schema';
import type { Database as StoreDb } from '../../src/store/store';
import type { Fetch } from '../../src/wallet/client';

export const PUBLIC_URL = 'http://issuer.test';
export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** A controllable clock (milliseconds). */
export function testClock(start = Date.UTC(2026, 10, 23, 12, 0, 0)) {
  let t = start;
  const clock = () => t;
  clock.advance = (seconds: number) => {
    t += seconds * 1000;
  };
  return clock;
}

export async function makeIssuerKeys(alg: JwsAlgorithm = 'EdDSA'): Promise<IssuerKey[]> {
  const crypto = createNodeCryptoProvider();
  return [{ id: 'key-1', alg, privateJwk: await crypto.generateKeyPair(alg), createdAt: '2026-01-01T00:00:00Z' }];
}

/** An issuer on an in-memory SQLite database, tested through `app.request`. */
export async function makeTestIssuer(
  options: {
    config?: Partial<IssuerConfigInput>;
    alg?: JwsAlgorithm;
    clock?: () => number;
    logger?: Logger;
    file?: string;
    didMethods?: BuildIssuerOptions['didMethods'];
    statusListFetch?: BuildIssuerOptions['statusListFetch'];
  } = {},
) {
  const sqlite = new Database(options.file ?? ':memory:');
  sqlite.pragma('journal_mode = WAL');
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  const crypto = createNodeCryptoProvider();
  const issuer = await buildIssuer({
    config: { publicUrl: PUBLIC_URL, adminToken: ADMIN_TOKEN, ...options.config },
    db: db as unknown as StoreDb,
    crypto,
    keys: await makeIssuerKeys(options.alg),
    clock: options.clock,
    logger: options.logger ?? silentLogger,
    didMethods: options.didMethods,
    statusListFetch: options.statusListFetch,
  });
  /** A wallet-side fetch wired straight into the app (no server). */
  const fetch: Fetch = async (input, init) => issuer.app.request(input, init);
  return { ...issuer, sqlite, fetch };
}
