import type { TierConfig } from '../config';
import { issuerUrls } from '../paths';
import { nowSeconds } from '../ports/clock';
import { InvalidRequest } from '../protocol/errors';
import type { PresentationDefinition } from '../protocol/pe/evaluate';
import { missingChecksFor } from '../protocol/tiers';
import {
  PresentedCredentialError,
  presentedCredentialDcqlQuery,
  presentedCredentialDefinition,
  verifyPresentedDcqlResponse,
  verifyPresentedSubmission,
  type VerifiedPresentedCredential,
} from '../verifier/presented';
import type { IssuanceDeps } from './deps';
import { validateIdentityFields } from '../idv/fields';
import { isCountryOfResidence } from './kccClaims';
import type { PresentedCredential, Prefill, VouchableField, VouchedFields } from './presentedCredentials';
import { VOUCHABLE_FIELDS } from './presentedCredentials';
import { verificationDeps } from './presentedCredentials';

/**
 * Credentials people already hold (the EU PID, an mDL, other issuers' VCs) as IDV input
 * (docs/credentials-as-input.md): the definition a tier's SIOP request carries, the vp_token
 * verified against it, and what the verified credentials cover — the checks the trust
 * configuration lets them satisfy, the country of residence (the one claim the KCC carries) and
 * the identity fields they vouch for, sealed by the PII vault (`presented_claims`) for the form.
 */

/** The suffix of the held-credential definition's id: `<tier id>-held`. */
export const HELD_DEFINITION_SUFFIX = '-held';

/** Whether `tier` asks for credentials people already hold (its acceptsCredentials, with a trust configuration). */
export function acceptsHeldCredentials(deps: Pick<IssuanceDeps, 'presentedTrust'>, tier: TierConfig): boolean {
  return Boolean(deps.presentedTrust && tier.acceptsCredentials?.length);
}

/** The definition the SIOP request of `tier` carries, served at /presentation-definitions/<tier id>-held. */
export function heldCredentialDefinition(deps: Pick<IssuanceDeps, 'presentedTrust'>, tier: TierConfig): PresentationDefinition {
  if (!deps.presentedTrust) throw new InvalidRequest('this issuer accepts no held credentials');
  return presentedCredentialDefinition(deps.presentedTrust, `${tier.id}${HELD_DEFINITION_SUFFIX}`, tier.acceptsCredentials ?? []);
}

/**
 * What the SIOP request of `tier` carries: its definition (`presentation_definition`, the
 * default) or, when the trust configuration says `requestWith: "dcql_query"`, the same request as
 * a DCQL query (OpenID4VP 1.0 §6).
 */
export function heldCredentialQuery(
  deps: Pick<IssuanceDeps, 'presentedTrust'>,
  tier: TierConfig,
): { presentationDefinition: Record<string, unknown> } | { dcqlQuery: Record<string, unknown> } {
  if (deps.presentedTrust?.requestWith === 'dcql_query')
    return { dcqlQuery: presentedCredentialDcqlQuery(deps.presentedTrust, tier.acceptsCredentials ?? []) as unknown as Record<string, unknown> };
  return { presentationDefinition: heldCredentialDefinition(deps, tier) as unknown as Record<string, unknown> };
}

/**
 * The vp_token of an Authorization Response answering the held-credential definition of `tier`
 * (or its DCQL query: an object from credential query id to presentations, no presentation_submission),
 * verified (bound to the SIOP nonce, the PFI's DID and the response URI); refused with
 * invalid_request and reasons that never quote a claim value. All or nothing.
 */
export async function verifyHeldCredentials(
  deps: IssuanceDeps,
  input: { body: Record<string, unknown>; applicantDid: string; nonce: string; tier: TierConfig },
): Promise<VerifiedPresentedCredential[]> {
  const trust = deps.presentedTrust;
  if (!trust) throw new InvalidRequest('this request asked for no presentation (vp_token)');
  const context = {
    applicantDid: input.applicantDid,
    nonce: input.nonce,
    clientId: deps.issuer.did,
    responseUri: issuerUrls(deps.config.publicUrl).siopResponse,
    trust,
    skewSeconds: deps.config.clockSkewSeconds,
    maxAgeSeconds: deps.config.idTokenMaxAgeSeconds,
  };
  try {
    if (trust.requestWith === 'dcql_query') {
      // OpenID4VP 1.0 §8.1: a DCQL response has no presentation_submission.
      if (input.body.presentation_submission !== undefined) throw new InvalidRequest('presentation_submission answers no dcql_query');
      const query = presentedCredentialDcqlQuery(trust, input.tier.acceptsCredentials ?? []);
      return await verifyPresentedDcqlResponse({ vpToken: input.body.vp_token, query }, context, verificationDeps(deps));
    }
    return await verifyPresentedSubmission(
      {
        vpToken: input.body.vp_token,
        presentationSubmission:
          typeof input.body.presentation_submission === 'string' ? safeJson(input.body.presentation_submission) : input.body.presentation_submission,
        definition: heldCredentialDefinition(deps, input.tier),
        acceptedIds: input.tier.acceptsCredentials,
      },
      context,
      verificationDeps(deps),
    );
  } catch (e) {
    if (e instanceof PresentedCredentialError) throw new InvalidRequest(`presented credentials refused: ${e.reasons.join('; ').slice(0, 1500)}`);
    throw e;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidRequest('presentation_submission is not valid JSON');
  }
}

