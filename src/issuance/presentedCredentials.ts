import type { TierConfig } from '../config';
import type { DidResolver } from '../did/resolver';
import { InvalidRequest } from '../protocol/errors';
import { STATUS_PURPOSES, type StatusPurpose } from '../protocol/statusList';
import { evidenceMaxAgeDays, findTier, missingChecksFor, priorCredentialDefinition, trustedIssuersOf } from '../protocol/tiers';
import type { CredentialVerdict, StatusListFetcher } from '../verifier/verifyCredential';
import { verifyPresentation } from '../verifier/verifyPresentation';
import { nowSeconds } from '../ports/clock';
import type { IssuanceDeps } from './deps';
import { statusListCredential, type EvidenceRecord } from './credentialStatus';
import { tierOfApplication } from './credentialConfigurations';
import { isCountryOfResidence } from './kccClaims';
import { checkCredentialStatus } from '../verifier/verifyCredential';
import { fieldsForChecks } from '../idv/checks';
import type { Application, ApplicationPrefill } from '../store/types';
import { issuerUrls } from '../paths';
import { presentedCredentialRecheckProblem, type PresentedFetch, type PresentedVerificationDeps } from '../verifier/presented';

/**
 * Presented credentials (spec "Initiate Application": presentation_definition "allows for other
 * verifiable credentials to be provided as input for IDV"): verifies the vp_token against the
 * tier's prior-credential definition and turns the verified KCCs into what IDV no longer needs
 * to do — still-fresh evidence, the country of residence — and which of our KCCs to supersede.
 */
export interface Prefill {
  /** `credential`: the verified_credential evidence of a held credential that stands in for the check. */
  verifiedEvidence: (EvidenceRecord & { source: string; credential?: Record<string, unknown> })[];
  missingChecks: string[];
  supersedes: string[];
  countryOfResidence?: string;
  /** Every credential the application relies on, re-checked before its code or credential is redeemed. */
  presented: PresentedCredential[];
  /** The identity fields held credentials vouched for (PII: sealed in presented_claims, never in the prefill row). */
  vouched?: VouchedFields;
}

/** The hosted form's fields a presented credential can vouch for. */
export const VOUCHABLE_FIELDS = ['given_name', 'family_name', 'birthdate', 'country_of_residence'] as const;
export type VouchableField = (typeof VOUCHABLE_FIELDS)[number];

/**
 * The identity fields verified credentials vouched for, as the hosted form names them and would
 * accept them, with the names of those credentials: what is sealed in `presented_claims` (PII:
 * never logged, never in the application record) and shown read-only on the form.
 */
export interface VouchedFields {
  fields: Partial<Record<VouchableField, string>>;
  /** ISO 3166-1 alpha-2; kept for the reviewer, not a form field. */
  nationality?: string;
  /** The trust entries' names (e.g. "EU Person Identification Data"), in the order presented. */
  credentials: string[];
}

/** What is kept of a presented credential to re-check it later: no claims beyond its status entries. */
export interface PresentedCredential {
  id: string;
  issuer: string;
  /** Seconds since the epoch (`exp`), when it has one. */
  expiresAt?: number;
  /** Its `credentialStatus` as presented (Bitstring Status List entries). */
  credentialStatus?: unknown;
  /** A credential held from another issuer (src/issuance/heldCredentials.ts): what re-checks it (format, expiry, status reference, issuer key or DID). */
  held?: Record<string, unknown>;
}

/** Our own DID resolves from memory (no network round trip to ourselves); others through the resolver. */
export function issuerAwareResolver(deps: Pick<IssuanceDeps, 'issuer' | 'resolver'>): DidResolver {
  const own = deps.issuer.did;
  const methods = deps.resolver.methods.includes('did:web') ? deps.resolver.methods : [...deps.resolver.methods, 'did:web'];
  return {
    methods,
    async resolve(did) {
      if (did === own) return { didDocument: deps.issuer.didDocument, didResolutionMetadata: { contentType: 'application/did+json' }, didDocumentMetadata: {} };
      if (did.startsWith('did:web:') && !deps.resolver.methods.includes('did:web')) {
        return { didDocument: null, didResolutionMetadata: { error: 'unsupportedDidMethod' }, didDocumentMetadata: {} };
      }
      return deps.resolver.resolve(did);
    },
  };
}

/** The ports the presented-credential verifiers use (src/verifier/presented/). */
function presentedFetch(deps: Pick<IssuanceDeps, 'presentedFetch'>): PresentedFetch {
  return (
    deps.presentedFetch ??
    (async () => {
      throw new Error('fetching issuer metadata and status lists is not configured');
    })
  );
}

export function verificationDeps(deps: Pick<IssuanceDeps, 'clock' | 'crypto' | 'resolver' | 'issuer' | 'presentedFetch'>): PresentedVerificationDeps {
  return { clock: deps.clock, crypto: deps.crypto, resolver: issuerAwareResolver(deps), fetch: presentedFetch(deps) };
}

