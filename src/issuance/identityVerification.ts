import { HOSTED_PROVIDER } from '../idv/hostedForm';
import { CallbackRejected, evidenceFromChecks, WebhookRejected, type IdvProvider, type IdvResult, type IdvState } from '../idv/provider';
import { applicationStatusFor, outboundEventFor, TERMINAL_STATES, transition } from '../idv/stateMachine';
import { digestSecret } from '../crypto/hash';
import type { Application, ApplicationPrefill, IdvResultWrite, IdvSession, JsonObject } from '../store/types';
import { applyCredentialChanges, credentialChangesOfDecision, NO_CREDENTIAL_CHANGES, type CredentialChanges } from './credentialStatus';
import { kccDataProblem } from './kccClaims';
import type { IssuanceDeps } from './deps';
import { applicationEventData, outboxRow, type OutboxRow } from './events';
import { checkEvidenceOf, grantTier } from './tierRule';

/**
 * Identity verification, the step between an opened application and a decision: the
 * configured provider's session (hosted form or vendor webview), the results it reports
 * (form submission, signed vendor webhook), applied through the IDV state machine
 * (src/idv/stateMachine.ts). Every change leaves an audit entry and, when the PFI should
 * know, an outbound event. Who may decide is fixed here: the configured provider, or an
 * operator (src/issuance/decisions.ts); the sandbox only when the hosted form is the provider
 * (src/issuance/formSubmission.ts, src/idv/hostedForm.ts).
 */
const seconds = (ms: number) => Math.floor(ms / 1000);

type Deps = Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'logger' | 'crypto'>;

function newSessionRow(applicationId: string, provider: string, now: number) {
  return { applicationId, provider, state: 'created', idempotencyKey: `kcc-application-${applicationId}`, lastEventAt: 0, createdAt: now, updatedAt: now };
}

export async function ensureIdvSession(deps: Pick<IssuanceDeps, 'store' | 'clock'>, applicationId: string, provider: string): Promise<IdvSession> {
  return deps.store.idvSessions.createOnce(newSessionRow(applicationId, provider, seconds(deps.clock())));
}

/** True when `applicationStatus.set(change)` would write what `current` already holds (decision times aside). */
function statusWriteIsNoop(
  current: Application,
  change: {
    status: string;
    provider: string;
    countryOfResidence?: string | null;
    tier?: string | null;
    evidence?: unknown[];
    reason: string | null;
    decidedBy?: string;
  },
): boolean {
  const decided = change.status === 'approved' || change.status === 'rejected';
  return (
    current.status === change.status &&
    current.idvProvider === change.provider &&
    (!change.countryOfResidence || current.countryOfResidence === change.countryOfResidence) &&
    (!change.tier || current.tier === change.tier) &&
    (!change.evidence || JSON.stringify(current.evidence) === JSON.stringify(change.evidence)) &&
    current.decisionReason === change.reason &&
    current.decidedBy === (decided ? (change.decidedBy ?? `idv:${change.provider}`) : null) &&
    (decided ? current.decidedAt !== null : current.decidedAt === null)
  );
}

/**
 * The rule every approval passes, whoever reports it: a KCC needs a valid country of residence
 * (the published schema requires `^[A-Z]{2}$`). An approval without one is not an approval: the
 * application goes to manual review, where an operator supplies the country or declines.
 */
export function withKccDataRule(result: IdvResult, current: { countryOfResidence: string | null } | undefined): IdvResult {
  if (result.state !== 'approved') return result;
  const problem = kccDataProblem({ countryOfResidence: result.countryOfResidence ?? current?.countryOfResidence ?? null });
  if (!problem) return result;
  return { ...result, state: 'needs_review', final: false, reasonCodes: [...result.reasonCodes, `kcc:${problem}`], tier: undefined };
}

/**
 * The tier rule every approval passes, whoever reports it (docs/tiers-and-status.md): the
 * result's evidence (and what presented credentials still cover) must satisfy the tier it
 * grants. Granted: the highest tier the evidence satisfies at or below the stated or applied-for
 * tier, written explicitly so the KCC, the record and the KYC status API name the same tier
 * (`tier:limited_by_evidence` when below); none: manual review with the missing checks.
 */
