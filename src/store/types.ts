/**
 * The store's port: every repository the issuer uses, declared here so that any adapter can
 * implement it (src/store/sqlite/ is the SQLite one, on better-sqlite3 and D1). Times are integer
 * seconds since the epoch from the injected clock unless a field says ms. JSON columns stay JSON
 * text here. Adapter rules: every single-use value is consumed by ONE conditional write (`UPDATE …
 * WHERE consumed_at IS NULL … RETURNING`), so two concurrent consumers never both win, and the
 * `…With…` methods commit their writes together or not at all.
 */

// ---- Records (what reads return) and new rows (what creates take) ----

/** `withdrawn`: the applicant declined consent on the hosted form (never issued). */
export type ApplicationStatus = 'pending' | 'review' | 'approved' | 'rejected' | 'withdrawn';

/** A SIOPv2 Authorization Request: its nonce answers once, before `expiresAt`. */
export type SiopRequest = {
  nonce: string;
  presentationDefinitionId: string | null;
  createdAt: number;
  expiresAt: number;
  consumedAt: number | null;
};
export type NewSiopRequest = {
  nonce: string;
  presentationDefinitionId?: string | null;
  createdAt: number;
  expiresAt: number;
  consumedAt?: number | null;
};

// ---- JSON values (stored as JSON text, read and written as these types) ----

/** A KCC `evidence` entry: the kind of check and what was checked. */
export type EvidenceEntry = { kind: string; checks?: string[] };
/** Evidence as the issuer keeps it per credential: with the time the check was done (s). */
export type TimedEvidence = { kind: string; checks: string[]; verifiedAt: number };
/** Evidence carried over from a presented credential, and which one. */
export type CarriedEvidence = TimedEvidence & { source: string };
/** What is kept of a presented credential to re-check it: no claim beyond its status entries. */
export type PresentedCredentialRecord = { id: string; issuer: string; expiresAt?: number; credentialStatus?: unknown };
/** A JSON object without PII (IDV outcomes, audit details). */
export type JsonObject = Record<string, unknown>;

/** A KCC application: one applicant DID, its IDV state and decision. */
export type Application = {
  id: string;
  applicantDid: string;
  credentialConfigurationId: string;
  status: ApplicationStatus;
  /** SHA-256 of the IDV form token. */
  formTokenHash: string;
  formExpiresAt: number;
  formSubmittedAt: number | null;
  idvProvider: string | null;
  countryOfResidence: string | null;
  tier: string | null;
  evidence: EvidenceEntry[] | null;
  decisionReason: string | null;
  decidedBy: string | null;
  decidedAt: number | null;
  createdAt: number;
  updatedAt: number;
};
export type NewApplication = {
  id: string;
  applicantDid: string;
  credentialConfigurationId: string;
  status: ApplicationStatus;
  formTokenHash: string;
  formExpiresAt: number;
  formSubmittedAt?: number | null;
  idvProvider?: string | null;
  countryOfResidence?: string | null;
  tier?: string | null;
  evidence?: EvidenceEntry[] | null;
  decisionReason?: string | null;
  decidedBy?: string | null;
  decidedAt?: number | null;
  createdAt: number;
  updatedAt: number;
};

/** A pre-authorized code (stored as its digest), bound to one application and applicant DID. */
export type PreAuthorizedCode = {
  codeHash: string;
  applicationId: string;
  applicantDid: string;
  expiresAt: number;
  consumedAt: number | null;
};
export type NewPreAuthorizedCode = {
  codeHash: string;
  applicationId: string;
  applicantDid: string;
  expiresAt: number;
  consumedAt?: number | null;
};

export type AccessTokenRecord = {
  jti: string;
  applicationId: string;
  applicantDid: string;
  codeHash: string;
  expiresAt: number;
  revokedAt: number | null;
  /** SHA-256 (base64url) of the token as issued; null for tokens recorded before it was kept. */
  tokenSha256: string | null;
};
export type NewAccessToken = {
  jti: string;
  applicationId: string;
  applicantDid: string;
  codeHash: string;
  expiresAt: number;
  revokedAt?: number | null;
  tokenSha256?: string | null;
};

