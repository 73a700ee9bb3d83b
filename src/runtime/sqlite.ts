import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as schema from '../store/schema';
import type { Database as StoreDatabase } from '../store/store';

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'drizzle');

/**
 * Opens (or creates) the SQLite database and applies the drizzle migrations.
 * WAL mode lets readers run beside the writer; `synchronous = NORMAL` in WAL mode never
 * corrupts the database and loses at most the last transactions on power loss (not on a
 * process crash), which is the documented durability trade-off; set FULL for power-loss
 * durability of every commit.
 */
export function openSqlite(file: string, options: { synchronous?: 'NORMAL' | 'FULL' } = {}) {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return { sqlite, db: db as unknown as StoreDatabase };
}