export async function withTierRule(
  deps: Pick<IssuanceDeps, 'store' | 'config'>,
  result: IdvResult,
  current: Application | undefined,
  now: number,
  knownPrefill?: ApplicationPrefill | null,
): Promise<IdvResult> {
  if (result.state !== 'approved' || !current) return result;
  const prefill = knownPrefill !== undefined ? knownPrefill : await deps.store.applicationPrefill.get(current.id);
  const evidence = checkEvidenceOf(result.evidence ?? evidenceFromChecks(result.checks), prefill, now);
  const grant = grantTier(deps, current, evidence, now, result.tier);
  if (grant.tier) {
    return { ...result, tier: grant.tier.name, reasonCodes: grant.limited ? [...result.reasonCodes, 'tier:limited_by_evidence'] : result.reasonCodes };
  }
  return {
    ...result,
    state: 'needs_review',
    final: false,
    tier: undefined,
    reasonCodes: [...result.reasonCodes, 'tier:evidence_insufficient', ...grant.missing.map((kind) => `tier:missing:${kind}`)],
  };
}

export type Disposition = 'applied' | 'redecision' | 'stale' | 'ignored';

type ApplyInput = {
  applicationId: string;
  provider: string;
  result: IdvResult;
  eventAt: number;
  actor: string;
  decidedBy?: string;
  /** An operator's stated reason: the application's decision reason instead of the result's reason codes. */
  reason?: string;
  /** The application row as the caller just wrote it (the hosted form): an identical status write is skipped. */
  current?: Application;
  /** What the applicant submitted (the hosted form's consent and sealed PII): written in the result's commit. */
  submission?: IdvResultWrite['submission'];
  /** False when the application was opened without presented credentials (no sealed claims to schedule). */
  presentedClaims?: boolean;
  /** The application's prefill as the caller already read it (null: none); else read when the tier rule needs it. */
  prefill?: ApplicationPrefill | null;
  /**
   * The result answers the form link (the hosted form, the bank sign-in): the answer is taken in
   * the result's own commit (`IdvResultWrite.answers`), so a link is never answered without its
   * decision. With a session already there (a vendor's), the link is answered on its own first
   * (`submitIdv`, recording `countryOfResidence`) and the result applied to that session.
   */
  answers?: { formTokenHash: string; countryOfResidence: string };
};

/** `answered: false`: the result was not applied because the form link had taken another answer (or expired) meanwhile. */
type Applied = { disposition: Disposition; state: IdvState; application?: Application; answered?: false };

/**
 * Applies a result through the state machine by the event's own time `eventAt` (ms), in four
 * steps: read (the application, the session), decide (`transition`, then `planResult`: what the
 * result writes), perform (ONE commit: the session moves only if no newer event was applied,
 * and with it the application status the credential and deferred endpoints read, the audit
 * entry, the outbound events and the PII retention clock, `IdvSessionRepository.commitResult`),
 * then make credentials already issued follow a re-decision (revoked, suspended, reinstated).
 */