/** A c_nonce bound to one access token. */
export type CNonce = {
  nonce: string;
  accessTokenJti: string;
  expiresAt: number;
  consumedAt: number | null;
};
export type NewCNonce = {
  nonce: string;
  accessTokenJti: string;
  expiresAt: number;
  consumedAt?: number | null;
};

/** A deferred issuance transaction (OID4VCI §9). `profile`: the OID4VCI shape the wallet spoke. */
export type Transaction = {
  id: string;
  applicationId: string;
  accessTokenJti: string;
  holderDid: string;
  createdAt: number;
  consumedAt: number | null;
  credentialId: string | null;
  profile: 'draft13' | 'v1';
};
export type NewTransaction = {
  id: string;
  applicationId: string;
  accessTokenJti: string;
  holderDid: string;
  createdAt: number;
  consumedAt?: number | null;
  credentialId?: string | null;
  /** Defaults to `draft13`. */
  profile?: 'draft13' | 'v1';
};

/** A credential issued; the JWT itself is kept only as a digest. */
export type IssuedCredential = {
  id: string;
  applicationId: string;
  subjectDid: string;
  transactionId: string | null;
  jwtSha256: string;
  issuedAt: number;
  expiresAt: number;
};
export type NewIssuedCredential = {
  id: string;
  applicationId: string;
  subjectDid: string;
  transactionId?: string | null;
  jwtSha256: string;
  issuedAt: number;
  expiresAt: number;
};

/** The one credential an application may have (claimed before it is signed). */
export type IssuanceClaim = {
  applicationId: string;
  credentialId: string;
  claimedAt: number;
};

/** A Nonce Endpoint c_nonce (OID4VCI 1.0 §7): not bound to a token, single use. */
export type Nonce = {
  nonce: string;
  expiresAt: number;
  consumedAt: number | null;
};
export type NewNonce = {
  nonce: string;
  expiresAt: number;
  consumedAt?: number | null;
};

export type NotificationEvent = 'credential_accepted' | 'credential_failure' | 'credential_deleted';
/** An OID4VCI 1.0 `notification_id` (§8.3, §11) and the last event the wallet reported. */
export type NotificationRecord = {
  id: string;
  applicationId: string;
  accessTokenJti: string;
  credentialId: string;
  createdAt: number;
  event: NotificationEvent | null;
  eventDescription: string | null;
  eventAt: number | null;
};
export type NewNotification = {
  id: string;
  applicationId: string;
  accessTokenJti: string;
  credentialId: string;
  createdAt: number;
  event?: NotificationEvent | null;
  eventDescription?: string | null;
  eventAt?: number | null;
};

/** A Bitstring Status List (one revocation and one suspension list per id). */
export type StatusList = {
  id: number;
  size: number;
  /** Indices handed out. */
  allocated: number;
  /** Bumped on every change to a credential in the list. */
  version: number;
  createdAt: number;
};
/** A signed status list credential, reused while the list's version is unchanged and it is fresh. */
export type StatusListCacheEntry = {
  listId: number;
  purpose: string;
  version: number;
  jwt: string;
  expiresAt: number;
};

/** A KCC's status entry: its index in a status list, tier, evidence, revocation and suspension. */
export type CredentialStatusRecord = {
  credentialId: string;
  listId: number;
  listIndex: number;
  subjectDid: string;
  tierId: string;
  evidence: TimedEvidence[];
  issuedAt: number;
  expiresAt: number;
  revokedAt: number | null;
  revocationReason: string | null;
  suspendedAt: number | null;
  suspensionReason: string | null;
  updatedAt: number;
  /** When its `credential.expired` event was enqueued; null until then. */
  expiryAnnouncedAt: number | null;
};
export type NewCredentialStatus = {
  credentialId: string;
  listId: number;
  listIndex: number;
  subjectDid: string;
  tierId: string;
  evidence: TimedEvidence[];
  issuedAt: number;
  expiresAt: number;
  revokedAt?: number | null;
  revocationReason?: string | null;
  suspendedAt?: number | null;
  suspensionReason?: string | null;
  updatedAt: number;
  expiryAnnouncedAt?: number | null;
};

