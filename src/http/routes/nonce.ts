import { Hono } from 'hono';
import type { AppEnv } from '../context';
import { nowSeconds } from '../context';
import { freshUnboundNonce } from '../../issuance/grants';
import { PATHS } from '../../paths';
import { rateLimitByIp } from '../rateLimit';
import { describeRoute, doc } from '../openapi';
import { NonceResponse } from '../apiBodies';

/**
 * Nonce Endpoint (OID4VCI 1.0 §7): an unauthenticated POST that returns a fresh, unpredictable
 * `c_nonce` for proofs, uncacheable (§7.2). The nonce is stored unbound to any token, expires
 * after ttl.cNonce and is consumed once by the credential endpoint. Expired rows are pruned here
 * on about one call in 16 (chosen at random, no shared state), so the open endpoint cannot grow
 * the table much beyond (request rate × ttl.cNonce) while most calls cost one insert.
 */
export const nonceRoutes = new Hono<AppEnv>();

// Open and unauthenticated, and every call writes a row: limited per IP like the other open endpoints.
nonceRoutes.post(
  PATHS.nonce,
  describeRoute({ summary: 'Nonce Endpoint (OID4VCI 1.0 §7)', tags: ['wallet'], responses: { 200: doc.json('A fresh c_nonce', NonceResponse) } }),
);
nonceRoutes.post(PATHS.nonce, rateLimitByIp('nonce'), async (c) => {
  const deps = c.get('deps');
  if (crypto.getRandomValues(new Uint8Array(1))[0] < 16) await deps.store.nonces.pruneExpired(nowSeconds(deps));
  const nonce = await freshUnboundNonce(deps);
  c.header('Cache-Control', 'no-store');
  return c.json({ c_nonce: nonce });
});