export async function applyResult(deps: Deps, input: ApplyInput): Promise<Applied> {
  const now = seconds(deps.clock());
  const current = input.current ?? (await deps.store.applications.get(input.applicationId));
  const result = await withTierRule(deps, withKccDataRule(input.result, current), current, now, input.prefill);
  const to = result.state;
  const outcome = { ...result, evidence: result.evidence ?? evidenceFromChecks(result.checks) } as unknown as JsonObject;
  // No session yet (the hosted form): open it directly in the new state. The commit does nothing
  // when a session exists (a vendor's, or a concurrent opener's); then the session is read below.
  const answers = input.answers;
  if (transition('created', to).kind === 'apply') {
    const plan = planResult(deps, input, { result, current, from: 'created', redecision: false, credentials: NO_CREDENTIAL_CHANGES, now });
    const open = { ...newSessionRow(input.applicationId, input.provider, now), state: to, outcome, lastEventAt: input.eventAt };
    const write = { ...plan.write, session: { open }, ...(answers && plan.write.status ? { answers: { formTokenHash: answers.formTokenHash } } : {}) };
    if (await deps.store.idvSessions.commitResult(write)) return plan.applied;
  }
  let answeredRow: Application | undefined;
  if (answers) {
    // Not answered with the session's opening (a session exists: a vendor's the applicant started
    // first; or the link took another answer): the link is answered on its own, then the result
    // applied to that session below.
    answeredRow = await deps.store.applications.submitIdv(
      answers.formTokenHash,
      { provider: input.provider, countryOfResidence: answers.countryOfResidence },
      now,
    );
    if (!answeredRow) return { disposition: 'ignored', state: to, answered: false };
  }
  const session = (await deps.store.idvSessions.get(input.applicationId)) ?? (await ensureIdvSession(deps, input.applicationId, input.provider));
  const from = session.state as IdvState;
  // A result that changes nothing is audited, and the session stays as it was.
  const notApplied = async (disposition: 'stale' | 'ignored', detail: JsonObject) => {
    // The submission is kept even when its result changes nothing.
    if (input.submission) await recordSubmission(deps, input.applicationId, input.submission);
    await deps.store.audit.record({
      applicationId: input.applicationId,
      actor: input.actor,
      action: `idv.event_${disposition}`,
      detail: { from, to, ...detail },
      at: now,
    });
    return { disposition, state: from };
  };
  const eventAt = { event_at: new Date(input.eventAt).toISOString() };
  // Out of order: a newer event was applied already (the vendor's clock decides, not arrival).
  if (input.eventAt <= session.lastEventAt) return notApplied('stale', eventAt);
  const move = transition(from, to);
  if (move.kind === 'ignore') return notApplied('ignored', { why: move.why });
  // Credentials already issued follow the decision. Only a re-decision, or a decision on a review
  // that a re-decision opened, can find any: a first decision is not worth the read.
  const credentials =
    move.redecision || from === 'needs_review' ? await credentialChangesOfDecision(deps, input.applicationId, applicationStatusFor(to)) : NO_CREDENTIAL_CHANGES;
  const plan = planResult(
    deps,
    { ...input, current: answeredRow ?? input.current },
    { result, current: answeredRow ?? current, from, redecision: move.redecision, credentials, now },
  );
  // A newer event committed between the read and this write.
  if (!(await deps.store.idvSessions.commitResult({ ...plan.write, session: { advance: { state: to, outcome, eventAt: input.eventAt } } })))
    return notApplied('stale', eventAt);
  await applyCredentialChanges(deps, credentials, input.actor);
  return plan.applied;
}

/** A submission whose result was not applied: its consent entry and sealed PII on their own. */
async function recordSubmission(deps: Pick<Deps, 'store'>, applicationId: string, submission: NonNullable<IdvResultWrite['submission']>): Promise<void> {
  const { consent, pii } = submission;
  await deps.store.audit.record({ applicationId, actor: consent.actor, action: consent.action, detail: consent.detail, at: consent.at });
  if (pii) await deps.store.pii.store({ applicationId, ...pii });
}

/**
 * What an applicable result writes besides the session (decided, not yet done): the application
 * status (skipped when the caller's row already says it), the audit entry, the events the PFI
 * hears (`application.submitted` once per application, then the decision's), and the PII
 * retention clock once decided. The events describe the application as the status write leaves it.
 */
