import { Hono } from 'hono';
import { authenticateAccessToken } from '../../issuance/grants';
import { collectDeferredCredential } from '../../issuance/issueCredential';
import { PATHS } from '../../paths';
import { ENCRYPTED_RESPONSE_MEDIA_TYPE } from '../../protocol/oid4vci/responseEncryption';
import { readJsonObject } from '../body';
import type { AppEnv } from '../context';
import { enforceRateLimit, rateLimitByIp } from '../rateLimit';
import { requestHeader } from '../headers';
import { describeRoute, doc } from '../openapi';
import { CredentialResponse, DeferredRequestBody, DeferredResponse } from '../apiBodies';

/**
 * Deferred Credential Endpoint (spec "Deferred Credential Endpoint"; OID4VCI draft 13 §9, 1.0 §9):
 * 400 issuance_pending (1.0: 202 with `interval`) until IDV is decided, then the credential
 * exactly once; the transaction is consumed by one conditional UPDATE, so a replay gets
 * invalid_transaction_id (src/issuance/issueCredential.ts).
 */
export const deferredRoutes = new Hono<AppEnv>();

deferredRoutes.post(
  PATHS.deferredCredential,
  describeRoute({
    summary: 'Deferred Credential Endpoint',
    tags: ['wallet'],
    security: 'bearer',
    body: DeferredRequestBody,
    responses: {
      200: doc.json('The KCC', CredentialResponse),
      202: doc.json('Still pending (1.0)', DeferredResponse),
      400: doc.error('issuance_pending, invalid_transaction_id, credential_request_denied'),
      401: doc.error('Missing or invalid access token'),
      429: doc.error('Too many requests'),
    },
  }),
);
deferredRoutes.post(PATHS.deferredCredential, rateLimitByIp('credential'), async (c) => {
  const deps = c.get('deps');
  c.header('Cache-Control', 'no-store');
  const grant = await authenticateAccessToken(deps, requestHeader(c, 'authorization'));
  enforceRateLimit(deps, 'credential', 'client', grant.applicantDid);
  const answer = await collectDeferredCredential(deps, grant, await readJsonObject(c));
  if (answer.issued)
    deps.logger.info('credential_issued', { requestId: c.get('requestId'), applicationId: answer.applicationId, deferred: true, profile: answer.profile });
  // OID4VCI 1.0 §10: an encrypted response is the JWE of the JSON body, as application/jwt.
  if (answer.encrypted) return c.body(answer.encrypted, answer.status, { 'Content-Type': ENCRYPTED_RESPONSE_MEDIA_TYPE });
  return c.json(answer.body, answer.status);
});
