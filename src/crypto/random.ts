import { base64urlEncode } from './base64url';

/**
 * An unguessable, URL-safe token: `bytes` of CSPRNG output as base64url.
 * 32 bytes = 256 bits of entropy. URL-safe on purpose: some wallets put codes in
 * form bodies without encoding them (docs/wallet-behaviour.md, Sphereon).
 */
export function randomToken(bytes = 32): string {
  const buf = new Uint8Array(bytes);
  crypto.getRandomValues(buf);
  return base64urlEncode(buf);
}

export function randomUuid(): string {
  return crypto.randomUUID();
}