function planResult(
  deps: Pick<Deps, 'clock' | 'config' | 'crypto'>,
  input: ApplyInput,
  known: { result: IdvResult; current: Application | undefined; from: IdvState; redecision: boolean; credentials: CredentialChanges; now: number },
): { write: Omit<IdvResultWrite, 'session'>; applied: Applied } {
  const { result, current, from, redecision, credentials, now } = known;
  const to = result.state;
  const status = applicationStatusFor(to);
  const change = {
    status,
    provider: input.provider,
    countryOfResidence: result.countryOfResidence,
    // A tier only when the provider states one; otherwise the KCC carries the applied-for tier's name.
    tier: status === 'approved' ? result.tier : undefined,
    evidence: result.evidence ?? (result.checks.length ? evidenceFromChecks(result.checks) : undefined),
    reason: input.reason ?? (result.reasonCodes.join(' ') || null),
    decidedBy: input.decidedBy,
  };
  const unchanged = input.current !== undefined && statusWriteIsNoop(input.current, change);
  const after = current && (unchanged ? current : applicationAfter(current, change, now));
  // Answered in this commit (IdvResultWrite.answers): the row records the answer too.
  const application = after && input.answers && after.formSubmittedAt == null ? { ...after, formSubmittedAt: now } : after;
  const audit = {
    actor: input.actor,
    action: redecision ? 'idv.redecision' : 'idv.state_changed',
    detail: {
      from,
      to,
      reason_codes: result.reasonCodes,
      final: result.final,
      vendor_reference: result.vendorReference,
      event_at: new Date(input.eventAt).toISOString(),
      ...(credentials.issued.length ? { credentials_issued: credentials.issued } : {}),
      ...(credentials.revoked.length ? { credentials_revoked: credentials.revoked } : {}),
      ...(credentials.suspended.length ? { credentials_suspended: credentials.suspended } : {}),
      ...(credentials.reinstated.length ? { credentials_reinstated: credentials.reinstated } : {}),
    },
  };
  const disposition: Disposition = redecision ? 'redecision' : 'applied';
  const base = {
    applicationId: input.applicationId,
    status: unchanged ? undefined : change,
    audit,
    now,
    submission: input.submission,
    presentedClaims: input.presentedClaims,
  };
  // An unknown application: the session and the audit entry only (nothing to announce or purge).
  if (!application) return { write: { ...base, events: [] }, applied: { disposition, state: to } };
  const events: OutboxRow[] = [];
  if (to !== 'created' && to !== 'in_progress' && to !== 'expired' && to !== 'abandoned') {
    // The applicant finished their part: announced once per application.
    events.push(outboxRow(deps, 'application.submitted', input.applicationId, applicationEventData(application, { status: 'submitted' })));
  }
  const type = outboundEventFor(to);
  if (type) {
    const data = applicationEventData(application, {
      idv_state: to,
      reason_codes: result.reasonCodes,
      final: result.final,
      ...(redecision
        ? {
            redecision: true,
            previous_state: from,
            credentials_issued: credentials.issued,
            credentials_revoked: credentials.revoked,
            credentials_suspended: credentials.suspended,
          }
        : {}),
    });
    events.push(outboxRow(deps, type, `${input.applicationId}|${to}|${input.eventAt}`, data));
  }
  const purgeAfter = status === 'approved' || status === 'rejected' ? now + deps.config.idv.retentionDays * 86400 : undefined;
  return { write: { ...base, events, purgeAfter }, applied: { disposition, state: to, application } };
}

/** The application row as `ApplicationStatusRepository.set` leaves it (absent country, tier and evidence keep the stored value). */
function applicationAfter(
  current: Application,
  change: {
    status: Application['status'];
    provider: string;
    countryOfResidence?: string | null;
    tier?: string | null;
    evidence?: unknown[];
    reason: string | null;
    decidedBy?: string;
  },
  now: number,
): Application {
  const decided = change.status === 'approved' || change.status === 'rejected';
  return {
    ...current,
    status: change.status,
    idvProvider: change.provider,
    countryOfResidence: change.countryOfResidence || current.countryOfResidence,
    tier: change.tier || current.tier,
    evidence: change.evidence ? (change.evidence as Application['evidence']) : current.evidence,
    decisionReason: change.reason,
    decidedBy: decided ? (change.decidedBy ?? `idv:${change.provider}`) : null,
    decidedAt: decided ? now : null,
    updatedAt: now,
  };
}

/** The IDV Request `url` leads here first; for a vendor, open (once) its session and return the vendor's webview URL. */
export async function startVendorSession(
  deps: Pick<IssuanceDeps, 'store' | 'clock'>,
  provider: IdvProvider,
  application: Application,
  entryUrl: string,
  finishUrl: string,
  /** Where a vendor returning the applicant with a code sends the browser (handleVendorCallback). */
  callbackUrl?: string,
): Promise<string> {
  const session = await ensureIdvSession(deps, application.id, provider.name);
  if (session.vendorReference && session.webviewUrl) {
    return provider.resumeSession ? provider.resumeSession(session.vendorReference) : session.webviewUrl;
  }
  const { url, vendorReference } = await provider.createSession({
    applicationId: application.id,
    idempotencyKey: session.idempotencyKey,
    redirectUrl: finishUrl,
    entryUrl,
    callbackUrl,
  });
  const now = seconds(deps.clock());
  await deps.store.idvSessions.attachVendorSession(application.id, vendorReference, url, now);
  await deps.store.audit.record({
    applicationId: application.id,
    actor: `idv:${provider.name}`,
    action: 'idv.session_created',
    detail: { vendor_reference: vendorReference },
    at: now,
  });
  return url;
}

