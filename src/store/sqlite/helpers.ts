import { fillPlaceholders, sql } from 'drizzle-orm';
import type { Database } from './database';

/**
 * A named placeholder of a prepared statement.
 *
 * Lookups by a primary or unique key carry no `.limit(1)`: the key already makes it one row, and
 * drizzle binds the limit as a parameter, which made SQLite's point read 3-4x slower here
 * (docs/performance.md).
 */
export const p = (name: string) => sql.placeholder(name);

/** What a `together` write needs of a drizzle SQLite prepared statement (sync on better-sqlite3, async on D1). */
export interface PreparedStatement {
  run(values?: Record<string, unknown>): unknown;
  getQuery(): { sql: string; params: unknown[] };
}

/**
 * Consumes a single-use value: runs a prepared conditional `UPDATE … WHERE consumed_at IS NULL …
 * RETURNING` and returns the row it stamped, or undefined when there was none to consume (unknown,
 * expired or already used). One statement, so among concurrent consumers exactly one wins, on
 * better-sqlite3 and on D1 alike.
 */
export async function consumeOnce<Row>(
  statement: { all(values?: Record<string, unknown>): Row[] | Promise<Row[]> },
  values: Record<string, unknown>,
): Promise<Row | undefined> {
  return (await statement.all(values))[0];
}

/** One write of a `together` set: a statement prepared once per store and its placeholder values. */
export interface Write {
  statement: PreparedStatement;
  values: Record<string, unknown>;
}

/** Runs writes atomically; resolves to the number of rows each one changed. */
export type Together = (writes: Write[]) => Promise<number[]>;

interface D1Like {
  prepare(query: string): { bind(...values: unknown[]): unknown };
  batch(statements: unknown[]): Promise<Array<{ meta: { changes: number } }>>;
}
interface BetterSqliteLike {
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
}

/**
 * Builds the store's "these writes together" runner, once: on better-sqlite3 one transaction whose
 * wrapper is built here (better-sqlite3's own, lighter than drizzle's per-call transaction
 * object), on D1 one `batch` (D1 has no interactive transactions; a batch commits or rolls back
 * as a whole). Writes run in order, so a later one may be conditional on an earlier one's effect
 * (see completeWithCredential in transactions.ts).
 */
export function writeTogether(db: Database): Together {
  const client = (db as unknown as { $client?: unknown }).$client;
  if (typeof (db as unknown as { batch?: unknown }).batch === 'function') {
    const d1 = client as D1Like;
    // The prepared query's SQL as a D1 statement, made once per statement.
    const d1Statements = new WeakMap<PreparedStatement, ReturnType<D1Like['prepare']>>();
    const d1Statement = (statement: PreparedStatement) => {
      let prepared = d1Statements.get(statement);
      if (!prepared) d1Statements.set(statement, (prepared = d1.prepare(statement.getQuery().sql)));
      return prepared;
    };
    return async (writes) => {
      // The same binding drizzle's D1 prepared query does (fillPlaceholders), all in one batch.
      const results = await d1.batch(
        writes.map(({ statement, values }) => d1Statement(statement).bind(...fillPlaceholders(statement.getQuery().params, values))),
      );
      return results.map((result) => result.meta.changes);
    };
  }
  const run = (client as BetterSqliteLike).transaction((writes: Write[]) =>
    writes.map(({ statement, values }) => (statement.run(values) as { changes: number }).changes),
  );
  return async (writes) => run(writes);
}
