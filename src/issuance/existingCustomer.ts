import { digestSecret } from '../crypto/hash';
import {
  bankLoginOrigins,
  beginBankLogin,
  BankLoginRejected,
  completeBankLogin,
  type BankLogin,
  type BankLoginOutcome,
} from '../idv/existingCustomer/relyingParty';
import type { IdvResult } from '../idv/provider';
import type { Application } from '../store/types';
import type { IssuanceDeps } from './deps';
import { openFormLink } from './formSubmission';
import { tierOfApplication } from './credentialConfigurations';
import { applyResult } from './identityVerification';
import { missingChecksFor } from '../protocol/tiers';
import { checkEvidenceOf } from './tierRule';

/**
 * "I already bank with <PFI> — sign in" (docs/existing-customers.md): the IDV step done by the
 * PFI's own OpenID Connect login instead of the regular verification. Start: the form link must
 * still take an answer; the login transaction (state, nonce, PKCE verifier, the form link) is
 * sealed for the http layer's cookie. Finish: the bank's callback is verified first
 * (src/idv/existingCustomer/relyingParty.ts), the form link consumed second (one conditional
 * UPDATE, `submitIdv`), and the result applied through the IDV state machine like any provider's.
 * The bank customer's `sub` never leaves the relying party: only its keyed digest is audited.
 */
export const EXISTING_CUSTOMER_PROVIDER = 'existing_customer';

type Deps = Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'logger' | 'crypto' | 'idv'>;

/** The origins the choice page must allow as form-action targets (the bank's login), src/idv/existingCustomer/relyingParty.ts. */
export const existingCustomerFormTargets = bankLoginOrigins;

/** The configured bank login, or undefined when the option is off. */
export function existingCustomerLogin(deps: Pick<IssuanceDeps, 'idv'>): BankLogin | undefined {
  return deps.idv.existingCustomer;
}

/** Starts the bank login for an open form link; throws the link's refusal (unknown, expired, answered). */
export async function startExistingCustomerLogin(
  deps: Deps,
  login: BankLogin,
  formToken: string,
): Promise<{ authorizationUrl: string; transaction: string; expiresAt: number; application: Application }> {
  const { application } = await openFormLink(deps, formToken);
  const begun = await beginBankLogin(login, { formTokenDigest: digestSecret(deps.crypto, formToken), formToken });
  await deps.store.audit.record({
    applicationId: application.id,
    actor: 'applicant',
    action: 'existing_customer.login_started',
    detail: { issuer: login.settings.issuer },
    at: Math.floor(deps.clock() / 1000),
  });
  return { ...begun, application };
}

export type ExistingCustomerFinish =
  /** The application was decided (approved, or sent to review) from the bank's claims. */
  | { kind: 'decided'; status: Application['status']; application: Application }
  /** The bank's claims cannot make a KCC: the regular verification, with the reasons. */
  | { kind: 'regular_verification'; formToken: string | undefined; reasons: string[] }
  /** The customer cancelled at the bank: back to the choice page. */
  | { kind: 'cancelled'; formToken: string | undefined }
  /** Nothing verified: nothing recorded but the refusal's audit entry, nothing issued. */
  | { kind: 'refused'; reason: string; formToken: string | undefined };

/**
 * Finishes the bank login from its callback URL and the sealed transaction (cookie). A refusal
 * (BankLoginRejected) is returned as `refused`; the form link is consumed only after the login
 * verified, and only once (a replayed callback finds it answered and is refused).
 */
