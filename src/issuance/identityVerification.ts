import { digestSecret } from '../crypto/hash';
import type { IssuanceDeps } from './deps';
import type { Application } from '../store/store';
import type { IdvSession } from '../store/idvStore';
import { HOSTED_PROVIDER } from '../idv/hostedForm';
import { evidenceFromChecks, WebhookRejected, type IdvProvider, type IdvResult, type IdvState } from '../idv/provider';
import { applicationStatusFor, outboundEventFor, transition } from '../idv/stateMachine';

/**
 * Identity-verification use cases, runtime-agnostic (no hono, no node:): open a vendor
 * session, take a vendor webhook, apply a result through the state machine, record an
 * operator's decision, erase or purge PII. Every change leaves an audit entry and, when the
 * PFI should know, an outbound event in the outbox (src/idv/outbox.ts).
 */
export type OutboundEventType =
  | 'application.submitted'
  | 'application.approved'
  | 'application.rejected'
  | 'application.needs_review'
  | 'credential.issued';

const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * Puts an event in the outbox. The id derives from `idSeed`, so the same fact enqueued twice
 * (a retried request, a replayed webhook) is one event: receivers dedupe on it too.
 */
export async function emitEvent(deps: IssuanceDeps, type: OutboundEventType, idSeed: string, data: Record<string, unknown>): Promise<string> {
  const id = `evt_${digestSecret(`${type}|${idSeed}`).slice(0, 26)}`;
  const createdAt = seconds(deps.clock());
  const body = JSON.stringify({ id, type, created_at: new Date(createdAt * 1000).toISOString(), data });
  await deps.store.outbox.enqueue({ id, type, body, createdAt });
  return id;
}

function applicationData(application: Application, extra: Record<string, unknown> = {}) {
  return {
    application_id: application.id,
    applicant_did: application.applicantDid,
    status: application.status,
    idv_provider: application.idvProvider,
    country_of_residence: application.countryOfResidence,
    tier: application.tier,
    ...extra,
  };
}

function newSessionRow(applicationId: string, provider: string, now: number) {
  return { applicationId, provider, state: 'created', idempotencyKey: `kcc-application-${applicationId}`, lastEventAt: 0, createdAt: now, updatedAt: now };
}

async function ensureSession(deps: IssuanceDeps, applicationId: string, provider: string): Promise<IdvSession> {
  return deps.store.idvSessions.createOnce(newSessionRow(applicationId, provider, seconds(deps.clock())));
}

/** True when `applicationStatus.set(change)` would write what `current` already holds (decision times aside). */
function statusWriteIsNoop(
  current: Application,
  change: { status: string; provider: string; countryOfResidence?: string | null; tier?: string | null; evidence?: unknown[]; reason: string | null; decidedBy?: string },
): boolean {
  const decided = change.status === 'approved' || change.status === 'rejected';
  return (
    current.status === change.status &&
    current.idvProvider === change.provider &&
    (!change.countryOfResidence || current.countryOfResidence === change.countryOfResidence) &&
    (!change.tier || current.tier === change.tier) &&
    (!change.evidence || current.evidence === JSON.stringify(change.evidence)) &&
    current.decisionReason === change.reason &&
    current.decidedBy === (decided ? (change.decidedBy ?? `idv:${change.provider}`) : null) &&
    (decided ? current.decidedAt !== null : current.decidedAt === null)
  );
}

export type Disposition = 'applied' | 'redecision' | 'stale' | 'ignored';

/**
 * Applies a result through the state machine (src/idv/stateMachine.ts), by the event's own
 * time `eventAt` (ms): the session row moves only if no newer event was applied (one
 * conditional UPDATE), then the application status the credential/deferred endpoints read.
 */
