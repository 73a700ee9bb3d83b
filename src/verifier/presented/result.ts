import type { Clock } from '../../ports/clock';
import type { DigestsAndRandom, SignatureVerifier } from '../../crypto/keys';
import type { DidResolver } from '../../did/resolver';
import type { ClaimPaths, PresentedCredentialTrust } from './trust';

/** The formats a presented credential comes in (OID4VP Appendix B). */
export type PresentedFormat = 'dc+sd-jwt' | 'mso_mdoc' | 'jwt_vc_json';

/**
 * The evidence a verified credential becomes on the application: what was verified, from whom,
 * when; never the claims themselves (those are sealed apart, `claims` below).
 */
export interface CredentialEvidence {
  type: ['Evidence', 'VerifiedCredentialEvidence'];
  kind: 'verified_credential';
  format: PresentedFormat;
  /** The issuer: an https `iss`, an X.509 subject DN (x5c / document signer) or a DID. */
  issuer: string;
  /** The vct, the mdoc doctype or the VC type. */
  credential_type: string;
  /** Seconds since the epoch. */
  verified_at: number;
  /** The trust entry (and input descriptor) it was accepted under. */
  accepted_as: string;
}

/** The identity claims read from a credential for IDV, normalised; sealed like form PII, never logged. */
export interface PresentedClaims {
  givenName?: string;
  familyName?: string;
  /** YYYY-MM-DD. */
  birthDate?: string;
  /** ISO 3166-1 alpha-2. */
  nationality?: string;
  /** ISO 3166-1 alpha-2. */
  countryOfResidence?: string;
}

/**
 * What is kept to re-check a presented credential when the application is redeemed (expiry,
 * status; src/verifier/presented/recheck.ts), with no claims: JSON, stored with the application.
 */
export interface PresentedStatusReference {
  format: PresentedFormat;
  /** jwt_vc_json: the issuer DID (its status list must be signed by it). */
  issuer?: string;
  /** dc+sd-jwt: the issuer's public key that signed the credential (and must sign its status list). */
  issuerJwk?: Record<string, unknown>;
  /** Seconds since the epoch. */
  expiresAt?: number;
  /** IETF Token Status List reference (SD-JWT VC) or Bitstring Status List entries (jwt_vc_json). */
  status?: unknown;
}

/** One verified credential, normalised across kinds. */
export interface VerifiedPresentedCredential {
  descriptorId: string;
  evidence: CredentialEvidence;
  claims: PresentedClaims;
  /** The IDV checks the trust configuration lets this credential satisfy. */
  satisfies: string[];
  recheck: PresentedStatusReference;
  /**
   * Everything the credential disclosed (the SD-JWT's processed claims, the mdoc's namespaces,
   * the VC), for matching it against the query it answers (src/verifier/presented/dcql.ts).
   * In memory only: never stored, sealed or logged; `claims` is what IDV keeps.
   */
  disclosed: Record<string, unknown>;
}

/** The ports the verifiers use. `fetch` reaches issuer metadata and status lists (SSRF-safe in production). */
export interface PresentedVerificationDeps {
  clock: Clock;
  crypto: Pick<DigestsAndRandom, 'sha256' | 'randomBytes'> & SignatureVerifier;
  resolver: DidResolver;
  fetch: PresentedFetch;
}

/** GETs `url` with the Accept header and returns the body; throws unless 200. Bounded in size and time by the implementation. */
export type PresentedFetch = (url: string, accept: string) => Promise<string>;

/** What the SIOPv2 request bound the response to. */
export interface PresentationContext {
  /** The applicant's DID (the SIOP id_token's subject). */
  applicantDid: string;
  /** The SIOP request's nonce. */
  nonce: string;
  /** The PFI's client_id (its DID): the KB-JWT `aud`, the mdoc handover's client id. */
  clientId: string;
  /** Where the wallet posted the response (the mdoc handover's response URI). */
  responseUri: string;
  trust: PresentedCredentialTrust;
  skewSeconds?: number;
  /** How old a KB-JWT or a jwt_vp_json may be (iat), seconds; default 300. */
  maxAgeSeconds?: number;
}

/** A presented credential refused: `reasons` are safe to show (no claim values). */
export class PresentedCredentialError extends Error {
  constructor(readonly reasons: string[]) {
    super(reasons.join('; '));
    this.name = 'PresentedCredentialError';
  }
}

function readPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (!cur || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

const COUNTRY = /^[A-Z]{2}$/;

function asCountry(v: unknown): string | undefined {
  // PID `nationalities` is an array; the first valid code is the one used.
  if (Array.isArray(v)) return v.map(asCountry).find((c) => c !== undefined);
  return typeof v === 'string' && COUNTRY.test(v) ? v : undefined;
}

function asDate(v: unknown): string | undefined {
  if (v instanceof Date && !Number.isNaN(v.getTime())) return v.toISOString().slice(0, 10);
  // mdoc full-date: a DateOnly (its toString is the date) or a tag-1004 string.
  const s =
    typeof v === 'string'
      ? v
      : v && typeof v === 'object' && typeof (v as { toISOString?: unknown }).toISOString === 'function'
        ? String((v as { toISOString(): string }).toISOString())
        : undefined;
  const m = s ? /^(\d{4}-\d{2}-\d{2})/.exec(s) : null;
  return m && !Number.isNaN(Date.parse(m[1])) ? m[1] : undefined;
}

function asName(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim().length > 0 && v.length <= 200 ? v.trim() : undefined;
}

/** Reads the configured claims from a disclosed object; values of the wrong shape are left out. */
export function readClaims(source: unknown, paths: ClaimPaths): PresentedClaims {
  const first = (list: readonly string[] | undefined, convert: (v: unknown) => string | undefined) => {
    for (const p of list ?? []) {
      const v = convert(readPath(source, p));
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const claims: PresentedClaims = {
    givenName: first(paths.givenName, asName),
    familyName: first(paths.familyName, asName),
    birthDate: first(paths.birthDate, asDate),
    nationality: first(paths.nationality, asCountry),
    countryOfResidence: first(paths.countryOfResidence, asCountry),
  };
  for (const k of Object.keys(claims) as (keyof PresentedClaims)[]) if (claims[k] === undefined) delete claims[k];
  return claims;
}

/** The evidence record for a verified credential. */
export function evidenceFor(format: PresentedFormat, issuer: string, credentialType: string, acceptedAs: string, verifiedAt: number): CredentialEvidence {
  return {
    type: ['Evidence', 'VerifiedCredentialEvidence'],
    kind: 'verified_credential',
    format,
    issuer,
    credential_type: credentialType,
    verified_at: verifiedAt,
    accepted_as: acceptedAs,
  };
}
