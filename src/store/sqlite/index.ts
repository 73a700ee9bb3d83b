import { fillPlaceholders, sql } from 'drizzle-orm';
import journal from '../../../drizzle/meta/_journal.json';
import type { AppliedMigrations, Dialect, Prepared, QueryDb, Write } from '../dialect';
import { createRepositories } from '../repositories';
import * as schema from '../schema';
import { createStatsQueries } from '../stats';
import type { Store } from '../types';

/** drizzle's SQLite core over the whole schema: better-sqlite3 (sync) on Node, D1 (async) on Workers. */
export type Database = QueryDb;

/**
 * The Store over drizzle's SQLite core, so the same code runs on better-sqlite3 (Node) and D1
 * (Workers). No interactive transactions (D1 has none): every single-use value is consumed by
 * ONE conditional `UPDATE … RETURNING`, and writes that belong together go through
 * `writeTogether` (one transaction / one batch). Statements are prepared once per store.
 */
export function createStore(db: Database): Store {
  return createRepositories(sqliteDialect(db));
}

/** The counting queries of the business metrics and /readyz (../stats.ts) on SQLite or D1. */
export function createSqliteStats(db: Database, options?: Parameters<typeof createStatsQueries>[1]) {
  return createStatsQueries(sqliteDialect(db), options);
}

/** What differs on SQLite (../dialect.ts): drizzle's own prepared statements, one transaction or D1 batch, CAST. */
export function sqliteDialect(db: Database): Dialect {
  return {
    db,
    tables: schema,
    // drizzle's SQLite prepared query already has `all` and `run` (sync on better-sqlite3, async on D1).
    prepare: (_name, query) => query.prepare() as never,
    together: writeTogether(db),
    floorTimes: (column, fraction) => sql`CAST(${column} * ${fraction} AS INTEGER)`,
    migrations: { expected: journal.entries.map((e) => ({ tag: e.tag, when: e.when })), applied: () => appliedMigrations(db) },
  };
}

/**
 * Node's drizzle migrator records each migration in `__drizzle_migrations` (created_at = the
 * journal's `when`); `wrangler d1 migrations apply` records file names in `d1_migrations`.
 */
async function appliedMigrations(db: Database): Promise<AppliedMigrations> {
  const tables = await db.all<{ name: string }>(sql`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('__drizzle_migrations', 'd1_migrations')`);
  const names = new Set(tables.map((t) => t.name));
  if (names.has('__drizzle_migrations')) {
    const rows = await db.all<{ last: number | null }>(sql`SELECT max(created_at) AS last FROM __drizzle_migrations`);
    return { lastWhen: Number(rows[0]?.last ?? 0) };
  }
  if (names.has('d1_migrations')) {
    const rows = await db.all<{ name: string }>(sql`SELECT name FROM d1_migrations`);
    return { names: rows.map((r) => r.name.replace(/\.sql$/, '')) };
  }
  return undefined;
}

/** What a `together` write needs of a drizzle SQLite prepared statement. */
interface SqlitePrepared extends Prepared {
  getQuery(): { sql: string; params: unknown[] };
}
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
 * (see completeWithCredential in ../repositories/transactions.ts).
 */
export function writeTogether(db: Database): Dialect['together'] {
  const client = (db as unknown as { $client?: unknown }).$client;
  if (typeof (db as unknown as { batch?: unknown }).batch === 'function') {
    const d1 = client as D1Like;
    // The prepared query's SQL as a D1 statement, made once per statement.
    const d1Statements = new WeakMap<Prepared, ReturnType<D1Like['prepare']>>();
    const d1Statement = (statement: SqlitePrepared) => {
      let prepared = d1Statements.get(statement);
      if (!prepared) {
        prepared = d1.prepare(statement.getQuery().sql);
        d1Statements.set(statement, prepared);
      }
      return prepared;
    };
    return async (writes) => {
      // The same binding drizzle's D1 prepared query does (fillPlaceholders), all in one batch.
      const statements = writes.map(({ statement, values }) => {
        const s = statement as SqlitePrepared;
        return d1Statement(s).bind(...fillPlaceholders(s.getQuery().params, values));
      });
      return (await d1.batch(statements)).map((result) => result.meta.changes);
    };
  }
  const run = (client as BetterSqliteLike).transaction((writes: Write[]) =>
    writes.map(({ statement, values }) => (statement.run(values) as { changes: number }).changes),
  );
  return async (writes) => run(writes);
}
