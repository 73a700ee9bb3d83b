import { fillPlaceholders, type SQL, sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import journal from '../../../drizzle-pg/meta/_journal.json';
import type { AppliedMigrations, Dialect, Prepared, QueryDb } from '../dialect';
import { createRepositories } from '../repositories';
import type * as sqliteSchema from '../schema';
import { createStatsQueries } from '../stats';
import type { Store } from '../types';
import type { PostgresDatabase } from './database';
import * as schema from './schema';

export type { PostgresDatabase } from './database';

/**
 * The Store on PostgreSQL (drizzle's pg core over postgres.js), for many Node instances on one
 * database: the repositories of ../repositories/ over the dialect below. The same rules hold:
 * every single-use value is consumed by ONE conditional `UPDATE … WHERE consumed_at IS NULL …
 * RETURNING`; under READ COMMITTED a second UPDATE of the same row waits for the first to commit
 * and then re-checks its WHERE on the new row version, so of N concurrent consumers on any number
 * of instances exactly one gets the row. Writes that belong together are ONE statement
 * (data-modifying CTEs), atomic like a transaction but in one round trip and without pinning a
 * connection across statements.
 */
export function createPostgresStore(db: PostgresDatabase): Store {
  return createRepositories(postgresDialect(db));
}

/** The counting queries of the business metrics and /readyz (../stats.ts) on PostgreSQL. */
export function createPostgresStats(db: PostgresDatabase) {
  return createStatsQueries(postgresDialect(db));
}

/**
 * What differs on PostgreSQL (../dialect.ts). The pg-core builder and the tables derived from the
 * one schema stand in for the SQLite ones the repositories are typed with: the same builder
 * surface, the same column keys and JS types (test/postgres/schema.test.ts).
 */
export function postgresDialect(db: PostgresDatabase): Dialect {
  const builders = new WeakMap<Prepared, { getSQL(): SQL }>();
  const client = db.$client;
  return {
    db: db as unknown as QueryDb,
    tables: schema as unknown as typeof sqliteSchema,
    prepare(name, query) {
      const prepared = (query as unknown as { prepare(name: string): { execute(values?: Record<string, unknown>): Promise<never[]> } }).prepare(name);
      const statement: Prepared<never> = { all: (values) => prepared.execute(values), run: (values) => prepared.execute(values) };
      builders.set(statement, query as unknown as { getSQL(): SQL });
      return statement;
    },
    together: cteTogether(db, builders),
    // Floor, as SQLite's CAST(… AS INTEGER) truncates (PostgreSQL's cast would round); the
    // fraction is typed, a bare parameter beside a bigint would be read as one.
    floorTimes: (column, fraction) => sql`floor(${column} * ${fraction}::double precision)`,
    /** The conditional UPDATE picks the single winner; its credential record is written in the same statement. */
    async completeTransaction(v) {
      const rows = await client`
        WITH won AS (
          UPDATE transactions SET consumed_at = ${v.now}, credential_id = ${v.credentialId}
          WHERE id = ${v.id} AND consumed_at IS NULL
          RETURNING id
        )
        INSERT INTO issued_credentials (id, application_id, subject_did, transaction_id, jwt_sha256, issued_at, expires_at)
        SELECT ${v.credentialId}::text, ${v.applicationId}::text, ${v.subjectDid}::text, won.id, ${v.jwtSha256}::text, ${v.issuedAt}::bigint, ${v.expiresAt}::bigint
        FROM won
        RETURNING id`;
      return rows.length === 1;
    },
    migrations: {
      expected: journal.entries.map((e) => ({ tag: e.tag, when: e.when })),
      // drizzle's migrator (./migrate.ts) records each migration in drizzle.__drizzle_migrations (created_at = the journal's `when`).
      async applied(): Promise<AppliedMigrations> {
        const [table] = await client<{ present: boolean }[]>`SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL AS present`;
        if (!table?.present) return undefined;
        const [row] = await client<{ last: string | null }[]>`SELECT max(created_at) AS last FROM drizzle.__drizzle_migrations`;
        return { lastWhen: Number(row?.last ?? 0) };
      },
    },
  };
}

/**
 * Writes that belong together as ONE statement: each an INSERT/UPDATE in a data-modifying CTE
 * (`WITH w0 AS (… RETURNING 1), w1 AS (…) SELECT count(*) …`), all committed or none, in one
 * round trip. The statement is composed once per set of prepared statements and then prepared by
 * postgres.js like any other; each write's placeholders are filled from its own values.
 */
function cteTogether(db: PostgresDatabase, builders: WeakMap<Prepared, { getSQL(): SQL }>): Dialect['together'] {
  const dialect = new PgDialect();
  const ids = new WeakMap<Prepared, number>();
  let nextId = 0;
  const composed = new Map<string, { text: string; params: unknown[]; counts: number[] }>();
  const compose = (statements: Prepared[]) => {
    const parts = statements.map((s) => builders.get(s)!.getSQL());
    const ctes = parts.map((part, i) => sql`${sql.raw(`w${i}`)} AS (${part} RETURNING 1)`);
    const counts = parts.map((_, i) => sql.raw(`(SELECT count(*) FROM w${i})::int AS n${i}`));
    const query = dialect.sqlToQuery(sql`WITH ${sql.join(ctes, sql`, `)} SELECT ${sql.join(counts, sql`, `)}`);
    return { text: query.sql, params: query.params, counts: parts.map((part) => dialect.sqlToQuery(part).params.length) };
  };
  return async (writes) => {
    const key = writes.map(({ statement }) => ids.get(statement) ?? (ids.set(statement, ++nextId), nextId)).join(',');
    let c = composed.get(key);
    if (!c) composed.set(key, (c = compose(writes.map((w) => w.statement))));
    const params: unknown[] = [];
    writes.forEach(({ values }, i) => {
      params.push(...fillPlaceholders(c.params.slice(params.length, params.length + c.counts[i]), values));
    });
    const [row] = await db.$client.unsafe<Record<string, number>[]>(c.text, params as never[], { prepare: true });
    return writes.map((_, i) => Number(row?.[`n${i}`] ?? 0));
  };
}
