/**
 * The store's port: every repository the issuer uses, declared here so that any adapter can
 * implement it (src/store/sqlite/ is the SQLite one, on better-sqlite3 and D1). Times are integer
 * seconds since the epoch from the injected clock unless a field says ms. JSON columns are read and
 * written as their types (./schema.ts). Adapter rules: every single-use value is consumed by ONE conditional write (`UPDATE …
 * WHERE consumed_at IS NULL … RETURNING`), so two concurrent consumers never both win, and the
 * `…With…` methods commit their writes together or not at all.
 */

import type * as schema from './schema';
import type { EvidenceEntry, JsonObject, PresentedCredentialRecord } from './schema';

// ---- Records (what reads return) and new rows (what creates take) ----
// Inferred from the one schema (./schema.ts), where each column carries its doc; the JSON values
// stored in text columns are declared there too.

export type { CarriedEvidence, EvidenceEntry, JsonObject, PresentedCredentialRecord, TimedEvidence } from './schema';

type Row<T extends { $inferSelect: unknown }> = T['$inferSelect'];
type NewRow<T extends { $inferInsert: unknown }> = T['$inferInsert'];

/** A SIOPv2 Authorization Request: its nonce answers once, before `expiresAt`. */
export type SiopRequest = Row<typeof schema.siopRequests>;
export type NewSiopRequest = NewRow<typeof schema.siopRequests>;
/** A KCC application: one applicant DID, its IDV state and decision. */
export type Application = Row<typeof schema.applications>;
export type NewApplication = NewRow<typeof schema.applications>;
/** `withdrawn`: the applicant declined consent on the hosted form (never issued). */
export type ApplicationStatus = Application['status'];
/** A pre-authorized code (stored as its digest), bound to one application and applicant DID. */
export type PreAuthorizedCode = Row<typeof schema.preAuthorizedCodes>;
export type NewPreAuthorizedCode = NewRow<typeof schema.preAuthorizedCodes>;
export type AccessTokenRecord = Row<typeof schema.accessTokens>;
export type NewAccessToken = NewRow<typeof schema.accessTokens>;
/** A c_nonce bound to one access token. */
export type CNonce = Row<typeof schema.cNonces>;
export type NewCNonce = NewRow<typeof schema.cNonces>;
/** A deferred issuance transaction (OID4VCI §9). `profile`: the OID4VCI shape the wallet spoke (default `draft13`). */
export type Transaction = Row<typeof schema.transactions>;
export type NewTransaction = NewRow<typeof schema.transactions>;
/** A credential issued; the JWT itself is kept only as a digest. */
export type IssuedCredential = Row<typeof schema.issuedCredentials>;
export type NewIssuedCredential = NewRow<typeof schema.issuedCredentials>;
/** The one credential an application may have (claimed before it is signed). */
export type IssuanceClaim = Row<typeof schema.issuanceClaims>;
/** A Nonce Endpoint c_nonce (OID4VCI 1.0 §7): not bound to a token, single use. */
export type Nonce = Row<typeof schema.nonces>;
export type NewNonce = NewRow<typeof schema.nonces>;
/** An OID4VCI 1.0 `notification_id` (§8.3, §11) and the last event the wallet reported. */
export type NotificationRecord = Row<typeof schema.notifications>;
export type NewNotification = NewRow<typeof schema.notifications>;
export type NotificationEvent = NonNullable<NotificationRecord['event']>;
/** A Bitstring Status List (one revocation and one suspension list per id). */
export type StatusList = Row<typeof schema.statusLists>;
/** A signed status list credential, reused while the list's version is unchanged and it is fresh. */
export type StatusListCacheEntry = Row<typeof schema.statusListCache>;
/** A KCC's status entry: its index in a status list, tier, evidence, revocation and suspension. */
export type CredentialStatusRecord = Row<typeof schema.credentialStatus>;
export type NewCredentialStatus = NewRow<typeof schema.credentialStatus>;
export type CredentialStatusEvent = Row<typeof schema.credentialStatusEvents>;
/** `id` is assigned by the store when absent. */
export type NewCredentialStatusEvent = NewRow<typeof schema.credentialStatusEvents>;
/** What an application already has verified from presented credentials. */
export type ApplicationPrefill = Row<typeof schema.applicationPrefill>;
export type NewApplicationPrefill = NewRow<typeof schema.applicationPrefill>;
/** One IDV session per application. `lastEventAt` is the newest applied vendor event's time, in ms. */
export type IdvSession = Row<typeof schema.idvSessions>;
export type NewIdvSession = NewRow<typeof schema.idvSessions>;
/** A vendor webhook accepted (id `<provider>:<vendor event id>`; `occurredAt` in ms) and what it did. */
export type IdvEventRecord = Row<typeof schema.idvEvents>;
export type NewIdvEvent = NewRow<typeof schema.idvEvents>;
/** Encrypted PII from the hosted form; `ciphertext` is null once erased. */
export type PiiRecord = Row<typeof schema.idvPii>;
export type NewPiiRecord = NewRow<typeof schema.idvPii>;
/** The sealed claims a presented credential vouched for; `ciphertext` is null once erased. */
export type PresentedClaimsRecord = Row<typeof schema.presentedClaims>;
export type NewPresentedClaimsRecord = NewRow<typeof schema.presentedClaims>;
/** Who did what to an application, when (`detail`: no PII). */
export type AuditEntry = Row<typeof schema.auditLog>;
/** An outbound webhook in the durable outbox. */
export type OutboxEvent = Row<typeof schema.outboxEvents>;
/** An outbox event as queued; `traceParent`: the W3C trace context of the request that queued it, sent with each delivery. */
export interface NewOutboxEvent {
  id: string;
  type: string;
  body: string;
  createdAt: number;
  traceParent?: string | null;
}
/** One delivery attempt of an outbox event. */
export type WebhookDelivery = Row<typeof schema.webhookDeliveries>;
/** `id` is assigned by the store when absent. */
export type NewWebhookDelivery = NewRow<typeof schema.webhookDeliveries>;
/** A review console session (src/issuance/operatorSessions.ts); the cookie's id is stored only as its digest. */
export type OperatorSession = Row<typeof schema.operatorSessions>;
export type NewOperatorSession = NewRow<typeof schema.operatorSessions>;
/** A named console account (src/issuance/operatorAccounts.ts); the secret is stored only as a slow hash. */
export type OperatorAccount = Row<typeof schema.operatorAccounts>;
export type OperatorRole = OperatorAccount['role'];
/** Four-eyes: an approval waiting for a second party's confirmation (src/issuance/decisions.ts). */
export type PendingApproval = Row<typeof schema.pendingApprovals>;
export type ApplicationAssignment = Row<typeof schema.applicationAssignments>;

