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
export async function openPostgres(url: string, options: { poolSize?: number; connectTimeoutSeconds?: number; statementTimeoutSeconds?: number } = {}) {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error('DATABASE_URL must be a postgres:// URL');
  const statementMs = (options.statementTimeoutSeconds ?? SETTING_DEFAULTS.storage.databaseStatementTimeoutSeconds) * 1000;
  // Fail fast, recover by itself: a connection attempt is bounded (connect_timeout), a statement
  // and a lock wait too (server side), a dead connection is noticed by TCP keep-alive, and
  // reconnecting waits at most 0.5 s between attempts (the driver's default back-off grows to
  // 20 s, which kept requests queued long after the database was back).
  const settings = {
    onnotice: () => {},
    connect_timeout: options.connectTimeoutSeconds ?? SETTING_DEFAULTS.storage.databaseConnectTimeoutSeconds,
    keep_alive: 5,
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
    connection: { application_name: 'kcc-issuer' },
  };
  // Requests' statements are bounded; the lock client's are not (a migration may take its time,
  // and it waits for another instance's migration lock).
  const bounded = {
    ...settings.connection,
    statement_timeout: statementMs,
    lock_timeout: statementMs,
    idle_in_transaction_session_timeout: statementMs * 2,
  };
  const client = postgres(url, { ...settings, connection: bounded, max: options.poolSize ?? SETTING_DEFAULTS.storage.databasePoolSize });
  // Advisory locks (migrations, background jobs) on a one-connection client of their own (see
  // src/store/postgres/jobLock.ts).
  const locks = postgres(url, { ...settings, max: 1 });
  const db = drizzle(client, { schema });
  // Queries still running get `timeoutSeconds` to finish, then their connections are destroyed.
  const end = (timeoutSeconds = 5) => Promise.all([client.end({ timeout: timeoutSeconds }), locks.end({ timeout: timeoutSeconds })]).then(() => undefined);
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
    /** Ends both pools; running queries get `timeoutSeconds` (default 5), then their connections are destroyed. */
    close: end,
  };
}
