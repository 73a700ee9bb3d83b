import { Hono } from 'hono';
import { digestSecret } from '../../crypto/hash';
import { randomToken, randomUuid } from '../../crypto/random';
import { InvalidClient, InvalidGrant } from '../../protocol/errors';
import { issueAccessToken } from '../../protocol/oid4vci/accessToken';
import { parseTokenRequest, type TokenRequest } from '../../protocol/oid4vci/tokenRequest';
import { readFormOrJson } from '../body';
import { nowSeconds, type AppDeps, type AppEnv } from '../context';
import { PATHS } from '../../paths';
import { enforceRateLimit, rateLimitByIp } from '../rateLimit';

/**
 * Token Endpoint (spec "Token Endpoint"; OID4VCI draft 13 §6): the pre-authorized code grant.
 * The code is redeemed once, by the applicant DID it was issued to; the access token is an
 * at+jwt with c_nonce claims; the response is never cached (RFC 6749 §5.1).
 */
export const tokenRoutes = new Hono<AppEnv>();

tokenRoutes.post(PATHS.token, rateLimitByIp('token'), async (c) => {
  const deps = c.get('deps');
  const { body } = await readFormOrJson(c);
  const request = parseTokenRequest(body);
  const clientId = clientDidOf(request);
  enforceRateLimit(deps, 'token', 'client', clientId);
  const code = await redeemCode(deps, request.preAuthorizedCode, clientId);
  const token = await grantAccessToken(deps, code);
  deps.logger.info('token_issued', { requestId: c.get('requestId'), applicationId: code.applicationId });
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

async function redeemCode(deps: AppDeps, preAuthorizedCode: string, clientId: string | undefined) {
  const now = nowSeconds(deps);
  const codeHash = digestSecret(preAuthorizedCode);
  const code = clientId === undefined ? await deps.store.preAuthorizedCodes.redeemBound(codeHash, now) : await deps.store.preAuthorizedCodes.redeem(codeHash, clientId, now);
  if (code) return code;
  const existing = await deps.store.preAuthorizedCodes.get(codeHash);
  if (existing?.consumedAt != null) {
    // A replayed code may mean it leaked: revoke what was issued from it (RFC 6749 §4.1.2).
    const revoked = await deps.store.accessTokens.revokeByCode(codeHash, now);
    deps.logger.warn('pre_authorized_code_replayed', { applicationId: existing.applicationId, revokedTokens: revoked });
  }
  throw new InvalidGrant('pre-authorized_code is invalid, expired, already used, or was issued to another client');
}

async function grantAccessToken(deps: AppDeps, code: { codeHash: string; applicationId: string; applicantDid: string }) {
  const now = nowSeconds(deps);
  const { ttl } = deps.config;
  const jti = randomUuid();
  const cNonce = randomToken();
  const accessToken = await issueAccessToken(deps.issuer.signer, {
    iss: deps.issuer.did,
    aud: deps.issuer.did,
    sub: code.applicantDid,
    client_id: code.applicantDid,
    iat: now,
    exp: now + ttl.accessToken,
    jti,
    c_nonce: cNonce,
    c_nonce_expiry: now + ttl.cNonce,
  });
  await deps.store.accessTokens.createWithCNonce(
    { jti, applicationId: code.applicationId, applicantDid: code.applicantDid, codeHash: code.codeHash, expiresAt: now + ttl.accessToken },
    { nonce: cNonce, accessTokenJti: jti, expiresAt: now + ttl.cNonce },
  );
  return {
    access_token: accessToken,
    token_type: 'bearer',
    expires_in: ttl.accessToken,
    c_nonce: cNonce,
    c_nonce_expires_in: ttl.cNonce,
  };
}
