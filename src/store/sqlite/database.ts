import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type * as schema from '../schema';

/** drizzle's SQLite core over the whole schema: better-sqlite3 (sync) on Node, D1 (async) on Workers. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Database = BaseSQLiteDatabase<'sync' | 'async', any, typeof schema>;
