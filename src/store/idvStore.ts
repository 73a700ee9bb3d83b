import { and, asc, desc, eq, isNotNull, isNull, lt, lte, or, sql } from 'drizzle-orm';
import * as schema from './schema';
import type { Database } from './store';

/**
 * Repositories for identity verification (issue 5): IDV sessions, vendor events, the PII
 * vault, the audit trail and the outbound-webhook outbox. Same rules as store.ts: runs on
 * better-sqlite3 and D1, no interactive transactions; every race is settled by ONE
 * conditional statement (INSERT … ON CONFLICT DO NOTHING RETURNING, UPDATE … WHERE … RETURNING).
 */
export type IdvSession = typeof schema.idvSessions.$inferSelect;
export type IdvEventRecord = typeof schema.idvEvents.$inferSelect;
export type PiiRecord = typeof schema.idvPii.$inferSelect;
export type AuditEntry = typeof schema.auditLog.$inferSelect;
export type OutboxEvent = typeof schema.outboxEvents.$inferSelect;
export type WebhookDelivery = typeof schema.webhookDeliveries.$inferSelect;

export function createIdvRepositories(db: Database) {
  const { idvSessions, idvEvents, idvPii, auditLog, outboxEvents, webhookDeliveries, applications } = schema;
  const p = (name: string) => sql.placeholder(name);
  // The statements every form submission runs, prepared once (see store.ts).
  const q = {
    sessionByApplication: db.select().from(idvSessions).where(eq(idvSessions.applicationId, p('applicationId'))).limit(1).prepare(),
    insertAudit: db
      .insert(auditLog)
      .values({ applicationId: p('applicationId'), actor: p('actor'), action: p('action'), detail: p('detail'), at: p('at') })
      .prepare(),
    enqueueOutbox: db
      .insert(outboxEvents)
      .values({ id: p('id'), type: p('type'), body: p('body'), createdAt: p('createdAt'), attempts: 0, nextAttemptAt: p('createdAt') })
      .onConflictDoNothing()
      .returning({ id: outboxEvents.id })
      .prepare(),
    // Creates a session unless one exists (returns the row it created, or none).
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
      .prepare(),
    // `keepOutcome` 1 leaves the outcome as it is (a state change that carries none).
    applySessionIfNewer: db
      .update(idvSessions)
      .set({
        state: sql`${p('state')}`,
        outcome: sql`CASE WHEN ${p('keepOutcome')} = 1 THEN ${idvSessions.outcome} ELSE ${p('outcome')} END`,
        lastEventAt: sql`${p('eventAt')}`,
        updatedAt: sql`${p('now')}`,
      })
      .where(and(eq(idvSessions.applicationId, p('applicationId')), lt(idvSessions.lastEventAt, p('eventAt'))))
      .returning()
      .prepare(),
    // Absent (null) country, tier and evidence leave the stored value as it is.
    setApplicationStatus: db
      .update(applications)
      .set({
        status: sql`${p('status')}`,
        idvProvider: sql`${p('provider')}`,
        countryOfResidence: sql`coalesce(${p('countryOfResidence')}, ${applications.countryOfResidence})`,
        tier: sql`coalesce(${p('tier')}, ${applications.tier})`,
        evidence: sql`coalesce(${p('evidence')}, ${applications.evidence})`,
        decisionReason: sql`${p('reason')}`,
        decidedBy: sql`${p('decidedBy')}`,
        decidedAt: sql`${p('decidedAt')}`,
        updatedAt: sql`${p('now')}`,
      })
      .where(eq(applications.id, p('id')))
      .returning()
      .prepare(),
    insertPii: db
      .insert(idvPii)
      .values({ applicationId: p('applicationId'), keyId: p('keyId'), ciphertext: p('ciphertext'), createdAt: p('createdAt'), purgeAfter: p('purgeAfter') })
      .onConflictDoNothing()
      .prepare(),
    schedulePurge: db
      .update(idvPii)
      .set({ purgeAfter: sql`${p('purgeAfter')}` })
      .where(and(eq(idvPii.applicationId, p('applicationId')), isNull(idvPii.erasedAt)))
      .prepare(),
  };

  return {
    idvSessions: {
      /** Creates the session once; a second call with the same application returns the first. */
      async createOnce(row: typeof idvSessions.$inferInsert): Promise<IdvSession> {
        await q.openSession.all({ vendorReference: null, webviewUrl: null, outcome: null, ...row });
        return (await q.sessionByApplication.all({ applicationId: row.applicationId }))[0];
      },
      async get(applicationId: string): Promise<IdvSession | undefined> {
        return (await q.sessionByApplication.all({ applicationId }))[0];
      },
      /** Creates the session already in a state (its first event applied); false when one exists. */
      async openInState(row: typeof idvSessions.$inferInsert): Promise<boolean> {
        return (await q.openSession.all({ vendorReference: null, webviewUrl: null, outcome: null, ...row })).length === 1;
      },
      async findByReference(provider: string, vendorReference: string): Promise<IdvSession | undefined> {
        const rows = await db
          .select()
          .from(idvSessions)
          .where(and(eq(idvSessions.provider, provider), eq(idvSessions.vendorReference, vendorReference)))
          .limit(1);
        return rows[0];
      },
      async attachVendorSession(applicationId: string, vendorReference: string, webviewUrl: string, now: number): Promise<void> {
        await db.update(idvSessions).set({ vendorReference, webviewUrl, updatedAt: now }).where(eq(idvSessions.applicationId, applicationId));
      },
      /**
       * Applies a state only if the event is newer than the newest applied (out-of-order
       * deliveries lose). Returns the updated row, or undefined when a newer event won.
       */
      async applyIfNewer(applicationId: string, change: { state: string; outcome?: string | null; eventAt: number }, now: number) {
        const rows = await q.applySessionIfNewer.all({
          applicationId,
          state: change.state,
          keepOutcome: change.outcome === undefined ? 1 : 0,
          outcome: change.outcome ?? null,
          eventAt: change.eventAt,
          now,
        });
        return rows[0] as IdvSession | undefined;
      },
    },

    idvEvents: {
      async exists(id: string): Promise<boolean> {
        const rows = await db.select({ id: idvEvents.id }).from(idvEvents).where(eq(idvEvents.id, id)).limit(1);
        return rows.length === 1;
      },
      /** Records a vendor event once; returns false when the event id was seen before (a replay). */
      async recordOnce(row: typeof idvEvents.$inferInsert): Promise<boolean> {
        const rows = await db.insert(idvEvents).values(row).onConflictDoNothing().returning({ id: idvEvents.id });
        return rows.length === 1;
      },
      async setDisposition(id: string, disposition: string, stateAfter: string | null, applicationId?: string): Promise<void> {
        await db
          .update(idvEvents)
          .set({ disposition, stateAfter, ...(applicationId ? { applicationId } : {}) })
          .where(eq(idvEvents.id, id));
      },
      async listForApplication(applicationId: string): Promise<IdvEventRecord[]> {
        return db.select().from(idvEvents).where(eq(idvEvents.applicationId, applicationId)).orderBy(asc(idvEvents.occurredAt));
      },
    },

    applicationStatus: {
      /** Applications whose IDV link expired unused: pending, never submitted, no IDV session. */
      async abandonedCandidates(now: number, limit = 100) {
        return db
          .select({ id: applications.id, idvProvider: applications.idvProvider })
          .from(applications)
          .leftJoin(idvSessions, eq(idvSessions.applicationId, applications.id))
          .where(and(eq(applications.status, 'pending'), isNull(applications.formSubmittedAt), lte(applications.formExpiresAt, now), isNull(idvSessions.applicationId)))
          .limit(limit);
      },
      /**
       * Moves an application to the status its IDV state maps to (see src/idv/stateMachine.ts).
       * Decided statuses record who decided; `pending`/`review` clear the decision.
       */
      async set(
        id: string,
        change: {
          status: 'pending' | 'review' | 'approved' | 'rejected';
          provider: string;
          countryOfResidence?: string | null;
          tier?: string | null;
          evidence?: unknown[];
          reason?: string | null;
          decidedBy?: string | null;
        },
        now: number,
      ) {
        const decided = change.status === 'approved' || change.status === 'rejected';
        const rows = await q.setApplicationStatus.all({
          id,
          status: change.status,
          provider: change.provider,
          countryOfResidence: change.countryOfResidence || null,
          tier: change.tier || null,
          evidence: change.evidence ? JSON.stringify(change.evidence) : null,
          reason: change.reason ?? null,
          decidedBy: decided ? (change.decidedBy ?? `idv:${change.provider}`) : null,
          decidedAt: decided ? now : null,
          now,
        });
        return rows[0] as typeof applications.$inferSelect | undefined;
      },
      /** The review queue with filters (console and API). */
      async search(filter: { status?: string; provider?: string; country?: string; q?: string; limit?: number }) {
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
      async store(row: typeof idvPii.$inferInsert): Promise<void> {
        await q.insertPii.run({ purgeAfter: null, ...row });
      },
      async get(applicationId: string): Promise<PiiRecord | undefined> {
        const rows = await db.select().from(idvPii).where(eq(idvPii.applicationId, applicationId)).limit(1);
        return rows[0];
      },
      /** Starts the retention clock once a decision exists. */
      async schedulePurge(applicationId: string, purgeAfter: number): Promise<void> {
        await q.schedulePurge.run({ applicationId, purgeAfter });
      },
      async erase(applicationId: string, reason: string, now: number): Promise<boolean> {
        const rows = await db
          .update(idvPii)
          .set({ ciphertext: null, erasedAt: now, erasedReason: reason })
          .where(and(eq(idvPii.applicationId, applicationId), isNull(idvPii.erasedAt)))
          .returning({ id: idvPii.applicationId });
        return rows.length === 1;
      },
      /** Erases every record whose retention has run out; returns the application ids. */
      async purgeDue(now: number): Promise<string[]> {
        const rows = await db
          .update(idvPii)
          .set({ ciphertext: null, erasedAt: now, erasedReason: 'retention' })
          .where(and(isNull(idvPii.erasedAt), isNotNull(idvPii.purgeAfter), lte(idvPii.purgeAfter, now)))
          .returning({ id: idvPii.applicationId });
        return rows.map((r) => r.id);
      },
    },

    audit: {
      async record(row: { applicationId: string | null; actor: string; action: string; detail?: Record<string, unknown>; at: number }): Promise<void> {
        await q.insertAudit.run({ applicationId: row.applicationId, actor: row.actor, action: row.action, detail: row.detail ? JSON.stringify(row.detail) : null, at: row.at });
      },
      async listForApplication(applicationId: string): Promise<AuditEntry[]> {
        return db.select().from(auditLog).where(eq(auditLog.applicationId, applicationId)).orderBy(asc(auditLog.at), asc(auditLog.id));
      },
    },

    outbox: {
      /** Enqueues an event; its id makes a repeated enqueue a no-op. */
      async enqueue(row: { id: string; type: string; body: string; createdAt: number }): Promise<boolean> {
        const rows = await q.enqueueOutbox.all({ id: row.id, type: row.type, body: row.body, createdAt: row.createdAt });
        return rows.length === 1;
      },
      async due(now: number, limit: number): Promise<OutboxEvent[]> {
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
      /** Claims an event for one dispatcher until `leaseUntil` (two dispatchers never both send). */
      async claim(id: string, now: number, leaseUntil: number): Promise<OutboxEvent | undefined> {
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
      async markDelivered(id: string, now: number): Promise<void> {
        await db.update(outboxEvents).set({ deliveredAt: now, leaseUntil: null, lastError: null }).where(eq(outboxEvents.id, id));
      },
      async markRetry(id: string, nextAttemptAt: number, error: string): Promise<void> {
        await db.update(outboxEvents).set({ nextAttemptAt, leaseUntil: null, lastError: error }).where(eq(outboxEvents.id, id));
      },
      async markFailed(id: string, now: number, error: string): Promise<void> {
        await db.update(outboxEvents).set({ failedAt: now, leaseUntil: null, lastError: error }).where(eq(outboxEvents.id, id));
      },
      async get(id: string): Promise<OutboxEvent | undefined> {
        const rows = await db.select().from(outboxEvents).where(eq(outboxEvents.id, id)).limit(1);
        return rows[0];
      },
      async list(limit = 100): Promise<OutboxEvent[]> {
        return db.select().from(outboxEvents).orderBy(desc(outboxEvents.createdAt)).limit(limit);
      },
      async recordDelivery(row: typeof webhookDeliveries.$inferInsert): Promise<void> {
        await db.insert(webhookDeliveries).values(row);
      },
      async deliveries(eventId: string): Promise<WebhookDelivery[]> {
        return db.select().from(webhookDeliveries).where(eq(webhookDeliveries.eventId, eventId)).orderBy(asc(webhookDeliveries.id));
      },
      async pendingCount(): Promise<number> {
        const rows = await db
          .select({ n: sql<number>`count(*)` })
          .from(outboxEvents)
          .where(and(isNull(outboxEvents.deliveredAt), isNull(outboxEvents.failedAt)));
        return Number(rows[0]?.n ?? 0);
      },
    },
  };
}
