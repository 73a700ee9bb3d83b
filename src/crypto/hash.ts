import { sha256 } from '@noble/hashes/sha2.js';
import { base64urlEncode, utf8 } from './base64url';

/**
 * SHA-256 of a secret, base64url. Single-use secrets (pre-authorized codes, form tokens)
 * are stored only as this digest, so a leaked database row cannot be redeemed.
 * Synchronous on purpose: the inputs are tiny and it runs on the hot path.
 */
export function digestSecret(secret: string): string {
  return base64urlEncode(sha256(utf8.encode(secret)));
}

export { sha256 };
