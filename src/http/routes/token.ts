import { Hono } from 'hono';
import { redeemPreAuthorizedCode } from '../../issuance/grants';
import { PATHS } from '../../paths';
import { parseTokenRequest, tokenClientDid, TokenRequestWire } from '../../protocol/oid4vci/tokenRequest';
import { readFormOrJson } from '../body';
import type { AppEnv } from '../context';
import { enforceRateLimit, rateLimitByIp } from '../rateLimit';
import { describeRoute, doc } from '../openapi';
import { TokenResponse } from '../apiBodies';

/**
 * Token Endpoint (spec "Token Endpoint"; OID4VCI draft 13 §6, 1.0 §6), top to bottom: parse
 * (src/protocol/oid4vci/tokenRequest.ts) → authenticate the client (its DID, same file) → the
 * client's rate limit → redeem the code, decide and grant (src/issuance/grants.ts) → respond.
 * The response is never cached (RFC 6749 §5.1).
 */
export const tokenRoutes = new Hono<AppEnv>();

tokenRoutes.post(
  PATHS.token,
  describeRoute({
    summary: 'Token Endpoint (pre-authorized code)',
    tags: ['wallet'],
    body: TokenRequestWire,
    form: true,
    responses: {
      200: doc.json('Access token', TokenResponse),
      400: doc.error('invalid_request, invalid_grant, unsupported_grant_type…'),
      401: doc.error('invalid_client'),
      429: doc.error('Too many requests'),
    },
  }),
);
tokenRoutes.post(PATHS.token, rateLimitByIp('token'), async (c) => {
  const deps = c.get('deps');
  const request = parseTokenRequest((await readFormOrJson(c)).body);
  const clientId = tokenClientDid(request);
  enforceRateLimit(deps, 'token', 'client', clientId);
  const { applicationId, token } = await redeemPreAuthorizedCode(deps, { preAuthorizedCode: request.preAuthorizedCode, clientId });
  deps.logger.info('token_issued', { requestId: c.get('requestId'), applicationId });
  c.header('Cache-Control', 'no-store');
  c.header('Pragma', 'no-cache');
  return c.json(token);
});
