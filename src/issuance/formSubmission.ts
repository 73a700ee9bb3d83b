import { digestSecret } from '../crypto/hash';
import { fieldsForChecks, outcomeForChecks } from '../idv/checks';
import { validateIdentityFields, type FieldErrors } from '../idv/fields';
import { HOSTED_PROVIDER } from '../idv/hostedForm';
import { sandboxDecision, sandboxResult } from '../idv/sandbox';
import { nowSeconds } from '../ports/clock';
import { FormAlreadySubmitted, FormLinkExpired, FormLinkUnknown, FormNotAccepted } from '../protocol/errors';
import type { Application, ApplicationPrefill } from '../store/types';
import type { IssuanceDeps } from './deps';
import { applicationEventData, outboxRow } from './events';
import { applyResult, configuredVendor } from './identityVerification';
import { sealedVouchedFields } from './heldCredentials';
import { checksForForm, type VouchedFields } from './presentedCredentials';

/**
 * The hosted IDV form (spec "PII collected by PFI": the form loops until 200, 400 with errors).
 * The application is found by the unguessable token in the URL, never by anything the browser
 * claims. The form decides only when the hosted form IS the configured provider (then the
 * sandbox rules of src/idv/sandbox.ts decide); with a vendor configured, the link only leads
 * to the vendor's webview and its verified webhook decides (src/issuance/identityVerification.ts).
 */
export interface OpenForm {
  application: Application;
  prefill: ApplicationPrefill | null;
}

/** The application behind a form link that can still take a submission; throws the link's refusal. */
export async function openFormLink(deps: Pick<IssuanceDeps, 'store' | 'clock' | 'crypto'>, formToken: string): Promise<OpenForm> {
  const found = formToken.length <= 100 ? await deps.store.applications.findByFormTokenWithPrefill(digestSecret(deps.crypto, formToken)) : undefined;
  if (!found) throw new FormLinkUnknown('This verification link is not valid. Please start again from your wallet.');
  const { application } = found;
  if (application.formSubmittedAt != null || application.status !== 'pending')
    throw new FormAlreadySubmitted('Your details were already submitted. You can close this window.');
  if (application.formExpiresAt <= nowSeconds(deps)) throw new FormLinkExpired('This verification link has expired. Please start again from your wallet.');
  return { application, prefill: found.prefill };
}

/** Throws unless the hosted form is the configured IDV provider (only then may a form submission decide). */
export function assertFormDecides(deps: Pick<IssuanceDeps, 'config' | 'idv'>): void {
  if (deps.config.idv.provider === HOSTED_PROVIDER) return;
  const vendor = configuredVendor(deps);
  throw new FormNotAccepted(`Identity is verified by ${vendor?.name ?? deps.config.idv.provider}: open this link to continue there.`);
}

/** The form fields the application still needs (only what its remaining checks need). */
export async function formFieldsOf(deps: Pick<IssuanceDeps, 'store' | 'config'>, form: OpenForm): Promise<Set<string> | undefined> {
  const needed = await checksForForm(deps, form.application, form.prefill);
  return needed ? fieldsForChecks(needed.checks) : undefined;
}

/**
 * What presented credentials vouched for on this application (sealed in presented_claims),
 * shown read-only and used in place of whatever is posted for those fields; undefined without.
 */
export async function formVouchedFields(deps: Pick<IssuanceDeps, 'store' | 'idv'>, form: OpenForm): Promise<VouchedFields | undefined> {
  // Only an application opened with presented credentials has a prefill, and only then sealed claims.
  return form.prefill ? sealedVouchedFields(deps, form.application.id) : undefined;
}

/** The posted body with the vouched fields the form asks for replaced by the credential's values. */
function withVouchedFields(
  body: Record<string, unknown>,
  vouched: VouchedFields | undefined,
  fields: ReadonlySet<string> | undefined,
): Record<string, unknown> {
  if (!vouched) return body;
  const input = { ...body };
  for (const [name, value] of Object.entries(vouched.fields)) {
    if (fields && !fields.has(name)) continue;
    // A YYYY-MM-DD birthdate takes precedence over posted day, month and year parts (birthdateOf).
    input[name] = value;
  }
  return input;
}

/** The applicant's answer on the consent step: accepted, with the optional items ticked (ids). */
export interface Consent {
  optional: string[];
}

/** The optional consent items the applicant ticked, by configured id (anything else is ignored). */
export function consentChoices(deps: Pick<IssuanceDeps, 'config'>, body: Record<string, unknown>): Consent {
  const ticked = (id: string) => {
    const v = body[`consent_${id}`];
    return v === 'on' || v === 'yes' || v === true || v === 'true';
  };
  return { optional: (deps.config.idv.optionalConsents ?? []).filter((item) => ticked(item.id)).map((item) => item.id) };
}

