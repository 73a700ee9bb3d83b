import { fillPlaceholders, type SQL, sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import journal from '../../../drizzle-pg/meta/_journal.json';
import type { AppliedMigrations, Dialect, Prepared, QueryDb } from '../dialect';
import { createRepositories } from '../repositories';
import type * as sqliteSchema from '../schema';
import { createStatsQueries } from '../stats';
import type { IdvResultWrite, IssuedCredentialWrite, Store, WithdrawalRecord } from '../types';
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
    async commitIdvResult(write) {
      return Number((await db.execute(idvResultStatement(write)))[0]?.won) === 1;
    },
    async recordIssued(write) {
      return Number((await db.execute(recordIssuedStatement(write)))[0]?.won) === 1;
    },
    async withdrawApplication(formTokenHash, now, record) {
      const rows = await db.execute(withdrawalStatement(formTokenHash, now, record));
      return rows[0]?.id === undefined ? undefined : String(rows[0].id);
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
    if (!c) {
      c = compose(writes.map((w) => w.statement));
      composed.set(key, c);
    }
    const params: unknown[] = [];
    writes.forEach(({ values }, i) => {
      params.push(...fillPlaceholders(c.params.slice(params.length, params.length + c.counts[i]), values));
    });
    const [row] = await db.$client.unsafe<Record<string, number>[]>(c.text, params as never[], { prepare: true });
    return writes.map((_, i) => Number(row?.[`n${i}`] ?? 0));
  };
}

/**
 * `IdvSessionRepository.commitResult` as one statement: the session write decides (`won`), and
 * every other write of the result is a data-modifying CTE that takes effect only through `won`.
 */
