/**
 * Key material and the one signing/verification interface both runtimes implement.
 *
 * The spec allows exactly two JWS algorithms for every JWT in the flow (ID token, proof,
 * access token, KCC): EdDSA (Ed25519) and ES256K (secp256k1, RFC 8812).
 */
export type JwsAlgorithm = 'EdDSA' | 'ES256K';
export const SUPPORTED_ALGORITHMS: readonly JwsAlgorithm[] = ['EdDSA', 'ES256K'];

/**
 * What an SD-JWT VC KCC and its Token Status List may be signed with: the spec's two, plus ES256
 * (P-256), which HAIP (OpenID4VC High Assurance Interoperability Profile) and EUDI wallets
 * expect (SDJWT_VC_SIGNING_ALG, docs/formats.md). A P-256 issuer key signs nothing else, and
 * {@link algorithmForJwk} keeps refusing P-256, so the spec's flow never meets one.
 */
export type CredentialAlgorithm = JwsAlgorithm | 'ES256';
export const CREDENTIAL_ALGORITHMS: readonly CredentialAlgorithm[] = ['EdDSA', 'ES256K', 'ES256'];

export interface PublicJwk {
  kty: 'OKP' | 'EC';
  /** P-256 only for an SD-JWT VC issuer key (ES256); every other use refuses it. */
  crv: 'Ed25519' | 'secp256k1' | 'P-256';
  x: string;
  y?: string;
  kid?: string;
  alg?: string;
  use?: string;
}

export interface PrivateJwk extends PublicJwk {
  d: string;
}

/** Signs JWS signing input. `kid` is the DID URL published in the signer's DID document. */
export interface Signer {
  readonly alg: JwsAlgorithm;
  readonly kid: string;
  readonly publicJwk: PublicJwk;
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** Signs SD-JWT VCs and Token Status Lists: a {@link Signer}, or an ES256 one (SDJWT_VC_SIGNING_ALG). */
export interface CredentialSigner {
  readonly alg: CredentialAlgorithm;
  readonly kid: string;
  readonly publicJwk: PublicJwk;
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** Verifies a JWS signature with a public JWK. Implementations cache imported keys. */
export interface SignatureVerifier {
  verify(alg: JwsAlgorithm, jwk: PublicJwk, data: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/**
 * Synchronous hashing and randomness for the hot path (a flow digests and draws a dozen secrets):
 * node:crypto on Node (src/runtime/nodeCrypto.ts: native hashes, random bytes drawn from a pool
 * refilled 4 KiB at a time), @noble/hashes and getRandomValues elsewhere (src/crypto/portableDigests.ts).
 */
export interface DigestsAndRandom {
  sha256(data: Uint8Array | string): Uint8Array;
  /**
   * For short inputs whose key changes with every call (the form's CSRF token is keyed by the form
   * link's own token): Web Crypto would import a key and hop through Node's thread pool twice per
   * MAC, which cost more than the MAC itself (docs/performance.md). Large inputs (webhook bodies)
   * keep Web Crypto (src/idv/webhookSignature.ts).
   */
  hmacSha256(key: Uint8Array | string, data: Uint8Array | string): Uint8Array;
  /** `length` fresh bytes from the CSPRNG, never handed out twice. */
  randomBytes(length: number): Uint8Array;
}

/**
 * What a runtime injects: Web Crypto on Workers (src/crypto/webCrypto.ts),
 * node:crypto KeyObjects on Node (src/runtime/nodeCrypto.ts, ~3x faster for Ed25519).
 */
export interface CryptoProvider extends SignatureVerifier, DigestsAndRandom {
  /** An EdDSA or ES256K signer; refuses a P-256 key (see createCredentialSigner). */
  createSigner(privateJwk: PrivateJwk, kid: string): Promise<Signer>;
  /** As createSigner, and ES256 for a P-256 key: the SD-JWT VC signer (SDJWT_VC_SIGNING_ALG). */
  createCredentialSigner(privateJwk: PrivateJwk, kid: string): Promise<CredentialSigner>;
  generateKeyPair(alg: CredentialAlgorithm): Promise<PrivateJwk>;
}

/** The JWS `alg` a public key can be used with; `undefined` for any key type we do not accept. */
export function algorithmForJwk(jwk: { kty?: unknown; crv?: unknown }): JwsAlgorithm | undefined {
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'EC' && jwk.crv === 'secp256k1') return 'ES256K';
  return undefined;
}

/** As algorithmForJwk, and ES256 for a P-256 key: the algorithm of an issuer key (src/crypto/issuerKeys.ts). */
export function credentialAlgorithmForJwk(jwk: { kty?: unknown; crv?: unknown }): CredentialAlgorithm | undefined {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  return algorithmForJwk(jwk);
}

export function toPublicJwk(jwk: PrivateJwk | PublicJwk): PublicJwk {
  const out: PublicJwk = { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
  if (jwk.y !== undefined) out.y = jwk.y;
  return out;
}

/** Normalises an untrusted JWK (from a DID document) to a PublicJwk or returns undefined. */
export function parsePublicJwk(value: unknown): PublicJwk | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if ('d' in v) return undefined; // a private key in a public document is never used
  if (v.kty === 'OKP' && v.crv === 'Ed25519' && typeof v.x === 'string') {
    return { kty: 'OKP', crv: 'Ed25519', x: v.x };
  }
  if (v.kty === 'EC' && v.crv === 'secp256k1' && typeof v.x === 'string' && typeof v.y === 'string') {
    return { kty: 'EC', crv: 'secp256k1', x: v.x, y: v.y };
  }
  return undefined;
}
