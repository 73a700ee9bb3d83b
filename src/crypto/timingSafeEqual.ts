/**
 * Constant-time equality of two byte strings (length leaks, content does not): every secret the
 * issuer compares (webhook MACs, CSRF tokens, bearer and console secrets, access-token digests)
 * goes through it, so no comparison returns early on the first differing byte.
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