/** The vendor whose webview verifies applicants, or undefined when the hosted form does. */
export function configuredVendor(deps: Pick<IssuanceDeps, 'config' | 'idv'>): IdvProvider | undefined {
  return deps.config.idv.provider === HOSTED_PROVIDER ? undefined : deps.idv.vendors.get(deps.config.idv.provider);
}

export type WebhookOutcome =
  | { status: 200; disposition: Disposition | 'duplicate' | 'unknown_session' }
  | { status: 400 | 401; error: WebhookRejected['reason'] }
  | { status: 404 }
  | { status: 502 };

/**
 * An incoming vendor webhook: verify the signature on the raw bytes first, then parse,
 * dedupe on the event id, always fetch the authoritative result (webhooks are thin or
 * untrusted), and apply it by the event's own time.
 */
export async function handleVendorWebhook(
  deps: Deps & Pick<IssuanceDeps, 'idv'>,
  providerName: string,
  raw: Uint8Array,
  headers: Headers,
): Promise<WebhookOutcome> {
  const provider = deps.idv.vendors.get(providerName);
  if (!provider?.capabilities.webhooks) return { status: 404 };
  let event: ReturnType<typeof provider.parseEvent>;
  try {
    await provider.verifyWebhook(raw, headers, deps.clock());
    event = provider.parseEvent(raw);
  } catch (e) {
    if (e instanceof WebhookRejected) {
      deps.logger.warn('idv_webhook_rejected', { provider: providerName, reason: e.reason });
      return { status: e.reason === 'malformed' ? 400 : 401, error: e.reason };
    }
    throw e;
  }
  // A signature over the body alone carries no delivery time, so a captured delivery stays
  // valid forever: the signed event time bounds it instead (older is refused), and within the
  // window the event id does (idv_events keeps every id). Timestamped schemes were held to their
  // tolerance by verifyWebhook already.
  if (
    provider.capabilities.webhookSignature !== 'timestamped-hmac-sha256' &&
    event.occurredAt < deps.clock() - deps.config.idv.webhookReplayWindowSeconds * 1000
  ) {
    deps.logger.warn('idv_webhook_rejected', { provider: providerName, reason: 'stale' });
    return { status: 401, error: 'stale' };
  }
  const eventKey = `${providerName}:${event.eventId}`;
  if (await deps.store.idvEvents.exists(eventKey)) return { status: 200, disposition: 'duplicate' };
  const session = await deps.store.idvSessions.findByReference(providerName, event.vendorReference);
  let result: IdvResult | undefined;
  if (session) {
    try {
      result = await provider.fetchResult(event.vendorReference);
    } catch (e) {
      // Not recorded: the vendor's retry will find the event new and try again.
      deps.logger.warn('idv_result_fetch_failed', { provider: providerName, message: String((e as Error).message).slice(0, 200) });
      return { status: 502 };
    }
  }
  const won = await deps.store.idvEvents.recordOnce({
    id: eventKey,
    provider: providerName,
    applicationId: session?.applicationId ?? null,
    vendorReference: event.vendorReference,
    type: event.type,
    occurredAt: event.occurredAt,
    receivedAt: seconds(deps.clock()),
  });
  if (!won) return { status: 200, disposition: 'duplicate' };
  if (!session || !result) {
    await deps.store.idvEvents.setDisposition(eventKey, 'unknown_session', null);
    return { status: 200, disposition: 'unknown_session' };
  }
  const applied = await applyResult(deps, {
    applicationId: session.applicationId,
    provider: providerName,
    result,
    eventAt: event.occurredAt,
    actor: `idv:${providerName}`,
  });
  await deps.store.idvEvents.setDisposition(eventKey, applied.disposition, applied.state);
  deps.logger.info('idv_webhook', { provider: providerName, applicationId: session.applicationId, disposition: applied.disposition, state: applied.state });
  return { status: 200, disposition: applied.disposition };
}

export type CallbackOutcome =
  | { status: 303; disposition: Disposition | 'duplicate' }
  | { status: 400; error: CallbackRejected['reason'] | 'malformed' | 'unknown_session' | 'not_completed' }
  | { status: 404 }
  | { status: 502 };

