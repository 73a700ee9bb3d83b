import { and, asc, desc, eq, gt, isNull, lte, or, sql } from 'drizzle-orm';
import * as schema from '../schema';
import type {
  Application,
  ApplicationPrefillRepository,
  ApplicationRepository,
  ApplicationStatusRepository,
  NewApplication,
  SiopRequestRepository,
} from '../types';
import type { Database } from './database';
import { consumeOnce, p, type Together } from './helpers';

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
export function createApplicationRepositories(db: Database, together: Together) {
  const { siopRequests, applications, applicationPrefill, idvSessions, preAuthorizedCodes } = schema;

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

  const q = {
    insertSiopRequest: db
      .insert(siopRequests)
      .values({ nonce: p('nonce'), presentationDefinitionId: p('presentationDefinitionId'), createdAt: p('createdAt'), expiresAt: p('expiresAt') })
      .prepare(),
    consumeSiopRequest: db
      .update(siopRequests)
      .set({ consumedAt: sql`${p('now')}` })
      .where(and(eq(siopRequests.nonce, p('nonce')), isNull(siopRequests.consumedAt), gt(siopRequests.expiresAt, p('now'))))
      .returning()
      .prepare(),
    siopRequestByNonce: db
      .select()
      .from(siopRequests)
      .where(eq(siopRequests.nonce, p('nonce')))
      .prepare(),
    insertApplication: db
      .insert(applications)
      .values({
        id: p('id'),
        applicantDid: p('applicantDid'),
        credentialConfigurationId: p('credentialConfigurationId'),
        status: p('status'),
        formTokenHash: p('formTokenHash'),
        formExpiresAt: p('formExpiresAt'),
        formSubmittedAt: p('formSubmittedAt'),
        idvProvider: p('idvProvider'),
        countryOfResidence: p('countryOfResidence'),
        tier: p('tier'),
        evidence: p('evidence'),
        decisionReason: p('decisionReason'),
        decidedBy: p('decidedBy'),
        decidedAt: p('decidedAt'),
        createdAt: p('createdAt'),
        updatedAt: p('updatedAt'),
      })
      .prepare(),
    // The offer's code, written with its application (createWithCode); grants.ts has the same INSERT.
    insertCode: db
      .insert(preAuthorizedCodes)
      .values({ codeHash: p('codeHash'), applicationId: p('applicationId'), applicantDid: p('applicantDid'), expiresAt: p('expiresAt') })
      .prepare(),
    applicationById: db
      .select()
      .from(applications)
      .where(eq(applications.id, p('id')))
      .prepare(),
    applicationByFormToken: db
      .select()
      .from(applications)
      .where(eq(applications.formTokenHash, p('formTokenHash')))
      .prepare(),
    applicationWithPrefillByFormToken: db
      .select({ application: applications, prefill: applicationPrefill })
      .from(applications)
      .leftJoin(applicationPrefill, eq(applicationPrefill.applicationId, applications.id))
      .where(eq(applications.formTokenHash, p('formTokenHash')))
      .prepare(),
    // The form submission's single-use step: only while unsubmitted, pending and unexpired.
    // A form link takes one answer (a submission or a withdrawal): unsubmitted, pending, unexpired.
    submitIdv: db
      .update(applications)
      .set({
        status: sql`${p('status')}`,
        formSubmittedAt: sql`${p('now')}`,
        idvProvider: sql`${p('provider')}`,
        countryOfResidence: sql`${p('countryOfResidence')}`,
        tier: sql`${p('tier')}`,
        evidence: sql`${p('evidence')}`,
        decisionReason: sql`${p('reason')}`,
        decidedBy: sql`${p('decidedBy')}`,
        decidedAt: sql`${p('decidedAt')}`,
        updatedAt: sql`${p('now')}`,
      })
      .where(openFormLink())
      .returning()
      .prepare(),
    // Declined consent: the same condition as submitIdv, so a link withdraws or submits, never both.
    withdraw: db
      .update(applications)
      .set({
        status: 'withdrawn',
        formSubmittedAt: sql`${p('now')}`,
        decisionReason: 'consent_declined',
        decidedBy: 'applicant',
        decidedAt: sql`${p('now')}`,
        updatedAt: sql`${p('now')}`,
      })
      .where(openFormLink())
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
    insertPrefill: db
      .insert(applicationPrefill)
      .values({
        applicationId: p('applicationId'),
        tierId: p('tierId'),
        verifiedEvidence: p('verifiedEvidence'),
        missingChecks: p('missingChecks'),
        supersedes: p('supersedes'),
        presentedCredentials: p('presentedCredentials'),
        countryOfResidence: p('countryOfResidence'),
        createdAt: p('createdAt'),
      })
      .prepare(),
    prefillByApplication: db
      .select()
      .from(applicationPrefill)
      .where(eq(applicationPrefill.applicationId, p('applicationId')))
      .prepare(),
  };

  const siopRequestRepository: SiopRequestRepository = {
    async create(row) {
      await q.insertSiopRequest.run({ presentationDefinitionId: null, ...row });
    },
    async consume(nonce, now) {
      return consumeOnce(q.consumeSiopRequest, { nonce, now });
    },
    async get(nonce) {
      return (await q.siopRequestByNonce.all({ nonce }))[0];
    },
    async deleteExpired(now) {
      const rows = await db.delete(siopRequests).where(lte(siopRequests.expiresAt, now)).returning({ nonce: siopRequests.nonce });
      return rows.length;
    },
  };

  const applicationRepository: ApplicationRepository = {
    async create(row) {
      await q.insertApplication.run(applicationRow(row));
    },
    async createWithCode(row, code, prefill) {
      await together([
        { statement: q.insertApplication, values: applicationRow(row) },
        { statement: q.insertCode, values: code },
        ...(prefill ? [{ statement: q.insertPrefill, values: { presentedCredentials: [], countryOfResidence: null, ...prefill } }] : []),
      ]);
    },
    async get(id) {
      return (await q.applicationById.all({ id }))[0];
    },
    async findByFormToken(formTokenHash) {
      return (await q.applicationByFormToken.all({ formTokenHash }))[0];
    },
    async findByFormTokenWithPrefill(formTokenHash) {
      return (await q.applicationWithPrefillByFormToken.all({ formTokenHash }))[0];
    },
    async submitIdv(formTokenHash, outcome, now) {
      const decided = outcome.status !== 'review';
      return consumeOnce(q.submitIdv, {
        formTokenHash,
        now,
        status: outcome.status,
        provider: outcome.provider,
        countryOfResidence: outcome.countryOfResidence,
        tier: outcome.tier ?? null,
        evidence: JSON.stringify(outcome.evidence),
        reason: outcome.reason ?? null,
        decidedBy: decided ? `idv:${outcome.provider}` : null,
        decidedAt: decided ? now : null,
      });
    },
    async withdraw(formTokenHash, now) {
      return consumeOnce(q.withdraw, { formTokenHash, now });
    },
    async decideReview(id, decision, now) {
      const rows = await db
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
        .returning();
      return rows[0];
    },
    async listByStatus(status, limit = 100) {
      return db.select().from(applications).where(eq(applications.status, status)).orderBy(asc(applications.createdAt)).limit(limit);
    },
    async listForApplicant(applicantDid, limit = 100) {
      return db.select().from(applications).where(eq(applications.applicantDid, applicantDid)).orderBy(desc(applications.createdAt)).limit(limit);
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
      return rows[0] as Application | undefined;
    },
    async search(filter) {
      const conditions = [];
      if (filter.status) conditions.push(eq(applications.status, filter.status as Application['status']));
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
  };

  const applicationPrefillRepository: ApplicationPrefillRepository = {
    async create(row) {
      await db.insert(applicationPrefill).values(row);
    },
    async get(applicationId) {
      return (await q.prefillByApplication.all({ applicationId }))[0];
    },
  };

  return {
    siopRequests: siopRequestRepository,
    applications: applicationRepository,
    applicationStatus: applicationStatusRepository,
    applicationPrefill: applicationPrefillRepository,
  };
}