export type CredentialStatusEvent = {
  id: number;
  credentialId: string;
  action: 'revoke' | 'suspend' | 'reinstate';
  reason: string | null;
  actor: string;
  at: number;
};
export type NewCredentialStatusEvent = {
  /** Assigned by the store when absent. */
  id?: number;
  credentialId: string;
  action: 'revoke' | 'suspend' | 'reinstate';
  reason?: string | null;
  actor: string;
  at: number;
};

/** What an application already has verified from presented credentials. */
export type ApplicationPrefill = {
  applicationId: string;
  tierId: string;
  verifiedEvidence: CarriedEvidence[];
  /** Checks (evidence kinds) IDV still has to do. */
  missingChecks: string[];
  /** Ids of our KCCs revoked once the new one is issued. */
  supersedes: string[];
  /** Re-checked before the code or credential is redeemed. */
  presentedCredentials: PresentedCredentialRecord[];
  countryOfResidence: string | null;
  createdAt: number;
};
export type NewApplicationPrefill = {
  applicationId: string;
  tierId: string;
  verifiedEvidence: CarriedEvidence[];
  missingChecks: string[];
  supersedes: string[];
  presentedCredentials?: PresentedCredentialRecord[];
  countryOfResidence?: string | null;
  createdAt: number;
};

/** One IDV session per application. `lastEventAt` is the newest applied vendor event's time, in ms. */
export type IdvSession = {
  applicationId: string;
  provider: string;
  state: string;
  vendorReference: string | null;
  idempotencyKey: string;
  webviewUrl: string | null;
  lastEventAt: number;
  /** The normalised outcome (no PII). */
  outcome: JsonObject | null;
  createdAt: number;
  updatedAt: number;
};
export type NewIdvSession = {
  applicationId: string;
  provider: string;
  state: string;
  vendorReference?: string | null;
  idempotencyKey: string;
  webviewUrl?: string | null;
  lastEventAt: number;
  outcome?: JsonObject | null;
  createdAt: number;
  updatedAt: number;
};

/** A vendor webhook accepted (id `<provider>:<vendor event id>`; `occurredAt` in ms) and what it did. */
export type IdvEventRecord = {
  id: string;
  provider: string;
  applicationId: string | null;
  vendorReference: string | null;
  type: string;
  occurredAt: number;
  receivedAt: number;
  disposition: string | null;
  stateAfter: string | null;
};
export type NewIdvEvent = {
  id: string;
  provider: string;
  applicationId?: string | null;
  vendorReference?: string | null;
  type: string;
  occurredAt: number;
  receivedAt: number;
  disposition?: string | null;
  stateAfter?: string | null;
};

/** Encrypted PII from the hosted form; `ciphertext` is null once erased. */
export type PiiRecord = {
  applicationId: string;
  keyId: string;
  ciphertext: string | null;
  createdAt: number;
  purgeAfter: number | null;
  erasedAt: number | null;
  erasedReason: string | null;
};
export type NewPiiRecord = {
  applicationId: string;
  keyId: string;
  ciphertext?: string | null;
  createdAt: number;
  purgeAfter?: number | null;
  erasedAt?: number | null;
  erasedReason?: string | null;
};

/** Who did what to an application, when (`detail`: no PII). */
export type AuditEntry = {
  id: number;
  applicationId: string | null;
  actor: string;
  action: string;
  detail: JsonObject | null;
  at: number;
};

/** An outbound webhook in the durable outbox. */
export type OutboxEvent = {
  id: string;
  type: string;
  /** The JSON body delivered, exactly. */
  body: string;
  createdAt: number;
  attempts: number;
  nextAttemptAt: number;
  leaseUntil: number | null;
  deliveredAt: number | null;
  failedAt: number | null;
  lastError: string | null;
};

