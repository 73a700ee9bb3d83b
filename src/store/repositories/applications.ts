import { and, asc, desc, eq, gt, isNull, lte, or, type SQL, sql } from 'drizzle-orm';
import type {
  Application,
  ApplicationAssignmentRepository,
  ApplicationPrefillRepository,
  ApplicationRepository,
  ApplicationStatusRepository,
  NewApplication,
  SiopRequestRepository,
  WithdrawalRecord,
} from '../types';
import { consumeOnce, type Dialect, first, p, placeholders, setFrom } from '../dialect';
import { formLinkOpen } from './formLink';
import { deleteExpired, prepareConsume } from './singleUse';
import { prepareInsertCode } from './grants';

/** Every column of an application, each bound by the prepared INSERT. */
const applicationColumns = [
  'id',
  'applicantDid',
  'credentialConfigurationId',
  'status',
  'formTokenHash',
  'formExpiresAt',
  'formSubmittedAt',
  'idvProvider',
  'countryOfResidence',
  'tier',
  'evidence',
  'decisionReason',
  'decidedBy',
  'decidedAt',
  'createdAt',
  'updatedAt',
] as const;

/** An application row with every optional column present (the prepared INSERT binds them all). */
function applicationRow(row: NewApplication) {
  return {
    formSubmittedAt: null,
    idvProvider: null,
    countryOfResidence: null,
    tier: null,
    evidence: null,
    decisionReason: null,
    decidedBy: null,
    decidedAt: null,
    ...row,
  };
}

