import { SETTING_DEFAULTS } from '../config';
import { WebhookRejected, type CheckPerformed, type HttpFetch, type IdvProvider, type IdvResult, type IdvState, type NormalisedEvent } from './provider';
import { createHmacKeyring, verifyTimestampedHmac } from './webhookSignature';

/**
 * Persona (withpersona.com) as an IDV vendor, following its documented API:
 * - Create an Inquiry: `POST /api/v1/inquiries` with `{ data: { attributes: {
 *   "inquiry-template-id", "reference-id" } } }`, bearer API key, `Idempotency-Key` header.
 * - Webview URL: `POST /api/v1/inquiries/{id}/generate-one-time-link` → `meta["one-time-link"]`.
 * - Webhooks: JSON:API event `{ data: { type: "event", id: "evt_…", attributes: { name:
 *   "inquiry.approved", "created-at", payload: { data: <inquiry> } } } }`, signed with the
 *   `Persona-Signature: t=<unix>,v1=<hex HMAC-SHA256("t.body")>` header; during secret
 *   rotation two space-separated `t=…,v1=…` pairs.
 * - Result: `GET /api/v1/inquiries/{id}?include=verifications,reports` (authoritative; the
 *   webhook payload is only a notification and is never trusted for the decision).
 * Inquiry statuses: created, pending, completed, failed, expired, needs_review, approved, declined.
 * Where the applicant lands afterwards (the issuer's finish.html) is the template's redirect
 * setting in Persona's dashboard (docs/idv.md).
 */
export interface PersonaOptions {
  apiKey: string;
  templateId: string;
  /** All active webhook secrets (wbhsec_…); several during rotation. */
  webhookSecrets: readonly string[];
  /** Default PERSONA_API_BASE's (src/config/settings.ts); tests point it at a loopback server. */
  apiBase?: string;
  /** Persona-Version header (API version pinned for response shapes). */
  apiVersion?: string;
  toleranceSeconds?: number;
  fetch: HttpFetch;
  /** Tier written into the KCC for an approved inquiry. */
  tier?: string;
}

export const PERSONA_API_VERSION = '2023-01-05';

const STATUS_MAP: Record<string, IdvState> = {
  created: 'created',
  pending: 'in_progress',
  completed: 'processing',
  needs_review: 'needs_review',
  approved: 'approved',
  declined: 'declined',
  failed: 'declined',
  expired: 'expired',
};

/** Persona verification and report types → checks performed. */
const CHECK_TYPES: Record<string, CheckPerformed['kind']> = {
  'verification/government-id': 'document',
  'verification/government-id-nfc': 'document',
  'verification/document': 'document',
  'verification/selfie': 'liveness',
  'verification/database': 'database',
  'verification/database-standard': 'database',
  'verification/aamva': 'database',
  'report/watchlist': 'sanctions',
  'report/politically-exposed-person': 'pep',
};

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= 512 ? v : undefined);

