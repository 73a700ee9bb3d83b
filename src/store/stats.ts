import { and, count, gte, inArray, isNotNull, isNull, lt, min, sql } from 'drizzle-orm';
import type { Dialect } from './dialect';

/**
 * Counting queries for operations: the business metrics that /metrics reports and the
 * readiness check of /readyz. Computed from the database on every scrape, so every instance
 * (Node processes, Worker isolates) reports the same figures. Written once over a `Dialect`
 * (./dialect.ts): SQLite, D1 and PostgreSQL alike. Counts only: no identifiers, no PII.
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
  /** Migration tags of this build (drizzle/, or drizzle-pg/ on PostgreSQL) not applied to this database. */
  pendingMigrations: string[];
}

/** IDV states that are an outcome (src/idv/stateMachine.ts), as opposed to a session under way. */
const IDV_OUTCOMES = ['approved', 'declined', 'needs_review', 'resubmission_requested', 'expired', 'abandoned'];

/** The business metrics and readiness over a dialect; `expectedMigrations` defaults to the dialect's journal. */
export function createStatsQueries(d: Dialect, options: { expectedMigrations?: readonly { tag: string; when: number }[] } = {}) {
  const { db } = d;
  const { applications, idvSessions, issuedCredentials, credentialStatus, webhookDeliveries, outboxEvents } = d.tables;
  const expected = options.expectedMigrations ?? d.migrations.expected;
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

  /** The database answers and every migration of this build is applied (as the dialect finds them recorded). */
  async function readiness(): Promise<Readiness> {
    let applied: Awaited<ReturnType<typeof d.migrations.applied>>;
    try {
      applied = await d.migrations.applied();
    } catch {
      return { ready: false, database: 'unreachable', pendingMigrations: [] };
    }
    const done = (m: { tag: string; when: number }) =>
      applied === undefined ? false : 'lastWhen' in applied ? m.when <= applied.lastWhen : applied.names.includes(m.tag);
    const pendingMigrations = expected.filter((m) => !done(m)).map((m) => m.tag);
    return { ready: pendingMigrations.length === 0, database: 'ok', pendingMigrations };
  }

  return { snapshot, readiness };
}

export type StatsQueries = ReturnType<typeof createStatsQueries>;