/**
 * The applicant declined consent: the application ends as `withdrawn`, once (the same single-use
 * conditions as a submission), nothing is collected, the PFI hears `application.withdrawn`, and
 * the wallet's credential requests get credential_request_denied (./issueCredential.ts).
 */
export async function withdrawApplication(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'crypto' | 'tracing'>,
  form: OpenForm,
  formToken: string,
): Promise<Application> {
  const now = nowSeconds(deps);
  const withdrawn: Application = {
    ...form.application,
    status: 'withdrawn',
    formSubmittedAt: now,
    decisionReason: 'consent_declined',
    decidedBy: 'applicant',
    decidedAt: now,
    updatedAt: now,
  };
  // The withdrawal, its audit entry, its event and (declined: what presented credentials vouched
  // for is not kept either) the erasure of their sealed claims commit together, or not at all.
  const application = await deps.store.applications.withdraw(digestSecret(deps.crypto, formToken), now, {
    audit: { actor: 'applicant', action: 'consent.declined' },
    event: outboxRow(deps, 'application.withdrawn', withdrawn.id, applicationEventData(withdrawn, { reason: 'consent_declined' })),
    eraseReason: 'consent_declined',
  });
  if (!application) throw new FormAlreadySubmitted('Your details were already submitted. You can close this window.');
  return application;
}

export type FormSubmission =
  | { ok: false; errors: FieldErrors; fields: Set<string> | undefined; vouched: VouchedFields | undefined }
  | { ok: true; application: Application };

/**
 * A submission of the hosted form, after the CSRF check: refused outright unless the hosted
 * form is the configured provider; the fields presented credentials vouched for taken from
 * their sealed values; validated with the same rules the page's HTML constraints state; then decided, recorded once (a conditional UPDATE on the unsubmitted, unexpired,
 * pending application), the PII sealed, and the result applied through the state machine.
 */
export async function submitIdentityForm(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'idv' | 'logger' | 'crypto'>,
  formToken: string,
  form: OpenForm,
  body: Record<string, unknown>,
  consent: Consent,
): Promise<FormSubmission> {
  assertFormDecides(deps);
  const today = new Date(deps.clock()).toISOString().slice(0, 10);
  // The checks this application still needs (an upgrade asks only for the extra ones), looked up once.
  const needed = await checksForForm(deps, form.application, form.prefill);
  const fields = needed ? fieldsForChecks(needed.checks) : undefined;
  // A field a presented credential vouched for is the credential's value, whatever was posted.
  const vouched = await formVouchedFields(deps, form);
  const result = validateIdentityFields(withVouchedFields(body, vouched, fields), today, fields);
  if (!result.ok) return { ok: false, errors: result.errors, fields, vouched };
  const decision = sandboxDecision(result.fields);
  const outcome = needed ? outcomeForChecks(decision, result.fields, needed.checks, needed.tier.name) : decision;
  // The sandbox decides; the evidence is what the applied-for tier required.
  const idvResult = {
    ...sandboxResult(result.fields, '', deps.clock()),
    tier: outcome.tier,
    evidence: outcome.evidence as { kind: string; checks: string[] }[],
  };
  const now = nowSeconds(deps);
  const { application } = form;
  // Sealed first (AES-256-GCM, bound to the application id; only KCC fields go to
  // `applications`): the link's answer, the decision, the consent entry (ids and time only, no
  // PII) and the sealed PII then commit together with the result, or not at all (a failing vault
  // or database leaves the link open for the applicant's retry).
  const vault = deps.idv.vault;
  const pii = vault ? { keyId: vault.keyId, ciphertext: await vault.seal(application.id, result.fields), createdAt: now } : undefined;
  const submission = { consent: { actor: 'applicant', action: 'consent.given', detail: { optional: consent.optional }, at: now }, ...(pii ? { pii } : {}) };
  const applied = await applyResult(deps, {
    applicationId: application.id,
    provider: HOSTED_PROVIDER,
    result: { ...idvResult, vendorReference: application.id },
    eventAt: deps.clock(),
    actor: 'applicant',
    current: application,
    submission,
    // Only an application opened with presented credentials has a prefill, and only then sealed claims.
    presentedClaims: form.prefill != null,
    prefill: form.prefill,
    answers: { formTokenHash: digestSecret(deps.crypto, formToken), countryOfResidence: outcome.countryOfResidence },
  });
  if (applied.answered === false) throw new FormAlreadySubmitted('Your details were already submitted. You can close this window.');
  return { ok: true, application: applied.application ?? (await deps.store.applications.get(application.id)) ?? application };
}
