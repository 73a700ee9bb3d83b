import { digestSecret } from '../crypto/hash';
import { nowSeconds } from '../ports/clock';
import type { Application } from '../store/types';
import type { IssuanceDeps } from './deps';

/**
 * Outbound events for the PFI's systems, written to the durable outbox and delivered by
 * src/issuance/webhookDelivery.ts. Every lifecycle transition that the PFI should know about
 * enqueues one here, in the same place the transition is decided.
 */
export type OutboundEventType =
  | 'application.submitted'
  | 'application.approved'
  | 'application.rejected'
  | 'application.needs_review'
  | 'application.withdrawn'
  | 'credential.issued'
  | 'credential.revoked'
  | 'credential.suspended'
  | 'credential.reinstated'
  | 'credential.expired'
  /** A KYA token was minted for one of the holder's agents (src/issuance/kya.ts). */
  | 'kya.token_minted';

/** An outbox row: what `emitEvent` enqueues, or what a use case commits together with other writes. */
export interface OutboxRow {
  id: string;
  type: OutboundEventType;
  body: string;
  createdAt: number;
  /** The `traceparent` of the request that queued it (src/ports/tracing.ts), sent with each delivery. */
  traceParent?: string | null;
}

/**
 * The outbox row of an event. The id derives from `idSeed`, so the same fact enqueued twice
 * (a retried request, a replayed webhook) is one event: receivers dedupe on it too.
 */
export function outboxRow(
  deps: Pick<IssuanceDeps, 'clock' | 'crypto' | 'tracing'>,
  type: OutboundEventType,
  idSeed: string,
  data: Record<string, unknown>,
): OutboxRow {
  const id = `evt_${digestSecret(deps.crypto, `${type}|${idSeed}`).slice(0, 26)}`;
  const createdAt = nowSeconds(deps);
  const body = JSON.stringify({ id, type, created_at: new Date(createdAt * 1000).toISOString(), data });
  return { id, type, body, createdAt, traceParent: deps.tracing?.traceparent() ?? null };
}

/** Puts an event in the outbox (see `outboxRow`); returns its id. */
export async function emitEvent(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'crypto' | 'tracing'>,
  type: OutboundEventType,
  idSeed: string,
  data: Record<string, unknown>,
): Promise<string> {
  const row = outboxRow(deps, type, idSeed, data);
  await deps.store.outbox.enqueue(row);
  return row.id;
}

/** What an application event says about the application: ids, status, the KCC's fields (no PII). */
export function applicationEventData(application: Application, extra: Record<string, unknown> = {}) {
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
