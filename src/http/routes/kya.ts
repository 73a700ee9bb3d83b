import { Hono } from 'hono';
import { mintKyaToken } from '../../issuance/kya';
import { PATHS } from '../../paths';
import { ServerError } from '../../protocol/errors';
import { KYA_TOKEN_TYP, normaliseCreationIp, parseKyaTokenRequest, KyaTokenRequestWire } from '../../protocol/kya/token';
import { readJsonObject } from '../body';
import type { AppEnv } from '../context';
import { rateLimitByIp } from '../rateLimit';
import { describeRoute, doc } from '../openapi';
import { KyaTokenResponse } from '../apiBodies';

/**
 * KYA token endpoint (docs/kya.md, src/issuance/kya.ts): a KCC holder obtains a KYA token for one
 * of their agents. JSON in, JSON out, never cached; the body is read with the app's limit
 * (src/http/body.ts, 413 beyond).
 */
export const kyaRoutes = new Hono<AppEnv>();

kyaRoutes.post(
  PATHS.kyaToken,
  describeRoute({
    summary: "KYA token for one of the KCC holder's agents (docs/kya.md)",
    tags: ['wallet'],
    body: KyaTokenRequestWire,
    responses: {
      200: doc.json('The KYA token (typ kya+jwt)', KyaTokenResponse),
      400: doc.error('invalid_request (each bad member named, also in `problems`), invalid_nonce (replayed or stale presentation)'),
      403: doc.error("access_denied: the KCC is not this issuer's, not the presenter's, revoked, suspended or expired"),
      413: doc.error('Body too large'),
      415: doc.error('Not application/json'),
      429: doc.error('Too many requests'),
    },
  }),
);
kyaRoutes.post(PATHS.kyaToken, rateLimitByIp('kya'), async (c) => {
  const deps = c.get('deps');
  // seed 002: creation_ip "MUST be captured directly from the token request": the runtime's view
  // of this request (socket peer, the trusted proxy's hop with TRUST_PROXY, CF-Connecting-IP on
  // Workers), never a header the client chose otherwise.
  const request = parseKyaTokenRequest(await readJsonObject(c));
  const address = deps.clientAddress?.(c);
  if (!address) throw new ServerError('the client address of this request is unknown, so no KYA token can record it');
  const minted = await mintKyaToken(deps, { request, creationIp: normaliseCreationIp(address) });
  c.header('Cache-Control', 'no-store');
  c.header('Pragma', 'no-cache');
  return c.json({ kya_token: minted.token, token_type: KYA_TOKEN_TYP, expires_in: minted.expiresIn });
});
