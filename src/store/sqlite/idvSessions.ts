import { and, asc, eq, isNotNull, isNull, lt, lte, sql } from 'drizzle-orm';
import * as schema from '../schema';
import type { IdvEventRepository, IdvResultWrite, IdvSession, IdvSessionRepository, PiiRepository } from '../types';
import type { Database } from './database';
import { p, type Together, type Write } from './helpers';

/**
 * The identity-verification aggregate: one session per application, the vendor events applied to
 * it, and the encrypted PII vault. Every race is settled by ONE conditional statement (INSERT …
 * ON CONFLICT DO NOTHING RETURNING, UPDATE … WHERE … RETURNING).
 */
export function createIdvSessionRepositories(db: Database, together: Together) {
  const { idvSessions, idvEvents, idvPii, applications, auditLog, outboxEvents } = schema;

  // The statements every form submission runs, prepared once per store.
  const q = {
    sessionByApplication: db.select().from(idvSessions).where(eq(idvSessions.applicationId, p('applicationId'))).prepare(),
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

  // commitResult: what a result decides, each write conditional on the session write that comes
  // LAST in the same transaction (D1: batch) still being able to win. The condition reads the
  // session as it is before that write, and nothing else writes in between (one transaction), so
  // either every write below takes effect with the session's, or none does.
  const sessionWriteWins = sql`((${p('open')} = 1 AND NOT EXISTS (SELECT 1 FROM idv_sessions s WHERE s.application_id = ${p('applicationId')}))
    OR (${p('open')} = 0 AND EXISTS (SELECT 1 FROM idv_sessions s WHERE s.application_id = ${p('applicationId')} AND s.last_event_at < ${p('eventAt')})))`;
  const r = {
    // As setApplicationStatus in ./applications.ts: absent (null) country, tier and evidence leave the stored value.
    status: db
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
      .where(and(eq(applications.id, p('applicationId')), sessionWriteWins))
      .prepare(),
    // INSERT … SELECT lists every column of the table in order (id NULL: SQLite assigns it).
    audit: db
      .insert(auditLog)
      .select(sql`SELECT NULL, ${p('applicationId')}, ${p('actor')}, ${p('action')}, ${p('detail')}, ${p('now')} WHERE ${sessionWriteWins}`)
      .prepare(),
    // The WHERE also settles SQLite's parsing ambiguity of INSERT … SELECT … ON CONFLICT.
    event: db
      .insert(outboxEvents)
      .select(sql`SELECT ${p('id')}, ${p('type')}, ${p('body')}, ${p('createdAt')}, 0, ${p('createdAt')}, NULL, NULL, NULL, NULL WHERE ${sessionWriteWins}`)
      .onConflictDoNothing()
      .prepare(),
    purge: db
      .update(idvPii)
      .set({ purgeAfter: sql`${p('purgeAfter')}` })
      .where(and(eq(idvPii.applicationId, p('applicationId')), isNull(idvPii.erasedAt), sessionWriteWins))
      .prepare(),
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
      .prepare(),
    advanceSession: db
      .update(idvSessions)
      .set({ state: sql`${p('state')}`, outcome: sql`${p('outcome')}`, lastEventAt: sql`${p('eventAt')}`, updatedAt: sql`${p('now')}` })
      .where(and(eq(idvSessions.applicationId, p('applicationId')), lt(idvSessions.lastEventAt, p('eventAt'))))
      .prepare(),
  };

  /** The writes of a `commitResult`, the deciding session write last; JSON bound as text (raw SQL). */
  function resultWrites(write: IdvResultWrite): Write[] {
    const open = 'open' in write.session;
    const base = { applicationId: write.applicationId, open: open ? 1 : 0, eventAt: 'open' in write.session ? 0 : write.session.advance.eventAt, now: write.now };
    const writes: Write[] = [];
    if (write.status) {
      const change = write.status;
      const decided = change.status === 'approved' || change.status === 'rejected';
      writes.push({
        statement: r.status,
        values: {
          ...base,
          status: change.status,
          provider: change.provider,
          countryOfResidence: change.countryOfResidence || null,
          tier: change.tier || null,
          evidence: change.evidence ? JSON.stringify(change.evidence) : null,
          reason: change.reason ?? null,
          decidedBy: decided ? (change.decidedBy ?? `idv:${change.provider}`) : null,
          decidedAt: decided ? write.now : null,
        },
      });
    }
    writes.push({ statement: r.audit, values: { ...base, actor: write.audit.actor, action: write.audit.action, detail: JSON.stringify(write.audit.detail) } });
    for (const event of write.events) writes.push({ statement: r.event, values: { ...base, ...event } });
    if (write.purgeAfter !== undefined) writes.push({ statement: r.purge, values: { ...base, purgeAfter: write.purgeAfter } });
    if ('open' in write.session) {
      const row = write.session.open;
      writes.push({
        statement: r.openSession,
        // A column placeholder in `.values()`: drizzle encodes the JSON itself.
        values: { vendorReference: null, webviewUrl: null, outcome: null, ...row },
      });
    } else {
      const { state, outcome, eventAt } = write.session.advance;
      writes.push({ statement: r.advanceSession, values: { ...base, state, outcome: outcome == null ? null : JSON.stringify(outcome), eventAt } });
    }
    return writes;
  }

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
    async commitResult(write) {
      const changed = await together(resultWrites(write));
      return changed[changed.length - 1] === 1;
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
