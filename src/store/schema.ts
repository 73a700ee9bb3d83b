import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * The whole database, one file; migrations in drizzle/ are generated from it
 * (`npm run db:generate`) and applied by Node at start and by wrangler on D1.
 * Times are integer seconds since the epoch, from the injected clock.
 * Secrets (pre-authorized codes, form tokens) are stored only as SHA-256 digests.
 */

// ---- JSON values (stored as JSON text, read and written as these types) ----

/** A KCC `evidence` entry: the kind of check and what was checked. */
export type EvidenceEntry = { kind: string; checks?: string[] };
/** Evidence as the issuer keeps it per credential: with the time the check was done (s). */
export type TimedEvidence = { kind: string; checks: string[]; verifiedAt: number };
/** Evidence carried over from a presented credential, and which one. */
export type CarriedEvidence = TimedEvidence & { source: string; credential?: Record<string, unknown> };
/** What is kept of a presented credential to re-check it: no claim beyond its status entries. */
export type PresentedCredentialRecord = { id: string; issuer: string; expiresAt?: number; credentialStatus?: unknown; held?: Record<string, unknown> };
/** A JSON object without PII (IDV outcomes, audit details). */
export type JsonObject = Record<string, unknown>;

/** SIOPv2 Authorization Requests: each nonce answers once (consumed_at), before expires_at. */
export const siopRequests = sqliteTable('siop_requests', {
  nonce: text('nonce').primaryKey(),
  presentationDefinitionId: text('presentation_definition_id'),
  createdAt: integer('created_at').notNull(),
  expiresAt: integer('expires_at').notNull(),
  consumedAt: integer('consumed_at'),
});

/**
 * A KCC application: one authenticated applicant DID, its IDV state and decision.
 * status: pending (IDV not submitted) → approved | rejected | review → (operator) approved | rejected;
 * pending → withdrawn when the applicant declines consent on the hosted form (final).
 */