export async function applyResult(
  deps: IssuanceDeps,
  input: {
    applicationId: string;
    provider: string;
    result: IdvResult;
    eventAt: number;
    actor: string;
    decidedBy?: string;
    /** The application row as the caller just wrote it (the hosted form): an identical status write is skipped. */
    current?: Application;
  },
): Promise<{ disposition: Disposition; state: IdvState; application?: Application }> {
  const now = seconds(deps.clock());
  const evidence = input.result.evidence ?? evidenceFromChecks(input.result.checks);
  const outcome = JSON.stringify({ ...input.result, evidence });
  const to = input.result.state;
  let from: IdvState = 'created';
  let move = transition(from, to);
  // No session yet (the hosted form): open it directly in the new state. One INSERT, which
  // does nothing when a session exists (a vendor's, or a concurrent opener's); then the
  // general path below applies the result to that session.
  const opened =
    move.kind === 'apply' &&
    (await deps.store.idvSessions.openInState({ ...newSessionRow(input.applicationId, input.provider, now), state: to, outcome, lastEventAt: input.eventAt }));
  if (!opened) {
    const session = (await deps.store.idvSessions.get(input.applicationId)) ?? (await ensureSession(deps, input.applicationId, input.provider));
    from = session.state as IdvState;
    if (input.eventAt <= session.lastEventAt) {
      // Out of order: a newer event was applied already (the vendor's clock decides, not arrival).
      await deps.store.audit.record({ applicationId: input.applicationId, actor: input.actor, action: 'idv.event_stale', detail: { from, to, event_at: new Date(input.eventAt).toISOString() }, at: now });
      return { disposition: 'stale', state: from };
    }
    move = transition(from, to);
    if (move.kind === 'ignore') {
      await deps.store.audit.record({ applicationId: input.applicationId, actor: input.actor, action: 'idv.event_ignored', detail: { from, to, why: move.why }, at: now });
      return { disposition: 'ignored', state: from };
    }
    const updated = await deps.store.idvSessions.applyIfNewer(input.applicationId, { state: to, outcome, eventAt: input.eventAt }, now);
    if (!updated) {
      await deps.store.audit.record({ applicationId: input.applicationId, actor: input.actor, action: 'idv.event_stale', detail: { from, to, eventAt: input.eventAt }, at: now });
      return { disposition: 'stale', state: from };
    }
  }
  const redecision = move.kind === 'apply' && move.redecision;
  const status = applicationStatusFor(to);
  const change = {
    status,
    provider: input.provider,
    countryOfResidence: input.result.countryOfResidence,
    // A tier only when the provider states one; otherwise the KCC carries the applied-for tier's name.
    tier: status === 'approved' ? input.result.tier : undefined,
    evidence: input.result.evidence ?? (input.result.checks.length ? evidence : undefined),
    reason: input.result.reasonCodes.join(' ') || null,
    decidedBy: input.decidedBy,
  };
  const application =
    input.current && statusWriteIsNoop(input.current, change) ? input.current : await deps.store.applicationStatus.set(input.applicationId, change, now);
  const issued = redecision ? await deps.store.issuedCredentials.listForApplication(input.applicationId) : [];
  await deps.store.audit.record({
    applicationId: input.applicationId,
    actor: input.actor,
    action: redecision ? 'idv.redecision' : 'idv.state_changed',
    detail: {
      from,
      to,
      reason_codes: input.result.reasonCodes,
      final: input.result.final,
      vendor_reference: input.result.vendorReference,
      event_at: new Date(input.eventAt).toISOString(),
      ...(issued.length ? { credentials_issued: issued.map((c) => c.id) } : {}),
    },
    at: now,
  });
  if (!application) return { disposition: redecision ? 'redecision' : 'applied', state: to };

  if (to !== 'created' && to !== 'in_progress' && to !== 'expired' && to !== 'abandoned') {
    // The applicant finished their part: announced once per application.
    await emitEvent(deps, 'application.submitted', input.applicationId, applicationData(application, { status: 'submitted' }));
  }
  const type = outboundEventFor(to);
  if (type) {
    await emitEvent(
      deps,
      type,
      `${input.applicationId}|${to}|${input.eventAt}`,
      applicationData(application, {
        idv_state: to,
        reason_codes: input.result.reasonCodes,
        final: input.result.final,
        ...(redecision ? { redecision: true, previous_state: from, credentials_issued: issued.map((c) => c.id) } : {}),
      }),
    );
  }
  if (status === 'approved' || status === 'rejected') {
    await deps.store.pii.schedulePurge(input.applicationId, now + deps.config.idv.retentionDays * 86400);
  }
  return { disposition: redecision ? 'redecision' : 'applied', state: to, application };
}

