import { sha256 } from '@noble/hashes/sha2.js';
import { base64urlEncode } from './base64url';
import type { DigestsAndRandom } from './keys';

/**
 * SHA-256 of a secret, base64url. Single-use secrets (pre-authorized codes, form tokens)
 * are stored only as this digest, so a leaked database row cannot be redeemed.
 * Synchronous on purpose: the inputs are tiny and it runs on the hot path.
 */
export function digestSecret(crypto: Pick<DigestsAndRandom, 'sha256'>, secret: string): string {
  return base64urlEncode(crypto.sha256(secret));
}

export { sha256 };