/** One delivery attempt of an outbox event. */
export type WebhookDelivery = {
  id: number;
  eventId: string;
  attempt: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  at: number;
};
export type NewWebhookDelivery = {
  /** Assigned by the store when absent. */
  id?: number;
  eventId: string;
  attempt: number;
  statusCode?: number | null;
  error?: string | null;
  durationMs: number;
  at: number;
};

/** The IDV outcome as the applications table keeps it (no PII beyond what the KCC carries). */
export interface IdvOutcome {
  status: 'approved' | 'rejected' | 'review';
  provider: string;
  countryOfResidence: string;
  tier?: string;
  evidence: EvidenceEntry[];
  reason?: string;
}

/** A review console session (src/issuance/operatorSessions.ts); the cookie's id is stored only as its digest. */
export type OperatorSession = {
  idHash: string;
  operator: string;
  /** Digest of the credential the session was opened with; a different current credential ends it. */
  credentialTag: string;
  createdAt: number;
  lastSeenAt: number;
  /** Absolute end of the session. */
  expiresAt: number;
  endedAt: number | null;
};
export type NewOperatorSession = {
  idHash: string;
  operator: string;
  credentialTag: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  endedAt?: number | null;
};

export type OperatorRole = 'reviewer' | 'admin';

/** A named console account (src/issuance/operatorAccounts.ts); the secret is stored only as a slow hash. */
export type OperatorAccount = {
  name: string;
  role: OperatorRole;
  /** `pbkdf2-sha256$…` (src/crypto/secretHash.ts). */
  secretHash: string;
  createdAt: number;
  updatedAt: number;
  /** Set when the account was removed; it never signs in again and its name is not reused. */
  disabledAt: number | null;
};

/** Four-eyes: an approval waiting for a second party's confirmation (src/issuance/decisions.ts). */
export type PendingApproval = {
  applicationId: string;
  /** The proposing party (`account:<name>`, or `admin-token` for every ADMIN_TOKEN holder). */
  party: string;
  actor: string;
  fromStatus: string;
  tier: string | null;
  countryOfResidence: string | null;
  reason: string | null;
  createdAt: number;
};

// ---- Repositories ----

export interface SiopRequestRepository {
  create(row: NewSiopRequest): Promise<void>;
  /** Marks the nonce used if it exists, is unexpired and unused; returns the request or undefined. */
  consume(nonce: string, now: number): Promise<SiopRequest | undefined>;
  /** Reads a request without consuming it (to verify a response against it first). */
  get(nonce: string): Promise<SiopRequest | undefined>;
  /** Deletes requests whose nonce expired at or before `now` (used or not); returns how many. */
  deleteExpired(now: number): Promise<number>;
}

export interface ApplicationRepository {
  create(row: NewApplication): Promise<void>;
  /**
   * Creates an application together with its pre-authorized code (and, for a renewal or upgrade,
   * the prefill of what presented credentials covered), atomically: a crash can never leave an
   * application whose offer has no code to redeem, nor a renewal without the KCCs it rests on.
   */
  createWithCode(row: NewApplication, code: NewPreAuthorizedCode, prefill?: NewApplicationPrefill): Promise<void>;
  get(id: string): Promise<Application | undefined>;
  findByFormToken(formTokenHash: string): Promise<Application | undefined>;
  /** The application behind a form token with its prefill (upgrade/renewal; null when none), in one read. */
  findByFormTokenWithPrefill(formTokenHash: string): Promise<{ application: Application; prefill: ApplicationPrefill | null } | undefined>;
  /**
   * Records the IDV result of a form submission, once: only while the form is unsubmitted,
   * unexpired (`formExpiresAt` > now) and the application still pending. A decided outcome
   * records `decidedBy: idv:<provider>`; `review` leaves the decision empty.
   */
  submitIdv(formTokenHash: string, outcome: IdvOutcome, now: number): Promise<Application | undefined>;
  /**
   * Ends the application as `withdrawn` (the applicant declined consent), once: under the same
   * conditions as `submitIdv`, and the form link is used up with it (`decidedBy: applicant`).
   */
  withdraw(formTokenHash: string, now: number): Promise<Application | undefined>;
  /** An operator's decision on an application awaiting review; undefined if it is not in review. */
  decideReview(
    id: string,
    decision: { status: 'approved' | 'rejected'; tier?: string; reason?: string; decidedBy: string },
    now: number,
  ): Promise<Application | undefined>;
  /** Applications in a status, oldest first; `limit` defaults to 100. */
  listByStatus(status: ApplicationStatus, limit?: number): Promise<Application[]>;
  /** An applicant DID's applications, newest first; `limit` defaults to 100. */
  listForApplicant(applicantDid: string, limit?: number): Promise<Application[]>;
}