/** The application aggregate: SIOP requests that open it, the application, its status changes and prefill. */
export function createApplicationRepositories(d: Dialect) {
  const { db, prepare } = d;
  const { siopRequests, applications, applicationPrefill, presentedClaims, idvSessions, applicationAssignments, auditLog, outboxEvents } = d.tables;

  // Hot-path statements are prepared once per store (SQL built and compiled once per
  // connection), with named placeholders; D1 prepares them the same way.
  /** The single-use condition of a form link's answer (submitIdv, withdraw). */
  const openFormLink = () =>
    and(
      eq(applications.formTokenHash, p('formTokenHash')),
      isNull(applications.formSubmittedAt),
      eq(applications.status, 'pending'),
      gt(applications.formExpiresAt, p('now')),
    );

  /** Declined consent ends the application as `withdrawn`, under the link's single-use condition. */
  const withdrawUpdate = () =>
    db
      .update(applications)
      .set({
        status: 'withdrawn',
        formSubmittedAt: sql`${p('now')}`,
        decisionReason: 'consent_declined',
        decidedBy: 'applicant',
        decidedAt: sql`${p('now')}`,
        updatedAt: sql`${p('now')}`,
      })
      .where(openFormLink());

  function withdrawalStatements() {
    const linkOpen = formLinkOpen();
    const applicationId = sql`(SELECT a.id FROM applications a WHERE a.form_token_hash = ${p('formTokenHash')})`;
    return {
      withdrawalAudit: prepare(
        'withdrawal_audit',
        db.insert(auditLog).select(sql`SELECT NULL, ${applicationId}, ${p('actor')}, ${p('action')}, NULL, ${p('now')} WHERE ${linkOpen}`),
      ),
      withdrawalErase: prepare(
        'withdrawal_erase',
        db
          .update(presentedClaims)
          .set({ ciphertext: sql`NULL`, erasedAt: sql`${p('now')}`, erasedReason: sql`${p('reason')}` })
          // Qualified by hand inside the subqueries: drizzle writes an UPDATE's own columns unqualified.
          .where(and(sql`presented_claims.application_id = ${applicationId}`, isNull(presentedClaims.erasedAt), linkOpen)),
      ),
      withdrawalEvent: prepare(
        'withdrawal_event',
        db
          .insert(outboxEvents)
          .select(
            sql`SELECT ${p('id')}, ${p('type')}, ${p('body')}, ${p('createdAt')}, 0, ${p('createdAt')}, NULL, NULL, NULL, NULL, ${p('traceParent')} WHERE ${linkOpen}`,
          )
          .onConflictDoNothing(),
      ),
      withdrawal: prepare('withdrawal', withdrawUpdate()),
    };
  }

  // The decision columns an IDV result or a status change writes (submitIdv, set).
  const decision = setFrom({ decisionReason: 'reason', decidedBy: 'decidedBy', decidedAt: 'decidedAt', updatedAt: 'now' });

  /** An application with its prefill (null without one), by `where`. */
  const withPrefill = (where: SQL) =>
    db
      .select({ application: applications, prefill: applicationPrefill })
      .from(applications)
      .leftJoin(applicationPrefill, eq(applicationPrefill.applicationId, applications.id))
      .where(where);
  const q = {
    insertSiopRequest: prepare(
      'insert_siop_request',
      db.insert(siopRequests).values(placeholders('nonce', 'presentationDefinitionId', 'createdAt', 'expiresAt')),
    ),
    consumeSiopRequest: prepareConsume(d, 'consume_siop_request', siopRequests, eq(siopRequests.nonce, p('nonce'))),
    siopRequestByNonce: prepare(
      'siop_request_by_nonce',
      db
        .select()
        .from(siopRequests)
        .where(eq(siopRequests.nonce, p('nonce'))),
    ),
    insertApplication: prepare('insert_application', db.insert(applications).values(placeholders(...applicationColumns))),
    // The offer's code, written with its application (createWithCode).
    insertCode: prepareInsertCode(d),
    // created_at has one-second resolution: within a second, the application touched last is the
    // newer one (a wallet that lost the SIOPv2 answer opens a second application at once, and the
    // first stays untouched), then the one whose form was submitted.
    applicationsForApplicant: prepare(
      'applications_for_applicant',
      db
        .select()
        .from(applications)
        .where(eq(applications.applicantDid, p('applicantDid')))
        .orderBy(desc(applications.createdAt), desc(applications.updatedAt), sql`${applications.formSubmittedAt} desc nulls last`)
        .limit(p('limit')),
    ),
    applicationById: prepare(
      'application_by_id',
      db
        .select()
        .from(applications)
        .where(eq(applications.id, p('id'))),
    ),
    applicationByFormToken: prepare(
      'application_by_form_token',
      db
        .select()
        .from(applications)
        .where(eq(applications.formTokenHash, p('formTokenHash'))),
    ),
    applicationWithPrefillByFormToken: prepare('application_with_prefill_by_form_token', withPrefill(eq(applications.formTokenHash, p('formTokenHash')))),
    applicationWithPrefillById: prepare('application_with_prefill_by_id', withPrefill(eq(applications.id, p('id')))),
    // A form link takes one answer (a submission or a withdrawal): unsubmitted, pending, unexpired.
    // The decision is not written here but with the result's commit (IdvSessionRepository.commitResult).
    submitIdv: prepare(
      'submit_idv',
      db
        .update(applications)
        .set(setFrom({ formSubmittedAt: 'now', idvProvider: 'provider', countryOfResidence: 'countryOfResidence', updatedAt: 'now' }))
        .where(openFormLink())
        .returning(),
    ),
    // Declined consent: the same condition as submitIdv, so a link withdraws or submits, never both.
    withdraw: prepare('withdraw', withdrawUpdate().returning()),
    // A withdrawal with its record (SQLite/D1: one transaction or batch): each write guarded by the
    // link being open as the withdrawal, last, finds it; the withdrawal decides.
    ...(d.withdrawApplication ? {} : withdrawalStatements()),
    // Absent (null) country, tier and evidence leave the stored value as it is.
    setApplicationStatus: prepare(
      'set_application_status',
      db
        .update(applications)
        .set({
          ...setFrom({ status: 'status', idvProvider: 'provider' }),
          countryOfResidence: sql`coalesce(${p('countryOfResidence')}, ${applications.countryOfResidence})`,
          tier: sql`coalesce(${p('tier')}, ${applications.tier})`,
          evidence: sql`coalesce(${p('evidence')}, ${applications.evidence})`,
          ...decision,
        })
        .where(eq(applications.id, p('id')))
        .returning(),
    ),
    insertPrefill: prepare(
      'insert_prefill',
      db
        .insert(applicationPrefill)
        .values(
          placeholders('applicationId', 'tierId', 'verifiedEvidence', 'missingChecks', 'supersedes', 'presentedCredentials', 'countryOfResidence', 'createdAt'),
        ),
    ),
    insertPresentedClaims: prepare(
      'insert_presented_claims',
      db.insert(presentedClaims).values(placeholders('applicationId', 'keyId', 'ciphertext', 'createdAt', 'purgeAfter')),
    ),
    prefillByApplication: prepare(
      'prefill_by_application',
      db
        .select()
        .from(applicationPrefill)
        .where(eq(applicationPrefill.applicationId, p('applicationId'))),
    ),
  };

  const siopRequestRepository: SiopRequestRepository = {
    async create(row) {
      await q.insertSiopRequest.run({ presentationDefinitionId: null, ...row });
    },
    async consume(nonce, now) {
      return consumeOnce(q.consumeSiopRequest, { nonce, now });
    },
    async get(nonce) {
      return first(q.siopRequestByNonce.all({ nonce }));
    },
    async deleteExpired(now) {
      return deleteExpired(d, siopRequests, now);
    },
  };

  const applicationRepository: ApplicationRepository = {
    async create(row) {
      await q.insertApplication.run(applicationRow(row));
    },
    async createWithCode(row, code, prefill, claims) {
      await d.together([
        { statement: q.insertApplication, values: applicationRow(row) },
        { statement: q.insertCode, values: code },
        ...(prefill ? [{ statement: q.insertPrefill, values: { presentedCredentials: [], countryOfResidence: null, ...prefill } }] : []),
        ...(claims ? [{ statement: q.insertPresentedClaims, values: { ciphertext: null, purgeAfter: null, ...claims } }] : []),
      ]);
    },
    async get(id) {
      return first(q.applicationById.all({ id }));
    },
    async getWithPrefill(id) {
      return first(q.applicationWithPrefillById.all({ id }));
    },
    async findByFormToken(formTokenHash) {
      return first(q.applicationByFormToken.all({ formTokenHash }));
    },
    async findByFormTokenWithPrefill(formTokenHash) {
      return first(q.applicationWithPrefillByFormToken.all({ formTokenHash }));
    },
    async submitIdv(formTokenHash, answer, now) {
      return consumeOnce(q.submitIdv, { formTokenHash, now, provider: answer.provider, countryOfResidence: answer.countryOfResidence });
    },
    async withdraw(formTokenHash, now, record?: WithdrawalRecord) {
      if (!record) return consumeOnce(q.withdraw, { formTokenHash, now });
      if (d.withdrawApplication) {
        const id = await d.withdrawApplication(formTokenHash, now, record);
        return id === undefined ? undefined : applicationRepository.get(id);
      }
      const w = q as typeof q & ReturnType<typeof withdrawalStatements>;
      const base = { formTokenHash, now };
      const { event } = record;
      const changed = await d.together([
        { statement: w.withdrawalAudit, values: { ...base, actor: record.audit.actor, action: record.audit.action } },
        { statement: w.withdrawalErase, values: { ...base, reason: record.eraseReason } },
        { statement: w.withdrawalEvent, values: { ...base, ...event, traceParent: event.traceParent ?? null } },
        { statement: w.withdrawal, values: base },
      ]);
      return changed[3] === 1 ? applicationRepository.findByFormToken(formTokenHash) : undefined;
    },
    async decideReview(id, decision, now) {
      return first(
        db
          .update(applications)
          .set({
            status: decision.status,
            ...(decision.tier ? { tier: decision.tier } : {}),
            decisionReason: decision.reason ?? null,
            decidedBy: decision.decidedBy,
            decidedAt: now,
            updatedAt: now,
          })
          .where(and(eq(applications.id, id), eq(applications.status, 'review')))
          .returning(),
      );
    },
    async listByStatus(status, limit = 100) {
      return db.select().from(applications).where(eq(applications.status, status)).orderBy(asc(applications.createdAt)).limit(limit);
    },
    async listForApplicant(applicantDid, limit = 100) {
      return q.applicationsForApplicant.all({ applicantDid, limit }) as Promise<Application[]> | Application[];
    },
  };

  const applicationStatusRepository: ApplicationStatusRepository = {
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
      const rows = await q.setApplicationStatus.all({ id, ...statusChangeValues(change, now), now });
      return rows[0] as Application | undefined;
    },
    async search(filter) {
      const conditions = [];
      if (filter.status) conditions.push(eq(applications.status, filter.status as Application['status']));
      if (filter.provider) conditions.push(eq(applications.idvProvider, filter.provider));
      if (filter.country) conditions.push(eq(applications.countryOfResidence, filter.country));
      if (filter.q) conditions.push(or(eq(applications.id, filter.q), eq(applications.applicantDid, filter.q)));
      if (filter.assignee === null) conditions.push(isNull(applicationAssignments.assignee));
      else if (filter.assignee) conditions.push(eq(applicationAssignments.assignee, filter.assignee));
      // The id breaks ties, so pages never overlap or skip a row.
      const order =
        filter.order === 'oldest'
          ? [asc(applications.createdAt), asc(applications.id)]
          : filter.order === 'newest'
            ? [desc(applications.createdAt), desc(applications.id)]
            : [desc(applications.updatedAt), desc(applications.id)];
      const rows = await db
        .select({ application: applications, assignee: applicationAssignments.assignee })
        .from(applications)
        .leftJoin(applicationAssignments, eq(applicationAssignments.applicationId, applications.id))
        .where(conditions.length ? and(...conditions) : undefined)
        .orderBy(...order)
        .limit(filter.limit ?? 100)
        .offset(filter.offset ?? 0);
      return rows.map((r) => ({ ...r.application, assignee: r.assignee ?? null }));
    },
  };

  const applicationAssignmentRepository: ApplicationAssignmentRepository = {
    async assign(applicationId, assignee, now) {
      await db
        .insert(applicationAssignments)
        .values({ applicationId, assignee, assignedAt: now })
        .onConflictDoUpdate({ target: applicationAssignments.applicationId, set: { assignee, assignedAt: now } });
    },
    async release(applicationId) {
      const released = await db
        .delete(applicationAssignments)
        .where(eq(applicationAssignments.applicationId, applicationId))
        .returning({ id: applicationAssignments.applicationId });
      return released.length === 1;
    },
    async get(applicationId) {
      return first(db.select().from(applicationAssignments).where(eq(applicationAssignments.applicationId, applicationId)).limit(1));
    },
  };

  const applicationPrefillRepository: ApplicationPrefillRepository = {
    async create(row) {
      await db.insert(applicationPrefill).values(row);
    },
    async get(applicationId) {
      return first(q.prefillByApplication.all({ applicationId }));
    },
  };

  return {
    siopRequests: siopRequestRepository,
    applications: applicationRepository,
    applicationStatus: applicationStatusRepository,
    applicationPrefill: applicationPrefillRepository,
    applicationAssignments: applicationAssignmentRepository,
  };
}

/**
 * The placeholder values of an application status write (`ApplicationStatusRepository.set`, and
 * the same write inside `IdvSessionRepository.commitResult`): absent country, tier and evidence
 * bound as null (the statement keeps the stored value); a decision stamps who and when.
 */
export function statusChangeValues(change: Parameters<ApplicationStatusRepository['set']>[1], now: number) {
  const decided = change.status === 'approved' || change.status === 'rejected';
  return {
    status: change.status,
    provider: change.provider,
    countryOfResidence: change.countryOfResidence || null,
    tier: change.tier || null,
    evidence: change.evidence ? JSON.stringify(change.evidence) : null,
    reason: change.reason ?? null,
    decidedBy: decided ? (change.decidedBy ?? `idv:${change.provider}`) : null,
    decidedAt: decided ? now : null,
  };
}