/**
 * The applicant's browser back from a vendor with an authorization code (OIDC, Incode): the
 * state names the session (nothing else the browser says is believed), the code is redeemed
 * by the provider with the issuer's credentials and the signed result applied like a
 * webhook's. A session already decided (or in review) takes no further result from the
 * browser; a code seen before is a replay and changes nothing (`idv_events`).
 */
export async function handleVendorCallback(
  deps: Deps & Pick<IssuanceDeps, 'idv'>,
  providerName: string,
  params: { code?: string; state?: string; error?: string },
  callbackUrl: string,
): Promise<CallbackOutcome> {
  const provider = deps.idv.vendors.get(providerName);
  if (!provider?.completeCallback) return { status: 404 };
  const { code, state } = params;
  if (!state || state.length > 200) return { status: 400, error: 'malformed' };
  const session = await deps.store.idvSessions.findByReference(providerName, state);
  if (!session) {
    deps.logger.warn('idv_callback_rejected', { provider: providerName, reason: 'unknown_session' });
    return { status: 400, error: 'unknown_session' };
  }
  // The vendor's error answer (the applicant cancelled): nothing decided, the link may be opened again.
  if (params.error !== undefined) return { status: 400, error: 'not_completed' };
  if (!code || code.length > 2048) return { status: 400, error: 'malformed' };
  const eventKey = `${providerName}:code:${digestSecret(deps.crypto, code)}`;
  if (await deps.store.idvEvents.exists(eventKey)) return { status: 303, disposition: 'duplicate' };
  const current = session.state as IdvState;
  if (TERMINAL_STATES.has(current) || current === 'needs_review') {
    deps.logger.info('idv_callback', { provider: providerName, applicationId: session.applicationId, disposition: 'ignored', state: current });
    return { status: 303, disposition: 'ignored' };
  }
  let redeemed: Awaited<ReturnType<NonNullable<typeof provider.completeCallback>>>;
  try {
    redeemed = await provider.completeCallback({ code, vendorReference: state, callbackUrl }, deps.clock());
  } catch (e) {
    if (e instanceof CallbackRejected) {
      deps.logger.warn('idv_callback_rejected', { provider: providerName, applicationId: session.applicationId, reason: e.reason });
      return { status: 400, error: e.reason };
    }
    deps.logger.warn('idv_result_fetch_failed', { provider: providerName, message: String((e as Error).message).slice(0, 200) });
    return { status: 502 };
  }
  const won = await deps.store.idvEvents.recordOnce({
    id: eventKey,
    provider: providerName,
    applicationId: session.applicationId,
    vendorReference: state,
    type: 'oidc.callback',
    occurredAt: redeemed.occurredAt,
    receivedAt: seconds(deps.clock()),
  });
  if (!won) return { status: 303, disposition: 'duplicate' };
  const applied = await applyResult(deps, {
    applicationId: session.applicationId,
    provider: providerName,
    result: redeemed.result,
    eventAt: redeemed.occurredAt,
    actor: `idv:${providerName}`,
  });
  await deps.store.idvEvents.setDisposition(eventKey, applied.disposition, applied.state);
  deps.logger.info('idv_callback', {
    provider: providerName,
    applicationId: session.applicationId,
    eventId: redeemed.eventId,
    disposition: applied.disposition,
    state: applied.state,
  });
  return { status: 303, disposition: applied.disposition };
}

/**
 * Applications whose IDV link expired before anything was submitted (no vendor session either)
 * become `abandoned`, so the wallet's deferred request ends with credential_request_denied
 * instead of issuance_pending forever. Retryable: the applicant may start a new application.
 */
export async function markAbandonedApplications(deps: Deps): Promise<number> {
  const now = deps.clock();
  const candidates = await deps.store.applicationStatus.abandonedCandidates(seconds(now));
  for (const candidate of candidates) {
    await applyResult(deps, {
      applicationId: candidate.id,
      provider: candidate.idvProvider ?? deps.config.idv.provider,
      result: { state: 'abandoned', reasonCodes: ['idv_link_expired'], final: false, checks: [], vendorReference: candidate.id },
      eventAt: now,
      actor: 'system:expiry',
    });
  }
  return candidates.length;
}