/** The IDV outcome as the applications table keeps it (no PII beyond what the KCC carries). */
export interface IdvOutcome {
  status: 'approved' | 'rejected' | 'review';
  provider: string;
  countryOfResidence: string;
  tier?: string;
  evidence: EvidenceEntry[];
  reason?: string;
}

/**
 * What a withdrawal (declined consent) writes with it, in the same commit and only when it wins:
 * its audit entry, its outbound event (deduplicated on its id) and the erasure of the presented
 * credentials' sealed claims.
 */
export interface WithdrawalRecord {
  audit: { actor: string; action: string };
  event: NewOutboxEvent;
  eraseReason: string;
}

/** Who answered a form link, and the country of residence they gave (`ApplicationRepository.submitIdv`). */
export interface FormAnswer {
  provider: string;
  countryOfResidence: string;
}

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
   * the prefill of what presented credentials covered and the sealed claims they vouched for), atomically: a crash can never leave an
   * application whose offer has no code to redeem, nor a renewal without the KCCs it rests on.
   */
  createWithCode(row: NewApplication, code: NewPreAuthorizedCode, prefill?: NewApplicationPrefill, claims?: NewPresentedClaimsRecord): Promise<void>;
  get(id: string): Promise<Application | undefined>;
  findByFormToken(formTokenHash: string): Promise<Application | undefined>;
  /** The application behind a form token with its prefill (upgrade/renewal; null when none), in one read. */
  findByFormTokenWithPrefill(formTokenHash: string): Promise<{ application: Application; prefill: ApplicationPrefill | null } | undefined>;
  /** An application with its prefill (null without) in one read: what the credential endpoints decide on. */
  getWithPrefill(id: string): Promise<{ application: Application; prefill: ApplicationPrefill | null } | undefined>;
  /**
   * Takes the form link's one answer (the hosted form, the bank sign-in): only while the form is
   * unsubmitted, unexpired (`formExpiresAt` > now) and the application still pending. It records
   * who answered and the country of residence, and the application stays `pending`: the decision
   * (status, tier, evidence, reason) is written by the result's commit with its audit entry,
   * events, PII and session. The hosted form and the bank sign-in take the answer inside that
   * commit instead (`IdvResultWrite.answers`); this is for a result applied to a session that
   * already exists (a vendor's the applicant started first).
   */
  submitIdv(formTokenHash: string, answer: FormAnswer, now: number): Promise<Application | undefined>;
  /**
   * Ends the application as `withdrawn` (the applicant declined consent), once: under the same
   * conditions as `submitIdv`, and the form link is used up with it (`decidedBy: applicant`).
   */
  withdraw(formTokenHash: string, now: number, record?: WithdrawalRecord): Promise<Application | undefined>;
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
  /**
   * The review queue with filters (console and API); `q` matches id or applicant DID exactly;
   * `assignee` keeps the cases assigned to that actor (`null`: the unassigned ones). Order:
   * `updated` (default, most recently updated first), `oldest` or `newest` (by creation).
   * `limit` defaults to 100, `offset` to 0. Each row carries its assignee, if any.
   */
  search(filter: {
    status?: string;
    provider?: string;
    country?: string;
    q?: string;
    assignee?: string | null;
    order?: 'updated' | 'oldest' | 'newest';
    limit?: number;
    offset?: number;
  }): Promise<Array<Application & { assignee: string | null }>>;
}

