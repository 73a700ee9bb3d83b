import { and, asc, eq, isNotNull, isNull, lt, lte, sql } from 'drizzle-orm';
import type { IdvEventRepository, IdvResultWrite, IdvSession, IdvSessionRepository, PiiRepository, PresentedClaimsRepository } from '../types';
import { statusChangeValues } from './applications';
import { formLinkOpen } from './formLink';
import { type Dialect, first, p, placeholders, setFrom, touched, type Write } from '../dialect';

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
  const { idvSessions, idvEvents, idvPii, presentedClaims, applications, auditLog, outboxEvents } = d.tables;

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

  // commitResult (where the dialect has no statement of its own): what a result decides, each
  // write conditional on the session write that comes LAST in the same transaction (D1: batch)
  // still being able to win. The condition reads the session as it is before that write, and
  // nothing else writes in between (one transaction), so either every write below takes effect
  // with the session's, or none does.
  // A result that answers the form link (`IdvResultWrite.answers`) also needs the link still open,
  // under the same conditions as ApplicationRepository.submitIdv.
  const sessionWriteWins = sql`(((${p('open')} = 1 AND NOT EXISTS (SELECT 1 FROM idv_sessions s WHERE s.application_id = ${p('applicationId')}))
    OR (${p('open')} = 0 AND EXISTS (SELECT 1 FROM idv_sessions s WHERE s.application_id = ${p('applicationId')} AND s.last_event_at < ${p('eventAt')})))
    AND (${p('answering')} = 0 OR ${formLinkOpen(sql`${p('applicationId')}`)}))`;
  const r = d.commitIdvResult
    ? undefined
    : {
        // As applicationStatus.set (./applications.ts): absent (null) country, tier and evidence leave the stored value.
        status: prepare(
          'commit_result_status',
          db
            .update(applications)
            .set({
              ...setFrom({
                status: 'status',
                idvProvider: 'provider',
                decisionReason: 'reason',
                decidedBy: 'decidedBy',
                decidedAt: 'decidedAt',
                updatedAt: 'now',
              }),
              countryOfResidence: sql`coalesce(${p('countryOfResidence')}, ${applications.countryOfResidence})`,
              tier: sql`coalesce(${p('tier')}, ${applications.tier})`,
              evidence: sql`coalesce(${p('evidence')}, ${applications.evidence})`,
              formSubmittedAt: sql`CASE WHEN ${p('answering')} = 1 THEN ${p('now')} ELSE ${applications.formSubmittedAt} END`,
            })
            .where(and(eq(applications.id, p('applicationId')), sessionWriteWins)),
        ),
        // INSERT … SELECT lists every column of the table in order (id NULL: SQLite assigns it).
        audit: prepare(
          'commit_result_audit',
          db
            .insert(auditLog)
            .select(sql`SELECT NULL, ${p('applicationId')}, ${p('actor')}, ${p('action')}, ${p('detail')}, ${p('now')} WHERE ${sessionWriteWins}`),
        ),
        // The WHERE also settles SQLite's parsing ambiguity of INSERT … SELECT … ON CONFLICT.
        event: prepare(
          'commit_result_event',
          db
            .insert(outboxEvents)
            .select(
              sql`SELECT ${p('id')}, ${p('type')}, ${p('body')}, ${p('createdAt')}, 0, ${p('createdAt')}, NULL, NULL, NULL, NULL, ${p('traceParent')} WHERE ${sessionWriteWins}`,
            )
            .onConflictDoNothing(),
        ),
        // The form's sealed PII (all columns in order; the WHERE as for the events above).
        pii: prepare(
          'commit_result_pii',
          db
            .insert(idvPii)
            .select(
              sql`SELECT ${p('applicationId')}, ${p('keyId')}, ${p('ciphertext')}, ${p('createdAt')}, ${p('purgeAfter')}, NULL, NULL WHERE ${sessionWriteWins}`,
            )
            .onConflictDoNothing(),
        ),
        purge: prepare(
          'commit_result_purge',
          db
            .update(idvPii)
            .set({ purgeAfter: sql`${p('purgeAfter')}` })
            .where(and(eq(idvPii.applicationId, p('applicationId')), isNull(idvPii.erasedAt), sessionWriteWins)),
        ),
        // The presented credentials' sealed claims follow the form's PII.
        purgeClaims: prepare(
          'commit_result_purge_claims',
          db
            .update(presentedClaims)
            .set({ purgeAfter: sql`${p('purgeAfter')}` })
            .where(and(eq(presentedClaims.applicationId, p('applicationId')), isNull(presentedClaims.erasedAt), sessionWriteWins)),
        ),
        openSession: prepare(
          'commit_result_open_session',
          db
            .insert(idvSessions)
            .values(placeholders(...sessionColumns))
            .onConflictDoNothing(),
        ),
        // Opened with the answer of the form link: only if the status write just before it took the
        // answer (the row reads as that write left it; every column in order, outcome as JSON text).
        openAnsweredSession: prepare(
          'commit_result_open_answered_session',
          db
            .insert(idvSessions)
            .select(
              sql`SELECT ${p('applicationId')}, ${p('provider')}, ${p('state')}, NULL, ${p('idempotencyKey')}, NULL, ${p('lastEventAt')}, ${p('outcome')}, ${p('createdAt')}, ${p('updatedAt')}
                WHERE EXISTS (SELECT 1 FROM applications a WHERE a.id = ${p('applicationId')} AND a.form_submitted_at = ${p('now')} AND a.status = ${p('status')}
                  AND a.idv_provider = ${p('provider')} AND a.updated_at = ${p('now')})`,
            )
            .onConflictDoNothing(),
        ),
        advanceSession: prepare(
          'commit_result_advance_session',
          db
            .update(idvSessions)
            .set(setFrom({ state: 'state', outcome: 'outcome', lastEventAt: 'eventAt', updatedAt: 'now' }))
            .where(and(eq(idvSessions.applicationId, p('applicationId')), lt(idvSessions.lastEventAt, p('eventAt')))),
        ),
      };

  /**
   * The writes of a `commitResult` and which one decides: the session write, last; or, when the
   * result answers the form link, the status write that takes the answer, with the session opened
   * after it. JSON bound as text (raw SQL).
   */
  function resultWrites(statements: NonNullable<typeof r>, write: IdvResultWrite): { writes: Write[]; deciding: number } {
    const open = 'open' in write.session;
    const answers = open ? write.answers : undefined;
    const base = {
      applicationId: write.applicationId,
      open: open ? 1 : 0,
      eventAt: 'open' in write.session ? 0 : write.session.advance.eventAt,
      now: write.now,
      answering: answers ? 1 : 0,
      formTokenHash: answers?.formTokenHash ?? null,
    };
    const writes: Write[] = [];
    // What the applicant agreed to comes before what was decided on it (audit order).
    const submission = write.submission;
    if (submission) {
      const { consent, pii } = submission;
      writes.push({
        statement: statements.audit,
        values: { ...base, actor: consent.actor, action: consent.action, detail: JSON.stringify(consent.detail), now: consent.at },
      });
      if (pii) writes.push({ statement: statements.pii, values: { ...base, ...pii, purgeAfter: write.purgeAfter ?? null } });
    }
    writes.push({
      statement: statements.audit,
      values: { ...base, actor: write.audit.actor, action: write.audit.action, detail: JSON.stringify(write.audit.detail) },
    });
    for (const event of write.events) writes.push({ statement: statements.event, values: { ...base, ...event, traceParent: event.traceParent ?? null } });
    if (write.purgeAfter !== undefined) {
      // PII inserted above carries its clock already.
      if (!submission?.pii) writes.push({ statement: statements.purge, values: { ...base, purgeAfter: write.purgeAfter } });
      if (write.presentedClaims !== false) writes.push({ statement: statements.purgeClaims, values: { ...base, purgeAfter: write.purgeAfter } });
    }
    // After every write whose condition reads the link as still open: this one answers it.
    const status = write.status && statusChangeValues(write.status, write.now);
    if (status) writes.push({ statement: statements.status, values: { ...base, ...status } });
    if ('open' in write.session && answers && status) {
      const o = write.session.open;
      writes.push({
        statement: statements.openAnsweredSession,
        values: {
          ...o,
          outcome: o.outcome == null ? null : JSON.stringify(o.outcome),
          now: write.now,
          status: status.status,
          provider: status.provider,
        },
      });
      return { writes, deciding: writes.length - 2 };
    }
    if ('open' in write.session) {
      // A column placeholder in `.values()`: drizzle encodes the JSON itself.
      writes.push({ statement: statements.openSession, values: { vendorReference: null, webviewUrl: null, outcome: null, ...write.session.open } });
    } else {
      const { state, outcome, eventAt } = write.session.advance;
      writes.push({ statement: statements.advanceSession, values: { ...base, state, outcome: outcome == null ? null : JSON.stringify(outcome), eventAt } });
    }
    return { writes, deciding: writes.length - 1 };
  }

  const idvSessionRepository: IdvSessionRepository = {
    async commitResult(write) {
      if (!r) return d.commitIdvResult!(write);
      const { writes, deciding } = resultWrites(r, write);
      const changed = await d.together(writes);
      return changed[deciding] === 1;
    },
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

  const presentedClaimsRepository: PresentedClaimsRepository = {
    async get(applicationId) {
      return first(db.select().from(presentedClaims).where(eq(presentedClaims.applicationId, applicationId)));
    },
    async erase(applicationId, reason, now) {
      return (
        (await touched(
          db
            .update(presentedClaims)
            .set({ ciphertext: null, erasedAt: now, erasedReason: reason })
            .where(and(eq(presentedClaims.applicationId, applicationId), isNull(presentedClaims.erasedAt)))
            .returning({ id: presentedClaims.applicationId }),
        )) === 1
      );
    },
    async purgeDue(now) {
      const rows = await db
        .update(presentedClaims)
        .set({ ciphertext: null, erasedAt: now, erasedReason: 'retention' })
        .where(and(isNull(presentedClaims.erasedAt), isNotNull(presentedClaims.purgeAfter), lte(presentedClaims.purgeAfter, now)))
        .returning({ id: presentedClaims.applicationId });
      return rows.map((r) => r.id);
    },
  };

  return { idvSessions: idvSessionRepository, idvEvents: idvEventRepository, pii: piiRepository, presentedClaims: presentedClaimsRepository };
}