export async function finishExistingCustomerLogin(
  deps: Deps,
  login: BankLogin,
  input: { callbackUrl: string; transaction: string | undefined },
): Promise<ExistingCustomerFinish> {
  let outcome: BankLoginOutcome;
  try {
    outcome = await completeBankLogin(login, input);
  } catch (e) {
    if (!(e instanceof BankLoginRejected)) throw e;
    deps.logger.warn('existing_customer_refused', { reason: e.reason, detail: e.detail });
    return { kind: 'refused', reason: e.reason, formToken: undefined };
  }
  if (outcome.status === 'cancelled') return { kind: 'cancelled', formToken: outcome.formToken };
  const now = Math.floor(deps.clock() / 1000);
  const found = await deps.store.applications.findByFormTokenWithPrefill(outcome.formTokenDigest);
  if (!found) return { kind: 'refused', reason: 'application_unknown', formToken: outcome.formToken };
  const { application } = found;
  const audit = (action: string, detail: Record<string, unknown>) =>
    deps.store.audit.record({
      applicationId: application.id,
      actor: 'applicant',
      action,
      detail: { subject_digest: outcome.subjectDigest, ...detail },
      at: now,
    });

  if (outcome.status === 'fallback' && outcome.next === 'regular_verification') {
    await audit('existing_customer.fallback', { next: 'regular_verification', reasons: outcome.reasons });
    return { kind: 'regular_verification', formToken: outcome.formToken, reasons: outcome.reasons };
  }
  // The same bank customer signed in before for another DID: issue as usual, or review (EXISTING_CUSTOMER_SECOND_DID_POLICY).
  const otherDids = await deps.store.existingCustomerLinks.otherDids(outcome.subjectDigest, application.applicantDid);
  const secondDid = otherDids.length > 0 && login.settings.secondDidPolicy === 'review';
  // The wallet applied for one credential configuration (its tier): the KCC, its record and the
  // KYC status API must all say that tier, so the bank's evidence must cover the applied-for
  // tier's required checks; less goes where EXISTING_CUSTOMER_FALLBACK says, more grants no more.
  // The tier rule of every path (src/protocol/tiers.ts), over the bank's checks and any presented credentials'.
  const appliedTier = tierOfApplication(deps, application);
  const held = checkEvidenceOf(outcome.evidence, found.prefill, now);
  const covered = outcome.status === 'verified' && missingChecksFor(appliedTier, held, now).length === 0;
  if (outcome.status === 'verified' && !covered && !secondDid && login.settings.fallback === 'regular_verification') {
    await audit('existing_customer.fallback', { next: 'regular_verification', reasons: ['evidence_insufficient'], applied_tier: appliedTier.id });
    return { kind: 'regular_verification', formToken: outcome.formToken, reasons: ['evidence_insufficient'] };
  }
  const verified = covered && !secondDid;
  const fallbackReasons: string[] = [
    ...(outcome.status === 'fallback' ? outcome.reasons : []),
    ...(outcome.status === 'verified' && !covered ? ['evidence_insufficient'] : []),
    ...(secondDid ? ['second_did'] : []),
  ];
  const tierId = verified ? appliedTier.id : undefined;
  const evidence = outcome.evidence.map((e) => ({ ...e, type: [...e.type] as string[] }));
  const reasons = fallbackReasons.map((r) => `${EXISTING_CUSTOMER_PROVIDER}:${r}`);
  const country = outcome.countryOfResidence ?? application.countryOfResidence ?? '';
  // The bank customer behind this DID, recorded before anything is decided: should a later step
  // fail, the link only makes a later DID of the same customer go to review (the safe side).
  await deps.store.existingCustomerLinks.record({
    applicationId: application.id,
    subjectDigest: outcome.subjectDigest,
    applicantDid: application.applicantDid,
    createdAt: now,
  });
  const result: IdvResult = {
    state: verified ? 'approved' : 'needs_review',
    reasonCodes: reasons,
    final: verified,
    checks: [],
    countryOfResidence: country || undefined,
    ...(tierId ? { tier: tierNameOf(deps, tierId) } : {}),
    verifiedAt: outcome.authenticatedAt,
    vendorReference: application.id,
    evidence: evidence as never,
  };
  // Verify first (above), consume second: the form link takes its one answer in the result's
  // commit, with the sign-in's audit entry before the decision's, or nothing is written.
  const applied = await applyResult(deps, {
    applicationId: application.id,
    provider: EXISTING_CUSTOMER_PROVIDER,
    result,
    eventAt: deps.clock(),
    actor: 'applicant',
    current: application,
    submission: {
      consent: {
        actor: 'applicant',
        action: 'existing_customer.verified',
        detail: {
          subject_digest: outcome.subjectDigest,
          outcome: verified ? 'verified' : 'review',
          ...(otherDids.length ? { other_dids: otherDids.length } : {}),
          ...(tierId ? { tier: tierId } : { reasons: fallbackReasons }),
          authenticated_at: new Date(outcome.authenticatedAt).toISOString(),
        },
        at: now,
      },
    },
    answers: { formTokenHash: outcome.formTokenDigest, countryOfResidence: country },
  });
  if (applied.answered === false) return { kind: 'refused', reason: 'form_already_answered', formToken: undefined };
  const final = applied.application ?? (await deps.store.applications.get(application.id)) ?? application;
  return { kind: 'decided', status: final.status, application: final };
}

/** The tier's name as the application records it (the KCC's `tier`), from the configured tier id. */
function tierNameOf(deps: Pick<IssuanceDeps, 'config'>, tierId: string): string {
  return deps.config.tiers.find((t) => t.id === tierId)?.name ?? tierId;
}
