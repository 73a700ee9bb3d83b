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