/** The IDV Request `url` leads here first; for a vendor, open (once) its session and return the vendor's webview URL. */
export async function startVendorSession(deps: IssuanceDeps, provider: IdvProvider, application: Application, entryUrl: string, finishUrl: string): Promise<string> {
  const session = await ensureSession(deps, application.id, provider.name);
  if (session.vendorReference && session.webviewUrl) {
    return provider.resumeSession ? provider.resumeSession(session.vendorReference) : session.webviewUrl;
  }
  const { url, vendorReference } = await provider.createSession({ applicationId: application.id, idempotencyKey: session.idempotencyKey, redirectUrl: finishUrl, entryUrl });
  const now = seconds(deps.clock());
  await deps.store.idvSessions.attachVendorSession(application.id, vendorReference, url, now);
  await deps.store.audit.record({ applicationId: application.id, actor: `idv:${provider.name}`, action: 'idv.session_created', detail: { vendor_reference: vendorReference }, at: now });
  return url;
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
export async function handleVendorWebhook(deps: IssuanceDeps, providerName: string, raw: Uint8Array, headers: Headers): Promise<WebhookOutcome> {
  const provider = deps.idv.vendors.get(providerName);
  if (!provider || !provider.capabilities.webhooks) return { status: 404 };
  let event;
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

/**
 * An operator's decision (review console or operator API). On an application in review it is
 * the decision; on a decided one it is an overrule (a re-decision, recorded and announced).
 */
export async function recordOperatorDecision(
  deps: IssuanceDeps,
  input: { applicationId: string; decision: 'approve' | 'reject'; tier?: string; reason?: string; actor: string; overrule?: boolean },
): Promise<{ ok: true; application: Application } | { ok: false; why: 'not_found' | 'not_in_review' }> {
  const existing = await deps.store.applications.get(input.applicationId);
  if (!existing) return { ok: false, why: 'not_found' };
  const allowed = existing.status === 'review' || (input.overrule && (existing.status === 'approved' || existing.status === 'rejected'));
  if (!allowed) return { ok: false, why: 'not_in_review' };
  const session = (await deps.store.idvSessions.get(input.applicationId)) ?? (await ensureSession(deps, input.applicationId, existing.idvProvider ?? HOSTED_PROVIDER));
  const state: IdvState = input.decision === 'approve' ? 'approved' : 'declined';
  // Applied as the newest event even if a vendor's clock runs ahead of ours.
  const eventAt = Math.max(deps.clock(), session.lastEventAt + 1);
  const prior = session.outcome ? (JSON.parse(session.outcome) as Partial<IdvResult>) : {};
  const result: IdvResult = {
    state,
    reasonCodes: [`operator:${input.decision}`, ...(input.reason ? [`operator_reason:${input.reason.slice(0, 200)}`] : [])],
    final: true,
    checks: prior.checks ?? [],
    countryOfResidence: existing.countryOfResidence ?? undefined,
    tier: input.tier ?? existing.tier ?? undefined,
    verifiedAt: deps.clock(),
    vendorReference: session.vendorReference ?? input.applicationId,
  };
  if (existing.status === 'review') {
    // The conditional UPDATE settles a race between two reviewers: one decision wins.
    const won = await deps.store.applications.decideReview(
      input.applicationId,
      { status: input.decision === 'approve' ? 'approved' : 'rejected', tier: input.tier, reason: input.reason, decidedBy: input.actor },
      seconds(deps.clock()),
    );
    if (!won) return { ok: false, why: 'not_in_review' };
  }
  const applied = await applyResult(deps, {
    applicationId: input.applicationId,
    provider: existing.idvProvider ?? session.provider,
    result,
    eventAt,
    actor: input.actor,
    decidedBy: input.actor,
  });
  if (input.reason) {
    await deps.store.applicationStatus.set(
      input.applicationId,
      { status: applicationStatusFor(applied.state), provider: existing.idvProvider ?? session.provider, reason: input.reason, decidedBy: input.actor },
      seconds(deps.clock()),
    );
  }
  const application = (await deps.store.applications.get(input.applicationId)) as Application;
  return { ok: true, application };
}

/** Erases one applicant's PII on request; the audit trail stays. */
export async function eraseApplicantPii(deps: IssuanceDeps, applicationId: string, actor: string, reason: string): Promise<boolean> {
  const erased = await deps.store.pii.erase(applicationId, 'operator_request', seconds(deps.clock()));
  await deps.store.audit.record({ applicationId, actor, action: erased ? 'pii.erased' : 'pii.erase_noop', detail: { reason: reason.slice(0, 200) }, at: seconds(deps.clock()) });
  return erased;
}

/** Retention: purges PII of applications decided more than `retentionDays` ago. */
export async function purgeExpiredPii(deps: IssuanceDeps): Promise<number> {
  const now = seconds(deps.clock());
  const ids = await deps.store.pii.purgeDue(now);
  for (const id of ids) await deps.store.audit.record({ applicationId: id, actor: 'system:retention', action: 'pii.purged', detail: { retention_days: deps.config.idv.retentionDays }, at: now });
  return ids.length;
}

/**
 * Applications whose IDV link expired before anything was submitted (no vendor session either)
 * become `abandoned`, so the wallet's deferred request ends with credential_request_denied
 * instead of issuance_pending forever. Retryable: the applicant may start a new application.
 */
export async function markAbandonedApplications(deps: IssuanceDeps): Promise<number> {
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
