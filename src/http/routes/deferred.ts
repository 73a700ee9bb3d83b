import { Hono } from 'hono';
import { authenticateAccessToken } from '../../issuance/grants';
import { collectDeferredCredential } from '../../issuance/issueCredential';
import { PATHS } from '../../paths';
import { readJsonObject } from '../body';
import type { AppEnv } from '../context';
import { enforceRateLimit, rateLimitByIp } from '../rateLimit';
import { requestHeader } from '../headers';

/**
 * Deferred Credential Endpoint (spec "Deferred Credential Endpoint"; OID4VCI draft 13 §9, 1.0 §9):
 * 400 issuance_pending (1.0: 202 with `interval`) until IDV is decided, then the credential
 * exactly once; the transaction is consumed by one conditional UPDATE, so a replay gets
 * invalid_transaction_id (src/issuance/issueCredential.ts).
 */
export const deferredRoutes = new Hono<AppEnv>();

deferredRoutes.post(PATHS.deferredCredential, rateLimitByIp('credential'), async (c) => {
  const deps = c.get('deps');
  c.header('Cache-Control', 'no-store');
  const grant = await authenticateAccessToken(deps, requestHeader(c, 'authorization'));
  enforceRateLimit(deps, 'credential', 'client', grant.applicantDid);
  const answer = await collectDeferredCredential(deps, grant, await readJsonObject(c));
  if (answer.issued)
    deps.logger.info('credential_issued', { requestId: c.get('requestId'), applicationId: answer.applicationId, deferred: true, profile: answer.profile });
  return c.json(answer.body, answer.status);
});