const CLAIM_OF_FIELD: Record<VouchableField, keyof VerifiedPresentedCredential['claims']> = {
  given_name: 'givenName',
  family_name: 'familyName',
  birthdate: 'birthDate',
  country_of_residence: 'countryOfResidence',
};

/**
 * The fields the credentials vouch for: the first credential carrying a value wins, and only a
 * value the form itself would accept (src/idv/fields.ts rules, so a read-only value can never
 * fail the submission). Undefined when they vouch for nothing.
 */
export function vouchedFieldsOf(
  deps: Pick<IssuanceDeps, 'clock' | 'presentedTrust'>,
  verified: readonly VerifiedPresentedCredential[],
): VouchedFields | undefined {
  const today = new Date(deps.clock()).toISOString().slice(0, 10);
  const fields: VouchedFields['fields'] = {};
  const credentials: string[] = [];
  let nationality: string | undefined;
  for (const credential of verified) {
    let used = false;
    for (const field of VOUCHABLE_FIELDS) {
      const value = credential.claims[CLAIM_OF_FIELD[field]];
      if (fields[field] !== undefined || typeof value !== 'string') continue;
      const checked = validateIdentityFields({ [field]: value }, today, new Set([field]));
      if (!checked.ok) continue;
      fields[field] = checked.fields[field];
      used = true;
    }
    if (isCountryOfResidence(credential.claims.nationality) && nationality === undefined) {
      nationality = credential.claims.nationality;
      used = true;
    }
    const name = entryName(deps, credential.evidence.accepted_as);
    if (used && !credentials.includes(name)) credentials.push(name);
  }
  if (!Object.keys(fields).length && nationality === undefined) return undefined;
  return { fields, ...(nationality !== undefined ? { nationality } : {}), credentials };
}

function entryName(deps: Pick<IssuanceDeps, 'presentedTrust'>, id: string): string {
  const trust = deps.presentedTrust;
  const entry = trust ? [...trust.sdJwtVc, ...trust.mdoc, ...trust.jwtVc].find((e) => e.id === id) : undefined;
  return entry?.name ?? id;
}

/**
 * The fields sealed for an application (`presented_claims`), opened with the PII vault; undefined
 * when there are none, they were erased or purged, or the vault cannot open them (then the form
 * asks for everything, as without a credential).
 */
export async function sealedVouchedFields(deps: Pick<IssuanceDeps, 'store' | 'idv'>, applicationId: string): Promise<VouchedFields | undefined> {
  const record = await deps.store.presentedClaims.get(applicationId);
  const vault = deps.idv.vault;
  if (!record?.ciphertext || !vault?.has(record.keyId)) return undefined;
  const opened = (await vault.open(applicationId, record.ciphertext, record.keyId)) as VouchedFields;
  return opened && typeof opened === 'object' && opened.fields && typeof opened.fields === 'object' ? opened : undefined;
}

/**
 * What verified held credentials cover for `tier`: each of the tier's checks a credential may
 * satisfy (the trust entry's `satisfies`) is carried as evidence verified now, with the
 * credential's evidence (`verified_credential`: format, issuer, type, trust entry); the country
 * of residence when one disclosed it; the fields they vouch for (`vouched`, to be sealed).
 */
export function prefillFromHeldCredentials(
  deps: Pick<IssuanceDeps, 'clock' | 'presentedTrust'>,
  tier: TierConfig,
  verified: readonly VerifiedPresentedCredential[],
): Prefill {
  const now = nowSeconds(deps);
  const verifiedEvidence: Prefill['verifiedEvidence'] = [];
  const presented: PresentedCredential[] = [];
  let countryOfResidence: string | undefined;
  for (const credential of verified) {
    for (const check of credential.satisfies) {
      if (!tier.requiredChecks.includes(check) || verifiedEvidence.some((e) => e.kind === check)) continue;
      verifiedEvidence.push({
        kind: check,
        checks: ['verified_credential'],
        verifiedAt: now,
        source: credential.evidence.accepted_as,
        credential: { ...credential.evidence },
      });
    }
    if (isCountryOfResidence(credential.claims.countryOfResidence)) countryOfResidence ??= credential.claims.countryOfResidence;
    presented.push({
      id: `${credential.evidence.accepted_as}:${credential.evidence.credential_type}`,
      issuer: credential.evidence.issuer,
      ...(credential.recheck.expiresAt !== undefined ? { expiresAt: credential.recheck.expiresAt } : {}),
      held: credential.recheck as unknown as Record<string, unknown>,
    });
  }
  const missingChecks = missingChecksFor(tier, verifiedEvidence, now);
  const vouched = vouchedFieldsOf(deps, verified);
  return { verifiedEvidence, missingChecks, supersedes: [], countryOfResidence, presented, ...(vouched ? { vouched } : {}) };
}
