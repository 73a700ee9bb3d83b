import type { IssuanceDeps } from './deps';
import { hmacSha256, toHex } from '../idv/webhookSignature';

/**
 * Outbound webhooks to the PFI's own systems, from the durable outbox (`outbox_events`):
 * `application.submitted | approved | rejected | needs_review`, `credential.issued`.
 *
 * Delivery: `POST <PFI_WEBHOOK_URL>` with the event JSON and
 *   KCC-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>[,v1=…]
 *   KCC-Event-Id: evt_…   KCC-Event-Type: application.approved
 * (one v1 per active secret, so a receiver rotating secrets verifies with either). Any 2xx
 * is delivered; anything else (or a timeout) is retried after 30 s, 60 s, 120 s … capped,
 * until the attempts run out. Each attempt is written to `webhook_deliveries`.
 *
 * Runtime-agnostic: Node calls `dispatchDueWebhooks` from a timer (src/runtime/dispatcher.ts),
 * Workers from a Cron Trigger. A claim (lease) per event keeps two dispatchers from sending
 * the same event at once; an event is at-least-once, receivers dedupe on its id.
 */
export async function signOutbound(secrets: readonly string[], body: string, t: number): Promise<string> {
  const enc = new TextEncoder();
  const macs = await Promise.all(secrets.map((s) => hmacSha256(s, enc.encode(`${t}.`), enc.encode(body))));
  return [`t=${t}`, ...macs.map((m) => `v1=${toHex(m)}`)].join(',');
}

export function backoffSeconds(attempt: number, base: number, max: number): number {
  return Math.min(max, base * 2 ** Math.max(0, attempt - 1));
}

export interface DispatchReport {
  attempted: number;
  delivered: number;
  retried: number;
  failed: number;
}

/** Sends every due event once; `now` in ms. */
export async function dispatchDueWebhooks(
  deps: Pick<IssuanceDeps, 'store' | 'config' | 'idv' | 'logger'>,
  now: number,
  options: { limit?: number; timeoutMs?: number } = {},
): Promise<DispatchReport> {
  const report: DispatchReport = { attempted: 0, delivered: 0, retried: 0, failed: 0 };
  const url = deps.config.idv.outboundWebhookUrl;
  const send = deps.idv.outboundFetch;
  if (!url || !send || deps.idv.outboundSecrets.length === 0) return report;
  const nowS = Math.floor(now / 1000);
  const { outboundMaxAttempts, outboundBackoffSeconds, outboundMaxBackoffSeconds } = deps.config.idv;
  const timeoutMs = options.timeoutMs ?? 10_000;
  for (const due of await deps.store.outbox.due(nowS, options.limit ?? 50)) {
    const event = await deps.store.outbox.claim(due.id, nowS, nowS + Math.ceil(timeoutMs / 1000) + 5);
    if (!event) continue; // another dispatcher has it
    report.attempted++;
    const started = Date.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      const res = await send(url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'KCC-Signature': await signOutbound(deps.idv.outboundSecrets, event.body, nowS),
          'KCC-Event-Id': event.id,
          'KCC-Event-Type': event.type,
          // The trace of the request that queued the event (W3C Trace Context).
          ...(event.traceParent ? { traceparent: event.traceParent } : {}),
        },
        body: event.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      statusCode = res.status;
      await res.body?.cancel();
      if (res.status < 200 || res.status > 299) error = `HTTP ${res.status}`;
    } catch (e) {
      error = (e as Error).name === 'TimeoutError' ? 'timeout' : 'network error';
    }
    await deps.store.outbox.recordDelivery({ eventId: event.id, attempt: event.attempts, statusCode, error, durationMs: Date.now() - started, at: nowS });
    if (!error) {
      await deps.store.outbox.markDelivered(event.id, nowS);
      report.delivered++;
    } else if (event.attempts >= outboundMaxAttempts) {
      await deps.store.outbox.markFailed(event.id, nowS, error);
      deps.logger.error('webhook_delivery_failed', { eventId: event.id, type: event.type, attempts: event.attempts });
      report.failed++;
    } else {
      await deps.store.outbox.markRetry(event.id, nowS + backoffSeconds(event.attempts, outboundBackoffSeconds, outboundMaxBackoffSeconds), error);
      report.retried++;
    }
  }
  return report;
}