/** Our own status lists are built locally; other issuers' go through deps.statusListFetch. */
export function statusListFetcher(deps: Pick<IssuanceDeps, 'config' | 'store' | 'clock' | 'issuer' | 'statusListFetch'>): StatusListFetcher {
  const prefix = issuerUrls(deps.config.publicUrl).statusList(0, '').replace(/0\/$/, '');
  return async (url) => {
    if (url.startsWith(prefix)) {
      const m = /^(\d+)\/([a-z]+)$/.exec(url.slice(prefix.length));
      if (m && (STATUS_PURPOSES as readonly string[]).includes(m[2])) {
        const jwt = await statusListCredential(deps, Number(m[1]), m[2] as StatusPurpose);
        if (jwt) return jwt;
      }
      throw new Error('no such status list');
    }
    if (!deps.statusListFetch) throw new Error('fetching other issuers’ status lists is not configured');
    return deps.statusListFetch(url);
  };
}

function parseVpToken(value: unknown): unknown {
  // Form posts carry an array of presentations as JSON text.
  if (typeof value === 'string' && value.trimStart().startsWith('[')) {
    try {
      return JSON.parse(value);
    } catch {
      throw new InvalidRequest('vp_token is not valid JSON');
    }
  }
  return value;
}

/** Verifies the vp_token of an Authorization Response for `tier`; refuses with invalid_request and the reasons. */
export async function verifyPresentedCredentials(
  deps: IssuanceDeps,
  input: { body: Record<string, unknown>; applicantDid: string; nonce: string; tier: TierConfig },
): Promise<CredentialVerdict[]> {
  const verdict = await verifyPresentation({
    vpToken: parseVpToken(input.body.vp_token),
    presentationSubmission: input.body.presentation_submission,
    definition: priorCredentialDefinition(input.tier, deps.issuer.did),
    holderDid: input.applicantDid,
    nonce: input.nonce,
    audience: deps.issuer.did,
    resolver: issuerAwareResolver(deps),
    verifier: deps.crypto,
    now: nowSeconds(deps),
    skewSeconds: deps.config.clockSkewSeconds,
    maxAgeSeconds: deps.config.idTokenMaxAgeSeconds,
    credentialOptions: {
      trustedIssuers: trustedIssuersOf(input.tier, deps.issuer.did),
      refuseUntrustedFirst: true,
      fetchStatusList: statusListFetcher(deps),
      skewSeconds: deps.config.clockSkewSeconds,
    },
  });
  if (!verdict.ok) throw new InvalidRequest(`presented credentials refused: ${verdict.reasons.join('; ').slice(0, 1500)}`);
  return [...verdict.matched.values()];
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/**
 * What the verified credentials already cover for `tier`: a check counts while its evidence is
 * younger than the tier's evidenceMaxAgeDays for it. For our own KCCs the original time of each
 * check is in credential_status (so a renewal does not reset the clock); for others, the VC's
 * issuance time is taken as the time of its checks.
 */
export async function prefillFromCredentials(deps: IssuanceDeps, tier: TierConfig, verdicts: CredentialVerdict[]): Promise<Prefill> {
  const now = nowSeconds(deps);
  const byKind = new Map<string, EvidenceRecord & { source: string }>();
  const supersedes: string[] = [];
  const presented: PresentedCredential[] = [];
  let countryOfResidence: string | undefined;
  for (const v of verdicts) {
    const vc = v.vc ?? {};
    const id = typeof vc.id === 'string' ? vc.id : typeof v.payload?.jti === 'string' ? (v.payload.jti as string) : undefined;
    if (v.issuer) {
      presented.push({
        id: id ?? 'presented credential',
        issuer: v.issuer,
        ...(typeof v.payload?.exp === 'number' ? { expiresAt: v.payload.exp } : {}),
        ...(vc.credentialStatus !== undefined ? { credentialStatus: vc.credentialStatus } : {}),
      });
    }
    const subject = asRecord(Array.isArray(vc.credentialSubject) ? vc.credentialSubject[0] : vc.credentialSubject);
    // Only a real ISO 3166-1 code carries over, as the form would accept it (src/issuance/kccClaims.ts).
    if (isCountryOfResidence(subject?.countryOfResidence)) countryOfResidence ??= subject.countryOfResidence;
    const ours = v.issuer === deps.issuer.did && id ? await deps.store.credentialStatus.get(id) : undefined;
    // The new KCC replaces ours when its tier covers every check of the old one's tier
    // (upgrade, renewal); a lower tier requested with a higher KCC leaves that KCC alone.
    if (ours && id) {
      const oldTier = findTier(deps.config.tiers, ours.tierId);
      if (!oldTier || oldTier.requiredChecks.every((c) => tier.requiredChecks.includes(c))) supersedes.push(id);
    }
    const issuedAt = typeof v.payload?.nbf === 'number' ? v.payload.nbf : typeof v.payload?.iat === 'number' ? v.payload.iat : now;
    const recorded = ours ? ours.evidence : [];
    for (const e of Array.isArray(vc.evidence) ? vc.evidence : []) {
      const ev = asRecord(e);
      if (!ev || typeof ev.kind !== 'string') continue;
      const checks = Array.isArray(ev.checks) ? ev.checks.filter((c): c is string => typeof c === 'string') : [];
      const verifiedAt = recorded.find((r) => r.kind === ev.kind)?.verifiedAt ?? (issuedAt as number);
      if (now - verifiedAt >= evidenceMaxAgeDays(tier, ev.kind) * 86400) continue; // aged out: redo
      const previous = byKind.get(ev.kind);
      if (!previous || previous.verifiedAt < verifiedAt) byKind.set(ev.kind, { kind: ev.kind, checks, verifiedAt, source: id ?? 'presented credential' });
    }
  }
  const verifiedEvidence = [...byKind.values()];
  const missingChecks = missingChecksFor(tier, verifiedEvidence, now);
  return { verifiedEvidence, missingChecks, supersedes, countryOfResidence, presented };
}

/**
 * Why a presented credential the application relies on is no longer good, or undefined: it
 * expired, or its issuer revoked or suspended it since it was presented. Ours are read from
 * credential_status; others' status lists are fetched and verified (Bitstring Status List §3.2).
 */
export async function presentedCredentialProblem(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'issuer' | 'resolver' | 'crypto' | 'statusListFetch' | 'presentedFetch'>,
  presented: readonly PresentedCredential[],
): Promise<string | undefined> {
  const now = nowSeconds(deps);
  for (const credential of presented) {
    if (credential.expiresAt !== undefined && credential.expiresAt <= now) return `${credential.id} has expired`;
    if (credential.held) {
      const problem = await presentedCredentialRecheckProblem(
        credential.held as unknown as Parameters<typeof presentedCredentialRecheckProblem>[0],
        verificationDeps(deps),
        deps.config.clockSkewSeconds,
      );
      if (problem) return `${credential.id}: ${problem}`;
      continue;
    }
    if (credential.issuer === deps.issuer.did) {
      const record = await deps.store.credentialStatus.get(credential.id);
      if (record) {
        if (record.revokedAt != null) return `${credential.id} was revoked`;
        if (record.suspendedAt != null) return `${credential.id} is suspended`;
        continue;
      }
    }
    const { problems } = await checkCredentialStatus(credential.credentialStatus, credential.issuer, {
      fetchStatusList: statusListFetcher(deps),
      resolver: issuerAwareResolver(deps),
      verifier: deps.crypto,
      now,
      skewSeconds: deps.config.clockSkewSeconds,
    });
    if (problems.length) return `${credential.id}: ${problems.join('; ')}`;
  }
  return undefined;
}

/** presentedCredentialProblem for the credentials recorded with an application (none: undefined). */
export async function assertPresentedCredentialsStillValid(
  deps: Parameters<typeof presentedCredentialProblem>[0],
  applicationId: string,
  knownPrefill?: Pick<ApplicationPrefill, 'presentedCredentials'> | null,
): Promise<string | undefined> {
  const prefill = knownPrefill !== undefined ? knownPrefill : await deps.store.applicationPrefill.get(applicationId);
  const presented = prefill?.presentedCredentials ?? [];
  return presented.length ? presentedCredentialProblem(deps, presented) : undefined;
}

/** The checks IDV still has to do for the application behind a form token (all the tier's, or the missing ones). */
export async function checksForForm(
  deps: Pick<IssuanceDeps, 'store' | 'config'>,
  applicationOrFormTokenHash: Application | string,
  /** The application's prefill when the caller read it already (null: it has none). */
  knownPrefill?: ApplicationPrefill | null,
): Promise<{ tier: TierConfig; checks: string[] } | undefined> {
  const application =
    typeof applicationOrFormTokenHash === 'string' ? await deps.store.applications.findByFormToken(applicationOrFormTokenHash) : applicationOrFormTokenHash;
  if (!application) return undefined;
  const tier = tierOfApplication(deps, application);
  const prefill = knownPrefill !== undefined ? knownPrefill : await deps.store.applicationPrefill.get(application.id);
  return { tier, checks: prefill ? prefill.missingChecks : tier.requiredChecks };
}

/** The form fields for the application behind a form token: only what its remaining checks need. */
export async function formFieldsFor(
  deps: Pick<IssuanceDeps, 'store' | 'config'>,
  applicationOrFormTokenHash: Application | string,
  knownPrefill?: ApplicationPrefill | null,
): Promise<Set<string> | undefined> {
  const found = await checksForForm(deps, applicationOrFormTokenHash, knownPrefill);
  return found ? fieldsForChecks(found.checks) : undefined;
}
