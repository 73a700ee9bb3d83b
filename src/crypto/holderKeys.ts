import { JwtError, type DecodedJwt } from './jwt';
import { algorithmForJwk, parsePublicJwk, type PublicJwk, type SignatureVerifier } from './keys';

/**
 * Keys a holder proves possession with in a Key Binding JWT (SD-JWT VC `cnf.jwk`): the issuer's
 * algorithms (EdDSA, ES256K) and ES256 on P-256, the key most OID4VCI 1.0 wallets hold (EUDI,
 * Credo, walt.id). ES256 is accepted here only: every other JWT the issuer reads stays EdDSA or
 * ES256K (src/crypto/jwt.ts).
 */
export interface P256PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}
export type HolderJwk = PublicJwk | P256PublicJwk;
export type HolderAlgorithm = 'EdDSA' | 'ES256K' | 'ES256';
export const HOLDER_ALGORITHMS: readonly HolderAlgorithm[] = ['EdDSA', 'ES256K', 'ES256'];

/** A holder's public JWK from untrusted input (a `cnf.jwk`), or undefined. */
export function parseHolderJwk(value: unknown): HolderJwk | undefined {
  const v = value as Record<string, unknown> | null;
  if (v && typeof v === 'object' && !('d' in v) && v.kty === 'EC' && v.crv === 'P-256' && typeof v.x === 'string' && typeof v.y === 'string') {
    return { kty: 'EC', crv: 'P-256', x: v.x, y: v.y };
  }
  return parsePublicJwk(value);
}

export function holderAlgorithmForJwk(jwk: HolderJwk): HolderAlgorithm | undefined {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  return algorithmForJwk(jwk);
}

/**
 * Verifies a holder-signed JWT (decoded with `algorithms: HOLDER_ALGORITHMS`) with the key the
 * credential binds; `alg` must match the key type (RFC 8725 §2.1). ES256 through Web Crypto
 * (Node and Workers), the others through the runtime's SignatureVerifier. The SD-JWT VC verifier
 * also checks issuer signatures and Token Status Lists with it (src/verifier/verifySdJwtVc.ts):
 * SD-JWT VC issuers sign with the same three algorithms.
 */
export async function verifyHolderSignature(jwt: DecodedJwt, jwk: HolderJwk, verifier: SignatureVerifier): Promise<void> {
  const expected = holderAlgorithmForJwk(jwk);
  if (!expected || expected !== (jwt.header.alg as string)) throw new JwtError('ERR_JWS_ALG_NOT_ALLOWED', 'alg does not match the key type');
  let ok: boolean;
  if (expected === 'ES256') {
    const p256 = jwk as P256PublicJwk;
    // JWS ES256 signatures are r||s, 64 bytes (RFC 7518 §3.4): what Web Crypto's ECDSA takes.
    if (jwt.signature.length !== 64) ok = false;
    else {
      try {
        const key = await crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: p256.x, y: p256.y }, { name: 'ECDSA', namedCurve: 'P-256' }, false, [
          'verify',
        ]);
        ok = await crypto.subtle.verify(
          { name: 'ECDSA', hash: 'SHA-256' },
          key,
          jwt.signature as Uint8Array<ArrayBuffer>,
          jwt.signingInput as Uint8Array<ArrayBuffer>,
        );
      } catch {
        ok = false;
      }
    }
  } else {
    ok = await verifier.verify(expected, jwk as PublicJwk, jwt.signingInput, jwt.signature);
  }
  if (!ok) throw new JwtError('ERR_JWS_SIGNATURE_INVALID', 'signature verification failed');
}
