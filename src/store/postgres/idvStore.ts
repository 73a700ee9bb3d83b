import { and, asc, desc, eq, isNotNull, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { EvidenceEntry, Store } from '../types';
import * as schema from './schema';
import type { PostgresDatabase } from './database';

/**
 * The identity-verification repositories of src/store/idvStore.ts on PostgreSQL. Every race is
 * settled by one conditional statement, as there. The outbox claim is a conditional UPDATE with
 * a lease: among instances dispatching at once exactly one claims an event, and an event whose
 * dispatcher died is claimed again once its lease runs out (a retry survives a crash).
 */
type IdvRepositories = Pick<Store, 'idvSessions' | 'idvEvents' | 'applicationStatus' | 'pii' | 'audit' | 'outbox'>;

export function createPostgresIdvRepositories(db: PostgresDatabase): IdvRepositories {
  const { idvSessions, idvEvents, idvPii, auditLog, outboxEvents, webhookDeliveries, applications } = schema;
  const p = (name: string) => sql.placeholder(name);
  // The statements every form submission runs, built once and prepared (see ./store.ts).
  const q = {
    sessionByApplication: db
      .select()
      .from(idvSessions)
      .where(eq(idvSessions.applicationId, p('applicationId')))
      .limit(1)
      .prepare('idv_session_by_application'),
    openSession: db
      .insert(idvSessions)
      .values({
        applicationId: p('applicationId'),
        provider: p('provider'),
        state: p('state'),
        vendorReference: p('vendorReference'),
        idempotencyKey: p('idempotencyKey'),
        webviewUrl: p('webviewUrl'),
        lastEventAt: p('lastEventAt'),
        outcome: p('outcome'),
        createdAt: p('createdAt'),
        updatedAt: p('updatedAt'),
      })
      .onConflictDoNothing()
      .returning({ applicationId: idvSessions.applicationId })
      .prepare('open_idv_session'),
    insertAudit: db
      .insert(auditLog)
      .values({ applicationId: p('applicationId'), actor: p('actor'), action: p('action'), detail: p('detail'), at: p('at') })
      .prepare('insert_audit'),
    enqueueOutbox: db
      .insert(outboxEvents)
      .values({ id: p('id'), type: p('type'), body: p('body'), createdAt: p('createdAt'), attempts: 0, nextAttemptAt: p('createdAt') })
      .onConflictDoNothing()
      .returning({ id: outboxEvents.id })
      .prepare('enqueue_outbox'),
    insertPii: db
      .insert(idvPii)
      .values({ applicationId: p('applicationId'), keyId: p('keyId'), ciphertext: p('ciphertext'), createdAt: p('createdAt'), purgeAfter: p('purgeAfter') })
      .onConflictDoNothing()
      .prepare('insert_pii'),
    schedulePurge: db
      .update(idvPii)
      .set({ purgeAfter: sql`${p('purgeAfter')}` })
      .where(and(eq(idvPii.applicationId, p('applicationId')), isNull(idvPii.erasedAt)))
      .prepare('schedule_pii_purge'),
  };
  const sessionByApplication = async (applicationId: string) => (await q.sessionByApplication.execute({ applicationId }))[0];
  const openSession = (row: typeof idvSessions.$inferInsert) => q.openSession.execute({ vendorReference: null, webviewUrl: null, outcome: null, ...row });

  return {
    idvSessions: {
      async createOnce(row) {
        await openSession(row);
        return (await sessionByApplication(row.applicationId))!;
      },
      get: sessionByApplication,
      async openInState(row) {
        return (await openSession(row)).length === 1;
      },
      async findByReference(provider, vendorReference) {
        const rows = await db
          .select()
          .from(idvSessions)
          .where(and(eq(idvSessions.provider, provider), eq(idvSessions.vendorReference, vendorReference)))
          .limit(1);
        return rows[0];
      },
      async attachVendorSession(applicationId, vendorReference, webviewUrl, now) {
        await db.update(idvSessions).set({ vendorReference, webviewUrl, updatedAt: now }).where(eq(idvSessions.applicationId, applicationId));
      },
      async applyIfNewer(applicationId, change, now) {
        // An absent outcome (a state change that carries none) leaves the stored one as it is.
        const rows = await db
          .update(idvSessions)
          .set({ state: change.state, ...(change.outcome === undefined ? {} : { outcome: change.outcome }), lastEventAt: change.eventAt, updatedAt: now })
          .where(and(eq(idvSessions.applicationId, applicationId), lt(idvSessions.lastEventAt, change.eventAt)))
          .returning();
        return rows[0];
      },
    },

    idvEvents: {
      async exists(id) {
        const rows = await db.select({ id: idvEvents.id }).from(idvEvents).where(eq(idvEvents.id, id)).limit(1);
        return rows.length === 1;
      },
      async recordOnce(row) {
        const rows = await db.insert(idvEvents).values(row).onConflictDoNothing().returning({ id: idvEvents.id });
        return rows.length === 1;
      },
      async setDisposition(id, disposition, stateAfter, applicationId) {
        await db
          .update(idvEvents)
          .set({ disposition, stateAfter, ...(applicationId ? { applicationId } : {}) })
          .where(eq(idvEvents.id, id));
      },
      async listForApplication(applicationId) {
        return db.select().from(idvEvents).where(eq(idvEvents.applicationId, applicationId)).orderBy(asc(idvEvents.occurredAt));
      },
    },

    applicationStatus: {
      async abandonedCandidates(now, limit = 100) {
        return db
          .select({ id: applications.id, idvProvider: applications.idvProvider })
          .from(applications)
          .leftJoin(idvSessions, eq(idvSessions.applicationId, applications.id))
          .where(
            and(
              eq(applications.status, 'pending'),
              isNull(applications.formSubmittedAt),
              lte(applications.formExpiresAt, now),
              isNull(idvSessions.applicationId),
            ),
          )
          .limit(limit);
      },
      async set(id, change, now) {
        const decided = change.status === 'approved' || change.status === 'rejected';
        // Absent (null) country, tier and evidence leave the stored value as it is.
        const country = change.countryOfResidence || null;
        const tier = change.tier || null;
        const evidence = change.evidence ? (change.evidence as EvidenceEntry[]) : null;
        const rows = await db
          .update(applications)
          .set({
            status: change.status,
            idvProvider: change.provider,
            ...(country !== null ? { countryOfResidence: country } : {}),
            ...(tier !== null ? { tier } : {}),
            ...(evidence !== null ? { evidence } : {}),
            decisionReason: change.reason ?? null,
            decidedBy: decided ? (change.decidedBy ?? `idv:${change.provider}`) : null,
            decidedAt: decided ? now : null,
            updatedAt: now,
          })
          .where(eq(applications.id, id))
          .returning();
        return rows[0];
      },
      async search(filter) {
        const conditions = [];
        if (filter.status) conditions.push(eq(applications.status, filter.status as 'pending'));
        if (filter.provider) conditions.push(eq(applications.idvProvider, filter.provider));
        if (filter.country) conditions.push(eq(applications.countryOfResidence, filter.country));
        if (filter.q) conditions.push(or(eq(applications.id, filter.q), eq(applications.applicantDid, filter.q)));
        return db
          .select()
          .from(applications)
          .where(conditions.length ? and(...conditions) : undefined)
          .orderBy(desc(applications.updatedAt))
          .limit(filter.limit ?? 100);
      },
    },

    pii: {
      async store(row) {
        await q.insertPii.execute({ purgeAfter: null, ...row });
      },
      async get(applicationId) {
        return (await db.select().from(idvPii).where(eq(idvPii.applicationId, applicationId)).limit(1))[0];
      },
      async schedulePurge(applicationId, purgeAfter) {
        await q.schedulePurge.execute({ applicationId, purgeAfter });
      },
      async erase(applicationId, reason, now) {
        const rows = await db
          .update(idvPii)
          .set({ ciphertext: null, erasedAt: now, erasedReason: reason })
          .where(and(eq(idvPii.applicationId, applicationId), isNull(idvPii.erasedAt)))
          .returning({ id: idvPii.applicationId });
        return rows.length === 1;
      },
      async purgeDue(now) {
        const rows = await db
          .update(idvPii)
          .set({ ciphertext: null, erasedAt: now, erasedReason: 'retention' })
          .where(and(isNull(idvPii.erasedAt), isNotNull(idvPii.purgeAfter), lte(idvPii.purgeAfter, now)))
          .returning({ id: idvPii.applicationId });
        return rows.map((r) => r.id);
      },
    },

    audit: {
      async record(row) {
        await q.insertAudit.execute({ applicationId: row.applicationId, actor: row.actor, action: row.action, detail: row.detail ?? null, at: row.at });
      },
      async listForApplication(applicationId) {
        return db.select().from(auditLog).where(eq(auditLog.applicationId, applicationId)).orderBy(asc(auditLog.at), asc(auditLog.id));
      },
    },

    outbox: {
      async enqueue(row) {
        const rows = await q.enqueueOutbox.execute({ id: row.id, type: row.type, body: row.body, createdAt: row.createdAt });
        return rows.length === 1;
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
        const rows = await db
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
          .returning();
        return rows[0];
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
        return (await db.select().from(outboxEvents).where(eq(outboxEvents.id, id)).limit(1))[0];
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
          .select({ n: sql<string>`count(*)` })
          .from(outboxEvents)
          .where(and(isNull(outboxEvents.deliveredAt), isNull(outboxEvents.failedAt)));
        return Number(rows[0]?.n ?? 0);
      },
    },
  };
}
