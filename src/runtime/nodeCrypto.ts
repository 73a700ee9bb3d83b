import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomFillSync,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import type { CredentialAlgorithm, CredentialSigner, CryptoProvider, JwsAlgorithm, PrivateJwk, PublicJwk, Signer } from '../crypto/keys';
import { toPublicJwk } from '../crypto/keys';
import { createWebCryptoProvider } from '../crypto/webCrypto';

/**
 * Node's CryptoProvider: Ed25519 on node:crypto KeyObjects (about 3x faster than Web Crypto
 * here), secp256k1 on @noble/curves as everywhere. Public KeyObjects are cached (bounded) so a
 * key is imported once. Ed25519 signs and verifies run inline: the thread-pool (callback) forms
 * free the event loop but cost more CPU in all (a job, a wake-up and a completion per
 * operation), and the server's figure of merit is CPU per flow (docs/performance.md).
 */
export function createNodeCryptoProvider(options: { keyCacheSize?: number } = {}): CryptoProvider {
  const maxKeys = options.keyCacheSize ?? 1000;
  const publicKeys = new Map<string, KeyObject>();
  const web = createWebCryptoProvider();

  function ed25519PublicKey(jwk: PublicJwk): KeyObject {
    let key = publicKeys.get(jwk.x);
    if (!key) {
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
      if (publicKeys.size >= maxKeys) publicKeys.delete(publicKeys.keys().next().value as string);
      publicKeys.set(jwk.x, key);
    }
    return key;
  }

  const randomBytes = pooledRandomBytes();

  async function createSigner(privateJwk: PrivateJwk, kid: string): Promise<Signer> {
    if (privateJwk.kty === 'OKP' && privateJwk.crv === 'Ed25519') {
      const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: privateJwk.x, d: privateJwk.d }, format: 'jwk' });
      const sign = async (data: Uint8Array) => new Uint8Array(nodeSign(null, data, key));
      return { alg: 'EdDSA', kid, publicJwk: toPublicJwk(privateJwk), sign };
    }
    return web.createSigner(privateJwk, kid); // secp256k1: noble, as everywhere
  }

  return {
    // Native SHA-256 and HMAC: 1.4x (short inputs) to 7x (a KCC) faster than the pure-JS ones.
    sha256: (data) => new Uint8Array(createHash('sha256').update(data).digest()),
    hmacSha256: (key, data) => new Uint8Array(createHmac('sha256', key).update(data).digest()),
    randomBytes,
    createSigner,
    async createCredentialSigner(privateJwk: PrivateJwk, kid: string): Promise<CredentialSigner> {
      if (privateJwk.kty !== 'EC' || privateJwk.crv !== 'P-256') return createSigner(privateJwk, kid);
      const key = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', x: privateJwk.x, y: privateJwk.y, d: privateJwk.d }, format: 'jwk' });
      // ES256 (RFC 7518 §3.4): r||s, 64 bytes, not DER.
      const sign = async (data: Uint8Array) => new Uint8Array(nodeSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }));
      return { alg: 'ES256', kid, publicJwk: toPublicJwk(privateJwk), sign };
    },
    async verify(alg: JwsAlgorithm, jwk: PublicJwk, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
      if (alg === 'EdDSA' && jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
        if (signature.length !== 64) return false;
        let key: KeyObject;
        try {
          key = ed25519PublicKey(jwk);
        } catch {
          return false;
        }
        try {
          return nodeVerify(null, data, key, signature);
        } catch {
          return false;
        }
      }
      return web.verify(alg, jwk, data, signature); // ES256K (noble); anything else is refused there
    },
    async generateKeyPair(alg: CredentialAlgorithm): Promise<PrivateJwk> {
      if (alg === 'ES256') {
        const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
        return { kty: 'EC', crv: 'P-256', x: p256.x as string, y: p256.y as string, d: p256.d as string };
      }
      if (alg !== 'EdDSA') return web.generateKeyPair(alg);
      const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
      return { kty: 'OKP', crv: 'Ed25519', x: jwk.x as string, d: jwk.d as string };
    },
  };
}

/**
 * Random bytes drawn from a pool refilled 4 KiB at a time: one CSPRNG call per ~128 tokens
 * instead of one per token (each call costs ~3 µs, the copy out of the pool ~0.3 µs). Every byte
 * is handed out once (the offset only moves forward) and copied, so no caller shares the pool.
 * One pool per caller (the crypto provider, the PII vault).
 */
export function pooledRandomBytes(): (length: number) => Uint8Array {
  const pool = Buffer.allocUnsafeSlow(4096);
  let offset = pool.length;
  return (length: number): Uint8Array => {
    if (length > pool.length) return new Uint8Array(randomFillSync(Buffer.alloc(length)));
    if (offset + length > pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    const out = new Uint8Array(length);
    out.set(pool.subarray(offset, offset + length));
    pool.fill(0, offset, offset + length);
    offset += length;
    return out;
  };
}
