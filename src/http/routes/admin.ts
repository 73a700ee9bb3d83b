import { Hono } from 'hono';
import { z } from 'zod';
import { Conflict, InvalidRequest, NotFound, Unauthorized } from '../../protocol/errors';
import type { Application } from '../../store/store';
import { readJsonObject } from '../body';
import { nowSeconds, type AppEnv } from '../context';
import { adminCredentialRoutes } from './adminCredentials';

/**
 * Operator API (behind ADMIN_TOKEN as a bearer token; disabled when unset): list applications
 * by status and decide the ones awaiting manual review. A decision moves any waiting
 * deferred transaction forward: the wallet's next deferred request gets the outcome.
 */
export const adminRoutes = new Hono<AppEnv>();

function constantTimeEqual(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  let diff = ea.length ^ eb.length;
  for (let i = 0; i < Math.max(ea.length, eb.length); i++) diff |= (ea[i] ?? 0) ^ (eb[i] ?? 0);
  return diff === 0;
}

adminRoutes.use('*', async (c, next) => {
  const expected = c.var.deps.config.adminToken;
  if (!expected) throw new NotFound('the operator API is disabled (ADMIN_TOKEN is not set)');
  const m = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '');
  if (!m || !constantTimeEqual(m[1], expected)) throw new Unauthorized('a valid operator bearer token is required');
  c.header('Cache-Control', 'no-store');
  await next();
});

const STATUSES = ['pending', 'review', 'approved', 'rejected'] as const;

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

adminRoutes.get('/applications', async (c) => {
  const status = c.req.query('status') ?? 'review';
  if (!(STATUSES as readonly string[]).includes(status)) throw new InvalidRequest(`status must be one of ${STATUSES.join(', ')}`);
  const rows = await c.var.deps.store.applications.listByStatus(status as (typeof STATUSES)[number]);
  return c.json({ applications: rows.map(toWire) });
});

adminRoutes.get('/applications/:id', async (c) => {
  const application = await c.var.deps.store.applications.get(c.req.param('id'));
  if (!application) throw new NotFound('no such application');
  // Issue 8: what presented credentials already covered, and the checks IDV still has to do.
  const prefill = await c.var.deps.store.applicationPrefill.get(application.id);
  return c.json({
    ...toWire(application),
    ...(prefill
      ? { prefill: { missing_checks: JSON.parse(prefill.missingChecks), verified_evidence: JSON.parse(prefill.verifiedEvidence), supersedes: JSON.parse(prefill.supersedes) } }
      : {}),
  });
});

const DecisionWire = z.object({
  decision: z.enum(['approve', 'reject']),
  tier: z.string().min(1).max(64).optional(),
  reason: z.string().max(500).optional(),
});

adminRoutes.post('/applications/:id/decision', async (c) => {
  const deps = c.var.deps;
  const parsed = DecisionWire.safeParse(await readJsonObject(c));
  if (!parsed.success) throw new InvalidRequest('body must be { "decision": "approve" | "reject", "tier"?: string, "reason"?: string }');
  const id = c.req.param('id');
  const decided = await deps.store.applications.decideReview(
    id,
    {
      status: parsed.data.decision === 'approve' ? 'approved' : 'rejected',
      tier: parsed.data.tier,
      reason: parsed.data.reason,
      decidedBy: 'operator',
    },
    nowSeconds(deps),
  );
  if (!decided) {
    const existing = await deps.store.applications.get(id);
    if (!existing) throw new NotFound('no such application');
    throw new Conflict(`application is ${existing.status}, not awaiting review`);
  }
  deps.logger.info('application_decided', { requestId: c.var.requestId, applicationId: id, status: decided.status });
  return c.json(toWire(decided));
});

// Issued credentials: status (revoke / suspend / reinstate), behind the same bearer token.
adminRoutes.route('/credentials', adminCredentialRoutes);
