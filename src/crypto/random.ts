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
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let time = Math.max(0, Math.floor(nowMs));
  for (let i = 5; i >= 0; i--) {
    bytes[i] = time % 256;
    time = Math.floor(time / 256);
  }
  bytes[6] = 0x70 | (bytes[6] & 0x0f);
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  let hex = '';
  for (let i = 0; i < 16; i++) hex += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
