import { secp256k1 } from '@noble/curves/secp256k1.js';
import { base64urlDecode, base64urlEncode } from './base64url';
import type { PrivateJwk, PublicJwk } from './keys';

/**
 * ES256K (RFC 8812) on @noble/curves: neither jose nor Web Crypto implement secp256k1.
 * Signatures are JOSE's 64-byte r||s; we always produce low-S signatures, and accept
 * high-S ones from others (RFC 8812 does not require low-S).
 */
export function es256kSign(privateJwk: PrivateJwk, data: Uint8Array): Uint8Array {
  return secp256k1.sign(data, base64urlDecode(privateJwk.d), { lowS: true });
}

export function es256kVerify(jwk: PublicJwk, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64 || !jwk.y) return false;
  try {
    return secp256k1.verify(signature, data, secp256k1PublicKeyBytes(jwk), { lowS: false });
  } catch {
    return false;
  }
}

/** Uncompressed SEC1 public key bytes (0x04 || x || y) from a JWK. */
export function secp256k1PublicKeyBytes(jwk: PublicJwk): Uint8Array {
  const x = base64urlDecode(jwk.x);
  const y = base64urlDecode(jwk.y ?? '');
  if (x.length !== 32 || y.length !== 32) throw new TypeError('invalid secp256k1 JWK');
  const out = new Uint8Array(65);
  out[0] = 4;
  out.set(x, 1);
  out.set(y, 33);
  return out;
}

/** JWK from a compressed or uncompressed SEC1 secp256k1 public key (did:key, did:dht). */
export function secp256k1JwkFromPublicKey(bytes: Uint8Array): PublicJwk {
  const point = secp256k1.Point.fromBytes(bytes);
  const raw = point.toBytes(false);
  return { kty: 'EC', crv: 'secp256k1', x: base64urlEncode(raw.subarray(1, 33)), y: base64urlEncode(raw.subarray(33, 65)) };
}

export function generateSecp256k1Jwk(): PrivateJwk {
  const secretKey = secp256k1.utils.randomSecretKey();
  const pub = secp256k1.getPublicKey(secretKey, false);
  return {
    kty: 'EC',
    crv: 'secp256k1',
    x: base64urlEncode(pub.subarray(1, 33)),
    y: base64urlEncode(pub.subarray(33, 65)),
    d: base64urlEncode(secretKey),
  };
}