/** Status changes driven by IDV and the review queue (over the applications table). */
export interface ApplicationStatusRepository {
  /** Applications whose IDV link expired unused: pending, never submitted, no IDV session. `limit` defaults to 100. */
  abandonedCandidates(now: number, limit?: number): Promise<Array<{ id: string; idvProvider: string | null }>>;
  /**
   * Moves an application to the status its IDV state maps to (see src/idv/stateMachine.ts).
   * Decided statuses record who decided (`decidedBy`, else `idv:<provider>`); `pending`/`review`
   * clear the decision. Absent or empty country, tier and evidence leave the stored value.
   */
  set(
    id: string,
    change: {
      status: ApplicationStatus;
      provider: string;
      countryOfResidence?: string | null;
      tier?: string | null;
      evidence?: unknown[];
      reason?: string | null;
      decidedBy?: string | null;
    },
    now: number,
  ): Promise<Application | undefined>;
  /** The review queue with filters (console and API), most recently updated first; `q` matches id or applicant DID exactly. `limit` defaults to 100. */
  search(filter: { status?: string; provider?: string; country?: string; q?: string; limit?: number }): Promise<Application[]>;
}

export interface ApplicationPrefillRepository {
  create(row: NewApplicationPrefill): Promise<void>;
  get(applicationId: string): Promise<ApplicationPrefill | undefined>;
}

export interface PreAuthorizedCodeRepository {
  create(row: NewPreAuthorizedCode): Promise<void>;
  /** Redeems a code for the DID it was issued to; undefined if unknown, expired, used, or another DID's. */
  redeem(codeHash: string, applicantDid: string, now: number): Promise<PreAuthorizedCode | undefined>;
  get(codeHash: string): Promise<PreAuthorizedCode | undefined>;
  /**
   * Redeems a code when the wallet sent no client_id (OID4VCI 1.0 §6.1: optional for the
   * pre-authorized grant). The code is already bound to its applicant DID, which the token names.
   */
  redeemBound(codeHash: string, now: number): Promise<PreAuthorizedCode | undefined>;
  /** Deletes codes that expired at or before `before`; returns how many. */
  deleteExpired(before: number): Promise<number>;
}

export interface AccessTokenRepository {
  create(row: NewAccessToken): Promise<void>;
  /** The token record and its first c_nonce, committed together. */
  createWithCNonce(row: NewAccessToken, cNonce: NewCNonce): Promise<void>;
  get(jti: string): Promise<AccessTokenRecord | undefined>;
  /** RFC 6749 §4.1.2: a replayed code revokes the tokens issued from it; returns how many were revoked now. */
  revokeByCode(codeHash: string, now: number): Promise<number>;
}

export interface CNonceRepository {
  create(row: NewCNonce): Promise<void>;
  /** Consumes a c_nonce of this access token once, before it expires; undefined otherwise. */
  consume(nonce: string, accessTokenJti: string, now: number): Promise<CNonce | undefined>;
  /** Deletes c_nonces that expired at or before `now` (used or not); returns how many. */
  deleteExpired(now: number): Promise<number>;
}

/** Nonce Endpoint c_nonces (OID4VCI 1.0 §7): not bound to a token, single use. */
export interface NonceRepository {
  create(row: NewNonce): Promise<void>;
  /** Consumes a nonce once, before it expires; undefined otherwise. */
  consume(nonce: string, now: number): Promise<Nonce | undefined>;
  /** Deletes nonces that expired before `now` (the endpoint is open, so rows must not pile up). */
  pruneExpired(now: number): Promise<number>;
}