function idvResultStatement(write: IdvResultWrite): SQL {
  const json = (value: unknown) => (value == null ? null : JSON.stringify(value));
  const answers = 'open' in write.session && write.status ? write.answers : undefined;
  // As applicationStatus.set: absent (null) country, tier and evidence leave the stored value.
  const statusSet = (change: NonNullable<IdvResultWrite['status']>) => {
    const decided = change.status === 'approved' || change.status === 'rejected';
    return sql`status = ${change.status}::text, idv_provider = ${change.provider}::text,
      country_of_residence = coalesce(${change.countryOfResidence || null}::text, country_of_residence),
      tier = coalesce(${change.tier || null}::text, tier),
      evidence = coalesce(${change.evidence ? JSON.stringify(change.evidence) : null}::text, evidence),
      decision_reason = ${change.reason ?? null}::text,
      decided_by = ${decided ? (change.decidedBy ?? `idv:${change.provider}`) : null}::text,
      decided_at = ${decided ? write.now : null}::bigint, updated_at = ${write.now}::bigint`;
  };
  const parts: SQL[] = [];
  if ('open' in write.session) {
    const o = write.session.open;
    const values = sql`${o.applicationId}::text, ${o.provider}::text, ${o.state}::text, ${o.vendorReference ?? null}::text, ${o.idempotencyKey}::text,
      ${o.webviewUrl ?? null}::text, ${o.lastEventAt}::bigint, ${json(o.outcome)}::text, ${o.createdAt}::bigint, ${o.updatedAt}::bigint`;
    const columns = sql`(application_id, provider, state, vendor_reference, idempotency_key, webview_url, last_event_at, outcome, created_at, updated_at)`;
    if (answers && write.status) {
      // The answer of the form link decides first (as submitIdv: open, pending, unexpired; and no
      // session yet): the status write takes it, and the session is opened only through it.
      parts.push(sql`WITH answered AS (UPDATE applications SET ${statusSet(write.status)}, form_submitted_at = ${write.now}::bigint
        WHERE id = ${write.applicationId}::text AND ${formLinkOpen(answers.formTokenHash, write.now)}
          AND NOT EXISTS (SELECT 1 FROM idv_sessions s WHERE s.application_id = ${write.applicationId}::text) RETURNING id)`);
      parts.push(sql`, won AS (INSERT INTO idv_sessions ${columns} SELECT ${values} FROM answered ON CONFLICT DO NOTHING RETURNING application_id)`);
    } else {
      parts.push(sql`WITH won AS (INSERT INTO idv_sessions ${columns} VALUES (${values}) ON CONFLICT DO NOTHING RETURNING application_id)`);
    }
  } else {
    parts.push(sql`WITH won AS (UPDATE idv_sessions SET state = ${write.session.advance.state}::text, outcome = ${json(write.session.advance.outcome)}::text,
      last_event_at = ${write.session.advance.eventAt}::bigint, updated_at = ${write.now}::bigint
      WHERE application_id = ${write.applicationId}::text AND last_event_at < ${write.session.advance.eventAt}::bigint RETURNING application_id)`);
  }
  if (write.status && !answers) {
    parts.push(sql`, status AS (UPDATE applications SET ${statusSet(write.status)}
      WHERE id = ${write.applicationId}::text AND EXISTS (SELECT 1 FROM won) RETURNING id)`);
  }
  const submission = write.submission;
  if (submission) {
    // The consent entry, then the decision's, in that order (one INSERT: ids follow ORDER BY).
    const { consent } = submission;
    parts.push(sql`, audit AS (INSERT INTO audit_log (application_id, actor, action, detail, at)
      SELECT ${write.applicationId}::text, v.actor, v.action, v.detail, v.at FROM won,
        (VALUES (1, ${consent.actor}::text, ${consent.action}::text, ${JSON.stringify(consent.detail)}::text, ${consent.at}::bigint),
                (2, ${write.audit.actor}::text, ${write.audit.action}::text, ${JSON.stringify(write.audit.detail)}::text, ${write.now}::bigint)) AS v(ord, actor, action, detail, at)
      ORDER BY v.ord RETURNING id)`);
  } else {
    parts.push(sql`, audit AS (INSERT INTO audit_log (application_id, actor, action, detail, at)
      SELECT ${write.applicationId}::text, ${write.audit.actor}::text, ${write.audit.action}::text, ${JSON.stringify(write.audit.detail)}::text, ${write.now}::bigint FROM won RETURNING id)`);
  }
  if (write.events.length) {
    const events = JSON.stringify(
      write.events.map((e) => ({ id: e.id, type: e.type, body: e.body, created_at: e.createdAt, trace_parent: e.traceParent ?? null })),
    );
    parts.push(sql`, events AS (INSERT INTO outbox_events (id, type, body, created_at, attempts, next_attempt_at, trace_parent)
      SELECT e.id, e.type, e.body, e.created_at, 0, e.created_at, e.trace_parent FROM jsonb_to_recordset(${events}::jsonb) AS e(id text, type text, body text, created_at bigint, trace_parent text)
      WHERE EXISTS (SELECT 1 FROM won) ON CONFLICT DO NOTHING RETURNING id)`);
  }
  if (submission) {
    const { pii } = submission;
    // The PII with its purge clock when the result decides (no UPDATE of it below).
    if (pii)
      parts.push(sql`, pii AS (INSERT INTO idv_pii (application_id, key_id, ciphertext, created_at, purge_after)
        SELECT ${write.applicationId}::text, ${pii.keyId}::text, ${pii.ciphertext}::text, ${pii.createdAt}::bigint, ${write.purgeAfter ?? null}::bigint FROM won
        ON CONFLICT DO NOTHING RETURNING application_id)`);
  }
  if (write.purgeAfter !== undefined) {
    if (!submission?.pii)
      parts.push(sql`, purge AS (UPDATE idv_pii SET purge_after = ${write.purgeAfter}::bigint
        WHERE application_id = ${write.applicationId}::text AND erased_at IS NULL AND EXISTS (SELECT 1 FROM won) RETURNING application_id)`);
    if (write.presentedClaims !== false)
      parts.push(sql`, purge_claims AS (UPDATE presented_claims SET purge_after = ${write.purgeAfter}::bigint
        WHERE application_id = ${write.applicationId}::text AND erased_at IS NULL AND EXISTS (SELECT 1 FROM won) RETURNING application_id)`);
  }
  parts.push(sql` SELECT count(*)::int AS won FROM won`);
  return sql.join(parts, sql``);
}

/** The form link's one-answer condition (as submitIdv's) on the row an UPDATE of `applications` writes. */
function formLinkOpen(formTokenHash: string, now: number): SQL {
  return sql`form_token_hash = ${formTokenHash}::text AND form_submitted_at IS NULL AND status = 'pending' AND form_expires_at > ${now}::bigint`;
}

/**
 * `ApplicationRepository.withdraw` with its record as one statement: the withdrawal (the link's
 * one answer, as submitIdv's conditions) decides, and its audit entry, event and the erasure of
 * the presented credentials' sealed claims go through its RETURNING.
 */