export const applications = sqliteTable(
  'applications',
  {
    id: text('id').primaryKey(),
    applicantDid: text('applicant_did').notNull(),
    credentialConfigurationId: text('credential_configuration_id').notNull(),
    status: text('status', { enum: ['pending', 'review', 'approved', 'rejected', 'withdrawn'] }).notNull(),
    /** SHA-256 of the IDV form token in the `url` handed to the webview. */
    formTokenHash: text('form_token_hash').notNull(),
    formExpiresAt: integer('form_expires_at').notNull(),
    formSubmittedAt: integer('form_submitted_at'),
    idvProvider: text('idv_provider'),
    /** Only what the KCC needs leaves IDV: country of residence, tier, evidence (JSON). */
    countryOfResidence: text('country_of_residence'),
    tier: text('tier'),
    evidence: text('evidence', { mode: 'json' }).$type<EvidenceEntry[]>(),
    decisionReason: text('decision_reason'),
    decidedBy: text('decided_by'),
    decidedAt: integer('decided_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('applications_form_token_hash').on(t.formTokenHash),
    index('applications_status_created').on(t.status, t.createdAt),
    index('applications_applicant_did').on(t.applicantDid),
  ],
);

/** Pre-authorized codes (OID4VCI §4.1.1), bound to one application and applicant DID; single use. */
export const preAuthorizedCodes = sqliteTable(
  'pre_authorized_codes',
  {
    codeHash: text('code_hash').primaryKey(),
    applicationId: text('application_id').notNull(),
    applicantDid: text('applicant_did').notNull(),
    expiresAt: integer('expires_at').notNull(),
    consumedAt: integer('consumed_at'),
  },
  // A new grant for an application finds its earlier codes (PreAuthorizedCodeRepository.reissue).
  (t) => [index('pre_authorized_codes_application').on(t.applicationId)],
);

/** Access tokens issued (by jti), so they can be tied to an application and revoked. */
export const accessTokens = sqliteTable(
  'access_tokens',
  {
    jti: text('jti').primaryKey(),
    applicationId: text('application_id').notNull(),
    applicantDid: text('applicant_did').notNull(),
    codeHash: text('code_hash').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
    /** SHA-256 (base64url) of the token as issued: presenting exactly these bytes authenticates it (src/issuance/grants.ts). */
    tokenSha256: text('token_sha256'),
  },
  (t) => [index('access_tokens_code_hash').on(t.codeHash)],
);

/** c_nonces for proof JWTs, each bound to one access token; single use. */
export const cNonces = sqliteTable('c_nonces', {
  nonce: text('nonce').primaryKey(),
  accessTokenJti: text('access_token_jti').notNull(),
  expiresAt: integer('expires_at').notNull(),
  consumedAt: integer('consumed_at'),
});

/** Deferred issuance transactions (OID4VCI §9); consumed once when the credential is issued. */
export const transactions = sqliteTable(
  'transactions',
  {
    id: text('id').primaryKey(),
    applicationId: text('application_id').notNull(),
    accessTokenJti: text('access_token_jti').notNull(),
    holderDid: text('holder_did').notNull(),
    createdAt: integer('created_at').notNull(),
    consumedAt: integer('consumed_at'),
    credentialId: text('credential_id'),
    /** Which OID4VCI profile the wallet spoke at the credential endpoint; the deferred answer uses the same shape. */
    profile: text('profile', { enum: ['draft13', 'v1'] })
      .notNull()
      .default('draft13'),
    /** What the wallet asked for: `jwt_vc_json`, or an SD-JWT VC (`dc+sd-jwt`, `vc+sd-jwt`: also the `typ` of the copies). */
    format: text('format', { enum: ['jwt_vc_json', 'dc+sd-jwt', 'vc+sd-jwt'] })
      .notNull()
      .default('jwt_vc_json'),
    /** The 1.0 request's credential_configuration_id (null for draft 13). */
    configurationId: text('configuration_id'),
    /** SD-JWT VC: the proven holder keys, one per copy of the batch (`[{ jwk, did? }]`); null for jwt_vc_json. */
    holderKeys: text('holder_keys', { mode: 'json' }).$type<{ jwk: Record<string, string>; did?: string }[]>(),
  },
  (t) => [index('transactions_application').on(t.applicationId)],
);

/** Every credential issued: what, to whom, when. The JWT itself is kept only as a digest. */
export const issuedCredentials = sqliteTable(
  'issued_credentials',
  {
    id: text('id').primaryKey(),
    applicationId: text('application_id').notNull(),
    subjectDid: text('subject_did').notNull(),
    transactionId: text('transaction_id'),
    jwtSha256: text('jwt_sha256').notNull(),
    issuedAt: integer('issued_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    /** `jwt_vc_json`, or `dc+sd-jwt` (each copy of a batch is a row; only the first names the deferred transaction). */
    format: text('format', { enum: ['jwt_vc_json', 'dc+sd-jwt'] })
      .notNull()
      .default('jwt_vc_json'),
  },
  (t) => [index('issued_credentials_application').on(t.applicationId), uniqueIndex('issued_credentials_transaction').on(t.transactionId)],
);

/**
 * One KCC per approved application (SECURITY.md "One decision, one credential"): the first
 * credential request that finds the application issuable claims it here (insert-or-nothing on
 * the primary key) before anything is signed. The signed KCC is kept here (`jwt`, set once) before
 * it is recorded, so that a request that crashed or lost its answer leaves the same credential
 * for the holder's next request: a claim without a record is taken over (its signed bytes
 * recorded, or the same id signed), a recorded one is handed out again, never a second KCC.
 */
export const issuanceClaims = sqliteTable('issuance_claims', {
  applicationId: text('application_id').primaryKey(),
  credentialId: text('credential_id').notNull(),
  claimedAt: integer('claimed_at').notNull(),
  /** The signed KCC of this claim, written once (conditionally) before it is recorded. */
  jwt: text('jwt'),
});

/**
 * c_nonces handed out by the Nonce Endpoint (OID4VCI 1.0 §7). Unlike c_nonces, they are not
 * bound to an access token (the endpoint is unauthenticated); each is still single use.
 */
export const nonces = sqliteTable(
  'nonces',
  {
    nonce: text('nonce').primaryKey(),
    expiresAt: integer('expires_at').notNull(),
    consumedAt: integer('consumed_at'),
  },
  (t) => [index('nonces_expires_at').on(t.expiresAt)],
);

/**
 * One row per OID4VCI 1.0 `notification_id` handed out with credentials (§8.3, §11): which grant
 * it belongs to, and the last event the wallet reported (credential_accepted / _failure / _deleted).
 */
export const notifications = sqliteTable(
  'notifications',
  {
    id: text('id').primaryKey(),
    applicationId: text('application_id').notNull(),
    accessTokenJti: text('access_token_jti').notNull(),
    credentialId: text('credential_id').notNull(),
    createdAt: integer('created_at').notNull(),
    event: text('event', { enum: ['credential_accepted', 'credential_failure', 'credential_deleted'] }),
    eventDescription: text('event_description'),
    eventAt: integer('event_at'),
  },
  (t) => [index('notifications_application').on(t.applicationId)],
);

// ---- Identity verification: provider sessions, vendor events, PII vault, audit, outbox ----

/**
 * One IDV session per application: which provider, the normalised state
 * (created → in_progress → processing → approved | declined | needs_review |
 * resubmission_requested | expired | abandoned), the vendor's reference and the time of the
 * newest vendor event applied (ms), so an older delivery never overwrites a newer one.
 */
export const idvSessions = sqliteTable(
  'idv_sessions',
  {
    applicationId: text('application_id').primaryKey(),
    provider: text('provider').notNull(),
    state: text('state').notNull(),
    vendorReference: text('vendor_reference'),
    idempotencyKey: text('idempotency_key').notNull(),
    webviewUrl: text('webview_url'),
    /** Event time (ms) of the newest event applied; 0 before any. */
    lastEventAt: integer('last_event_at').notNull(),
    /** The normalised outcome (JSON, no PII). */
    outcome: text('outcome', { mode: 'json' }).$type<JsonObject>(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('idv_sessions_vendor_reference').on(t.provider, t.vendorReference)],
);

/** Every vendor webhook accepted (deduplicated on provider + event id) and what it did. */
export const idvEvents = sqliteTable(
  'idv_events',
  {
    /** `<provider>:<vendor event id>`. */
    id: text('id').primaryKey(),
    provider: text('provider').notNull(),
    applicationId: text('application_id'),
    vendorReference: text('vendor_reference'),
    type: text('type').notNull(),
    /** Event time (ms) as the vendor states it. */
    occurredAt: integer('occurred_at').notNull(),
    receivedAt: integer('received_at').notNull(),
    /** applied | stale | redecision | unknown_session | ignored */
    disposition: text('disposition'),
    stateAfter: text('state_after'),
  },
  (t) => [index('idv_events_application').on(t.applicationId)],
);

/** PII the hosted form collected, AES-256-GCM encrypted; erased on purge or operator request. */
export const idvPii = sqliteTable(
  'idv_pii',
  {
    applicationId: text('application_id').primaryKey(),
    keyId: text('key_id').notNull(),
    /** base64url(iv ‖ ciphertext ‖ tag); null once erased. */
    ciphertext: text('ciphertext'),
    createdAt: integer('created_at').notNull(),
    /** Seconds; set when the application is decided (decision + retention days). */
    purgeAfter: integer('purge_after'),
    erasedAt: integer('erased_at'),
    erasedReason: text('erased_reason'),
  },
  (t) => [index('idv_pii_purge_after').on(t.purgeAfter)],
);

/**
 * The claims a presented credential vouched for (names, birth date, nationality, country of
 * residence; src/issuance/heldCredentials.ts), sealed by the PII vault like `idv_pii` and on its
 * schedule: the retention clock starts at the decision, the purge job and the erase action empty it.
 */
export const presentedClaims = sqliteTable(
  'presented_claims',
  {
    applicationId: text('application_id').primaryKey(),
    keyId: text('key_id').notNull(),
    /** base64url(iv ‖ ciphertext ‖ tag); null once erased. */
    ciphertext: text('ciphertext'),
    createdAt: integer('created_at').notNull(),
    /** Seconds; set when the application is decided (decision + retention days). */
    purgeAfter: integer('purge_after'),
    erasedAt: integer('erased_at'),
    erasedReason: text('erased_reason'),
  },
  (t) => [index('presented_claims_purge_after').on(t.purgeAfter)],
);

/** Who did what to an application, when. Kept when PII is erased. */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    applicationId: text('application_id'),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    /** JSON, no PII. */
    detail: text('detail', { mode: 'json' }).$type<JsonObject>(),
    at: integer('at').notNull(),
  },
  (t) => [index('audit_log_application').on(t.applicationId, t.at)],
);

/** Outbound webhooks to the PFI's systems: a durable outbox, retried with backoff. */
export const outboxEvents = sqliteTable(
  'outbox_events',
  {
    /** The event id the receiver deduplicates on (evt_…). */
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    /** The JSON body delivered, exactly. */
    body: text('body').notNull(),
    createdAt: integer('created_at').notNull(),
    attempts: integer('attempts').notNull(),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    /** A dispatcher's claim on the event until this time (seconds). */
    leaseUntil: integer('lease_until'),
    deliveredAt: integer('delivered_at'),
    /** Set when retries are exhausted. */
    failedAt: integer('failed_at'),
    lastError: text('last_error'),
    /** The W3C `traceparent` of the request that queued the event, sent with each delivery (src/issuance/webhookDelivery.ts). */
    traceParent: text('trace_parent'),
  },
  (t) => [index('outbox_due').on(t.deliveredAt, t.failedAt, t.nextAttemptAt)],
);

/** Delivery log: one row per attempt. */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    eventId: text('event_id').notNull(),
    attempt: integer('attempt').notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
    at: integer('at').notNull(),
  },
  (t) => [index('webhook_deliveries_event').on(t.eventId)],
);
/**
 * Bitstring Status List v1.0 lists this PFI publishes (one revocation and one suspension list
 * per id, served at /status/<id>/<purpose>). `size` entries each (≥ 131,072).
 */