export interface TransactionRepository {
  create(row: NewTransaction): Promise<void>;
  get(id: string): Promise<Transaction | undefined>;
  /**
   * Consumes the transaction AND records its credential, committed together: the conditional
   * UPDATE decides the single winner, and the credential is recorded only for the row that UPDATE
   * just stamped with this credential id. So a crash can never leave a used transaction without
   * its credential record. Returns false if the transaction was already used.
   */
  completeWithCredential(id: string, credential: Omit<NewIssuedCredential, 'transactionId'>, now: number): Promise<boolean>;
}

export interface IssuedCredentialRepository {
  /** Records a credential; a second one for the same transaction is refused (throws). */
  record(row: NewIssuedCredential): Promise<void>;
  listForApplication(applicationId: string): Promise<IssuedCredential[]>;
  /**
   * Claims the application's one credential for `credentialId`, by one insert-or-nothing: among
   * concurrent claimers exactly one wins (true); every later claim is refused (false).
   */
  claim(applicationId: string, credentialId: string, now: number): Promise<boolean>;
  /** Undoes a claim whose credential could not be issued (signing or recording failed). */
  releaseClaim(applicationId: string, credentialId: string): Promise<void>;
  count(): Promise<number>;
  get(id: string): Promise<IssuedCredential | undefined>;
}

export interface NotificationRepository {
  create(row: NewNotification): Promise<void>;
  get(id: string): Promise<NotificationRecord | undefined>;
  /** Records the wallet's event for a notification_id of this application; idempotent (OID4VCI 1.0 §11). */
  recordEvent(
    id: string,
    applicationId: string,
    event: { event: NotificationEvent; description?: string },
    now: number,
  ): Promise<NotificationRecord | undefined>;
}

export interface StatusListRepository {
  /** The newest list, created (id 1) on first use. */
  current(size: number, now: number): Promise<{ id: number; size: number }>;
  /** Opens list `id` (idempotent: two concurrent openers agree on it). */
  open(id: number, size: number, now: number): Promise<{ id: number; size: number }>;
  get(id: number): Promise<{ id: number; size: number; version: number } | undefined>;
  /** Reserves one slot in the newest list while under `maxFill` of its size; undefined when there is none or it is full. */
  reserveInNewest(maxFill: number): Promise<{ id: number; size: number } | undefined>;
  /** Reserves one slot in list `id` while fewer than `max` are taken (one conditional UPDATE); false when full. */
  reserve(id: number, max: number): Promise<boolean>;
  /** Marks list `id` changed, so its cached status list credentials are rebuilt. */
  bumpVersion(id: number): Promise<void>;
  /** The cached status list credential of list `id` for a purpose, if any. */
  cached(id: number, purpose: string): Promise<{ version: number; jwt: string; expiresAt: number } | undefined>;
  /** Stores (or replaces) the cached status list credential of a list and purpose. */
  cache(row: StatusListCacheEntry): Promise<void>;
  /** Indices of list `id` whose bit is set for the purpose (revoked, or suspended and not revoked). */
  setIndices(id: number, purpose: 'revocation' | 'suspension'): Promise<number[]>;
}

