import type { DigestsAndRandom } from './keys';

/**
 * HMAC-SHA256 of a short input, synchronously (the runtime's own, src/crypto/keys.ts). For the
 * per-request MACs whose key changes with every request (the form's CSRF token is keyed by the
 * form link's own token): Web Crypto would import a key and hop through Node's thread pool twice
 * per MAC, which cost more than the MAC itself (docs/performance.md). Large inputs (webhook
 * bodies) keep Web Crypto (src/idv/webhookSignature.ts).
 */
export function hmacSha256Sync(crypto: Pick<DigestsAndRandom, 'hmacSha256'>, key: string | Uint8Array, data: string | Uint8Array): Uint8Array {
  return crypto.hmacSha256(key, data);
}