/** Who works on a case in the review console (a hint between reviewers, not a lock). */
export interface ApplicationAssignmentRepository {
  /** Assigns the application to `assignee`, replacing an earlier assignee. */
  assign(applicationId: string, assignee: string, now: number): Promise<void>;
  /** Releases the application; true when it was assigned. */
  release(applicationId: string): Promise<boolean>;
  get(applicationId: string): Promise<ApplicationAssignment | undefined>;
}

export interface ApplicationPrefillRepository {
  create(row: NewApplicationPrefill): Promise<void>;
  get(applicationId: string): Promise<ApplicationPrefill | undefined>;
}

/** A code as its redemption answers it, with the credentials presented for its application (null: the application has no prefill). */
export type RedeemedCode = PreAuthorizedCode & { presentedCredentials: PresentedCredentialRecord[] | null };

export interface PreAuthorizedCodeRepository {
  create(row: NewPreAuthorizedCode): Promise<void>;
  /** Redeems a code for the DID it was issued to; undefined if unknown, expired, used, or another DID's. */
  redeem(codeHash: string, applicantDid: string, now: number): Promise<RedeemedCode | undefined>;
  get(codeHash: string): Promise<PreAuthorizedCode | undefined>;
  /**
   * Redeems a code when the wallet sent no client_id (OID4VCI 1.0 §6.1: optional for the
   * pre-authorized grant). The code is already bound to its applicant DID, which the token names.
   */
  redeemBound(codeHash: string, now: number): Promise<RedeemedCode | undefined>;
  /**
   * Gives back a code this request redeemed (`consumedAt` its stamp) when no access token was
   * recorded for it: the request failed before its answer existed, so the wallet's retry works.
   * One conditional UPDATE; true when given back.
   */
  giveBack(codeHash: string, consumedAt: number): Promise<boolean>;
  /**
   * A new grant for an application (a wallet that lost its token answer and authenticated its DID
   * again, src/issuance/applications.ts): revokes the access tokens issued from the
   * application's codes, consumes its codes not yet redeemed, and writes `code`, in one atomic
   * write. Returns how many access tokens it revoked.
   */
  reissue(code: NewPreAuthorizedCode, now: number): Promise<number>;
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

/**
 * A credential issued and what goes with it, committed together or not at all
 * (`IssuedCredentialRepository.recordIssued`): its record, its `credential.issued` event
 * (deduplicated on its id, as `OutboxRepository.enqueue`) and, for an OID4VCI 1.0 wallet, its
 * `notification_id`. With `transactionId` (the Deferred Credential Endpoint) the transaction is
 * consumed with them, once (as `TransactionRepository.completeWithCredential`): when it was used
 * already, nothing is written.
 */
export type IssuedCredentialWrite = {
  credential: Omit<NewIssuedCredential, 'transactionId'>;
  /**
   * The other copies of an SD-JWT VC batch (one decision, one issuance): recorded in the same
   * commit, under the same condition; only `credential` names the transaction.
   */
  copies?: Omit<NewIssuedCredential, 'transactionId'>[];
  transactionId?: string;
  event: NewOutboxEvent;
  notification?: NewNotification;
  now: number;
};

export interface IssuedCredentialRepository {
  /** Records a credential; a second one for the same transaction is refused (throws). */
  record(row: NewIssuedCredential): Promise<void>;
  listForApplication(applicationId: string): Promise<IssuedCredential[]>;
  /**
   * Claims the application's one credential for `credentialId`, by one insert-or-nothing: among
   * concurrent claimers exactly one wins (true); every later claim is refused (false).
   */
  claim(applicationId: string, credentialId: string, now: number): Promise<boolean>;
  /** Records a credential with its event and notification, and consumes its transaction, in one commit (see `IssuedCredentialWrite`); false when the transaction was already used. */
  recordIssued(write: IssuedCredentialWrite): Promise<boolean>;
  /** Undoes a claim whose credential could not be issued (signing or recording failed). */
  releaseClaim(applicationId: string, credentialId: string): Promise<void>;
  /** The application's claim: its credential id, when, and the signed KCC once kept (`keepSigned`). */
  claimOf(applicationId: string): Promise<IssuanceClaim | undefined>;
  /**
   * Keeps the signed KCC with its claim, once (a conditional UPDATE … WHERE jwt IS NULL): returns
   * the KCC the claim holds afterwards, this one or the one a racing request kept first; undefined
   * when the claim no longer names `credentialId`.
   */
  keepSigned(applicationId: string, credentialId: string, jwt: string): Promise<string | undefined>;
  /**
   * Replaces a claim whose credential was revoked (an approval after an overrule is a new
   * decision) by a claim for `credentialId`, conditionally on it still naming `previousId`:
   * among racing requests exactly one wins (true).
   */
  reclaim(applicationId: string, previousId: string, credentialId: string, now: number): Promise<boolean>;
  count(): Promise<number>;
  get(id: string): Promise<IssuedCredential | undefined>;
}

export interface NotificationRepository {
  create(row: NewNotification): Promise<void>;
  /** The first notification recorded for a credential (handed out again with it). */
  forCredential(credentialId: string): Promise<NotificationRecord | undefined>;
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

/**
 * An IDV result applied to its session with everything it decides, committed together or not at
 * all (`IdvSessionRepository.commitResult`). The session write decides: `open` creates the session
 * already in its state unless one exists; `advance` moves it only if the event is newer than the
 * newest applied (`lastEventAt < eventAt`). Only when it wins are the application's status
 * (`status`, as `ApplicationStatusRepository.set` writes it; absent when the row already says it),
 * the audit entry, the outbound events (deduplicated on their id, as `OutboxRepository.enqueue`)
 * and the PII retention clock (`purgeAfter`, as `PiiRepository.schedulePurge`, for the form's PII and the
 * presented credentials' sealed claims alike) written.
 */
export type IdvResultWrite = {
  applicationId: string;
  session: { open: NewIdvSession } | { advance: { state: string; outcome: JsonObject | null; eventAt: number } };
  status?: Parameters<ApplicationStatusRepository['set']>[1];
  audit: { actor: string; action: string; detail: JsonObject };
  events: NewOutboxEvent[];
  purgeAfter?: number;
  /**
   * What the applicant submitted with this result (the hosted form), in the same commit: the
   * consent audit entry and the sealed PII, whose purge clock is then set as it is inserted.
   */
  submission?: { consent: { actor: string; action: string; detail: JsonObject; at: number }; pii?: { keyId: string; ciphertext: string; createdAt: number } };
  /** False when the application has no presented credentials' sealed claims (opened without any): their purge clock is not written. */
  presentedClaims?: boolean;
  /**
   * The result answers the form link (the hosted form, the bank sign-in) in this same commit, with
   * an `open` session and a `status`: it wins only while the link is open (as
   * `ApplicationRepository.submitIdv` requires), and the status write records the answer
   * (`formSubmittedAt`). So the link's answer and the decision commit together or not at all.
   */
  answers?: { formTokenHash: string };
  now: number;
};

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
  /** Applies a result and what it decides in one commit (see `IdvResultWrite`); false when the session write lost (nothing written). */
  commitResult(write: IdvResultWrite): Promise<boolean>;
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

/** The sealed claims of presented credentials: written with the application (createWithCode), on the PII retention schedule. */
export interface PresentedClaimsRepository {
  get(applicationId: string): Promise<PresentedClaimsRecord | undefined>;
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
  enqueue(row: NewOutboxEvent): Promise<boolean>;
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
  /** Replaces a live account's secret hash and who controls it (four-eyes); false when unknown or removed. */
  setSecret(name: string, secretHash: string, now: number, controlledBy: string[]): Promise<boolean>;
  /** Removes (disables) a live account; false when unknown or already removed. */
  disable(name: string, now: number): Promise<boolean>;
}

/** An existing-customer link: a bank customer (keyed digest of the sub) signed in for an applicant DID. */
export type ExistingCustomerLink = Row<typeof schema.existingCustomerLinks>;

export interface ExistingCustomerLinkRepository {
  /** Records the link of an application, once (a second call for the same application changes nothing). */
  record(row: ExistingCustomerLink): Promise<void>;
  /** The other applicant DIDs the same bank customer signed in for, oldest first. */
  otherDids(subjectDigest: string, applicantDid: string): Promise<string[]>;
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
  presentedClaims: PresentedClaimsRepository;
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
  existingCustomerLinks: ExistingCustomerLinkRepository;
  applicationAssignments: ApplicationAssignmentRepository;
}
