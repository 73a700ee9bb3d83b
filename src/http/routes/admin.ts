import { Hono } from 'hono';
import { z } from 'zod';
import { InvalidRequest, NotFound, Unauthorized } from '../../protocol/errors';
import type { Application } from '../../store/types';
import { readJsonObject } from '../body';
import type { AppEnv } from '../context';
import { recordOperatorDecision } from '../../issuance/decisions';
import { ADMIN_TOKEN_PARTY } from '../../issuance/operatorSessions';
import { eraseApplicantPii } from '../../issuance/personalData';
import { adminCredentialRoutes } from './adminCredentials';
import { assertOperatorAuthAllowed, recordOperatorAuthFailure } from '../operatorAuth';
import { bearerMatches, bearerOf } from '../bearer';
import { describeRoute, doc } from '../openapi';
import { AdminApplication, AdminApplicationDetail, AdminApprovalProposed, AdminAudit, AdminErase, AdminWebhookEvents } from '../apiBodies';

/**
 * Operator API (behind ADMIN_TOKEN as a bearer token; disabled when unset): list applications
 * by status and decide the ones awaiting manual review. A decision moves any waiting
 * deferred transaction forward: the wallet's next deferred request gets the outcome. Machine
 * access, audited as `operator`; with four-eyes on (REVIEW_FOUR_EYES) every ADMIN_TOKEN holder
 * is one party, so an API approval is a proposal (202) that only a console account can confirm,
 * or the confirmation of an account's proposal: never both halves.
 */
export const adminRoutes = new Hono<AppEnv>();

adminRoutes.use('*', async (c, next) => {
  const expected = c.get('deps').config.adminToken;
  if (!expected) throw new NotFound('the operator API is disabled (ADMIN_TOKEN is not set)');
  assertOperatorAuthAllowed(c, 'api');
  if (!bearerMatches(c.get('deps').crypto, bearerOf(c.req.header('authorization')), expected)) {
    await recordOperatorAuthFailure(c, 'api');
    throw new Unauthorized('a valid operator bearer token is required');
  }
  c.header('Cache-Control', 'no-store');
  await next();
});

const STATUSES = ['pending', 'review', 'approved', 'rejected', 'withdrawn'] as const;

function toWire(a: Application) {
  return {
    id: a.id,
    applicant_did: a.applicantDid,
    status: a.status,
    credential_configuration_id: a.credentialConfigurationId,
    idv_provider: a.idvProvider,
    country_of_residence: a.countryOfResidence,
    tier: a.tier,
    decision_reason: a.decisionReason,
    decided_by: a.decidedBy,
    created_at: new Date(a.createdAt * 1000).toISOString(),
    updated_at: new Date(a.updatedAt * 1000).toISOString(),
    decided_at: a.decidedAt ? new Date(a.decidedAt * 1000).toISOString() : null,
  };
}

adminRoutes.get(
  '/applications',
  describeRoute({
    summary: 'Applications by status',
    tags: ['operator'],
    security: 'bearer',
    query: { status: { description: 'pending | review | approved | rejected | withdrawn (default review)' } },
    responses: { 200: doc.json('Applications', z.object({ applications: z.array(AdminApplication) })), 400: doc.error('Unknown status'), ...doc.operatorAuth },
  }),
);
adminRoutes.get('/applications', async (c) => {
  const status = c.req.query('status') ?? 'review';
  if (!(STATUSES as readonly string[]).includes(status)) throw new InvalidRequest(`status must be one of ${STATUSES.join(', ')}`);
  const rows = await c.get('deps').store.applications.listByStatus(status as (typeof STATUSES)[number]);
  return c.json({ applications: rows.map(toWire) });
});

adminRoutes.get(
  '/applications/:id',
  describeRoute({
    summary: 'One application',
    tags: ['operator'],
    security: 'bearer',
    responses: { 200: doc.json('Application', AdminApplicationDetail), ...doc.operatorAuth },
  }),
);
adminRoutes.get('/applications/:id', async (c) => {
  const application = await c.get('deps').store.applications.get(c.req.param('id'));
  if (!application) throw new NotFound('no such application');
  // What presented credentials already covered, and the checks IDV still has to do.
  const prefill = await c.get('deps').store.applicationPrefill.get(application.id);
  // Four-eyes: an approval proposed and waiting for a second party.
  const pending = await c.get('deps').store.pendingApprovals.get(application.id);
  return c.json({
    ...toWire(application),
    ...(pending && pending.fromStatus === application.status
      ? { pending_approval: { proposed_by: pending.actor, proposed_at: new Date(pending.createdAt * 1000).toISOString(), tier: pending.tier } }
      : {}),
    ...(prefill ? { prefill: { missing_checks: prefill.missingChecks, verified_evidence: prefill.verifiedEvidence, supersedes: prefill.supersedes } } : {}),
  });
});

export const DecisionWire = z.object({
  decision: z.enum(['approve', 'reject']),
  tier: z.string().min(1).max(64).optional(),
  /** ISO 3166-1 alpha-2, when the verification reported no country (a KCC needs one). */
  country_of_residence: z.string().min(2).max(2).optional(),
  reason: z.string().max(500).optional(),
  /** Re-decide an application that is already approved or rejected (its KCCs follow). */
  overrule: z.boolean().optional(),
});