export interface CredentialStatusRepository {
  /** Claims (list, index) for a credential; false when the index is taken (the caller draws again). */
  tryAllocate(row: NewCredentialStatus): Promise<boolean>;
  get(credentialId: string): Promise<CredentialStatusRecord | undefined>;
  /** A subject's credentials, newest first. */
  listForSubject(subjectDid: string): Promise<CredentialStatusRecord[]>;
  /** Revokes (permanent); undefined if unknown or already revoked. */
  revoke(credentialId: string, reason: string | null, now: number): Promise<CredentialStatusRecord | undefined>;
  /** Suspends; undefined if unknown, revoked or already suspended. */
  suspend(credentialId: string, reason: string | null, now: number): Promise<CredentialStatusRecord | undefined>;
  /** Lifts a suspension; undefined if unknown, revoked or not suspended. */
  reinstate(credentialId: string, now: number): Promise<CredentialStatusRecord | undefined>;
  recordEvent(row: NewCredentialStatusEvent): Promise<void>;
  /** A credential's status events, in the order recorded. */
  events(credentialId: string): Promise<CredentialStatusEvent[]>;
  /** Unrevoked credentials whose `expiresAt` <= now and whose expiry was not announced yet, oldest first; `limit` defaults to 100. */
  expiredUnannounced(now: number, limit?: number): Promise<CredentialStatusRecord[]>;
  /** Stamps the expiry as announced, once; false when it already was. */
  markExpiryAnnounced(credentialId: string, now: number): Promise<boolean>;
}

export interface IdvSessionRepository {
  /** Creates the session once; a second call with the same application returns the first. */
  createOnce(row: NewIdvSession): Promise<IdvSession>;
  get(applicationId: string): Promise<IdvSession | undefined>;
  /** Creates the session already in a state (its first event applied); false when one exists. */
  openInState(row: NewIdvSession): Promise<boolean>;
  findByReference(provider: string, vendorReference: string): Promise<IdvSession | undefined>;
  attachVendorSession(applicationId: string, vendorReference: string, webviewUrl: string, now: number): Promise<void>;
  /**
   * Applies a state only if the event is newer than the newest applied (out-of-order
   * deliveries lose); an absent `outcome` keeps the stored one. Returns the updated row, or
   * undefined when a newer event won.
   */
  applyIfNewer(applicationId: string, change: { state: string; outcome?: JsonObject | null; eventAt: number }, now: number): Promise<IdvSession | undefined>;
}

export interface IdvEventRepository {
  exists(id: string): Promise<boolean>;
  /** Records a vendor event once; returns false when the event id was seen before (a replay). */
  recordOnce(row: NewIdvEvent): Promise<boolean>;
  /** Records what an event did (and, when given, the application it turned out to belong to). */
  setDisposition(id: string, disposition: string, stateAfter: string | null, applicationId?: string): Promise<void>;
  /** An application's events, oldest (by vendor time) first. */
  listForApplication(applicationId: string): Promise<IdvEventRecord[]>;
}

export interface PiiRepository {
  /** Stores the encrypted record once; a second store for the same application is a no-op. */
  store(row: NewPiiRecord): Promise<void>;
  get(applicationId: string): Promise<PiiRecord | undefined>;
  /** Starts the retention clock once a decision exists (no effect once erased). */
  schedulePurge(applicationId: string, purgeAfter: number): Promise<void>;
  /** Erases the ciphertext, keeping the record of when and why; false if unknown or already erased. */
  erase(applicationId: string, reason: string, now: number): Promise<boolean>;
  /** Erases every record whose retention has run out; returns the application ids. */
  purgeDue(now: number): Promise<string[]>;
}

export interface AuditRepository {
  /** Appends an entry; `detail` is stored as JSON text. */
  record(row: { applicationId: string | null; actor: string; action: string; detail?: Record<string, unknown>; at: number }): Promise<void>;
  /** An application's entries in the order they happened. */
  listForApplication(applicationId: string): Promise<AuditEntry[]>;
}

export interface OutboxRepository {
  /** Enqueues an event, due at once; its id makes a repeated enqueue a no-op (false). */
  enqueue(row: { id: string; type: string; body: string; createdAt: number }): Promise<boolean>;
  /** Undelivered, unfailed, unleased events due by `now`, earliest first. */
  due(now: number, limit: number): Promise<OutboxEvent[]>;
  /** Claims an event for one dispatcher until `leaseUntil`, counting the attempt (two dispatchers never both send). */
  claim(id: string, now: number, leaseUntil: number): Promise<OutboxEvent | undefined>;
  markDelivered(id: string, now: number): Promise<void>;
  /** Releases the lease and schedules the next attempt. */
  markRetry(id: string, nextAttemptAt: number, error: string): Promise<void>;
  /** Retries exhausted: the event is no longer due. */
  markFailed(id: string, now: number, error: string): Promise<void>;
  get(id: string): Promise<OutboxEvent | undefined>;
  /** Newest first; `limit` defaults to 100. */
  list(limit?: number): Promise<OutboxEvent[]>;
  recordDelivery(row: NewWebhookDelivery): Promise<void>;
  /** An event's delivery attempts in order. */
  deliveries(eventId: string): Promise<WebhookDelivery[]>;
  /** Events neither delivered nor failed. */
  pendingCount(): Promise<number>;
}

