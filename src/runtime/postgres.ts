import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runExclusive } from '../store/postgres/jobLock';
import { migratePostgres } from '../store/postgres/migrate';
import * as schema from '../store/postgres/schema';
import { createPostgresStats, createPostgresStore } from '../store/postgres/store';

export const DEFAULT_POOL_SIZE = 10;
export const PG_MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'drizzle-pg');

/** DATABASE_POOL_SIZE: query connections per instance (one more holds the advisory locks). */
export function parsePoolSize(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_POOL_SIZE;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error('DATABASE_POOL_SIZE must be an integer from 1 to 1000');
  return n;
}

/**
 * Opens a bounded pool on PostgreSQL (DATABASE_URL, the `postgres` driver), applies the
 * migrations under an advisory lock (src/store/postgres/migrate.ts) and returns the store.
 * The URL may carry credentials: it is never logged, and connection errors name only the host.
 */
export async function openPostgres(url: string, options: { poolSize?: number } = {}) {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error('DATABASE_URL must be a postgres:// URL');
  const settings = { onnotice: () => {}, connection: { application_name: 'kcc-issuer' } };
  const client = postgres(url, { ...settings, max: options.poolSize ?? DEFAULT_POOL_SIZE });
  // Advisory locks (migrations, background jobs) on a one-connection client of their own (see
  // src/store/postgres/jobLock.ts).
  const locks = postgres(url, { ...settings, max: 1 });
  const db = drizzle(client, { schema });
  const end = () => Promise.all([client.end({ timeout: 5 }), locks.end({ timeout: 5 })]).then(() => undefined);
  try {
    await migratePostgres(locks, db, PG_MIGRATIONS_DIR);
  } catch (e) {
    await end().catch(() => undefined);
    throw e;
  }
  return {
    client,
    db,
    store: createPostgresStore(db),
    /** The business metrics and /readyz counts (src/store/stats.ts) on this database. */
    stats: createPostgresStats(db),
    /** At most one instance runs the named job at a time (pg_try_advisory_lock). */
    runExclusive: (name: string, job: () => Promise<unknown>) => runExclusive(locks, name, job),
    close: end,
  };
}