export const statusLists = sqliteTable('status_lists', {
  id: integer('id').primaryKey(),
  size: integer('size').notNull(),
  /** Indices handed out (kept here so allocation never counts rows). */
  allocated: integer('allocated').notNull().default(0),
  /** Bumped on every revoke / suspend / reinstate of a credential in the list. */
  version: integer('version').notNull().default(0),
  createdAt: integer('created_at').notNull(),
});

/** Signed status list credentials, reused while the list's version is unchanged and the JWT fresh. */
export const statusListCache = sqliteTable(
  'status_list_cache',
  {
    listId: integer('list_id').notNull(),
    purpose: text('purpose').notNull(),
    version: integer('version').notNull(),
    jwt: text('jwt').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [uniqueIndex('status_list_cache_list_purpose').on(t.listId, t.purpose)],
);

/**
 * The status of every KCC issued: its random index in a status list (the same index in the
 * revocation and the suspension list), its tier, when each check's evidence was verified
 * (renewal redoes only aged-out checks), and its revocation / suspension.
 */
export const credentialStatus = sqliteTable(
  'credential_status',
  {
    credentialId: text('credential_id').primaryKey(),
    listId: integer('list_id').notNull(),
    listIndex: integer('list_index').notNull(),
    subjectDid: text('subject_did').notNull(),
    tierId: text('tier_id').notNull(),
    /** JSON [{ kind, checks, verifiedAt }]: evidence in the KCC with the time each check was done. */
    evidence: text('evidence', { mode: 'json' }).$type<TimedEvidence[]>().notNull(),
    issuedAt: integer('issued_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
    revocationReason: text('revocation_reason'),
    suspendedAt: integer('suspended_at'),
    suspensionReason: text('suspension_reason'),
    updatedAt: integer('updated_at').notNull(),
    /** When the `credential.expired` event was enqueued (src/issuance/jobs.ts), so it is announced once. */
    expiryAnnouncedAt: integer('expiry_announced_at'),
  },
  (t) => [
    uniqueIndex('credential_status_list_index').on(t.listId, t.listIndex),
    index('credential_status_subject').on(t.subjectDid),
    index('credential_status_expiry').on(t.expiryAnnouncedAt, t.expiresAt),
    // A status list's set bits, read without touching its unflagged entries (flat with a million
    // credentials; docs/performance.md).
    index('credential_status_revoked').on(t.listId, t.listIndex).where(sql`${t.revokedAt} IS NOT NULL`),
    index('credential_status_suspended').on(t.listId, t.listIndex).where(sql`${t.suspendedAt} IS NOT NULL`),
  ],
);

/** Audit trail of status changes (revoke, suspend, reinstate) with the reason and who did it. */
export const credentialStatusEvents = sqliteTable(
  'credential_status_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    credentialId: text('credential_id').notNull(),
    action: text('action', { enum: ['revoke', 'suspend', 'reinstate'] }).notNull(),
    reason: text('reason'),
    actor: text('actor').notNull(),
    at: integer('at').notNull(),
  },
  (t) => [index('credential_status_events_credential').on(t.credentialId)],
);

/**
 * What an application already has verified from presented credentials (spec "Initiate
 * Application": presentation_definition feeds IDV): the selected tier, the still-fresh evidence
 * carried over, the checks IDV must still do, and our KCCs the new one supersedes.
 */
export const applicationPrefill = sqliteTable('application_prefill', {
  applicationId: text('application_id').primaryKey(),
  tierId: text('tier_id').notNull(),
  /** JSON [{ kind, checks, verifiedAt, source }]. */
  verifiedEvidence: text('verified_evidence', { mode: 'json' }).$type<CarriedEvidence[]>().notNull(),
  /** JSON string[]: checks (evidence kinds) IDV still has to do. */
  missingChecks: text('missing_checks', { mode: 'json' }).$type<string[]>().notNull(),
  /** JSON string[]: ids of our KCCs revoked once the new one is issued. */
  supersedes: text('supersedes', { mode: 'json' }).$type<string[]>().notNull(),
  /**
   * JSON [{ id, issuer, expiresAt, credentialStatus }]: the presented credentials this
   * application relies on, re-checked (status, expiry) before its code or credential is redeemed.
   */
  presentedCredentials: text('presented_credentials', { mode: 'json' }).$type<PresentedCredentialRecord[]>().notNull().default(sql`'[]'`),
  countryOfResidence: text('country_of_residence'),
  createdAt: integer('created_at').notNull(),
});

/**
 * Review console sessions, server-side: the cookie holds a random 256-bit id, stored here only
 * as its SHA-256 digest. A session ends at logout, at "sign out everywhere", when idle past the
 * idle timeout, at `expires_at` (absolute), or when the credential it was opened with changes
 * (`credential_tag`, a digest of that credential: rotating ADMIN_TOKEN ends every session).
 */
export const operatorSessions = sqliteTable(
  'operator_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    operator: text('operator').notNull(),
    credentialTag: text('credential_tag').notNull(),
    /**
     * Workforce sign-in (operator `sso:<digest>`): the role the provider's claim gave at sign-in
     * and the name to greet; null for account and ADMIN_TOKEN sessions (the account says).
     */
    role: text('role', { enum: ['reviewer', 'admin'] }),
    displayName: text('display_name'),
    createdAt: integer('created_at').notNull(),
    lastSeenAt: integer('last_seen_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    endedAt: integer('ended_at'),
  },
  (t) => [index('operator_sessions_operator').on(t.operator)],
);

/**
 * Named console accounts (created by `npm run operators -- add`): the secret is stored only as
 * a PBKDF2 hash (src/crypto/secretHash.ts); a disabled account keeps its row, so its name stays
 * in the audit trail unambiguous and is never given to anyone else.
 */
export const operatorAccounts = sqliteTable('operator_accounts', {
  name: text('name').primaryKey(),
  role: text('role', { enum: ['reviewer', 'admin'] }).notNull(),
  secretHash: text('secret_hash').notNull(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
  disabledAt: integer('disabled_at'),
  /**
   * Four-eyes: the parties that alone could know the current secret — who created the account or
   * last reset it, and (transitively) whoever controlled that party's own account then
   * (src/issuance/operatorAccounts.ts). Such an account never confirms their proposals.
   */
  controlledBy: text('controlled_by', { mode: 'json' }).$type<string[]>().notNull().default(sql`'[]'`),
});

/**
 * Four-eyes (REVIEW_FOUR_EYES): the first operator's approval of an application, waiting for a
 * second, different party's confirmation (src/issuance/decisions.ts). One per application.
 */
export const pendingApprovals = sqliteTable('pending_approvals', {
  applicationId: text('application_id').primaryKey(),
  /** Who counts as the proposing party: an account, or the one ADMIN_TOKEN party. */
  party: text('party').notNull(),
  /** The audit actor of the proposal. */
  actor: text('actor').notNull(),
  /** The application's status when proposed; a changed status makes the proposal stale. */
  fromStatus: text('from_status').notNull(),
  tier: text('tier'),
  countryOfResidence: text('country_of_residence'),
  reason: text('reason'),
  createdAt: integer('created_at').notNull(),
});

/**
 * Links of the existing-customer sign-in (docs/existing-customers.md): which applicant DID a
 * bank customer signed in for, one row per application. The bank's `sub` is never stored: only
 * its keyed digest (HMAC-SHA256 over issuer and sub, src/idv/existingCustomer/loginTransaction.ts),
 * so a second DID of the same customer is recognised (EXISTING_CUSTOMER_SECOND_DID_POLICY).
 */
export const existingCustomerLinks = sqliteTable(
  'existing_customer_links',
  {
    applicationId: text('application_id').primaryKey(),
    subjectDigest: text('subject_digest').notNull(),
    applicantDid: text('applicant_did').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('existing_customer_links_subject').on(t.subjectDigest)],
);

/**
 * Case assignment in the review console ("assign to me"): who works on an application now. One
 * row per assigned application; released by deleting it. Only a hint between reviewers: any
 * reviewer may still decide.
 */
export const applicationAssignments = sqliteTable('application_assignments', {
  applicationId: text('application_id').primaryKey(),
  /** The audit actor of the operator who took the case (`console:<name>`). */
  assignee: text('assignee').notNull(),
  assignedAt: integer('assigned_at').notNull(),
});