export interface OperatorSessionRepository {
  create(row: NewOperatorSession): Promise<void>;
  /**
   * The live session with this id digest, its `lastSeenAt` moved to `now`, in one conditional
   * write: undefined when unknown, ended, past `expiresAt`, or idle since before `idleSince`.
   */
  touch(idHash: string, now: number, idleSince: number): Promise<OperatorSession | undefined>;
  /** Ends one session (logout). */
  end(idHash: string, now: number): Promise<void>;
  /** Ends every live session of an operator ("sign out everywhere"); returns how many. */
  endAllFor(operator: string, now: number): Promise<number>;
  /**
   * Ends every live session opened with a credential not in `credentialTags` (a rotated
   * ADMIN_TOKEN, a reset or removed account); returns how many.
   */
  endAllExcept(credentialTags: string[], now: number): Promise<number>;
  /** Deletes sessions ended or expired before `before`. */
  purge(before: number): Promise<number>;
}

export interface OperatorAccountRepository {
  /** Creates an account; false when the name is taken (by a live or a removed account). */
  create(row: OperatorAccount): Promise<boolean>;
  get(name: string): Promise<OperatorAccount | undefined>;
  /** Every account, removed ones included, by name. */
  list(): Promise<OperatorAccount[]>;
  /** Whether any account exists (removed ones included): then ADMIN_TOKEN no longer opens the console. */
  any(): Promise<boolean>;
  /** Replaces a live account's secret hash; false when unknown or removed. */
  setSecret(name: string, secretHash: string, now: number): Promise<boolean>;
  /** Removes (disables) a live account; false when unknown or already removed. */
  disable(name: string, now: number): Promise<boolean>;
}

export interface PendingApprovalRepository {
  /** Records a proposal, once per application; false when one is already waiting. */
  propose(row: PendingApproval): Promise<boolean>;
  get(applicationId: string): Promise<PendingApproval | undefined>;
  /**
   * Takes the waiting proposal for confirmation by `party`, in one conditional DELETE: only a
   * proposal of another party; undefined when there is none (or it is `party`'s own).
   */
  takeForConfirmation(applicationId: string, party: string): Promise<PendingApproval | undefined>;
  /** Drops the waiting proposal, if any (a rejection, a stale proposal). */
  clear(applicationId: string): Promise<void>;
}

/** Every repository; `createStore` (src/store/sqlite/index.ts) returns the SQLite/D1 one. */
export interface Store {
  idvSessions: IdvSessionRepository;
  idvEvents: IdvEventRepository;
  applicationStatus: ApplicationStatusRepository;
  pii: PiiRepository;
  audit: AuditRepository;
  outbox: OutboxRepository;
  siopRequests: SiopRequestRepository;
  applications: ApplicationRepository;
  preAuthorizedCodes: PreAuthorizedCodeRepository;
  accessTokens: AccessTokenRepository;
  cNonces: CNonceRepository;
  transactions: TransactionRepository;
  /** Nonce Endpoint c_nonces (OID4VCI 1.0 §7). */
  nonces: NonceRepository;
  notifications: NotificationRepository;
  issuedCredentials: IssuedCredentialRepository;
  statusLists: StatusListRepository;
  credentialStatus: CredentialStatusRepository;
  applicationPrefill: ApplicationPrefillRepository;
  operatorSessions: OperatorSessionRepository;
  operatorAccounts: OperatorAccountRepository;
  pendingApprovals: PendingApprovalRepository;
}