adminRoutes.post(
  '/applications/:id/decision',
  describeRoute({
    summary: 'Decide an application in review (or overrule)',
    tags: ['operator'],
    security: 'bearer',
    body: DecisionWire,
    responses: {
      200: doc.json('Decided', AdminApplication),
      202: doc.json('Four-eyes (REVIEW_FOUR_EYES): approval proposed, awaiting a second party', AdminApprovalProposed),
      400: doc.error('Invalid decision'),
      403: doc.error('Four-eyes: the proposing party cannot confirm'),
      409: doc.error('Not awaiting review'),
      ...doc.operatorAuth,
    },
  }),
);
adminRoutes.post('/applications/:id/decision', async (c) => {
  const deps = c.get('deps');
  const parsed = DecisionWire.safeParse(await readJsonObject(c));
  if (!parsed.success) {
    throw new InvalidRequest(
      'body must be { "decision": "approve" | "reject", "tier"?: string, "country_of_residence"?: string, "reason"?: string, "overrule"?: boolean }',
    );
  }
  if (parsed.data.overrule && !parsed.data.reason) throw new InvalidRequest('a reason is required to overrule a decision');
  const id = c.req.param('id');
  const decided = await recordOperatorDecision(deps, {
    applicationId: id,
    decision: parsed.data.decision,
    tier: parsed.data.tier,
    countryOfResidence: parsed.data.country_of_residence,
    reason: parsed.data.reason,
    actor: 'operator',
    party: ADMIN_TOKEN_PARTY,
    overrule: parsed.data.overrule,
  });
  if (decided.pendingApproval) {
    deps.logger.info('application_approval_proposed', { requestId: c.get('requestId'), applicationId: id });
    const p = decided.pendingApproval;
    return c.json(
      { ...toWire(decided), pending_approval: { proposed_by: p.actor, proposed_at: new Date(p.createdAt * 1000).toISOString(), tier: p.tier } },
      202,
    );
  }
  deps.logger.info('application_decided', { requestId: c.get('requestId'), applicationId: id, status: decided.status });
  return c.json(toWire(decided));
});

/** The audit trail of one application: who did what, when (kept after PII erasure). */
adminRoutes.get(
  '/applications/:id/audit',
  describeRoute({
    summary: 'Audit trail',
    tags: ['operator'],
    security: 'bearer',
    responses: { 200: doc.json('Audit trail', AdminAudit), ...doc.operatorAuth },
  }),
);
adminRoutes.get('/applications/:id/audit', async (c) => {
  const deps = c.get('deps');
  const id = c.req.param('id');
  if (!(await deps.store.applications.get(id))) throw new NotFound('no such application');
  const entries = await deps.store.audit.listForApplication(id);
  const events = await deps.store.idvEvents.listForApplication(id);
  return c.json({
    audit: entries.map((e) => ({ at: new Date(e.at * 1000).toISOString(), actor: e.actor, action: e.action, detail: e.detail })),
    idv_events: events.map((e) => ({
      id: e.id,
      type: e.type,
      occurred_at: new Date(e.occurredAt).toISOString(),
      disposition: e.disposition,
      state_after: e.stateAfter,
    })),
  });
});

export const EraseWire = z.object({ reason: z.string().min(1).max(200) });

/** Erases one applicant's PII on request (e.g. a GDPR art. 17 request); the audit trail stays. */
adminRoutes.post(
  '/applications/:id/erase-pii',
  describeRoute({
    summary: "Erase an applicant's PII",
    tags: ['operator'],
    security: 'bearer',
    body: EraseWire,
    responses: { 200: doc.json('Erased', AdminErase), 400: doc.error('Invalid body'), ...doc.operatorAuth },
  }),
);
adminRoutes.post('/applications/:id/erase-pii', async (c) => {
  const deps = c.get('deps');
  const parsed = EraseWire.safeParse(await readJsonObject(c));
  if (!parsed.success) throw new InvalidRequest('body must be { "reason": string }');
  const id = c.req.param('id');
  if (!(await deps.store.applications.get(id))) throw new NotFound('no such application');
  const erased = await eraseApplicantPii(deps, id, 'operator', parsed.data.reason);
  deps.logger.info('pii_erased', { requestId: c.get('requestId'), applicationId: id, erased });
  return c.json({ application_id: id, erased });
});

/** The outbound-webhook outbox and its delivery log. */
adminRoutes.get(
  '/webhooks/events',
  describeRoute({
    summary: 'Outbound webhook outbox',
    tags: ['operator'],
    security: 'bearer',
    responses: { 200: doc.json('Events', AdminWebhookEvents), ...doc.operatorAuth },
  }),
);
adminRoutes.get('/webhooks/events', async (c) => {
  const store = c.get('deps').store;
  const events = await store.outbox.list(100);
  return c.json({
    events: await Promise.all(
      events.map(async (e) => ({
        id: e.id,
        type: e.type,
        created_at: new Date(e.createdAt * 1000).toISOString(),
        attempts: e.attempts,
        delivered_at: e.deliveredAt ? new Date(e.deliveredAt * 1000).toISOString() : null,
        failed_at: e.failedAt ? new Date(e.failedAt * 1000).toISOString() : null,
        next_attempt_at: new Date(e.nextAttemptAt * 1000).toISOString(),
        last_error: e.lastError,
        deliveries: (await store.outbox.deliveries(e.id)).map((d) => ({
          attempt: d.attempt,
          status: d.statusCode,
          error: d.error,
          ms: d.durationMs,
          at: new Date(d.at * 1000).toISOString(),
        })),
      })),
    ),
  });
});

// Issued credentials: status (revoke / suspend / reinstate), behind the same bearer token.
adminRoutes.route('/credentials', adminCredentialRoutes);
