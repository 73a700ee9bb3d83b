import { digestSecret } from '../crypto/hash';
import { timingSafeEqual } from '../idv/webhookSignature';

const enc = new TextEncoder();

/** The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), or undefined. */
export function bearerOf(authorization: string | undefined): string | undefined {
  return /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
}

/**
 * Whether a presented bearer secret is `expected`. The SHA-256 digests are compared in constant
 * time, so neither the content nor the length of the expected secret shows in the timing.
 */
export function bearerMatches(presented: string | undefined, expected: string): boolean {
  return presented !== undefined && timingSafeEqual(enc.encode(digestSecret(presented)), enc.encode(digestSecret(expected)));
}
