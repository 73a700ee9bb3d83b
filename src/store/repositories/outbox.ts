import { and, asc, desc, eq, isNull, lte, or, sql } from 'drizzle-orm';
import type { OutboxRepository } from '../types';
import { type Dialect, first, p, touched } from '../dialect';

/** The outbound-webhook outbox and its delivery log. */
export function createOutboxRepositories(d: Dialect) {
  const { db, prepare } = d;
  const { outboxEvents, webhookDeliveries } = d.tables;

  const q = {
    enqueueOutbox: prepare(
      'enqueue_outbox',
      db
        .insert(outboxEvents)
        .values({
          id: p('id'),
          type: p('type'),
          body: p('body'),
          createdAt: p('createdAt'),
          attempts: 0,
          nextAttemptAt: p('createdAt'),
          traceParent: p('traceParent'),
        })
        .onConflictDoNothing()
        .returning({ id: outboxEvents.id }),
    ),
  };

  const outboxRepository: OutboxRepository = {
    async enqueue(row) {
      const values = { id: row.id, type: row.type, body: row.body, createdAt: row.createdAt, traceParent: row.traceParent ?? null };
      return (await touched(q.enqueueOutbox.all(values))) === 1;
    },
    async due(now, limit) {
      return db
        .select()
        .from(outboxEvents)
        .where(
          and(
            isNull(outboxEvents.deliveredAt),
            isNull(outboxEvents.failedAt),
            lte(outboxEvents.nextAttemptAt, now),
            or(isNull(outboxEvents.leaseUntil), lte(outboxEvents.leaseUntil, now)),
          ),
        )
        .orderBy(asc(outboxEvents.nextAttemptAt), asc(outboxEvents.createdAt))
        .limit(limit);
    },
    async claim(id, now, leaseUntil) {
      return first(
        db
          .update(outboxEvents)
          .set({ leaseUntil, attempts: sql`${outboxEvents.attempts} + 1` })
          .where(
            and(
              eq(outboxEvents.id, id),
              isNull(outboxEvents.deliveredAt),
              isNull(outboxEvents.failedAt),
              or(isNull(outboxEvents.leaseUntil), lte(outboxEvents.leaseUntil, now)),
            ),
          )
          .returning(),
      );
    },
    async markDelivered(id, now) {
      await db.update(outboxEvents).set({ deliveredAt: now, leaseUntil: null, lastError: null }).where(eq(outboxEvents.id, id));
    },
    async markRetry(id, nextAttemptAt, error) {
      await db.update(outboxEvents).set({ nextAttemptAt, leaseUntil: null, lastError: error }).where(eq(outboxEvents.id, id));
    },
    async markFailed(id, now, error) {
      await db.update(outboxEvents).set({ failedAt: now, leaseUntil: null, lastError: error }).where(eq(outboxEvents.id, id));
    },
    async get(id) {
      return first(db.select().from(outboxEvents).where(eq(outboxEvents.id, id)));
    },
    async list(limit = 100) {
      return db.select().from(outboxEvents).orderBy(desc(outboxEvents.createdAt)).limit(limit);
    },
    async recordDelivery(row) {
      await db.insert(webhookDeliveries).values(row);
    },
    async deliveries(eventId) {
      return db.select().from(webhookDeliveries).where(eq(webhookDeliveries.eventId, eventId)).orderBy(asc(webhookDeliveries.id));
    },
    async pendingCount() {
      const rows = await db
        .select({ n: sql<number>`count(*)` })
        .from(outboxEvents)
        .where(and(isNull(outboxEvents.deliveredAt), isNull(outboxEvents.failedAt)));
      return Number(rows[0]?.n ?? 0);
    },
  };

  return { outbox: outboxRepository };
}
