import { type Placeholder, type SQL, sql, type SQLWrapper } from 'drizzle-orm';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type * as schema from './schema';
import type { IdvResultWrite, IssuedCredentialWrite, WithdrawalRecord } from './types';

/**
 * What a repository module (./repositories/) needs of a database, and the only place the SQLite
 * (better-sqlite3, D1) and PostgreSQL adapters differ: the table objects, how a statement is
 * prepared and run, how writes are grouped, the few SQL expressions the two engines spell
 * differently, and where applied migrations are recorded.
 *
 * The queries are written once with drizzle's dialect-neutral operators (`eq`, `and`, `sql` …)
 * against the SQLite core's types: `db` and `tables` are typed as the SQLite ones, and the
 * PostgreSQL adapter hands in its pg-core builder and its tables derived from the same schema
 * (./postgres/schema.ts). The two builders have the same surface for everything the repositories
 * use (select/insert/update/delete, where, join, order, limit, onConflict…, returning, awaited as
 * a promise of rows); what is not shared (`.all()`, `.run()`, `.prepare()`) goes through
 * `prepare`. The store contract (test/store/contract.test.ts) runs every method on all three.
 */
export interface Dialect {
  /** The query builder (typed by drizzle's SQLite core; see above). */
  db: QueryDb;
  /** The tables, as the one schema (./schema.ts) types them. */
  tables: typeof schema;
  /**
   * Prepares a statement once per store (SQL built and compiled once; PostgreSQL also parses and
   * plans it once per connection). `name` names the server-side statement on PostgreSQL.
   */
  prepare<Q extends Preparable>(name: string, query: Q): Prepared<RowOf<Q>>;
  /**
   * Runs writes atomically, in one round trip where the engine allows it; resolves to the number
   * of rows each changed. On SQLite they run in order (a later one may read an earlier one's
   * effect); on PostgreSQL they are one statement of data-modifying CTEs, in which none sees
   * another's effect, so a set whose writes depend on each other has a statement of its own there
   * (`completeTransaction`).
   */
  together(writes: Write[]): Promise<number[]>;
  /**
   * Consumes a deferred transaction and records its credential in one atomic write, the record
   * only for the consumer that won; true when it won. Absent: ./repositories/transactions.ts runs
   * its two statements `together` (the second reads the first's effect, which a PostgreSQL CTE
   * cannot, so PostgreSQL has its own statement).
   */
  completeTransaction?(values: CompleteTransaction): Promise<boolean>;
  /**
   * An IDV result and what it decides in one atomic write, taking effect only when its session
   * write wins (`IdvSessionRepository.commitResult`); true when it won. Absent: ./repositories/idv.ts
   * runs its writes `together`, each guarded by the session's state as the deciding write (last)
   * will find it, which holds in one SQLite transaction but not across PostgreSQL sessions (two
   * statements could both see the guard hold), so PostgreSQL chains them through the winner's RETURNING.
   */
  commitIdvResult?(write: IdvResultWrite): Promise<boolean>;
  /** A withdrawal with its record (`ApplicationRepository.withdraw`); the application's id when it won; as `commitIdvResult`. */
  withdrawApplication?(formTokenHash: string, now: number, record: WithdrawalRecord): Promise<string | undefined>;
  /** A credential with its event and notification, consuming its transaction when it has one (`IssuedCredentialRepository.recordIssued`); as `commitIdvResult`. */
  recordIssued?(write: IssuedCredentialWrite): Promise<boolean>;
  /** `floor(column * fraction)` as an integer (SQLite's CAST truncates; PostgreSQL's would round). */
  floorTimes(column: SQLWrapper, fraction: SQLWrapper): SQL;
  /** The migrations this build expects (its journal) and those recorded as applied (throws when unreachable). */
  migrations: { expected: readonly { tag: string; when: number }[]; applied(): Promise<AppliedMigrations> };
}

/** A transaction's completion: its id, the time, and the credential it ends with. */
export type CompleteTransaction = {
  id: string;
  now: number;
  credentialId: string;
  applicationId: string;
  subjectDid: string;
  jwtSha256: string;
  issuedAt: number;
  expiresAt: number;
};

/** How a database records its migrations: drizzle's migrator (journal time of the last), D1's (file names), or none yet. */
export type AppliedMigrations = { lastWhen: number } | { names: string[] } | undefined;

/** drizzle's SQLite core over the whole schema: better-sqlite3 (sync) on Node, D1 (async) on Workers. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type QueryDb = BaseSQLiteDatabase<'sync' | 'async', any, typeof schema>;

/** A query builder that can be prepared (drizzle's SQLite core shape). */
export interface Preparable {
  prepare(): { all(values?: Record<string, unknown>): unknown };
}
/** The rows a prepared query answers. */
export type RowOf<Q extends Preparable> = Awaited<ReturnType<ReturnType<Q['prepare']>['all']>> extends Array<infer R> ? R : never;

/** A statement prepared once per store: `all` answers its rows (SELECT, RETURNING), `run` runs it. */
export interface Prepared<Row = unknown> {
  all(values?: Record<string, unknown>): Row[] | Promise<Row[]>;
  run(values?: Record<string, unknown>): unknown;
}

/** One write of a `together` set: a prepared statement and its placeholder values. */
export interface Write {
  statement: Prepared;
  values: Record<string, unknown>;
}

/**
 * A named placeholder of a prepared statement.
 *
 * Lookups by a primary or unique key carry no `.limit(1)`: the key already makes it one row, and
 * drizzle binds the limit as a parameter, which made SQLite's point read 3-4x slower here
 * (docs/performance.md).
 */
export const p = (name: string) => sql.placeholder(name);

/**
 * Consumes a single-use value: runs a prepared conditional `UPDATE … WHERE consumed_at IS NULL …
 * RETURNING` and returns the row it stamped, or undefined when there was none to consume (unknown,
 * expired or already used). One statement, so among concurrent consumers exactly one wins, on
 * every engine (PostgreSQL under READ COMMITTED re-checks the WHERE on the row a concurrent
 * UPDATE committed).
 */
export async function consumeOnce<Row>(statement: Prepared<Row>, values: Record<string, unknown>): Promise<Row | undefined> {
  return (await statement.all(values))[0];
}

/** `{ name: placeholder "name", … }`: an INSERT's values bound from the placeholders of the same names. */
export function placeholders<K extends string>(...names: K[]): Record<K, Placeholder> {
  return Object.fromEntries(names.map((name) => [name, p(name)])) as Record<K, Placeholder>;
}

/** `{ column: placeholder, … }` for an UPDATE's `set` (which takes a placeholder only inside `sql`). */
export function setFrom<K extends string>(columns: Record<K, string>): Record<K, SQL> {
  return Object.fromEntries(Object.entries<string>(columns).map(([column, name]) => [column, sql`${p(name)}`])) as Record<K, SQL>;
}

/**
 * The first row of a query, or undefined. Rows better-sqlite3 already answered are read at once:
 * no promise in between (the repository method's own is enough), on the hot path of every read.
 */
export function first<Row>(rows: PromiseLike<Row[]> | Row[]): Row | undefined | Promise<Row | undefined> {
  return Array.isArray(rows) ? rows[0] : Promise.resolve(rows).then((r) => r[0]);
}

/** How many rows a write with RETURNING touched. */
export async function touched(rows: PromiseLike<unknown[]> | unknown[]): Promise<number> {
  return (await rows).length;
}
