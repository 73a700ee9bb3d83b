/**
 * The one interface every identity-verification provider implements: the built-in hosted
 * form (spec "PII collected by PFI") and IDV vendors (spec "PII collected by IDV vendor":
 * the vendor's webview collects PII, notifies the PFI by webhook, the PFI fetches the result).
 *
 * Runtime-agnostic: outbound HTTP goes through the injected `fetch`, HMACs through Web Crypto.
 */

/** The normalised IDV state machine (see ./stateMachine.ts for the transitions). */
export const IDV_STATES = [
  'created',
  'in_progress',
  'processing',
  'approved',
  'declined',
  'needs_review',
  'resubmission_requested',
  'expired',
  'abandoned',
] as const;
export type IdvState = (typeof IDV_STATES)[number];

/** Checks performed, as they become KCC `evidence` kinds. */
export type CheckKind = 'document' | 'liveness' | 'database' | 'sanctions' | 'pep' | 'self_declared';

export interface CheckPerformed {
  kind: CheckKind;
  /** passed | failed | not_applicable | unknown, as the vendor reported it. */
  result: 'passed' | 'failed' | 'not_applicable' | 'unknown';
  /** Vendor detail without PII (e.g. the document type checked). */
  detail?: string[];
}

/** The result of a verification, the only thing that leaves a provider (no PII). */
export interface IdvResult {
  state: IdvState;
  /** Machine-readable reasons (vendor codes, prefixed with the provider name). */
  reasonCodes: string[];
  /** false: the applicant may retry (resubmission, expiry); true: a final decision. */
  final: boolean;
  checks: CheckPerformed[];
  countryOfResidence?: string;
  tier?: string;
  /** ms since the epoch. */
  verifiedAt?: number;
  vendorReference: string;
  /** Evidence as the KCC carries it, when the provider knows it better than its checks say (tiers: only the checks the tier needed). */
  evidence?: { kind: string; checks: string[] }[];
}

/** A webhook turned into the provider-independent shape. */
export interface NormalisedEvent {
  /** The vendor's event id: the deduplication key. */
  eventId: string;
  /** The vendor's session reference (inquiry id, session id…). */
  vendorReference: string;
  /** The vendor's event name, for the log. */
  type: string;
  /** When the event happened at the vendor (ms): ordering is by this, never by arrival. */
  occurredAt: number;
  /** The state the event announces, when it says one; thin webhooks carry none. */
  state?: IdvState;
}

export interface SessionRequest {
  applicationId: string;
  /** Stable per application: a retried create never opens a second vendor session. */
  idempotencyKey: string;
  /** Where the vendor sends the applicant when done (the issuer's finish page). */
  redirectUrl: string;
  /** The issuer URL the webview opened (the IDV Request `url`); the hosted form's own page. */
  entryUrl: string;
  /** Where a vendor that returns the applicant with the result (an OIDC authorization code) sends the browser. */
  callbackUrl?: string;
}

/** A result the applicant's browser brought back (OIDC authorization code), redeemed server-side. */
export interface CallbackResult {
  /** The vendor's id of this result (the ID token's `jti`), for the log. */
  eventId: string;
  /** When the vendor produced the result (ms): ordering is by this, never by arrival. */
  occurredAt: number;
  result: IdvResult;
}

export interface ProviderCapabilities {
  /** PII collected by the issuer itself (hosted form) or by the vendor's webview. */
  collectsPii: 'issuer' | 'vendor';
  webhooks: boolean;
  /** Signature scheme on incoming webhooks. */
  webhookSignature?: 'timestamped-hmac-sha256' | 'body-hmac-sha256';
  resultFetch: boolean;
  /** Can an operator decide (manual review) in the issuer's console? */
  manualReview: boolean;
  checks: CheckKind[];
}

export class WebhookRejected extends Error {
  constructor(
    readonly reason: 'missing_signature' | 'bad_signature' | 'stale' | 'malformed',
    message: string,
  ) {
    super(message);
    this.name = 'WebhookRejected';
  }
}

/** A callback whose code the vendor refused, or whose ID token or attributes did not verify. */
export class CallbackRejected extends Error {
  constructor(
    readonly reason: 'invalid_grant' | 'invalid_id_token' | 'userinfo_mismatch',
    message: string,
  ) {
    super(message);
    this.name = 'CallbackRejected';
  }
}

export interface IdvProvider {
  readonly name: string;
  readonly capabilities: ProviderCapabilities;
  /** Opens (or, with the same idempotency key, finds) a vendor session; the URL goes to the webview. */
  createSession(request: SessionRequest): Promise<{ url: string; vendorReference: string }>;
  /** A fresh webview URL for an existing session (e.g. the webview reloaded a one-time link); optional. */
  resumeSession?(vendorReference: string): Promise<string>;
  /**
   * Verifies an incoming webhook on the raw bytes, before anything parses them; throws
   * WebhookRejected. `now` is ms.
   */
  verifyWebhook(raw: Uint8Array, headers: Headers, now: number): Promise<void>;
  /** Parses a verified webhook; throws WebhookRejected('malformed'). */
  parseEvent(raw: Uint8Array): NormalisedEvent;
  /** The authoritative result, fetched from the vendor (webhooks are only a notification). */
  fetchResult(vendorReference: string): Promise<IdvResult>;
  /**
   * Vendors that return the applicant with an authorization code instead of notifying by
   * webhook (OIDC, Incode): redeems the code server-to-server with the issuer's client
   * credentials and verifies what comes back; throws CallbackRejected. `now` is ms.
   */
  completeCallback?(callback: { code: string; vendorReference: string; callbackUrl: string }, now: number): Promise<CallbackResult>;
}

/** Minimal fetch type, so Node, Workers and tests can inject theirs. */
export type HttpFetch = (input: string, init?: RequestInit) => Promise<Response>;

/** KCC evidence from the checks performed (only checks that passed are evidence). */
export function evidenceFromChecks(checks: CheckPerformed[]): { kind: string; checks: string[] }[] {
  const passed = checks.filter((c) => c.result === 'passed');
  const byKind = new Map<string, string[]>();
  for (const check of passed) {
    const kind = EVIDENCE_KIND[check.kind];
    byKind.set(kind, [...(byKind.get(kind) ?? []), ...(check.detail?.length ? check.detail : [check.kind])]);
  }
  return [...byKind].map(([kind, list]) => ({ kind, checks: [...new Set(list)] }));
}

const EVIDENCE_KIND: Record<CheckKind, string> = {
  document: 'document_verification',
  liveness: 'liveness_check',
  database: 'database_check',
  // One kind for sanctions and PEP screening, as the KCC reference example and its
  // presentation definitions use it (`sanction_screening`, checks e.g. ["sanctions", "PEP"]).
  sanctions: 'sanction_screening',
  pep: 'sanction_screening',
  self_declared: 'self_declared',
};
