import { base64urlEncode } from './base64url';
import { es256kSign, es256kVerify, generateSecp256k1Jwk } from './secp256k1';
import type { CredentialAlgorithm, CredentialSigner, CryptoProvider, JwsAlgorithm, PrivateJwk, PublicJwk, Signer } from './keys';
import { toPublicJwk } from './keys';
import { createPortableDigests } from './portableDigests';

/**
 * The runtime-agnostic CryptoProvider: Web Crypto Ed25519 (Workers, Node >= 20) and
 * @noble/curves secp256k1. Imported public keys are cached per provider instance
 * (bounded), so a DID's key is imported once, not per request.
 */
export function createWebCryptoProvider(options: { keyCacheSize?: number } = {}): CryptoProvider {
  const maxKeys = options.keyCacheSize ?? 1000;
  const verifyKeys = new Map<string, Promise<CryptoKey>>();

  function importEd25519Public(jwk: PublicJwk): Promise<CryptoKey> {
    let key = verifyKeys.get(jwk.x);
    if (!key) {
      if (verifyKeys.size >= maxKeys) verifyKeys.delete(verifyKeys.keys().next().value as string);
      key = crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, { name: 'Ed25519' }, false, ['verify']);
      key.catch(() => verifyKeys.delete(jwk.x));
      verifyKeys.set(jwk.x, key);
    }
    return key;
  }

  async function createSigner(privateJwk: PrivateJwk, kid: string): Promise<Signer> {
    const publicJwk = toPublicJwk(privateJwk);
    if (privateJwk.kty === 'OKP' && privateJwk.crv === 'Ed25519') {
      const key = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: privateJwk.x, d: privateJwk.d }, { name: 'Ed25519' }, false, ['sign']);
      return {
        alg: 'EdDSA',
        kid,
        publicJwk,
        sign: async (data) => new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key, data as Uint8Array<ArrayBuffer>)),
      };
    }
    if (privateJwk.kty === 'EC' && privateJwk.crv === 'secp256k1') {
      return { alg: 'ES256K', kid, publicJwk, sign: async (data) => es256kSign(privateJwk, data) };
    }
    throw new TypeError('unsupported signing key type');
  }

  return {
    ...createPortableDigests(),
    createSigner,
    async createCredentialSigner(privateJwk: PrivateJwk, kid: string): Promise<CredentialSigner> {
      if (privateJwk.kty !== 'EC' || privateJwk.crv !== 'P-256') return createSigner(privateJwk, kid);
      // ES256 (RFC 7518 §3.4): Web Crypto's ECDSA signature is already r||s, 64 bytes.
      const key = await crypto.subtle.importKey(
        'jwk',
        { kty: 'EC', crv: 'P-256', x: privateJwk.x, y: privateJwk.y, d: privateJwk.d },
        { name: 'ECDSA', namedCurve: 'P-256' },
        false,
        ['sign'],
      );
      return {
        alg: 'ES256',
        kid,
        publicJwk: toPublicJwk(privateJwk),
        sign: async (data) => new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, data as Uint8Array<ArrayBuffer>)),
      };
    },

    async verify(alg: JwsAlgorithm, jwk: PublicJwk, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
      if (alg === 'EdDSA' && jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
        if (signature.length !== 64) return false;
        try {
          return await crypto.subtle.verify(
            { name: 'Ed25519' },
            await importEd25519Public(jwk),
            signature as Uint8Array<ArrayBuffer>,
            data as Uint8Array<ArrayBuffer>,
          );
        } catch {
          return false;
        }
      }
      if (alg === 'ES256K' && jwk.kty === 'EC' && jwk.crv === 'secp256k1') return es256kVerify(jwk, data, signature);
      return false;
    },

    async generateKeyPair(alg: CredentialAlgorithm): Promise<PrivateJwk> {
      if (alg === 'ES256K') return generateSecp256k1Jwk();
      if (alg === 'ES256') {
        const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
        const jwk = (await crypto.subtle.exportKey('jwk', pair.privateKey)) as JsonWebKey;
        return { kty: 'EC', crv: 'P-256', x: jwk.x as string, y: jwk.y as string, d: jwk.d as string };
      }
      const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
      const jwk = (await crypto.subtle.exportKey('jwk', pair.privateKey)) as JsonWebKey;
      return { kty: 'OKP', crv: 'Ed25519', x: jwk.x as string, d: jwk.d as string };
    },
  };
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key: a stable key id. */
export async function jwkThumbprint(jwk: PublicJwk): Promise<string> {
  const canonical = jwk.kty === 'OKP' ? `{"crv":"${jwk.crv}","kty":"OKP","x":"${jwk.x}"}` : `{"crv":"${jwk.crv}","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonical));
  return base64urlEncode(new Uint8Array(digest));
}
