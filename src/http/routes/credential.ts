import { Hono } from 'hono';
import { authenticateAccessToken } from '../../issuance/grants';
import { requestCredential } from '../../issuance/issueCredential';
import { PATHS } from '../../paths';
import { ENCRYPTED_RESPONSE_MEDIA_TYPE } from '../../protocol/oid4vci/responseEncryption';
import { readJsonObject } from '../body';
import type { AppEnv } from '../context';
import { enforceRateLimit, rateLimitByIp } from '../rateLimit';
import { requestHeader } from '../headers';
import { describeRoute, doc } from '../openapi';
import { CredentialResponse, DeferredResponse } from '../apiBodies';
import { CredentialRequestWire } from '../../protocol/oid4vci/credentialRequest';

/**
 * Credential Endpoint (spec "Credential Endpoint"; OID4VCI draft 13 §7, 1.0 §8): bearer token,
 * then the request to src/issuance/issueCredential.ts, which answers 200 with the KCC, 202 with
 * a transaction_id, or throws the spec's error. The profile (draft 13 or 1.0) is detected from
 * the request and shapes the answer.
 */
export const credentialRoutes = new Hono<AppEnv>();

credentialRoutes.post(
  PATHS.credential,
  describeRoute({
    summary: 'Credential Endpoint',
    tags: ['wallet'],
    security: 'bearer',
    body: CredentialRequestWire,
    responses: {
      200: doc.json('The KCC (draft 13 `credential`, 1.0 `credentials`)', CredentialResponse),
      202: doc.json('Deferred: identity verification is not finished', DeferredResponse),
      400: doc.error('invalid_credential_request, invalid_proof, invalid_nonce, credential_request_denied…'),
      401: doc.error('Missing or invalid access token'),
      429: doc.error('Too many requests'),
    },
  }),
);
credentialRoutes.post(PATHS.credential, rateLimitByIp('credential'), async (c) => {
  const deps = c.get('deps');
  c.header('Cache-Control', 'no-store');
  const grant = await authenticateAccessToken(deps, requestHeader(c, 'authorization'));
  enforceRateLimit(deps, 'credential', 'client', grant.applicantDid);
  const answer = await requestCredential(deps, grant, await readJsonObject(c));
  deps.logger.info(answer.issued ? 'credential_issued' : 'credential_deferred', {
    requestId: c.get('requestId'),
    applicationId: answer.applicationId,
    ...(answer.issued ? { deferred: false } : {}),
    profile: answer.profile,
  });
  // OID4VCI 1.0 §10: an encrypted response is the JWE of the JSON body, as application/jwt.
  if (answer.encrypted) return c.body(answer.encrypted, answer.status, { 'Content-Type': ENCRYPTED_RESPONSE_MEDIA_TYPE });
  return c.json(answer.body, answer.status);
});
