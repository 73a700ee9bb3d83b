import { X509Certificate } from './certificate';
import { z } from 'zod';

/**
 * Which credentials an applicant already holds the PFI accepts as IDV input, whom it trusts to
 * issue them, and which IDV checks each may stand in for (docs/credentials-as-input.md).
 *
 * Three kinds, each entry named by an `id` that is also its input descriptor id in the
 * presentation definition (src/verifier/presented/definitions.ts) and what a tier lists:
 *  - `sdJwtVc`: SD-JWT VCs of a `vct` (the EU PID `urn:eudi:pid:1`, …); the issuer key is found
 *    through JWT VC Issuer Metadata of an `iss` listed in `issuers`, or through an `x5c` chain
 *    to one of `x5cTrustAnchors`;
 *  - `mdoc`: ISO 18013-5 mdocs of a `docType` (the mDL `org.iso.18013.5.1.mDL`), whose document
 *    signer chains to one of `iacaRoots`;
 *  - `jwtVc`: `jwt_vc_json` VCs of a VC `type` from the issuer DIDs in `issuers`.
 * `satisfies` lists the IDV checks (a tier's requiredChecks) a verified credential of the entry
 * covers; nothing is implied: a PID satisfies `sanction_screening` only when listed here.
 * Trust anchors are PEM certificates (CA certificates, basicConstraints cA) named once in
 * `trustAnchors` and referred to by name.
 */
export interface PresentedCredentialTrust {
  /** Name → the anchor's DER bytes. */
  trustAnchors: ReadonlyMap<string, Uint8Array>;
  sdJwtVc: readonly SdJwtVcTrust[];
  mdoc: readonly MdocTrust[];
  jwtVc: readonly JwtVcTrust[];
  /**
   * How the SIOPv2 request asks for these credentials: `presentation_definition` (Presentation
   * Exchange 2.0, the KCC specification's parameter, the default) or `dcql_query` (OpenID4VP 1.0
   * §6). A request carries one of them, so this is per deployment.
   */
  requestWith: 'presentation_definition' | 'dcql_query';
}

interface EntryCommon {
  /** The input descriptor id and what tiers list: [a-z0-9-], unique across kinds. */
  id: string;
  /** Shown to the applicant by wallets (input descriptor name). */
  name: string;
  /** IDV checks a verified credential of this entry satisfies. */
  satisfies: readonly string[];
  /**
   * The claims the presentation definition asks for. PE 2.0's `optional` fields are refused by
   * @sphereon/pex's definition schema, so only claims the credential always carries are asked
   * (DEFAULT_REQUEST); others disclosed anyway are still read.
   */
  request: readonly ClaimName[];
}

export type ClaimName = keyof ClaimPaths;

export interface SdJwtVcTrust extends EntryCommon {
  vct: string;
  /** `iss` values (https URLs) whose keys come from their JWT VC Issuer Metadata. */
  issuers: readonly string[];
  /** Names in trustAnchors an `x5c` header chain may end at. */
  x5cTrustAnchors: readonly string[];
  /** Where each normalised claim is read; absent claims are not asked for. */
  claims: ClaimPaths;
}

export interface MdocTrust extends EntryCommon {
  docType: string;
  /** Names in trustAnchors (IACA root certificates). */
  iacaRoots: readonly string[];
  /** The namespace the data elements are read from. */
  namespace: string;
  claims: ClaimPaths;
}

export interface JwtVcTrust extends EntryCommon {
  /** The VC type (in vc.type) that makes a credential this entry's. */
  type: string;
  /** Trusted issuer DIDs for this type. */
  issuers: readonly string[];
  /** Paths are read in credentialSubject. */
  claims: ClaimPaths;
}

/** The claims read for IDV (names, birth date, nationality, country of residence) and where each is. */
export interface ClaimPaths {
  givenName?: readonly string[];
  familyName?: readonly string[];
  birthDate?: readonly string[];
  nationality?: readonly string[];
  countryOfResidence?: readonly string[];
}

