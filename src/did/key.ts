import type { DIDResolver } from 'did-resolver';
import { base64urlEncode } from '../crypto/base64url';
import type { PublicJwk } from '../crypto/keys';
import { secp256k1JwkFromPublicKey } from '../crypto/secp256k1';
import { resolutionError, resolutionOk, singleKeyDidDocument, type DIDDocument } from './types';

/**
 * did:key (W3C CCG did:key v0.7) for Ed25519 (multicodec 0xed) and secp256k1 (0xe7)
 * multikeys, base58btc multibase (`z`). Pure, no I/O.
 */
const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

export function base58btcDecode(s: string): Uint8Array {
  if (s.length === 0 || s.length > 128) throw new TypeError('invalid base58btc length');
  let zeros = 0;
  while (zeros < s.length && s[zeros] === '1') zeros++;
  const bytes: number[] = [];
  for (let k = zeros; k < s.length; k++) {
    let carry = B58.indexOf(s[k]);
    if (carry < 0) throw new TypeError('invalid base58btc character');
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i] * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  const out = new Uint8Array(zeros + bytes.length);
  for (let i = 0; i < bytes.length; i++) out[zeros + i] = bytes[bytes.length - 1 - i];
  return out;
}

export function base58btcEncode(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  const digits: number[] = [];
  for (let k = zeros; k < bytes.length; k++) {
    let carry = bytes[k];
    for (let i = 0; i < digits.length; i++) {
      carry += digits[i] << 8;
      digits[i] = carry % 58;
      carry = (carry / 58) | 0;
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = (carry / 58) | 0;
    }
  }
  let out = '1'.repeat(zeros);
  for (let i = digits.length - 1; i >= 0; i--) out += B58[digits[i]];
  return out;
}

export function jwkFromMultikey(multibase: string): PublicJwk {
  if (!multibase.startsWith('z')) throw new TypeError('did:key must use base58btc multibase');
  const bytes = base58btcDecode(multibase.slice(1));
  if (bytes.length === 34 && bytes[0] === 0xed && bytes[1] === 0x01) {
    return { kty: 'OKP', crv: 'Ed25519', x: base64urlEncode(bytes.subarray(2)) };
  }
  if (bytes.length === 35 && bytes[0] === 0xe7 && bytes[1] === 0x01) {
    return secp256k1JwkFromPublicKey(bytes.subarray(2));
  }
  throw new TypeError('did:key multicodec is not supported (Ed25519 or secp256k1)');
}

export function didKeyDocument(did: string): DIDDocument {
  const id = did.slice('did:key:'.length);
  if (!/^z[1-9A-HJ-NP-Za-km-z]+$/.test(id)) throw new TypeError('invalid did:key identifier');
  const jwk = jwkFromMultikey(id);
  return singleKeyDidDocument(did, `${did}#${id}`, jwk);
}

/** did:key for an Ed25519 public key (32 raw bytes) or a compressed secp256k1 key (33 bytes). */
export function didKeyFromPublicKey(type: 'Ed25519' | 'secp256k1', publicKey: Uint8Array): string {
  const prefix = type === 'Ed25519' ? [0xed, 0x01] : [0xe7, 0x01];
  const bytes = new Uint8Array(prefix.length + publicKey.length);
  bytes.set(prefix, 0);
  bytes.set(publicKey, prefix.length);
  return `did:key:z${base58btcEncode(bytes)}`;
}

export function createDidKeyResolver(): { key: DIDResolver } {
  return {
    key: async (did) => {
      try {
        return resolutionOk(didKeyDocument(did));
      } catch (e) {
        return resolutionError('invalidDid', e instanceof Error ? e.message : 'invalid did:key');
      }
    },
  };
}
