import { CompactEncrypt, importJWK, type JWK } from 'jose';
import { InvalidEncryptionParameters } from '../errors';

/**
 * Encrypted Credential (and Deferred Credential) Responses, OID4VCI 1.0 §8.2, §8.3, §10:
 * the wallet sends `credential_response_encryption { jwk, enc[, zip] }` (the key's `alg` in the
 * JWK; drafts 13-15 and oid4vc-ts send `alg` beside it, accepted too, and both must agree) and
 * the issuer answers `application/jwt`, a compact JWE of the JSON response body.
 * What this issuer supports, and says in its metadata (`credential_response_encryption`):
 * `ECDH-ES` (direct key agreement) on P-256, P-384, P-521 or X25519 keys, `A128GCM` / `A256GCM`,
 * no compression.
 */
export const RESPONSE_ENCRYPTION_ALGS = ['ECDH-ES'] as const;
export const RESPONSE_ENCRYPTION_ENCS = ['A128GCM', 'A256GCM'] as const;
/** The media type of an encrypted Credential Response (OID4VCI 1.0 §8.3). */
export const ENCRYPTED_RESPONSE_MEDIA_TYPE = 'application/jwt';

export type ResponseEncryptionAlg = (typeof RESPONSE_ENCRYPTION_ALGS)[number];
export type ResponseEncryptionEnc = (typeof RESPONSE_ENCRYPTION_ENCS)[number];

/** A checked `credential_response_encryption`: a public key agreement key and the algorithms. */
export interface ResponseEncryption {
  jwk: JWK;
  alg: ResponseEncryptionAlg;
  enc: ResponseEncryptionEnc;
}

const EC_CURVES = ['P-256', 'P-384', 'P-521'];
const isB64u = (v: unknown, max = 200): v is string => typeof v === 'string' && v.length > 0 && v.length <= max && /^[A-Za-z0-9_-]+$/.test(v);

/** `credential_response_encryption` metadata (OID4VCI 1.0 §12.2.4). */
export function credentialResponseEncryptionMetadata(encryptionRequired: boolean) {
  return {
    alg_values_supported: [...RESPONSE_ENCRYPTION_ALGS],
    enc_values_supported: [...RESPONSE_ENCRYPTION_ENCS],
    encryption_required: encryptionRequired,
  };
}

/**
 * Parses and checks a request's `credential_response_encryption`; throws
 * invalid_encryption_parameters for anything missing or unsupported. Pure and synchronous: the
 * key itself is imported by `checkResponseEncryptionKey` (before issuing) and when encrypting.
 */
export function parseCredentialResponseEncryption(value: unknown): ResponseEncryption {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new InvalidEncryptionParameters('credential_response_encryption must be an object');
  const v = value as Record<string, unknown>;
  const jwk = v.jwk as Record<string, unknown> | undefined;
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) throw new InvalidEncryptionParameters('credential_response_encryption.jwk is required');
  if ('d' in jwk) throw new InvalidEncryptionParameters('credential_response_encryption.jwk must be a public key');
  if (jwk.use !== undefined && jwk.use !== 'enc') throw new InvalidEncryptionParameters('credential_response_encryption.jwk.use must be enc');
  const publicJwk: JWK = {};
  if (jwk.kty === 'EC' && typeof jwk.crv === 'string' && EC_CURVES.includes(jwk.crv) && isB64u(jwk.x) && isB64u(jwk.y)) {
    Object.assign(publicJwk, { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y });
  } else if (jwk.kty === 'OKP' && jwk.crv === 'X25519' && isB64u(jwk.x)) {
    Object.assign(publicJwk, { kty: 'OKP', crv: 'X25519', x: jwk.x });
  } else {
    throw new InvalidEncryptionParameters('credential_response_encryption.jwk must be an EC (P-256, P-384, P-521) or X25519 public key');
  }
  if (jwk.kid !== undefined) {
    if (typeof jwk.kid !== 'string' || jwk.kid.length > 200) throw new InvalidEncryptionParameters('credential_response_encryption.jwk.kid must be a string');
    publicJwk.kid = jwk.kid;
  }
  if (v.alg !== undefined && jwk.alg !== undefined && v.alg !== jwk.alg)
    throw new InvalidEncryptionParameters('credential_response_encryption.alg and jwk.alg differ');
  const alg = v.alg ?? jwk.alg;
  if (alg === undefined) throw new InvalidEncryptionParameters('credential_response_encryption.jwk.alg is required');
  if (!(RESPONSE_ENCRYPTION_ALGS as readonly unknown[]).includes(alg))
    throw new InvalidEncryptionParameters(`alg must be one of ${RESPONSE_ENCRYPTION_ALGS.join(', ')}`);
  if (v.enc === undefined) throw new InvalidEncryptionParameters('credential_response_encryption.enc is required');
  if (!(RESPONSE_ENCRYPTION_ENCS as readonly unknown[]).includes(v.enc))
    throw new InvalidEncryptionParameters(`enc must be one of ${RESPONSE_ENCRYPTION_ENCS.join(', ')}`);
  // No zip_values_supported in our metadata: a compressed response was not offered.
  if (v.zip !== undefined) throw new InvalidEncryptionParameters('zip is not supported');
  return { jwk: publicJwk, alg: alg as ResponseEncryptionAlg, enc: v.enc as ResponseEncryptionEnc };
}

async function importEncryptionKey(params: ResponseEncryption) {
  try {
    return await importJWK(params.jwk, params.alg);
  } catch {
    // Not a point on the curve, or a curve the runtime lacks: the wallet could never decrypt.
    throw new InvalidEncryptionParameters('credential_response_encryption.jwk is not a usable key');
  }
}

/** Imports the wallet's key once before anything is issued, so a bad key never costs a credential. */
export async function checkResponseEncryptionKey(params: ResponseEncryption): Promise<void> {
  await importEncryptionKey(params);
}

/**
 * The Credential Response `body` as a compact JWE (OID4VCI 1.0 §10) for the wallet's key:
 * `alg`/`enc` as requested, the key's `kid` echoed when it had one. Pure: randomness is
 * Web Crypto's (the ephemeral key and the IV), on Node and Workers alike.
 */
export async function encryptCredentialResponse(params: ResponseEncryption, body: Record<string, unknown>): Promise<string> {
  const key = await importEncryptionKey(params);
  const header: { alg: string; enc: string; kid?: string } = { alg: params.alg, enc: params.enc };
  if (typeof params.jwk.kid === 'string') header.kid = params.jwk.kid;
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(body))).setProtectedHeader(header).encrypt(key);
}
