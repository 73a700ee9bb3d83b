import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from './base64url';

/**
 * HMAC-SHA256 of a short input, synchronously (pure JS, the same on Node and Workers). For the
 * per-request MACs whose key changes with every request (the form's CSRF token is keyed by the
 * form link's own token): Web Crypto would import a key and hop through Node's thread pool twice
 * per MAC, which cost more than the MAC itself (docs/performance.md). Large inputs (webhook
 * bodies) keep Web Crypto (src/idv/webhookSignature.ts).
 */
export function hmacSha256Sync(key: string | Uint8Array, data: string | Uint8Array): Uint8Array {
  return hmac(sha256, typeof key === 'string' ? utf8.encode(key) : key, typeof data === 'string' ? utf8.encode(data) : data);
}
