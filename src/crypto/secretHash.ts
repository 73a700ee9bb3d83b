import { base64urlDecode, base64urlEncode, utf8 } from './base64url';

/**
 * Slow hashes of operator account secrets, with Web Crypto only, so a hash written by the
 * operators CLI on Node verifies on Workers too. Workers has no scrypt or Argon2, and workerd
 * refuses PBKDF2 above 100,000 iterations, so the scheme is PBKDF2-HMAC-SHA256 (RFC 8018 §5.2)
 * at 100,000 iterations with a 16-byte salt and a 32-byte output. OWASP's 600,000 is for
 * human-chosen passwords; account secrets are 256-bit random values (`randomToken()`), so the
 * hash only has to make a leaked row useless, which any preimage-resistant hash does.
 *
 * The stored string describes itself: `pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>`.
 */
export const SECRET_HASH_ITERATIONS = 100_000;
const SCHEME = 'pbkdf2-sha256';
/** workerd's cap; a stored hash above it could never verify on Workers. */
const MAX_ITERATIONS = 100_000;

async function pbkdf2(secret: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', utf8.encode(secret), 'PBKDF2', false, ['deriveBits']);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: Uint8Array.from(salt), iterations }, key, 256));
}

/** Hashes a secret with a fresh salt. */
export async function hashSecret(secret: string, iterations = SECRET_HASH_ITERATIONS): Promise<string> {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) throw new TypeError(`iterations must be 1..${MAX_ITERATIONS}`);
  const salt = new Uint8Array(16);
  crypto.getRandomValues(salt);
  return `${SCHEME}$${iterations}$${base64urlEncode(salt)}$${base64urlEncode(await pbkdf2(secret, salt, iterations))}`;
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Whether `secret` is the one `stored` was made from; false for a malformed or unknown scheme. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 4 || parts[0] !== SCHEME || !/^\d{1,7}$/.test(parts[1])) return false;
  const iterations = Number(parts[1]);
  if (iterations < 1 || iterations > MAX_ITERATIONS) return false;
  let salt: Uint8Array;
  let expected: Uint8Array;
  try {
    salt = base64urlDecode(parts[2]);
    expected = base64urlDecode(parts[3]);
  } catch {
    return false;
  }
  if (expected.length !== 32) return false;
  return constantTimeEqual(await pbkdf2(secret, salt, iterations), expected);
}

/**
 * A well-formed hash of no one's secret, verified against when a sign-in names an unknown
 * account, so that an unknown name costs the same time as a wrong secret.
 */
export const DECOY_SECRET_HASH = `${SCHEME}$${SECRET_HASH_ITERATIONS}$AAAAAAAAAAAAAAAAAAAAAA$${'A'.repeat(43)}`;
