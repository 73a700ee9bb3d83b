import { secp256k1 } from '@noble/curves/secp256k1.js';

/**
 * An ECDSA secp256k1 signature from a custodian (HSM, KMS) as JOSE wants it (RFC 7518 §3.4,
 * RFC 8812 §3.2): 64 bytes r||s. PKCS#11's CKM_ECDSA answers r||s already (PKCS#11 v2.40
 * §2.3.1); cloud KMSes answer DER (`SEQUENCE { INTEGER r, INTEGER s }`): both are accepted.
 * S is normalised to the lower half of the order, as our file keys sign (src/crypto/secp256k1.ts):
 * many ES256K verifiers (noble's default, Bitcoin-derived libraries) refuse a high S.
 */
export function ecdsaSignatureToJose(signature: Uint8Array): Uint8Array {
  const { r, s } = signature.length === 64 ? { r: bigintFrom(signature.subarray(0, 32)), s: bigintFrom(signature.subarray(32)) } : parseDerSignature(signature);
  const n = secp256k1.Point.CURVE().n;
  if (r <= 0n || r >= n || s <= 0n || s >= n) throw new TypeError('ECDSA signature values out of range');
  const lowS = s > n >> 1n ? n - s : s;
  const out = new Uint8Array(64);
  out.set(bytesFrom(r), 0);
  out.set(bytesFrom(lowS), 32);
  return out;
}

function parseDerSignature(der: Uint8Array): { r: bigint; s: bigint } {
  // SEQUENCE (short form length: a secp256k1 signature is at most 72 bytes) of two INTEGERs.
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) throw new TypeError('ECDSA signature is neither r||s nor DER');
  let at = 2;
  const integer = (): bigint => {
    if (der[at] !== 0x02) throw new TypeError('ECDSA DER signature: INTEGER expected');
    const len = der[at + 1];
    if (len === 0 || len > 33 || at + 2 + len > der.length) throw new TypeError('ECDSA DER signature: bad INTEGER length');
    const value = bigintFrom(der.subarray(at + 2, at + 2 + len));
    at += 2 + len;
    return value;
  };
  const r = integer();
  const s = integer();
  if (at !== der.length) throw new TypeError('ECDSA DER signature: trailing bytes');
  return { r, s };
}

function bigintFrom(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function bytesFrom(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
