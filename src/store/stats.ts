import { and, count, gte, inArray, isNotNull, isNull, lt, min, sql } from 'drizzle-orm';
import journal from '../../drizzle/meta/_journal.json';
import * as schema from './schema';
import type { Database } from './store';

/**
 * Counting queries for operations: the business metrics that /metrics reports and the
 * readiness check of /readyz. Computed from the database on every scrape, so every instance
 * (Node processes, Worker isolates) reports the same figures. Over drizzle's SQLite core:
 * better-sqlite3 and D1 alike. Counts only: no identifiers, no PII.
 */
export interface StatsSnapshot {
  /** Applications by status (pending, review, approved, rejected). */
  applicationsByStatus: Record<string, number>;
  /** IDV sessions that reached a decision, by provider and outcome (the normalised IDV state). */
  idvDecisions: { provider: string; outcome: string; count: number }[];
  /** Applications awaiting an operator's decision. */
  manualReviewQueue: number;
  credentialsIssued: number;
  credentialsRevoked: number;
  /** Suspended now (and not revoked). */
  credentialsSuspended: number;
  /** Delivery attempts of outbound webhooks: a 2xx answer, or anything else (error, timeout, non-2xx). */
  webhookDeliveries: { succeeded: number; failed: number };
  /** Outbound events whose retries are exhausted. */
  webhookEventsFailed: number;
  /** Outbound events not yet delivered and still being retried. */
  outboxBacklog: number;
  /** created_at (seconds) of the oldest event in the backlog; undefined when it is empty. */
  outboxOldestCreatedAt?: number;
}

export interface Readiness {
  ready: boolean;
  database: 'ok' | 'unreachable';
  /** Migration tags of drizzle/ not applied to this database. */
  pendingMigrations: string[];
}

/** IDV states that are an outcome (src/idv/stateMachine.ts), as opposed to a session under way. */
const IDV_OUTCOMES = ['approved', 'declined', 'needs_review', 'resubmission_requested', 'expired', 'abandoned'];

/** The migrations this build expects, from drizzle/meta/_journal.json (the folder both runtimes migrate from). */
const EXPECTED_MIGRATIONS: readonly { tag: string; when: number }[] = journal.entries.map((e) => ({ tag: e.tag, when: e.when }));

export function createStatsQueries(db: Database, options: { expectedMigrations?: readonly { tag: string; when: number }[] } = {}) {
  const { applications, idvSessions, issuedCredentials, credentialStatus, webhookDeliveries, outboxEvents } = schema;
  const expected = options.expectedMigrations ?? EXPECTED_MIGRATIONS;
  const one = async (query: PromiseLike<{ n: number }[]>) => Number((await query)[0]?.n ?? 0);

  async function snapshot(): Promise<StatsSnapshot> {
    const pending = and(isNull(outboxEvents.deliveredAt), isNull(outboxEvents.failedAt));
    const [byStatus, decisions, issued, revoked, suspended, deliveries, eventsFailed, backlog] = await Promise.all([
      db.select({ status: applications.status, n: count() }).from(applications).groupBy(applications.status),
      db
        .select({ provider: idvSessions.provider, outcome: idvSessions.state, n: count() })
        .from(idvSessions)
        .where(inArray(idvSessions.state, IDV_OUTCOMES))
        .groupBy(idvSessions.provider, idvSessions.state),
      one(db.select({ n: count() }).from(issuedCredentials)),
      one(db.select({ n: count() }).from(credentialStatus).where(isNotNull(credentialStatus.revokedAt))),
      one(
        db
          .select({ n: count() })
          .from(credentialStatus)
          .where(and(isNotNull(credentialStatus.suspendedAt), isNull(credentialStatus.revokedAt))),
      ),
      db
        .select({
          succeeded: sql<number>`coalesce(sum(case when ${and(gte(webhookDeliveries.statusCode, 200), lt(webhookDeliveries.statusCode, 300))} then 1 else 0 end), 0)`,
          n: count(),
        })
        .from(webhookDeliveries),
      one(db.select({ n: count() }).from(outboxEvents).where(isNotNull(outboxEvents.failedAt))),
      db
        .select({ n: count(), oldest: min(outboxEvents.createdAt) })
        .from(outboxEvents)
        .where(pending),
    ]);
    const applicationsByStatus: Record<string, number> = { pending: 0, review: 0, approved: 0, rejected: 0 };
    for (const r of byStatus) applicationsByStatus[r.status] = Number(r.n);
    const succeeded = Number(deliveries[0]?.succeeded ?? 0);
    return {
      applicationsByStatus,
      idvDecisions: decisions.map((d) => ({ provider: d.provider, outcome: d.outcome, count: Number(d.n) })),
      manualReviewQueue: applicationsByStatus.review ?? 0,
      credentialsIssued: issued,
      credentialsRevoked: revoked,
      credentialsSuspended: suspended,
      webhookDeliveries: { succeeded, failed: Number(deliveries[0]?.n ?? 0) - succeeded },
      webhookEventsFailed: eventsFailed,
      outboxBacklog: Number(backlog[0]?.n ?? 0),
      outboxOldestCreatedAt: backlog[0]?.oldest == null ? undefined : Number(backlog[0].oldest),
    };
  }

  /**
   * The database answers and every migration of this build is applied. Node's drizzle migrator
   * records each migration in `__drizzle_migrations` (created_at = the journal's `when`);
   * `wrangler d1 migrations apply` records file names in `d1_migrations`.
   */
  async function readiness(): Promise<Readiness> {
    let tables: { name: string }[];
    try {
      tables = await db.all<{ name: string }>(sql`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('__drizzle_migrations', 'd1_migrations')`);
    } catch {
      return { ready: false, database: 'unreachable', pendingMigrations: [] };
    }
    const names = new Set(tables.map((t) => t.name));
    let pendingMigrations: string[];
    try {
      if (names.has('__drizzle_migrations')) {
        const rows = await db.all<{ last: number | null }>(sql`SELECT max(created_at) AS last FROM __drizzle_migrations`);
        const last = Number(rows[0]?.last ?? 0);
        pendingMigrations = expected.filter((m) => m.when > last).map((m) => m.tag);
      } else if (names.has('d1_migrations')) {
        const rows = await db.all<{ name: string }>(sql`SELECT name FROM d1_migrations`);
        const applied = new Set(rows.map((r) => r.name.replace(/\.sql$/, '')));
        pendingMigrations = expected.filter((m) => !applied.has(m.tag)).map((m) => m.tag);
      } else {
        pendingMigrations = expected.map((m) => m.tag);
      }
    } catch {
      return { ready: false, database: 'unreachable', pendingMigrations: [] };
    }
    return { ready: pendingMigrations.length === 0, database: 'ok', pendingMigrations };
  }

  return { snapshot, readiness };
}

export type StatsQueries = ReturnType<typeof createStatsQueries>;
