import { sql } from 'drizzle-orm';
import { bigint, customType, index, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import type { CarriedEvidence, EvidenceEntry, JsonObject, PresentedCredentialRecord, TimedEvidence } from '../types';

/** A `text` column holding JSON, read and written as `T` (SQLite's `text({ mode: 'json' })`). */
const jsonText = <T>(name: string) =>
  customType<{ data: T; driverData: string }>({
    dataType: () => 'text',
    toDriver: (value) => JSON.stringify(value),
    fromDriver: (value) => JSON.parse(value) as T,
  })(name);

/**
 * The PostgreSQL description of the database, table for table and column for column the one in
 * src/store/schema.ts (test/postgres/schema.test.ts keeps them equal); migrations in drizzle-pg/
 * are generated from it (`npm run db:generate:pg`) and applied at start (./migrate.ts).
 * SQLite's INTEGER is 64-bit, so every integer column is `bigint` here (times in ms overflow
 * int4), read as a JS number like SQLite's. JSON-holding columns are `text` holding JSON, typed
 * (`jsonText`), as in SQLite. Times are integer seconds since the epoch, from the injected clock.
 * Secrets (pre-authorized codes, form tokens) are stored only as SHA-256 digests.
 */
/** SIOPv2 Authorization Requests: each nonce answers once (consumed_at), before expires_at. */
export const siopRequests = pgTable('siop_requests', {
  nonce: text('nonce').primaryKey(),
  presentationDefinitionId: text('presentation_definition_id'),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
  consumedAt: bigint('consumed_at', { mode: 'number' }),
});

/**
 * A KCC application: one authenticated applicant DID, its IDV state and decision.
 * status: pending (IDV not submitted) → approved | rejected | review → (operator) approved | rejected.
 */
export const applications = pgTable(
  'applications',
  {
    id: text('id').primaryKey(),
    applicantDid: text('applicant_did').notNull(),
    credentialConfigurationId: text('credential_configuration_id').notNull(),
    status: text('status', { enum: ['pending', 'review', 'approved', 'rejected', 'withdrawn'] }).notNull(),
    /** SHA-256 of the IDV form token in the `url` handed to the webview. */
    formTokenHash: text('form_token_hash').notNull(),
    formExpiresAt: bigint('form_expires_at', { mode: 'number' }).notNull(),
    formSubmittedAt: bigint('form_submitted_at', { mode: 'number' }),
    idvProvider: text('idv_provider'),
    /** Only what the KCC needs leaves IDV: country of residence, tier, evidence (JSON). */
    countryOfResidence: text('country_of_residence'),
    tier: text('tier'),
    evidence: jsonText<EvidenceEntry[]>('evidence'),
    decisionReason: text('decision_reason'),
    decidedBy: text('decided_by'),
    decidedAt: bigint('decided_at', { mode: 'number' }),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
  },
  (t) => [
    uniqueIndex('applications_form_token_hash').on(t.formTokenHash),
    index('applications_status_created').on(t.status, t.createdAt),
    index('applications_applicant_did').on(t.applicantDid),
  ],
);

/** Pre-authorized codes (OID4VCI §4.1.1), bound to one application and applicant DID; single use. */
export const preAuthorizedCodes = pgTable('pre_authorized_codes', {
  codeHash: text('code_hash').primaryKey(),
  applicationId: text('application_id').notNull(),
  applicantDid: text('applicant_did').notNull(),
  expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
  consumedAt: bigint('consumed_at', { mode: 'number' }),
});

/** Access tokens issued (by jti), so they can be tied to an application and revoked. */
export const accessTokens = pgTable(
  'access_tokens',
  {
    jti: text('jti').primaryKey(),
    applicationId: text('application_id').notNull(),
    applicantDid: text('applicant_did').notNull(),
    codeHash: text('code_hash').notNull(),
    expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
    revokedAt: bigint('revoked_at', { mode: 'number' }),
    /** SHA-256 (base64url) of the token as issued: presenting exactly these bytes authenticates it (src/issuance/grants.ts). */
    tokenSha256: text('token_sha256'),
  },
  (t) => [index('access_tokens_code_hash').on(t.codeHash)],
);

/** c_nonces for proof JWTs, each bound to one access token; single use. */
export const cNonces = pgTable('c_nonces', {
  nonce: text('nonce').primaryKey(),
  accessTokenJti: text('access_token_jti').notNull(),
  expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
  consumedAt: bigint('consumed_at', { mode: 'number' }),
});

/** Deferred issuance transactions (OID4VCI §9); consumed once when the credential is issued. */
export const transactions = pgTable(
  'transactions',
  {
    id: text('id').primaryKey(),
    applicationId: text('application_id').notNull(),
    accessTokenJti: text('access_token_jti').notNull(),
    holderDid: text('holder_did').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    consumedAt: bigint('consumed_at', { mode: 'number' }),
    credentialId: text('credential_id'),
    /** Which OID4VCI profile the wallet spoke at the credential endpoint; the deferred answer uses the same shape. */
    profile: text('profile', { enum: ['draft13', 'v1'] })
      .notNull()
      .default('draft13'),
  },
  (t) => [index('transactions_application').on(t.applicationId)],
);

/** Every credential issued: what, to whom, when. The JWT itself is kept only as a digest. */
export const issuedCredentials = pgTable(
  'issued_credentials',
  {
    id: text('id').primaryKey(),
    applicationId: text('application_id').notNull(),
    subjectDid: text('subject_did').notNull(),
    transactionId: text('transaction_id'),
    jwtSha256: text('jwt_sha256').notNull(),
    issuedAt: bigint('issued_at', { mode: 'number' }).notNull(),
    expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
  },
  (t) => [index('issued_credentials_application').on(t.applicationId), uniqueIndex('issued_credentials_transaction').on(t.transactionId)],
);

/**
 * c_nonces handed out by the Nonce Endpoint (OID4VCI 1.0 §7). Unlike c_nonces, they are not
 * bound to an access token (the endpoint is unauthenticated); each is still single use.
 */
export const nonces = pgTable(
  'nonces',
  {
    nonce: text('nonce').primaryKey(),
    expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
    consumedAt: bigint('consumed_at', { mode: 'number' }),
  },
  (t) => [index('nonces_expires_at').on(t.expiresAt)],
);

/**
 * One row per OID4VCI 1.0 `notification_id` handed out with credentials (§8.3, §11): which grant
 * it belongs to, and the last event the wallet reported (credential_accepted / _failure / _deleted).
 */
export const notifications = pgTable(
  'notifications',
  {
    id: text('id').primaryKey(),
    applicationId: text('application_id').notNull(),
    accessTokenJti: text('access_token_jti').notNull(),
    credentialId: text('credential_id').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    event: text('event', { enum: ['credential_accepted', 'credential_failure', 'credential_deleted'] }),
    eventDescription: text('event_description'),
    eventAt: bigint('event_at', { mode: 'number' }),
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
export const idvSessions = pgTable(
  'idv_sessions',
  {
    applicationId: text('application_id').primaryKey(),
    provider: text('provider').notNull(),
    state: text('state').notNull(),
    vendorReference: text('vendor_reference'),
    idempotencyKey: text('idempotency_key').notNull(),
    webviewUrl: text('webview_url'),
    /** Event time (ms) of the newest event applied; 0 before any. */
    lastEventAt: bigint('last_event_at', { mode: 'number' }).notNull(),
    /** The normalised outcome (JSON, no PII). */
    outcome: jsonText<JsonObject>('outcome'),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
  },
  (t) => [uniqueIndex('idv_sessions_vendor_reference').on(t.provider, t.vendorReference)],
);

/** Every vendor webhook accepted (deduplicated on provider + event id) and what it did. */
export const idvEvents = pgTable(
  'idv_events',
  {
    /** `<provider>:<vendor event id>`. */
    id: text('id').primaryKey(),
    provider: text('provider').notNull(),
    applicationId: text('application_id'),
    vendorReference: text('vendor_reference'),
    type: text('type').notNull(),
    /** Event time (ms) as the vendor states it. */
    occurredAt: bigint('occurred_at', { mode: 'number' }).notNull(),
    receivedAt: bigint('received_at', { mode: 'number' }).notNull(),
    /** applied | stale | redecision | unknown_session | ignored */
    disposition: text('disposition'),
    stateAfter: text('state_after'),
  },
  (t) => [index('idv_events_application').on(t.applicationId)],
);

/** PII the hosted form collected, AES-256-GCM encrypted; erased on purge or operator request. */
export const idvPii = pgTable(
  'idv_pii',
  {
    applicationId: text('application_id').primaryKey(),
    keyId: text('key_id').notNull(),
    /** base64url(iv ‖ ciphertext ‖ tag); null once erased. */
    ciphertext: text('ciphertext'),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    /** Seconds; set when the application is decided (decision + retention days). */
    purgeAfter: bigint('purge_after', { mode: 'number' }),
    erasedAt: bigint('erased_at', { mode: 'number' }),
    erasedReason: text('erased_reason'),
  },
  (t) => [index('idv_pii_purge_after').on(t.purgeAfter)],
);

/** Who did what to an application, when. Kept when PII is erased. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    applicationId: text('application_id'),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    /** JSON, no PII. */
    detail: jsonText<JsonObject>('detail'),
    at: bigint('at', { mode: 'number' }).notNull(),
  },
  (t) => [index('audit_log_application').on(t.applicationId, t.at)],
);

/** Outbound webhooks to the PFI's systems: a durable outbox, retried with backoff. */
export const outboxEvents = pgTable(
  'outbox_events',
  {
    /** The event id the receiver deduplicates on (evt_…). */
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    /** The JSON body delivered, exactly. */
    body: text('body').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    attempts: bigint('attempts', { mode: 'number' }).notNull(),
    nextAttemptAt: bigint('next_attempt_at', { mode: 'number' }).notNull(),
    /** A dispatcher's claim on the event until this time (seconds). */
    leaseUntil: bigint('lease_until', { mode: 'number' }),
    deliveredAt: bigint('delivered_at', { mode: 'number' }),
    /** Set when retries are exhausted. */
    failedAt: bigint('failed_at', { mode: 'number' }),
    lastError: text('last_error'),
  },
  (t) => [index('outbox_due').on(t.deliveredAt, t.failedAt, t.nextAttemptAt)],
);

/** Delivery log: one row per attempt. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    eventId: text('event_id').notNull(),
    attempt: bigint('attempt', { mode: 'number' }).notNull(),
    statusCode: bigint('status_code', { mode: 'number' }),
    error: text('error'),
    durationMs: bigint('duration_ms', { mode: 'number' }).notNull(),
    at: bigint('at', { mode: 'number' }).notNull(),
  },
  (t) => [index('webhook_deliveries_event').on(t.eventId)],
);
/**
 * Bitstring Status List v1.0 lists this PFI publishes (one revocation and one suspension list
 * per id, served at /status/<id>/<purpose>). `size` entries each (≥ 131,072).
 */
export const statusLists = pgTable('status_lists', {
  id: bigint('id', { mode: 'number' }).primaryKey(),
  size: bigint('size', { mode: 'number' }).notNull(),
  /** Indices handed out (kept here so allocation never counts rows). */
  allocated: bigint('allocated', { mode: 'number' }).notNull().default(0),
  /** Bumped on every revoke / suspend / reinstate of a credential in the list. */
  version: bigint('version', { mode: 'number' }).notNull().default(0),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
});

/** Signed status list credentials, reused while the list's version is unchanged and the JWT fresh. */
export const statusListCache = pgTable(
  'status_list_cache',
  {
    listId: bigint('list_id', { mode: 'number' }).notNull(),
    purpose: text('purpose').notNull(),
    version: bigint('version', { mode: 'number' }).notNull(),
    jwt: text('jwt').notNull(),
    expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
  },
  (t) => [uniqueIndex('status_list_cache_list_purpose').on(t.listId, t.purpose)],
);

/**
 * The status of every KCC issued: its random index in a status list (the same index in the
 * revocation and the suspension list), its tier, when each check's evidence was verified
 * (renewal redoes only aged-out checks), and its revocation / suspension.
 */
export const credentialStatus = pgTable(
  'credential_status',
  {
    credentialId: text('credential_id').primaryKey(),
    listId: bigint('list_id', { mode: 'number' }).notNull(),
    listIndex: bigint('list_index', { mode: 'number' }).notNull(),
    subjectDid: text('subject_did').notNull(),
    tierId: text('tier_id').notNull(),
    /** JSON [{ kind, checks, verifiedAt }]: evidence in the KCC with the time each check was done. */
    evidence: jsonText<TimedEvidence[]>('evidence').notNull(),
    issuedAt: bigint('issued_at', { mode: 'number' }).notNull(),
    expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
    revokedAt: bigint('revoked_at', { mode: 'number' }),
    revocationReason: text('revocation_reason'),
    suspendedAt: bigint('suspended_at', { mode: 'number' }),
    suspensionReason: text('suspension_reason'),
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
    /** When the `credential.expired` event was enqueued (src/issuance/jobs.ts), so it is announced once. */
    expiryAnnouncedAt: bigint('expiry_announced_at', { mode: 'number' }),
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
export const credentialStatusEvents = pgTable(
  'credential_status_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    credentialId: text('credential_id').notNull(),
    action: text('action', { enum: ['revoke', 'suspend', 'reinstate'] }).notNull(),
    reason: text('reason'),
    actor: text('actor').notNull(),
    at: bigint('at', { mode: 'number' }).notNull(),
  },
  (t) => [index('credential_status_events_credential').on(t.credentialId)],
);

/**
 * What an application already has verified from presented credentials (spec "Initiate
 * Application": presentation_definition feeds IDV): the selected tier, the still-fresh evidence
 * carried over, the checks IDV must still do, and our KCCs the new one supersedes.
 */
export const applicationPrefill = pgTable('application_prefill', {
  applicationId: text('application_id').primaryKey(),
  tierId: text('tier_id').notNull(),
  /** JSON [{ kind, checks, verifiedAt, source }]. */
  verifiedEvidence: jsonText<CarriedEvidence[]>('verified_evidence').notNull(),
  /** JSON string[]: checks (evidence kinds) IDV still has to do. */
  missingChecks: jsonText<string[]>('missing_checks').notNull(),
  /** JSON string[]: ids of our KCCs revoked once the new one is issued. */
  supersedes: jsonText<string[]>('supersedes').notNull(),
  /**
   * JSON [{ id, issuer, expiresAt, credentialStatus }]: the presented credentials this
   * application relies on, re-checked (status, expiry) before its code or credential is redeemed.
   */
  presentedCredentials: jsonText<PresentedCredentialRecord[]>('presented_credentials').notNull().default(sql`'[]'`),
  countryOfResidence: text('country_of_residence'),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
});

/** Review console sessions, server-side (the cookie carries only a random id; its digest is the key). */
export const operatorSessions = pgTable(
  'operator_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    operator: text('operator').notNull(),
    credentialTag: text('credential_tag').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    lastSeenAt: bigint('last_seen_at', { mode: 'number' }).notNull(),
    expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
    endedAt: bigint('ended_at', { mode: 'number' }),
  },
  (t) => [index('operator_sessions_operator').on(t.operator)],
);

/**
 * One credential per approved application: the first credential request that finds the
 * application issuable claims it (insert-or-nothing on the primary key) before anything is signed.
 */
export const issuanceClaims = pgTable('issuance_claims', {
  applicationId: text('application_id').primaryKey(),
  credentialId: text('credential_id').notNull(),
  claimedAt: bigint('claimed_at', { mode: 'number' }).notNull(),
});

/** Named console accounts (secret stored only as a PBKDF2 hash), as src/store/schema.ts. */
export const operatorAccounts = pgTable('operator_accounts', {
  name: text('name').primaryKey(),
  role: text('role', { enum: ['reviewer', 'admin'] }).notNull(),
  secretHash: text('secret_hash').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
  disabledAt: bigint('disabled_at', { mode: 'number' }),
});

/** Four-eyes: an approval waiting for a second party's confirmation, as src/store/schema.ts. */
export const pendingApprovals = pgTable('pending_approvals', {
  applicationId: text('application_id').primaryKey(),
  party: text('party').notNull(),
  actor: text('actor').notNull(),
  fromStatus: text('from_status').notNull(),
  tier: text('tier'),
  countryOfResidence: text('country_of_residence'),
  reason: text('reason'),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
});
