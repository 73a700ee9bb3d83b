import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { runExclusive } from '../store/postgres/jobLock';
import { migratePostgres } from '../store/postgres/migrate';
import * as schema from '../store/postgres/schema';
import { createPostgresStore } from '../store/postgres/store';

export const DEFAULT_POOL_SIZE = 10;

/** DATABASE_POOL_SIZE: connections per instance (at least 2: a background job holds one for its lock). */
export function parsePoolSize(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_POOL_SIZE;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 2 || n > 1000) throw new Error('DATABASE_POOL_SIZE must be an integer from 2 to 1000');
  return n;
}

/**
 * Opens a bounded pool on PostgreSQL (DATABASE_URL, the `postgres` driver), applies the
 * migrations under an advisory lock (src/store/postgres/migrate.ts) and returns the store.
 * The URL may carry credentials: it is never logged, and connection errors name only the host.
 */
export async function openPostgres(url: string, options: { poolSize?: number } = {}) {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error('DATABASE_URL must be a postgres:// URL');
  const client = postgres(url, {
    max: options.poolSize ?? DEFAULT_POOL_SIZE,
    onnotice: () => {},
    connection: { application_name: 'kcc-issuer' },
  });
  const db = drizzle(client, { schema });
  try {
    await migratePostgres(client, db);
  } catch (e) {
    await client.end({ timeout: 1 }).catch(() => undefined);
    throw e;
  }
  return {
    client,
    db,
    store: createPostgresStore(db),
    /** At most one instance runs the named job at a time (pg_try_advisory_lock). */
    runExclusive: (name: string, job: () => Promise<unknown>) => runExclusive(client, name, job),
    async close() {
      await client.end({ timeout: 5 });
    },
  };
}
