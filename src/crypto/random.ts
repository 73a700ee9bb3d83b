import { base64urlEncode } from './base64url';
import type { DigestsAndRandom } from './keys';

/**
 * An unguessable, URL-safe token: `bytes` of CSPRNG output as base64url.
 * 32 bytes = 256 bits of entropy. URL-safe on purpose: some wallets put codes in
 * form bodies without encoding them (docs/wallet-behaviour.md, Sphereon).
 */
export function randomToken(crypto: Pick<DigestsAndRandom, 'randomBytes'>, bytes = 32): string {
  return base64urlEncode(crypto.randomBytes(bytes));
}

export function randomUuid(): string {
  return crypto.randomUUID();
}

/**
 * A UUID version 7 (RFC 9562 §5.7): 48 bits of Unix time in ms, then 74 random bits. For
 * identifiers that are database keys: rows created together sort together, so inserting one
 * touches the b-tree's last page, which the other inserts of the same commit have already
 * dirtied, instead of a random page of every index keyed by it (docs/performance.md). Not for
 * what must not reveal its creation time or link copies (SD-JWT VC batch copies stay random).
 */
export function timeOrderedUuid(nowMs: number): string {
  // The random bits of a v4 UUID (the runtime draws them from a cached pool: one CSPRNG call per
  // many ids) under the time: v4's variant bits are already RFC 9562's.
  const random = crypto.randomUUID();
  const time = Math.max(0, Math.floor(nowMs)).toString(16).padStart(12, '0').slice(-12);
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15, 18)}-${random.slice(19)}`;
}
