import { digestSecret } from '../crypto/hash';
import type { DigestsAndRandom } from '../crypto/keys';
import { timingSafeEqual } from '../crypto/timingSafeEqual';

const enc = new TextEncoder();

/** The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), or undefined. */
export function bearerOf(authorization: string | undefined): string | undefined {
  return /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
}

/**
 * Whether a presented bearer secret is `expected`. The SHA-256 digests are compared in constant
 * time, so neither the content nor the length of the expected secret shows in the timing.
 */
export function bearerMatches(crypto: Pick<DigestsAndRandom, 'sha256'>, presented: string | undefined, expected: string): boolean {
  return presented !== undefined && timingSafeEqual(enc.encode(digestSecret(crypto, presented)), enc.encode(digestSecret(crypto, expected)));
}
