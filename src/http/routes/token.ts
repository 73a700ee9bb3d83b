import { Hono } from 'hono';
import { redeemPreAuthorizedCode } from '../../issuance/grants';
import { PATHS } from '../../paths';
import { InvalidClient } from '../../protocol/errors';
import { parseTokenRequest, type TokenRequest } from '../../protocol/oid4vci/tokenRequest';
import { readFormOrJson } from '../body';
import type { AppEnv } from '../context';
import { enforceRateLimit, rateLimitByIp } from '../rateLimit';

/**
 * Token Endpoint (spec "Token Endpoint"; OID4VCI draft 13 §6): the pre-authorized code grant
 * (src/issuance/grants.ts). The response is never cached (RFC 6749 §5.1).
 */
export const tokenRoutes = new Hono<AppEnv>();

tokenRoutes.post(PATHS.token, rateLimitByIp('token'), async (c) => {
  const deps = c.get('deps');
  const { body } = await readFormOrJson(c);
  const request = parseTokenRequest(body);
  const clientId = clientDidOf(request);
  enforceRateLimit(deps, 'token', 'client', clientId);
  const { applicationId, token } = await redeemPreAuthorizedCode(deps, { preAuthorizedCode: request.preAuthorizedCode, clientId });
  deps.logger.info('token_issued', { requestId: c.get('requestId'), applicationId });
  c.header('Cache-Control', 'no-store');
  c.header('Pragma', 'no-cache');
  return c.json(token);
});

function clientDidOf(request: TokenRequest): string | undefined {
  // spec "Token Request": client_id is the applicant DID. OID4VCI 1.0 §6.1 makes it optional for
  // the pre-authorized grant, and the code is bound to the applicant DID anyway, so an absent
  // client_id is accepted; a present one must be a DID and must be the DID the code is bound to.
  if (request.clientId === undefined) return undefined;
  if (!request.clientId.startsWith('did:')) throw new InvalidClient('client_id must be the applicant DID');
  return request.clientId;
}