function withdrawalStatement(formTokenHash: string, now: number, record: WithdrawalRecord): SQL {
  const e = record.event;
  return sql`WITH w AS (UPDATE applications SET status = 'withdrawn', form_submitted_at = ${now}::bigint, decision_reason = 'consent_declined',
      decided_by = 'applicant', decided_at = ${now}::bigint, updated_at = ${now}::bigint
      WHERE ${formLinkOpen(formTokenHash, now)} RETURNING id),
    audit AS (INSERT INTO audit_log (application_id, actor, action, detail, at)
      SELECT w.id, ${record.audit.actor}::text, ${record.audit.action}::text, NULL, ${now}::bigint FROM w RETURNING id),
    erase AS (UPDATE presented_claims SET ciphertext = NULL, erased_at = ${now}::bigint, erased_reason = ${record.eraseReason}::text
      WHERE application_id IN (SELECT id FROM w) AND erased_at IS NULL RETURNING application_id),
    event AS (INSERT INTO outbox_events (id, type, body, created_at, attempts, next_attempt_at, trace_parent)
      SELECT ${e.id}::text, ${e.type}::text, ${e.body}::text, ${e.createdAt}::bigint, 0, ${e.createdAt}::bigint, ${e.traceParent ?? null}::text FROM w
      ON CONFLICT DO NOTHING RETURNING id)
    SELECT id FROM w`;
}

/** `IssuedCredentialRepository.recordIssued` as one statement: the record (or, with a transaction, its consumption) decides; the event and notification go through it. */
function recordIssuedStatement(write: IssuedCredentialWrite): SQL {
  const c = write.credential;
  const format = (f: string | undefined) => f ?? 'jwt_vc_json';
  const first =
    write.transactionId === undefined
      ? sql`INSERT INTO issued_credentials (id, application_id, subject_did, transaction_id, jwt_sha256, issued_at, expires_at, format)
          VALUES (${c.id}::text, ${c.applicationId}::text, ${c.subjectDid}::text, NULL, ${c.jwtSha256}::text, ${c.issuedAt}::bigint, ${c.expiresAt}::bigint, ${format(c.format)}::text) RETURNING id`
      : sql`UPDATE transactions SET consumed_at = ${write.now}::bigint, credential_id = ${c.id}::text
          WHERE id = ${write.transactionId}::text AND consumed_at IS NULL RETURNING id`;
  const parts = [sql`WITH won AS (${first})`];
  if (write.transactionId !== undefined) {
    parts.push(sql`, credential AS (INSERT INTO issued_credentials (id, application_id, subject_did, transaction_id, jwt_sha256, issued_at, expires_at, format)
      SELECT ${c.id}::text, ${c.applicationId}::text, ${c.subjectDid}::text, won.id, ${c.jwtSha256}::text, ${c.issuedAt}::bigint, ${c.expiresAt}::bigint, ${format(c.format)}::text FROM won RETURNING id)`);
  }
  // The other copies of a batch, only if the first was won.
  (write.copies ?? []).forEach((k, i) => {
    parts.push(sql`, ${sql.raw(`copy${i}`)} AS (INSERT INTO issued_credentials (id, application_id, subject_did, transaction_id, jwt_sha256, issued_at, expires_at, format)
      SELECT ${k.id}::text, ${k.applicationId}::text, ${k.subjectDid}::text, NULL, ${k.jwtSha256}::text, ${k.issuedAt}::bigint, ${k.expiresAt}::bigint, ${format(k.format)}::text FROM won RETURNING id)`);
  });
  const e = write.event;
  parts.push(sql`, event AS (INSERT INTO outbox_events (id, type, body, created_at, attempts, next_attempt_at, trace_parent)
    SELECT ${e.id}::text, ${e.type}::text, ${e.body}::text, ${e.createdAt}::bigint, 0, ${e.createdAt}::bigint, ${e.traceParent ?? null}::text FROM won ON CONFLICT DO NOTHING RETURNING id)`);
  if (write.notification) {
    const n = write.notification;
    parts.push(sql`, notification AS (INSERT INTO notifications (id, application_id, access_token_jti, credential_id, created_at)
      SELECT ${n.id}::text, ${n.applicationId}::text, ${n.accessTokenJti}::text, ${n.credentialId}::text, ${n.createdAt}::bigint FROM won RETURNING id)`);
  }
  parts.push(sql` SELECT count(*)::int AS won FROM won`);
  return sql.join(parts, sql``);
}