/** EUDI PID Rulebook, SD-JWT VC encoding (`urn:eudi:pid:1`); older PIDs spelt `birth_date` / `nationality`. */
export const PID_CLAIMS: ClaimPaths = {
  givenName: ['given_name'],
  familyName: ['family_name'],
  birthDate: ['birthdate', 'birth_date'],
  nationality: ['nationalities', 'nationality'],
  countryOfResidence: ['address.country'],
};

/** ISO/IEC 18013-5 §7.2.1 mDL data elements. */
export const MDL_CLAIMS: ClaimPaths = {
  givenName: ['given_name'],
  familyName: ['family_name'],
  birthDate: ['birth_date'],
  nationality: ['nationality'],
  countryOfResidence: ['resident_country'],
};

/** A VC's credentialSubject in the schema.org spelling most issuers use. */
export const JWT_VC_CLAIMS: ClaimPaths = {
  givenName: ['givenName'],
  familyName: ['familyName'],
  birthDate: ['birthDate'],
  nationality: ['nationality'],
  countryOfResidence: ['countryOfResidence'],
};

/** Asked by default: what each kind always carries (PID Rulebook: nationality is mandatory; not in the mDL). */
export const DEFAULT_REQUEST: Record<'sdJwtVc' | 'mdoc' | 'jwtVc', readonly ClaimName[]> = {
  sdJwtVc: ['givenName', 'familyName', 'birthDate', 'nationality'],
  mdoc: ['givenName', 'familyName', 'birthDate'],
  jwtVc: ['givenName', 'familyName', 'birthDate'],
};

export const PID_VCT = 'urn:eudi:pid:1';
export const MDL_DOCTYPE = 'org.iso.18013.5.1.mDL';
export const MDL_NAMESPACE = 'org.iso.18013.5.1';

const Id = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes');
const AnchorName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/);
const Check = z.string().min(1).max(64);
const ClaimPathList = z
  .array(z.string().regex(/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/))
  .min(1)
  .max(4);
const ClaimPathsWire = z
  .object({ givenName: ClaimPathList, familyName: ClaimPathList, birthDate: ClaimPathList, nationality: ClaimPathList, countryOfResidence: ClaimPathList })
  .partial()
  .strict();
