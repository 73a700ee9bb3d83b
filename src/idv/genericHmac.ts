import { SETTING_DEFAULTS } from '../config';
import { IDV_STATES, WebhookRejected, type CheckPerformed, type HttpFetch, type IdvProvider, type IdvState } from './provider';
import { createHmacKeyring, verifyBodyHmac, verifyTimestampedHmac } from './webhookSignature';

/**
 * A configurable vendor adapter for IDV services that sign webhooks with HMAC-SHA256 and
 * expose a session API and a result API in JSON. Field locations are dotted paths.
 *
 *   signature: { scheme: 'timestamped', header: 'x-signature' }            (t=…,v1=…)
 *           or { scheme: 'body', header: 'x-hmac-signature', encoding: 'hex', prefix?: 'sha256=' }
 *   sessions: POST <sessionUrl> { reference_id, redirect_url } + Idempotency-Key → { <idPath>, <urlPath> }
 *   result:   GET <resultUrl with {reference}> → { <statusPath>, <countryPath>, <checksPath>: [{kind, result}] }
 *   events:   { <eventIdPath>, <eventReferencePath>, <eventTypePath>, <eventTimePath>, <eventStatusPath>? }
 *   statusMap: vendor status → normalised state
 */
export interface GenericHmacOptions {
  name: string;
  secrets: readonly string[];
  signature:
    | { scheme: 'timestamped'; header: string; toleranceSeconds?: number }
    | { scheme: 'body'; header: string; encoding?: 'hex' | 'base64'; prefix?: string };
  apiKey?: string;
  sessionUrl: string;
  sessionIdPath?: string;
  sessionUrlPath?: string;
  resultUrl: string;
  statusPath?: string;
  countryPath?: string;
  checksPath?: string;
  reasonsPath?: string;
  eventIdPath?: string;
  eventReferencePath?: string;
  eventTypePath?: string;
  eventTimePath?: string;
  eventStatusPath?: string;
  statusMap: Record<string, IdvState>;
  tier?: string;
  fetch: HttpFetch;
}

export function pathGet(value: unknown, path: string): unknown {
  let cur = value;
  for (const key of path.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

const str = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= 512 ? v : typeof v === 'number' ? String(v) : undefined);
const CHECK_KINDS = new Set<CheckPerformed['kind']>(['document', 'liveness', 'database', 'sanctions', 'pep', 'self_declared']);

function parseTime(v: unknown): number {
  if (typeof v === 'number') return v < 1e12 ? v * 1000 : v;
  if (typeof v === 'string') return /^\d+$/.test(v) ? parseTime(Number(v)) : Date.parse(v);
  return Number.NaN;
}

export function createGenericHmacProvider(o: GenericHmacOptions): IdvProvider {
  for (const state of Object.values(o.statusMap)) if (!IDV_STATES.includes(state)) throw new TypeError(`statusMap maps to an unknown state ${state}`);
  const keyring = createHmacKeyring();
  const auth: Record<string, string> = o.apiKey ? { Authorization: `Bearer ${o.apiKey}` } : {};
  const mapStatus = (s: string | undefined) => (s !== undefined ? o.statusMap[s] : undefined);

  async function getJson(url: string, init: RequestInit): Promise<unknown> {
    const res = await o.fetch(url, { ...init, redirect: 'error' });
    if (!res.ok) throw new Error(`${o.name} answered ${res.status}`);
    return res.json();
  }

  return {
    name: o.name,
    capabilities: {
      collectsPii: 'vendor',
      webhooks: true,
      webhookSignature: o.signature.scheme === 'timestamped' ? 'timestamped-hmac-sha256' : 'body-hmac-sha256',
      resultFetch: true,
      manualReview: true,
      checks: ['document', 'liveness', 'database', 'sanctions', 'pep'],
    },

    async createSession(request) {
      const body = await getJson(o.sessionUrl, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json', 'Idempotency-Key': request.idempotencyKey },
        body: JSON.stringify({ reference_id: request.applicationId, redirect_url: request.redirectUrl }),
      });
      const vendorReference = str(pathGet(body, o.sessionIdPath ?? 'id'));
      const url = str(pathGet(body, o.sessionUrlPath ?? 'url'));
      if (!vendorReference || !url || !/^https?:\/\//.test(url)) throw new Error(`${o.name} did not return a session id and url`);
      return { url, vendorReference };
    },

    async verifyWebhook(raw, headers, now) {
      const sig = o.signature;
      if (sig.scheme === 'timestamped') {
        await verifyTimestampedHmac({
          header: headers.get(sig.header),
          raw,
          secrets: o.secrets,
          now,
          toleranceSeconds: sig.toleranceSeconds ?? SETTING_DEFAULTS.idvVendors.webhookToleranceSeconds,
          keyring,
        });
      } else {
        await verifyBodyHmac({ signature: headers.get(sig.header), raw, secrets: o.secrets, encoding: sig.encoding ?? 'hex', prefix: sig.prefix, keyring });
      }
    },

    parseEvent(raw) {
      let body: unknown;
      try {
        body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
      } catch {
        throw new WebhookRejected('malformed', 'body is not JSON');
      }
      const eventId = str(pathGet(body, o.eventIdPath ?? 'id'));
      const vendorReference = str(pathGet(body, o.eventReferencePath ?? 'session_id'));
      const type = str(pathGet(body, o.eventTypePath ?? 'type')) ?? 'event';
      const occurredAt = parseTime(pathGet(body, o.eventTimePath ?? 'created_at'));
      if (!eventId || !vendorReference || Number.isNaN(occurredAt)) throw new WebhookRejected('malformed', 'event id, reference or time missing');
      const state = o.eventStatusPath ? mapStatus(str(pathGet(body, o.eventStatusPath))) : undefined;
      return { eventId, vendorReference, type, occurredAt, ...(state ? { state } : {}) };
    },

    async fetchResult(vendorReference) {
      const body = await getJson(o.resultUrl.replace('{reference}', encodeURIComponent(vendorReference)), {
        method: 'GET',
        headers: { ...auth, Accept: 'application/json' },
      });
      const status = str(pathGet(body, o.statusPath ?? 'status'));
      const state = mapStatus(status);
      if (!state) throw new Error(`${o.name} result has an unmapped status`);
      const rawChecks = pathGet(body, o.checksPath ?? 'checks');
      const checks: CheckPerformed[] = Array.isArray(rawChecks)
        ? rawChecks.flatMap((c) => {
            const kind = str(pathGet(c, 'kind')) as CheckPerformed['kind'];
            const result = str(pathGet(c, 'result'));
            if (!CHECK_KINDS.has(kind)) return [];
            return [{ kind, result: result === 'passed' || result === 'failed' ? result : 'unknown' } as CheckPerformed];
          })
        : [];
      const country = str(pathGet(body, o.countryPath ?? 'country'))?.toUpperCase();
      const reasons = pathGet(body, o.reasonsPath ?? 'reasons');
      return {
        state,
        reasonCodes: [
          `${o.name}:${status}`,
          ...(Array.isArray(reasons)
            ? reasons
                .filter((r) => typeof r === 'string')
                .slice(0, 10)
                .map((r) => `${o.name}:${r}`)
            : []),
        ],
        final: state === 'approved' || state === 'declined',
        checks,
        countryOfResidence: country && /^[A-Z]{2}$/.test(country) ? country : undefined,
        tier: state === 'approved' ? o.tier : undefined,
        vendorReference,
      };
    },
  };
}
