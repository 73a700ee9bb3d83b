import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type { Sql } from 'postgres';
import type * as schema from './schema';

/** drizzle over postgres.js with this schema, and the raw client for multi-statement writes. */
export type PostgresDatabase = PostgresJsDatabase<typeof schema> & { $client: Sql };
