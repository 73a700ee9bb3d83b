import { SDJwtVcInstance, type SdJwtVcPayload } from '@sd-jwt/sd-jwt-vc';
import type { DisclosureFrame } from '@sd-jwt/types';
import { base64urlDecode, base64urlEncode } from '../../crypto/base64url';
import type { HolderJwk } from '../../crypto/holderKeys';
import type { CredentialSigner, DigestsAndRandom } from '../../crypto/keys';

/**
 * The Known Customer Credential as an SD-JWT VC (draft-ietf-oauth-sd-jwt-vc; OID4VCI 1.0
 * Appendix A.3 `dc+sd-jwt`), issued with the OpenWallet Foundation's @sd-jwt/sd-jwt-vc.
 *
 * Always disclosed (§3.2.2.2 and what a relying party needs to check validity and binding):
 * `iss`, `vct`, `iat`, `exp`, `cnf`, `status`. Selectively disclosable, one disclosure each:
 * `countryOfResidence`, `tier`, `jurisdiction`, `evidence` (the summary: kinds and checks, no
 * dates) and `sub` (the applicant DID, when the wallet proved a DID key: a DID in every
 * presentation would link them). No `jti`: each copy of a batch must be unlinkable
 * (OID4VCI 1.0 §12.2.4 batch_credential_issuance); the issuer keeps the copy's id in its records.
 *
 * Signing goes through our CredentialSigner port (EdDSA, ES256K, ES256; src/crypto/keys.ts), hashing and salts
 * through DigestsAndRandom, so Node and Workers issue the same way.
 */
export const SD_JWT_VC_FORMAT = 'dc+sd-jwt';
/** OID4VCI drafts up to 14 and SD-JWT VC drafts up to 05 named the format and `typ` so. */
export const LEGACY_SD_JWT_VC_FORMAT = 'vc+sd-jwt';
export type SdJwtVcFormat = typeof SD_JWT_VC_FORMAT | typeof LEGACY_SD_JWT_VC_FORMAT;

/** The claims a holder may choose to disclose, in the order the Type Metadata lists them. */
export const SELECTIVELY_DISCLOSABLE_CLAIMS = ['countryOfResidence', 'tier', 'jurisdiction', 'evidence', 'sub'] as const;
/** Claims that are always in the clear. */
export const ALWAYS_DISCLOSED_CLAIMS = ['iss', 'vct', 'iat', 'exp', 'cnf', 'status'] as const;

/** `status.status_list` of a Referenced Token (draft-ietf-oauth-status-list §6.2). */
export interface StatusListReference {
  idx: number;
  uri: string;
}

export interface SdJwtKccInput {
  /** The Credential Issuer Identifier (https URL): its keys are at /.well-known/jwt-vc-issuer. */
  issuer: string;
  vct: string;
  /** The proof's key: `cnf.jwk` (RFC 7800), the key the holder signs Key Binding JWTs with. */
  holderJwk: HolderJwk;
  /** The applicant DID, when the proof's key is a key of that DID. */
  subjectDid?: string;
  countryOfResidence: string;
  tier: string;
  jurisdictionCountry: string;
  /** The evidence summary: the kinds of checks done (as in the jwt_vc_json KCC's `evidence`). */
  evidence: { kind: string; checks: string[] }[];
  /** Seconds since the epoch. */
  issuedAt: number;
  expiresAt: number;
  status: StatusListReference;
  /** `typ` header: `dc+sd-jwt` (default) or the draft-era `vc+sd-jwt`. */
  typ?: SdJwtVcFormat;
}

/** The SD-JWT VC payload before disclosures are made, and which claims become disclosures. */
export function buildSdJwtKccClaims(input: SdJwtKccInput): { claims: SdJwtVcPayload; disclosureFrame: DisclosureFrame<SdJwtVcPayload> } {
  const cnfJwk: Record<string, string> = { kty: input.holderJwk.kty, crv: input.holderJwk.crv, x: input.holderJwk.x };
  if (input.holderJwk.y !== undefined) cnfJwk.y = input.holderJwk.y;
  const claims: SdJwtVcPayload = {
    iss: input.issuer,
    vct: input.vct,
    iat: input.issuedAt,
    exp: input.expiresAt,
    cnf: { jwk: cnfJwk },
    status: { status_list: { idx: input.status.idx, uri: input.status.uri } },
    ...(input.subjectDid ? { sub: input.subjectDid } : {}),
    countryOfResidence: input.countryOfResidence,
    tier: input.tier,
    jurisdiction: { country: input.jurisdictionCountry },
    evidence: input.evidence.map((e) => ({ kind: e.kind, checks: [...e.checks] })),
  };
  const sd = SELECTIVELY_DISCLOSABLE_CLAIMS.filter((name) => name !== 'sub' || input.subjectDid);
  return { claims, disclosureFrame: { _sd: sd } as DisclosureFrame<SdJwtVcPayload> };
}

/** The ports issuing needs: the PFI's signer, SHA-256 for disclosure digests, CSPRNG salts. */
export interface SdJwtIssuingPorts {
  signer: CredentialSigner;
  crypto: Pick<DigestsAndRandom, 'sha256' | 'randomBytes'>;
}

/**
 * Signs a KCC as an SD-JWT VC (`<issuer-signed JWT>~<disclosure>~…~`, no Key Binding JWT: the
 * holder adds one when presenting). `kid` is the signer's (a DID URL of the PFI, also listed in
 * the JWT VC Issuer Metadata).
 */
export async function signSdJwtKcc(ports: SdJwtIssuingPorts, input: SdJwtKccInput): Promise<string> {
  const { claims, disclosureFrame } = buildSdJwtKccClaims(input);
  const instance = new SDJwtVcInstance({
    signer: async (data: string) => base64urlEncode(await ports.signer.sign(new TextEncoder().encode(data))),
    signAlg: ports.signer.alg,
    hasher: sdJwtHasher(ports.crypto),
    hashAlg: 'sha-256',
    // RFC 9901 §4.2.1: at least 128 bits of salt per disclosure.
    saltGenerator: (length: number) => base64urlEncode(ports.crypto.randomBytes(Math.max(16, length))),
  });
  return instance.issue(claims, disclosureFrame, { header: { typ: input.typ ?? SD_JWT_VC_FORMAT, kid: ports.signer.kid } });
}

/** The @sd-jwt `Hasher` over our synchronous SHA-256 (the only `_sd_alg` we issue and accept). */
export function sdJwtHasher(crypto: Pick<DigestsAndRandom, 'sha256'>) {
  return (data: string | ArrayBuffer, alg: string): Uint8Array => {
    if (alg.toLowerCase() !== 'sha-256') throw new Error(`unsupported _sd_alg ${alg}`);
    return crypto.sha256(typeof data === 'string' ? data : new Uint8Array(data));
  };
}

/** Decodes the base64url of a disclosure into its JSON array; throws when it is not one. */
export function decodeDisclosure(disclosure: string): unknown[] {
  const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64urlDecode(disclosure)));
  if (!Array.isArray(value)) throw new Error('a disclosure is not a JSON array');
  return value;
}