export function createPersonaProvider(options: PersonaOptions): IdvProvider {
  const keyring = createHmacKeyring();
  const apiBase = (options.apiBase ?? SETTING_DEFAULTS.idvVendors.persona.apiBase).replace(/\/+$/, '');
  const headers = (extra: Record<string, string> = {}) => ({
    Authorization: `Bearer ${options.apiKey}`,
    'Persona-Version': options.apiVersion ?? PERSONA_API_VERSION,
    'Key-Inflection': 'kebab',
    Accept: 'application/json',
    ...extra,
  });

  async function call(path: string, init: RequestInit): Promise<Json> {
    const res = await options.fetch(`${apiBase}${path}`, { ...init, redirect: 'error' });
    const text = await res.text();
    if (!res.ok) throw new Error(`persona ${init.method ?? 'GET'} ${path.replace(/inq_[\w-]+/, 'inq_…')} answered ${res.status}`);
    try {
      return obj(JSON.parse(text));
    } catch {
      throw new Error('persona answered with invalid JSON');
    }
  }

  async function oneTimeLink(inquiryId: string): Promise<string> {
    const link = await call(`/api/v1/inquiries/${encodeURIComponent(inquiryId)}/generate-one-time-link`, { method: 'POST', headers: headers() });
    const url = str(obj(link.meta)['one-time-link']);
    if (!url || !/^https?:\/\//.test(url)) throw new Error('persona did not return a one-time link');
    return url;
  }

  return {
    name: 'persona',
    capabilities: {
      collectsPii: 'vendor',
      webhooks: true,
      webhookSignature: 'timestamped-hmac-sha256',
      resultFetch: true,
      manualReview: true,
      checks: ['document', 'liveness', 'database', 'sanctions', 'pep'],
    },

    async createSession(request) {
      const created = await call('/api/v1/inquiries', {
        method: 'POST',
        headers: headers({ 'Content-Type': 'application/json', 'Idempotency-Key': request.idempotencyKey }),
        body: JSON.stringify({
          data: {
            attributes: {
              'inquiry-template-id': options.templateId,
              'reference-id': request.applicationId,
            },
          },
        }),
      });
      const inquiryId = str(obj(created.data).id);
      if (!inquiryId) throw new Error('persona did not return an inquiry id');
      return { url: await oneTimeLink(inquiryId), vendorReference: inquiryId };
    },

    // One-time links work once: a reloaded webview gets a fresh one for the same inquiry.
    resumeSession: (inquiryId) => oneTimeLink(inquiryId),

    async verifyWebhook(raw, requestHeaders, now) {
      await verifyTimestampedHmac({
        header: requestHeaders.get('persona-signature'),
        raw,
        secrets: options.webhookSecrets,
        now,
        toleranceSeconds: options.toleranceSeconds ?? SETTING_DEFAULTS.idvVendors.webhookToleranceSeconds,
        keyring,
      });
    },

    parseEvent(raw) {
      let body: Json;
      try {
        body = obj(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw)));
      } catch {
        throw new WebhookRejected('malformed', 'body is not JSON');
      }
      const data = obj(body.data);
      const attributes = obj(data.attributes);
      const eventId = str(data.id);
      const type = str(attributes.name);
      const occurredAt = Date.parse(str(attributes['created-at']) ?? '');
      const payload = obj(obj(attributes.payload).data);
      const vendorReference = str(payload.id);
      if (!eventId || !type || !vendorReference || Number.isNaN(occurredAt)) throw new WebhookRejected('malformed', 'not a Persona event');
      const status = str(obj(payload.attributes).status);
      const event: NormalisedEvent = { eventId, vendorReference, type, occurredAt };
      const state = status ? STATUS_MAP[status] : undefined;
      if (state) event.state = state;
      return event;
    },

    async fetchResult(vendorReference) {
      const doc = await call(`/api/v1/inquiries/${encodeURIComponent(vendorReference)}?include=verifications,reports`, { method: 'GET', headers: headers() });
      const inquiry = obj(doc.data);
      const attributes = obj(inquiry.attributes);
      const status = str(attributes.status) ?? '';
      const state = STATUS_MAP[status];
      if (!state) throw new Error(`persona inquiry has an unknown status`);
      const included = Array.isArray(doc.included) ? doc.included.map(obj) : [];
      const checks: CheckPerformed[] = [];
      let country: string | undefined;
      for (const item of included) {
        const kind = CHECK_TYPES[str(item.type) ?? ''];
        if (!kind) continue;
        const a = obj(item.attributes);
        const itemStatus = str(a.status);
        const result = itemStatus === 'passed' || itemStatus === 'ready' ? 'passed' : itemStatus === 'failed' ? 'failed' : 'unknown';
        const detail =
          kind === 'document' && str(a['id-class']) ? [`government_id_${str(a['id-class'])}`] : [str(item.type)!.replace(/^(verification|report)\//, '')];
        checks.push({ kind, result, detail });
        if (kind === 'document' && !country) country = str(a['country-code'])?.toUpperCase();
      }
      const fields = obj(attributes.fields);
      const addressCountry = str(obj(fields['address-country-code']).value);
      if (addressCountry) country = addressCountry.toUpperCase();
      const decidedAt = Date.parse(str(attributes['decided-at']) ?? str(attributes['completed-at']) ?? '');
      const tags = Array.isArray(attributes.tags) ? attributes.tags.filter((t): t is string => typeof t === 'string') : [];
      return {
        state,
        reasonCodes: [`persona:${status}`, ...tags.slice(0, 10).map((t) => `persona:tag:${t}`)],
        final: state === 'approved' || state === 'declined',
        checks,
        countryOfResidence: country && /^[A-Z]{2}$/.test(country) ? country : undefined,
        tier: state === 'approved' ? options.tier : undefined,
        verifiedAt: Number.isNaN(decidedAt) ? undefined : decidedAt,
        vendorReference,
      } satisfies IdvResult;
    },
  };
}
