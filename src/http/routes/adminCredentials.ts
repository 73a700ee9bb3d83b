import { Hono } from 'hono';
import { z } from 'zod';
import { InvalidRequest, NotFound } from '../../protocol/errors';
import type { CredentialStatusRecord } from '../../store/types';
import { readJsonObject } from '../body';
import type { AppEnv } from '../context';
import { changeCredentialStatus, statusOf } from '../../issuance/credentialStatus';
import { issuerUrls } from '../../paths';
import { describeRoute, doc } from '../openapi';
import { AdminCredential, AdminCredentialDetail } from '../apiBodies';

/**
 * Operator API for issued credentials (mounted under /admin, behind ADMIN_TOKEN):
 * GET /admin/credentials/:id, GET /admin/credentials?subject=<did>,
 * POST /admin/credentials/:id/status { action: revoke | suspend | reinstate, reason }.
 * Revocation is permanent; suspension (e.g. during a review) can be lifted by reinstate.
 */
export const adminCredentialRoutes = new Hono<AppEnv>();

const iso = (t: number | null) => (t == null ? null : new Date(t * 1000).toISOString());

function toWire(r: CredentialStatusRecord, publicUrl: string) {
  const urls = issuerUrls(publicUrl);
  return {
    id: r.credentialId,
    subject_did: r.subjectDid,
    tier_id: r.tierId,
    status: statusOf(r),
    issued_at: iso(r.issuedAt),
    expires_at: iso(r.expiresAt),
    revoked_at: iso(r.revokedAt),
    revocation_reason: r.revocationReason,
    suspended_at: iso(r.suspendedAt),
    suspension_reason: r.suspensionReason,
    status_list_index: r.listIndex,
    status_list_credentials: { revocation: urls.statusList(r.listId, 'revocation'), suspension: urls.statusList(r.listId, 'suspension') },
  };
}

adminCredentialRoutes.get(
  '/',
  describeRoute({
    summary: 'Credentials of a subject',
    tags: ['operator'],
    security: 'bearer',
    query: { subject: { description: 'Subject DID', required: true } },
    responses: {
      200: doc.json('Credentials', z.object({ credentials: z.array(AdminCredential) })),
      400: doc.error('subject is required'),
      ...doc.operatorAuth,
    },
  }),
);
adminCredentialRoutes.get('/', async (c) => {
  const subject = c.req.query('subject');
  if (!subject) throw new InvalidRequest('subject (a DID) is required');
  const rows = await c.get('deps').store.credentialStatus.listForSubject(subject);
  return c.json({ credentials: rows.map((r) => toWire(r, c.get('deps').config.publicUrl)) });
});

adminCredentialRoutes.get(
  '/:id',
  describeRoute({
    summary: 'One credential with its status events',
    tags: ['operator'],
    security: 'bearer',
    responses: { 200: doc.json('Credential', AdminCredentialDetail), ...doc.operatorAuth },
  }),
);
adminCredentialRoutes.get('/:id', async (c) => {
  const deps = c.get('deps');
  const record = await deps.store.credentialStatus.get(c.req.param('id'));
  if (!record) throw new NotFound('no such credential');
  const events = await deps.store.credentialStatus.events(record.credentialId);
  return c.json({
    ...toWire(record, deps.config.publicUrl),
    events: events.map((e) => ({ action: e.action, reason: e.reason, actor: e.actor, at: iso(e.at) })),
  });
});

export const StatusChangeWire = z.object({
  action: z.enum(['revoke', 'suspend', 'reinstate']),
  reason: z.string().min(1).max(500).optional(),
});

adminCredentialRoutes.post(
  '/:id/status',
  describeRoute({
    summary: 'Revoke, suspend or reinstate',
    tags: ['operator'],
    security: 'bearer',
    body: StatusChangeWire,
    responses: {
      200: doc.json('Updated', AdminCredential),
      400: doc.error('Invalid change'),
      409: doc.error('Not allowed in this state'),
      ...doc.operatorAuth,
    },
  }),
);
adminCredentialRoutes.post('/:id/status', async (c) => {
  const deps = c.get('deps');
  const parsed = StatusChangeWire.safeParse(await readJsonObject(c));
  if (!parsed.success) throw new InvalidRequest('body must be { "action": "revoke" | "suspend" | "reinstate", "reason"?: string }');
  if (parsed.data.action !== 'reinstate' && !parsed.data.reason) throw new InvalidRequest(`a reason is required to ${parsed.data.action}`);
  const updated = await changeCredentialStatus(deps, c.req.param('id'), parsed.data.action, { reason: parsed.data.reason, actor: 'operator' });
  return c.json(toWire(updated, deps.config.publicUrl));
});
