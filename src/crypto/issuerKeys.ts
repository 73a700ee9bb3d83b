import type { ExternalKeyRef } from './keyCustody';
import { credentialAlgorithmForJwk, type CredentialAlgorithm, type JwsAlgorithm, type PrivateJwk } from './keys';

/** One issuer key as configured or kept in the key file: its private JWK here, or a reference to a custodian. */
export type IssuerKey = LocalIssuerKey | ExternalIssuerKey;

/** A key whose private JWK this process holds (key file, ISSUER_PRIVATE_JWK). */
export interface LocalIssuerKey {
  /** Fragment of the verification method id: `<did>#<id>`. */
  id: string;
  /** ES256 (P-256) only signs SD-JWT VCs and Token Status Lists (SDJWT_VC_SIGNING_ALG). */
  alg: CredentialAlgorithm;
  privateJwk: PrivateJwk;
  /** ISO time the key was created; the newest key signs. */
  createdAt: string;
  /**
   * `did-dht-identity`: the did:dht Identity Key (Ed25519, published as `#0`). It signs only
   * the BEP44 DNS packet, never a JWT, and is never rotated (the DID is derived from it).
   */
  role?: 'did-dht-identity';
  external?: undefined;
}

/**
 * A signing key held by a custodian (an HSM over PKCS#11, src/runtime/pkcs11Signer.ts): only its
 * reference is kept; the public key is read from the custodian. Never the did:dht identity key.
 */
export interface ExternalIssuerKey {
  id: string;
  alg: JwsAlgorithm;
  createdAt: string;
  external: ExternalKeyRef;
  privateJwk?: undefined;
  role?: undefined;
}

/**
 * Parses the issuer signing key(s) from a secret (ISSUER_PRIVATE_JWK), runtime-agnostic.
 * Accepted forms, so that rotation needs no new variable:
 *   - one private JWK (Ed25519 → EdDSA, secp256k1 → ES256K; P-256 → ES256, for SD-JWT VCs only): `{"kty":"OKP","crv":"Ed25519","x":…,"d":…}`;
 *   - an array of private JWKs, the FIRST signs and all are published (rotation: prepend the
 *     new key, drop the old one once the KCCs it signed no longer need verifying);
 *   - the Node key file (DATA_DIR/issuer-keys.json): `{"keys":[{id, alg, privateJwk, createdAt}]}`,
 *     the newest `createdAt` signs.
 * A JWK's `kid` (letters, digits, `-`, `_`, `.`) becomes the verification method fragment;
 * otherwise `key-1`, `key-2`… in array order. Error messages never include key material.
 */
export function parseIssuerKeys(text: string, name = 'ISSUER_PRIVATE_JWK'): IssuerKey[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${name} is not valid JSON`);
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && Array.isArray((value as { keys?: unknown }).keys)) {
    const keys = (value as { keys: unknown[] }).keys.map((k, i) => {
      const entry = k as Partial<LocalIssuerKey>;
      const jwk = checkedJwk(entry?.privateJwk, `${name}.keys[${i}].privateJwk`);
      if (typeof entry.id !== 'string' || !FRAGMENT.test(entry.id)) throw new Error(`${name}.keys[${i}].id is missing or invalid`);
      if (typeof entry.createdAt !== 'string') throw new Error(`${name}.keys[${i}].createdAt is missing`);
      return { id: entry.id, alg: credentialAlgorithmForJwk(jwk)!, privateJwk: jwk, createdAt: entry.createdAt };
    });
    return nonEmptyUnique(keys, name);
  }
  const list = Array.isArray(value) ? value : [value];
  // createdAt orders the keys for createIssuerIdentity (newest signs): the first entry is newest.
  const keys = list.map((v, i): IssuerKey => {
    const jwk = checkedJwk(v, Array.isArray(value) ? `${name}[${i}]` : name);
    const kid = typeof (v as { kid?: unknown }).kid === 'string' && FRAGMENT.test((v as { kid: string }).kid) ? (v as { kid: string }).kid : `key-${i + 1}`;
    const { kid: _kid, ...rest } = jwk as PrivateJwk & { kid?: string };
    return { id: kid, alg: credentialAlgorithmForJwk(jwk)!, privateJwk: rest, createdAt: new Date(Date.UTC(2000, 0, 1) - i * 1000).toISOString() };
  });
  return nonEmptyUnique(keys, name);
}

const FRAGMENT = /^[A-Za-z0-9._-]{1,64}$/;

function checkedJwk(value: unknown, where: string): PrivateJwk {
  const jwk = value as Partial<PrivateJwk> | null;
  if (
    !jwk ||
    typeof jwk !== 'object' ||
    !credentialAlgorithmForJwk(jwk) ||
    !isCoordinate(jwk.d) ||
    !isCoordinate(jwk.x) ||
    (jwk.kty === 'EC' && !isCoordinate(jwk.y))
  ) {
    throw new Error(`${where} must be an Ed25519, secp256k1 or P-256 private JWK`);
  }
  return jwk as PrivateJwk;
}

/** 32 bytes in base64url: each of these curves' coordinates and private scalars at full length (RFC 7518 §6.2.1.2, RFC 8037 §2). */
function isCoordinate(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{43}$/.test(value);
}

function nonEmptyUnique(keys: IssuerKey[], name: string): IssuerKey[] {
  if (keys.length === 0) throw new Error(`${name} holds no keys`);
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new Error(`${name} has two keys with the same id`);
  return keys;
}
