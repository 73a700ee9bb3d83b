import { and, asc, eq, isNotNull, isNull, lt, lte, sql } from 'drizzle-orm';
import * as schema from '../schema';
import type { IdvEventRepository, IdvSession, IdvSessionRepository, PiiRepository } from '../types';
import type { Database } from './database';
import { p } from './helpers';

/**
 * The identity-verification aggregate: one session per application, the vendor events applied to
 * it, and the encrypted PII vault. Every race is settled by ONE conditional statement (INSERT …
 * ON CONFLICT DO NOTHING RETURNING, UPDATE … WHERE … RETURNING).
 */
export function createIdvSessionRepositories(db: Database) {
  const { idvSessions, idvEvents, idvPii } = schema;

  // The statements every form submission runs, prepared once per store.
  const q = {
    sessionByApplication: db
      .select()
      .from(idvSessions)
      .where(eq(idvSessions.applicationId, p('applicationId')))
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

  const idvSessionRepository: IdvSessionRepository = {
    async createOnce(row) {
      await q.openSession.all({ vendorReference: null, webviewUrl: null, outcome: null, ...row });
      return (await q.sessionByApplication.all({ applicationId: row.applicationId }))[0];
    },
    async get(applicationId) {
      return (await q.sessionByApplication.all({ applicationId }))[0];
    },
    async openInState(row) {
      return (await q.openSession.all({ vendorReference: null, webviewUrl: null, outcome: null, ...row })).length === 1;
    },
    async findByReference(provider, vendorReference) {
      const rows = await db
        .select()
        .from(idvSessions)
        .where(and(eq(idvSessions.provider, provider), eq(idvSessions.vendorReference, vendorReference)));
      return rows[0];
    },
    async attachVendorSession(applicationId, vendorReference, webviewUrl, now) {
      await db.update(idvSessions).set({ vendorReference, webviewUrl, updatedAt: now }).where(eq(idvSessions.applicationId, applicationId));
    },
    async applyIfNewer(applicationId, change, now) {
      const rows = await q.applySessionIfNewer.all({
        applicationId,
        state: change.state,
        keepOutcome: change.outcome === undefined ? 1 : 0,
        // Bound into a CASE (raw SQL): JSON text here, as drizzle encodes it elsewhere.
        outcome: change.outcome == null ? null : JSON.stringify(change.outcome),
        eventAt: change.eventAt,
        now,
      });
      return rows[0] as IdvSession | undefined;
    },
  };

  const idvEventRepository: IdvEventRepository = {
    async exists(id) {
      const rows = await db.select({ id: idvEvents.id }).from(idvEvents).where(eq(idvEvents.id, id));
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
  };

  const piiRepository: PiiRepository = {
    async store(row) {
      await q.insertPii.run({ purgeAfter: null, ...row });
    },
    async get(applicationId) {
      const rows = await db.select().from(idvPii).where(eq(idvPii.applicationId, applicationId));
      return rows[0];
    },
    async schedulePurge(applicationId, purgeAfter) {
      await q.schedulePurge.run({ applicationId, purgeAfter });
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
  };

  return { idvSessions: idvSessionRepository, idvEvents: idvEventRepository, pii: piiRepository };
}
