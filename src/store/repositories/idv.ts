import { and, asc, eq, isNotNull, isNull, lt, lte, sql } from 'drizzle-orm';
import type { IdvEventRepository, IdvSession, IdvSessionRepository, PiiRepository } from '../types';
import { type Dialect, first, p, placeholders, setFrom, touched } from '../dialect';

/** Every column of an IDV session, each bound by the prepared INSERT. */
const sessionColumns = [
  'applicationId',
  'provider',
  'state',
  'vendorReference',
  'idempotencyKey',
  'webviewUrl',
  'lastEventAt',
  'outcome',
  'createdAt',
  'updatedAt',
] as const;

/**
 * The identity-verification aggregate: one session per application, the vendor events applied to
 * it, and the encrypted PII vault. Every race is settled by ONE conditional statement (INSERT …
 * ON CONFLICT DO NOTHING RETURNING, UPDATE … WHERE … RETURNING).
 */
export function createIdvSessionRepositories(d: Dialect) {
  const { db, prepare } = d;
  const { idvSessions, idvEvents, idvPii } = d.tables;

  // The statements every form submission runs, prepared once per store.
  const q = {
    sessionByApplication: prepare(
      'session_by_application',
      db
        .select()
        .from(idvSessions)
        .where(eq(idvSessions.applicationId, p('applicationId'))),
    ),
    // Creates a session unless one exists (returns the row it created, or none).
    openSession: prepare(
      'open_session',
      db
        .insert(idvSessions)
        .values(placeholders(...sessionColumns))
        .onConflictDoNothing()
        .returning({ applicationId: idvSessions.applicationId }),
    ),
    // `keepOutcome` 1 leaves the outcome as it is (a state change that carries none).
    applySessionIfNewer: prepare(
      'apply_session_if_newer',
      db
        .update(idvSessions)
        .set({
          ...setFrom({ state: 'state', lastEventAt: 'eventAt', updatedAt: 'now' }),
          outcome: sql`CASE WHEN ${p('keepOutcome')} = 1 THEN ${idvSessions.outcome} ELSE ${p('outcome')} END`,
        })
        .where(and(eq(idvSessions.applicationId, p('applicationId')), lt(idvSessions.lastEventAt, p('eventAt'))))
        .returning(),
    ),
    insertPii: prepare(
      'insert_pii',
      db
        .insert(idvPii)
        .values(placeholders('applicationId', 'keyId', 'ciphertext', 'createdAt', 'purgeAfter'))
        .onConflictDoNothing(),
    ),
    schedulePurge: prepare(
      'schedule_purge',
      db
        .update(idvPii)
        .set({ purgeAfter: sql`${p('purgeAfter')}` })
        .where(and(eq(idvPii.applicationId, p('applicationId')), isNull(idvPii.erasedAt))),
    ),
  };

  const idvSessionRepository: IdvSessionRepository = {
    async createOnce(row) {
      await q.openSession.all({ vendorReference: null, webviewUrl: null, outcome: null, ...row });
      return (await q.sessionByApplication.all({ applicationId: row.applicationId }))[0];
    },
    async get(applicationId) {
      return first(q.sessionByApplication.all({ applicationId }));
    },
    async openInState(row) {
      return (await q.openSession.all({ vendorReference: null, webviewUrl: null, outcome: null, ...row })).length === 1;
    },
    async findByReference(provider, vendorReference) {
      return first(
        db
          .select()
          .from(idvSessions)
          .where(and(eq(idvSessions.provider, provider), eq(idvSessions.vendorReference, vendorReference))),
      );
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
      return (await touched(db.select({ id: idvEvents.id }).from(idvEvents).where(eq(idvEvents.id, id)))) === 1;
    },
    async recordOnce(row) {
      return (await touched(db.insert(idvEvents).values(row).onConflictDoNothing().returning({ id: idvEvents.id }))) === 1;
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
      return first(db.select().from(idvPii).where(eq(idvPii.applicationId, applicationId)));
    },
    async schedulePurge(applicationId, purgeAfter) {
      await q.schedulePurge.run({ applicationId, purgeAfter });
    },
    async erase(applicationId, reason, now) {
      return (
        (await touched(
          db
            .update(idvPii)
            .set({ ciphertext: null, erasedAt: now, erasedReason: reason })
            .where(and(eq(idvPii.applicationId, applicationId), isNull(idvPii.erasedAt)))
            .returning({ id: idvPii.applicationId }),
        )) === 1
      );
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
