import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SETTING_DEFAULTS, readSettings } from '../config';
import { runExclusive } from '../store/postgres/jobLock';
import { migratePostgres } from '../store/postgres/migrate';
import * as schema from '../store/postgres/schema';
import { createPostgresStats, createPostgresStore } from '../store/postgres/store';
import { postgresStartupError } from './databaseErrors';
import { packageRoot } from './packageRoot';

export const PG_MIGRATIONS_DIR = join(packageRoot(import.meta.url), 'drizzle-pg');

/** DATABASE_POOL_SIZE: query connections per instance (one more holds the advisory locks); its parser and default are the settings table's. */
export function parsePoolSize(value: string | undefined): number {
  return readSettings({ DATABASE_POOL_SIZE: value }, 'node').storage.databasePoolSize;
}

/**
 * Opens a bounded pool on PostgreSQL (DATABASE_URL, the `postgres` driver), applies the
 * migrations under an advisory lock (src/store/postgres/migrate.ts) and returns the store.
 * The URL may carry credentials: it is never logged, and connection errors name only the host.
 */
export async function openPostgres(url: string, options: { poolSize?: number } = {}) {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error('DATABASE_URL must be a postgres:// URL');
  const settings = { onnotice: () => {}, connection: { application_name: 'kcc-issuer' } };
  const client = postgres(url, { ...settings, max: options.poolSize ?? SETTING_DEFAULTS.storage.databasePoolSize });
  // Advisory locks (migrations, background jobs) on a one-connection client of their own (see
  // src/store/postgres/jobLock.ts).
  const locks = postgres(url, { ...settings, max: 1 });
  const db = drizzle(client, { schema });
  const end = () => Promise.all([client.end({ timeout: 5 }), locks.end({ timeout: 5 })]).then(() => undefined);
  try {
    await migratePostgres(locks, db, PG_MIGRATIONS_DIR);
  } catch (e) {
    await end().catch(() => undefined);
    // One line naming DATABASE_URL's host and what went wrong, never the password.
    throw postgresStartupError(url, e);
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