const ClaimNameWire = z.enum(['givenName', 'familyName', 'birthDate', 'nationality', 'countryOfResidence']);
const Common = { id: Id, name: z.string().min(1).max(100), satisfies: z.array(Check).max(20).default([]), request: z.array(ClaimNameWire).max(5).optional() };
const HttpsUrl = z
  .string()
  .max(2000)
  .refine((s) => /^https:\/\/[^/?#]+/.test(s) && URL.canParse(s), 'an https URL');

const TrustWire = z
  .object({
    requestWith: z.enum(['presentation_definition', 'dcql_query']).default('presentation_definition'),
    trustAnchors: z.record(AnchorName, z.string().max(20_000)).default({}),
    sdJwtVc: z
      .array(
        z
          .object({
            ...Common,
            vct: z.string().min(1).max(500),
            issuers: z.array(HttpsUrl).max(50).default([]),
            x5cTrustAnchors: z.array(AnchorName).max(20).default([]),
            claims: ClaimPathsWire.optional(),
          })
          .strict(),
      )
      .max(20)
      .default([]),
    mdoc: z
      .array(
        z
          .object({
            ...Common,
            docType: z.string().min(1).max(200),
            iacaRoots: z.array(AnchorName).min(1).max(50),
            namespace: z.string().min(1).max(200).optional(),
            claims: ClaimPathsWire.optional(),
          })
          .strict(),
      )
      .max(20)
      .default([]),
    jwtVc: z
      .array(
        z
          .object({
            ...Common,
            type: z.string().min(1).max(200),
            issuers: z
              .array(z.string().regex(/^did:[a-z0-9]+:\S+$/))
              .min(1)
              .max(50),
            claims: ClaimPathsWire.optional(),
          })
          .strict(),
      )
      .max(20)
      .default([]),
  })
  .strict();

/** The trust configuration as JSON (camelCase settings, as the tiers file). */
export type PresentedCredentialTrustInput = z.input<typeof TrustWire>;

/** Parses a PEM certificate (one block) into DER; throws TypeError when it is none. */
export function pemToDer(pem: string): Uint8Array {
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new TypeError('not a PEM certificate');
  const b64 = m[1].replace(/\s+/g, '');
  const bin = atob(b64);
  const der = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) der[i] = bin.charCodeAt(i);
  return der;
}

/**
 * Parses and checks the trust configuration: every anchor a CA certificate, every anchor
 * name referred to defined, ids unique, an SD-JWT VC entry with at least one way to find its
 * issuer's key. Throws TypeError naming the first problem.
 */
export function parsePresentedCredentialTrust(json: unknown): PresentedCredentialTrust {
  const parsed = TrustWire.safeParse(json ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`presented credential trust: ${issue?.path.join('.') || 'root'}: ${issue?.message ?? 'invalid'}`);
  }
  const w = parsed.data;
  const trustAnchors = new Map<string, Uint8Array>();
  for (const [name, pem] of Object.entries(w.trustAnchors)) {
    let der: Uint8Array;
    let cert: X509Certificate;
    try {
      der = pemToDer(pem);
      cert = new X509Certificate(new Uint8Array(der));
    } catch {
      throw new TypeError(`presented credential trust: trustAnchors.${name} is not a PEM X.509 certificate`);
    }
    const bc = cert.basicConstraints();
    if (!bc?.ca) throw new TypeError(`presented credential trust: trustAnchors.${name} is not a CA certificate (basicConstraints cA)`);
    trustAnchors.set(name, der);
  }
  const ids = new Set<string>();
  const useId = (id: string) => {
    if (ids.has(id)) throw new TypeError(`presented credential trust: id ${id} is used twice`);
    ids.add(id);
  };
  const useAnchors = (where: string, names: readonly string[]) => {
    for (const n of names)
      if (!trustAnchors.has(n)) throw new TypeError(`presented credential trust: ${where} names trust anchor ${n}, which is not in trustAnchors`);
  };
  const sdJwtVc = w.sdJwtVc.map((e): SdJwtVcTrust => {
    useId(e.id);
    useAnchors(`sdJwtVc ${e.id}`, e.x5cTrustAnchors);
    if (e.issuers.length === 0 && e.x5cTrustAnchors.length === 0)
      throw new TypeError(`presented credential trust: sdJwtVc ${e.id} trusts no issuer (issuers or x5cTrustAnchors)`);
    return { ...e, claims: e.claims ?? PID_CLAIMS, request: e.request ?? DEFAULT_REQUEST.sdJwtVc };
  });
  const docTypes = new Set<string>();
  const mdoc = w.mdoc.map((e): MdocTrust => {
    useId(e.id);
    // The doctype is the mdoc's input descriptor id (ISO 18013-7), so one entry per doctype.
    if (docTypes.has(e.docType)) throw new TypeError(`presented credential trust: doctype ${e.docType} has two mdoc entries`);
    docTypes.add(e.docType);
    useAnchors(`mdoc ${e.id}`, e.iacaRoots);
    return { ...e, namespace: e.namespace ?? MDL_NAMESPACE, claims: e.claims ?? MDL_CLAIMS, request: e.request ?? DEFAULT_REQUEST.mdoc };
  });
  const jwtVc = w.jwtVc.map((e): JwtVcTrust => {
    useId(e.id);
    return { ...e, claims: e.claims ?? JWT_VC_CLAIMS, request: e.request ?? DEFAULT_REQUEST.jwtVc };
  });
  return { trustAnchors, sdJwtVc, mdoc, jwtVc, requestWith: w.requestWith };
}

/** The DER anchors an entry names. */
export function anchorsOf(trust: PresentedCredentialTrust, names: readonly string[]): Uint8Array[] {
  return names.map((n) => trust.trustAnchors.get(n)).filter((d): d is Uint8Array => d !== undefined);
}
