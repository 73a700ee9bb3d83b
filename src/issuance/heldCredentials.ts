import type { TierConfig } from '../config';
import { issuerUrls } from '../paths';
import { nowSeconds } from '../ports/clock';
import { InvalidRequest } from '../protocol/errors';
import type { PresentationDefinition } from '../protocol/pe/evaluate';
import { missingChecksFor } from '../protocol/tiers';
import { PresentedCredentialError, presentedCredentialDefinition, verifyPresentedSubmission, type VerifiedPresentedCredential } from '../verifier/presented';
import type { IssuanceDeps } from './deps';
import { isCountryOfResidence } from './kccClaims';
import type { PresentedCredential, Prefill } from './presentedCredentials';
import { verificationDeps } from './presentedCredentials';

/**
 * Credentials people already hold (the EU PID, an mDL, other issuers' VCs) as IDV input
 * (docs/credentials-as-input.md): the definition a tier's SIOP request carries, the vp_token
 * verified against it, and what the verified credentials cover — the checks the trust
 * configuration lets them satisfy and the country of residence. Their other claims are not kept.
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
 * The vp_token of an Authorization Response answering the held-credential definition of `tier`,
 * verified (bound to the SIOP nonce, the PFI's DID and the response URI); refused with
 * invalid_request and reasons that never quote a claim value. All or nothing.
 */
export async function verifyHeldCredentials(
  deps: IssuanceDeps,
  input: { body: Record<string, unknown>; applicantDid: string; nonce: string; tier: TierConfig },
): Promise<VerifiedPresentedCredential[]> {
  const trust = deps.presentedTrust;
  if (!trust) throw new InvalidRequest('this request asked for no presentation (vp_token)');
  try {
    return await verifyPresentedSubmission(
      {
        vpToken: input.body.vp_token,
        presentationSubmission:
          typeof input.body.presentation_submission === 'string' ? safeJson(input.body.presentation_submission) : input.body.presentation_submission,
        definition: heldCredentialDefinition(deps, input.tier),
        acceptedIds: input.tier.acceptsCredentials,
      },
      {
        applicantDid: input.applicantDid,
        nonce: input.nonce,
        clientId: deps.issuer.did,
        responseUri: issuerUrls(deps.config.publicUrl).siopResponse,
        trust,
        skewSeconds: deps.config.clockSkewSeconds,
        maxAgeSeconds: deps.config.idTokenMaxAgeSeconds,
      },
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

/**
 * What verified held credentials cover for `tier`: each of the tier's checks a credential may
 * satisfy (the trust entry's `satisfies`) is carried as evidence verified now, with the
 * credential's evidence (`verified_credential`: format, issuer, type, trust entry); the country
 * of residence when one disclosed it. Names and birth date are not kept here.
 */
export function prefillFromHeldCredentials(deps: Pick<IssuanceDeps, 'clock'>, tier: TierConfig, verified: readonly VerifiedPresentedCredential[]): Prefill {
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
  return { verifiedEvidence, missingChecks, supersedes: [], countryOfResidence, presented };
}
