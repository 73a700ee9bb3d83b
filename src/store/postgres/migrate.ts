import { migrate } from 'drizzle-orm/postgres-js/migrator';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type { Sql } from 'postgres';
import type * as schema from './schema';

/**
 * Applies the drizzle-pg/ migrations (`migrationsFolder`, located by src/runtime/postgres.ts)
 * while holding a session-level advisory lock, so instances started at the same moment against
 * one database take turns: the first migrates, the others find every migration recorded and do
 * nothing (drizzle's migrator alone would race on
 * creating its own bookkeeping schema and table). `locks` is the one-connection client of
 * ./jobLock.ts; the lock goes with its connection, also when the process dies.
 */
export async function migratePostgres(locks: Sql, db: PostgresJsDatabase<typeof schema>, migrationsFolder: string): Promise<void> {
  await locks`SELECT pg_advisory_lock(hashtext('kcc-issuer:migrations'))`;
  try {
    await migrate(db, { migrationsFolder });
  } finally {
    await locks`SELECT pg_advisory_unlock(hashtext('kcc-issuer:migrations'))`.catch(() => undefined);
  }
}
