import { base64urlDecode, base64urlEncode, utf8 } from '../crypto/base64url';
import { parseHolderJwk } from '../crypto/holderKeys';
import { randomToken, randomUuid, timeOrderedUuid } from '../crypto/random';
import { issuerUrls } from '../paths';
import { nowSeconds } from '../ports/clock';
import {
  CredentialRequestDenied,
  InvalidCredentialRequest,
  InvalidNonce,
  InvalidProof,
  InvalidTransactionId,
  IssuancePending,
  ServerError,
} from '../protocol/errors';
import { signKcc } from '../protocol/kcc';
import {
  parseCredentialRequest,
  parseDeferredCredentialRequest,
  type CredentialRequest,
  type CredentialRequestOptions,
  type Oid4vciProfile,
  type RequestedFormat,
} from '../protocol/oid4vci/credentialRequest';
import { checkResponseEncryptionKey, encryptCredentialResponse, type ResponseEncryption } from '../protocol/oid4vci/responseEncryption';
import { verifyProofJwt, verifyProofJwts, type VerifiedProof } from '../protocol/oid4vci/verifyProofJwt';
import type { SdJwtVcFormat } from '../protocol/sdJwtVc/kcc';
import type { AccessTokenRecord, Application, ApplicationPrefill, Transaction } from '../store/types';
import { credentialConfigurations, sdJwtConfigurationId, sdJwtCredentialConfigurations, sdJwtVcSettingsOf } from './credentialConfigurations';
import { allocateCredentialStatus, revokeCredential, type EvidenceRecord } from './credentialStatus';
import type { IssuanceDeps } from './deps';
import { outboxRow, type OutboxRow } from './events';
import { consumeProofNonce, freshCNonce } from './grants';
import { applyResult } from './identityVerification';
import { kccDataProblem } from './kccClaims';
import { grantedTierOf } from './tierRule';
import { assertPresentedCredentialsStillValid } from './presentedCredentials';
import { signSdJwtKnownCustomerCredentials, type SdJwtHolder } from './sdJwtCredential';

/**
 * Issuance (spec "Credential Endpoint", "Deferred Credential Endpoint"; OID4VCI draft 13 §7 and
 * §9, 1.0 §8 and §9). Each endpoint reads top to bottom as a chain of named steps: parse →
 * authenticate (the access token, src/issuance/grants.ts, before this file) → check proof →
 * read → decide (`decideIssuance`, pure) → perform → respond. What may be issued is decided in
 * one place, for both endpoints and both profiles:
 * - the configuration is the application's, from the one registry (./credentialConfigurations.ts);
 * - an approval is issuable only with the data a KCC needs (./kccClaims.ts), else it goes to review;
 * - credentials presented for the application must still be valid (./presentedCredentials.ts).
 */
export interface IssuanceAnswer {
  status: 200 | 202;
  body: Record<string, unknown>;
  /** For the log line. */
  applicationId: string;
  deferred: boolean;
  issued: boolean;
  profile: Oid4vciProfile;
  /** `body` as a compact JWE for the wallet's key (OID4VCI 1.0 §10), served as `application/jwt`, when the wallet asked for it. */
  encrypted?: string;
}

type Deps = IssuanceDeps;

/** What to do with a credential request for an application, decided by `decideIssuance`. */
export type IssuanceDecision =
  | { kind: 'issue' }
  /** Not decided yet: a transaction (202), or issuance_pending at the deferred endpoint. */
  | { kind: 'defer' }
  /** Approved without the data a KCC needs: no approval; the application goes to review, the wallet waits. */
  | { kind: 'review'; problem: NonNullable<ReturnType<typeof kccDataProblem>> }
  /** Never: credential_request_denied. */
  | { kind: 'deny'; reason: string };

/**
 * The one issuance rule of both endpoints, pure: declined or withdrawn → deny; undecided →
 * defer; approved without the KCC's data → review; approved with a presented credential that is
 * no longer valid (`presentedProblem`, from `presentedCredentialsProblem`) → deny; else issue.
 */
export function decideIssuance(application: Pick<Application, 'status' | 'countryOfResidence'>, presentedProblem: string | undefined): IssuanceDecision {
  if (application.status === 'rejected') return { kind: 'deny', reason: 'identity verification was not successful' };
  if (application.status === 'withdrawn') return { kind: 'deny', reason: 'the applicant withdrew the application' };
  if (application.status !== 'approved') return { kind: 'defer' };
  const problem = kccDataProblem(application);
  if (problem) return { kind: 'review', problem };
  if (presentedProblem) return { kind: 'deny', reason: `a credential presented for this application is no longer valid: ${presentedProblem}` };
  return { kind: 'issue' };
}

/**
 * The Credential Endpoint, after the access token was authenticated (src/issuance/grants.ts).
 * The application's configuration is issued as `jwt_vc_json`, or as SD-JWT VC copies when the
 * wallet names its `_sd_jwt` sibling (or, draft 13, asks for `vc+sd-jwt` with the KCC's `vct`):
 * one copy per proof, all under the one decision (docs/formats.md).
 */
export async function requestCredential(deps: Deps, grant: AccessTokenRecord, body: unknown): Promise<IssuanceAnswer> {
  const { request, proofs } = await parseAndCheckProof(deps, grant, body, requestOptions(deps));
  const found = await deps.store.applications.getWithPrefill(grant.applicationId);
  if (!found) throw new ServerError('application not found');
  const { application, prefill } = found;
  const offered = credentialConfigurations(deps.config).ofApplication(application).id;
  assertConfigurationOffered(request.format === 'jwt_vc_json' ? offered : sdJwtConfigurationId(offered), request.configurationId);
  const decision = decideIssuance(application, await presentedCredentialsProblem(deps, application, prefill));
  if (decision.kind === 'deny') throw new CredentialRequestDenied(decision.reason);
  if (decision.kind === 'review') await sendToReview(deps, application, decision.problem);
  const wanted: Wanted = { format: request.format, configurationId: request.configurationId, holders: holdersOf(request.format, proofs) };
  if (decision.kind !== 'issue') {
    // IDV still running or in review: deferred issuance (spec: HTTP 202 with transaction_id).
    const transactionId = await openTransaction(deps, grant, application, request.profile, wanted);
    const answer = request.profile === 'v1' ? v1DeferredResponse(deps, transactionId) : { transaction_id: transactionId };
    return encrypted(request.responseEncryption, {
      status: 202,
      body: answer,
      applicationId: application.id,
      deferred: true,
      issued: false,
      profile: request.profile,
    });
  }
  const credential = await issueWanted(deps, application, prefill, { grant, profile: request.profile }, wanted);
  await revokeSuperseded(deps, credential);
  const answer = credentialResponse(request.profile, credential);
  return encrypted(request.responseEncryption, {
    status: 200,
    body: answer,
    applicationId: application.id,
    deferred: false,
    issued: true,
    profile: request.profile,
  });
}

/** The Deferred Credential Endpoint: pending until decided, then the credential exactly once, or the denial. */
export async function collectDeferredCredential(deps: Deps, grant: AccessTokenRecord, body: Record<string, unknown>): Promise<IssuanceAnswer> {
  const sdJwt = sdJwtVcSettingsOf(deps.config);
  const request = parseDeferredCredentialRequest(body, sdJwt.offered ? { responseEncryption: { required: sdJwt.encryptionRequired } } : {});
  if (request.responseEncryption) await checkResponseEncryptionKey(request.responseEncryption);
  const transaction = await transactionOf(deps, grant, request.transactionId);
  const profile = transaction.profile as Oid4vciProfile;
  if (transaction.consumedAt != null) {
    // Collected already: the same credential again when its answer was lost, else the transaction is spent.
    const credential = await collectedAgain(deps, grant, transaction);
    const again: Issued = { id: credential.id, credentials: [credential.jwt], supersedes: [], notificationId: credential.notificationId };
    return { status: 200, body: credentialResponse(profile, again), applicationId: transaction.applicationId, deferred: true, issued: true, profile };
  }
  const found = await deps.store.applications.getWithPrefill(transaction.applicationId);
  if (!found) throw new InvalidTransactionId('transaction_id is unknown');
  const { application, prefill } = found;
  const decision = decideIssuance(application, await presentedCredentialsProblem(deps, application, prefill));
  if (decision.kind === 'deny') throw new CredentialRequestDenied(decision.reason);
  if (decision.kind === 'review') await sendToReview(deps, application, decision.problem);
  if (decision.kind !== 'issue') {
    if (profile === 'v1')
      return encrypted(request.responseEncryption, {
        status: 202,
        body: v1DeferredResponse(deps, transaction.id),
        applicationId: application.id,
        deferred: true,
        issued: false,
        profile,
      });
    throw new IssuancePending('identity verification is not finished yet');
  }
  const wanted: Wanted = {
    format: transaction.format,
    configurationId: transaction.configurationId ?? undefined,
    holders: (transaction.holderKeys ?? []).map((h) => {
      const jwk = parseHolderJwk(h.jwk);
      if (!jwk) throw new ServerError('the transaction holds no usable holder key');
      return h.did ? { jwk, did: h.did } : { jwk };
    }),
  };
  const credential = await issueWanted(deps, application, prefill, { grant, profile, transactionId: transaction.id }, wanted);
  await revokeSuperseded(deps, credential);
  const answer = credentialResponse(profile, credential);
  return encrypted(request.responseEncryption, { status: 200, body: answer, applicationId: application.id, deferred: true, issued: true, profile });
}

/** What the wallet asked for, kept with a deferred transaction: the format and, for SD-JWT VC copies, one holder key per copy. */
interface Wanted {
  format: RequestedFormat;
  configurationId?: string;
  holders: SdJwtHolder[];
}

/** What this issuer offers a credential request (the registry, and SDJWT_VC_* from the settings table). */
function requestOptions(deps: Deps): CredentialRequestOptions {
  const registry = credentialConfigurations(deps.config);
  const sdJwt = sdJwtVcSettingsOf(deps.config);
  return {
    configurationIds: registry.all.map((c) => c.id),
    ...(sdJwt.offered
      ? {
          sdJwtConfigurations: sdJwtCredentialConfigurations(registry, sdJwt.vct),
          batchSize: sdJwt.batchSize,
          responseEncryption: { required: sdJwt.encryptionRequired },
        }
      : {}),
  };
}

/** SD-JWT VC copies are bound to the proven keys (`cnf.jwk`); the applicant DID becomes the disclosable `sub` only when the key is one of its keys. */
function holdersOf(format: RequestedFormat, proofs: VerifiedProof[]): SdJwtHolder[] {
  if (format === 'jwt_vc_json') return [];
  return proofs.map((p) => (p.didBound ? { jwk: p.holderJwk, did: p.holderDid } : { jwk: p.holderJwk }));
}

/** The answer, encrypted for the wallet's key when it asked (the key was imported before anything was issued). */
async function encrypted(encryption: ResponseEncryption | undefined, answer: IssuanceAnswer): Promise<IssuanceAnswer> {
  if (!encryption) return answer;
  return { ...answer, encrypted: await encryptCredentialResponse(encryption, answer.body) };
}

/**
 * Parse and check proof: the request against the registry's configuration ids, then proof of
 * possession. Draft 13 §7.3.2: every invalid_proof answer carries a fresh c_nonce for the retry
 * (also when the request could not be parsed far enough to know its profile); 1.0 wallets use
 * the Nonce Endpoint.
 */
async function parseAndCheckProof(
  deps: Deps,
  grant: AccessTokenRecord,
  body: unknown,
  options: CredentialRequestOptions,
): Promise<{ request: CredentialRequest; proofs: VerifiedProof[] }> {
  let request: CredentialRequest | undefined;
  try {
    request = parseCredentialRequest(body, options);
    // A key the wallet could never decrypt with is refused before a nonce is spent or anything issued.
    if (request.responseEncryption) await checkResponseEncryptionKey(request.responseEncryption);
    const proofs = await checkProofOfPossession(deps, grant, request);
    return { request, proofs };
  } catch (e) {
    if (e instanceof InvalidProof && request?.profile !== 'v1') e.extra = { ...e.extra, ...(await freshCNonce(deps, grant.jti)) };
    throw e;
  }
}

/**
 * Proof of possession (spec "Credential Request"): verified first, its nonce consumed second. An
 * SD-JWT VC request may carry a batch (`proofs.jwt`, one key per copy, one nonce consumed once)
 * and bare `jwk` proofs; jwt_vc_json keeps one proof by a key of the applicant DID.
 */
async function checkProofOfPossession(deps: Deps, grant: AccessTokenRecord, request: CredentialRequest): Promise<VerifiedProof[]> {
  const { profile } = request;
  const now = nowSeconds(deps);
  const urls = issuerUrls(deps.config.publicUrl);
  const common = {
    applicantDid: grant.applicantDid,
    // spec: aud is the DID of the Credential Issuer; OID4VCI: the Credential Issuer Identifier. Accept both.
    audiences: [deps.issuer.did, urls.credentialIssuer],
    resolver: deps.resolver,
    verifier: deps.crypto,
    now,
    skewSeconds: deps.config.clockSkewSeconds,
    maxAgeSeconds: deps.config.proofMaxAgeSeconds,
    requireIss: profile === 'draft13',
  };
  const proofs =
    request.format === 'jwt_vc_json'
      ? [await verifyProofJwt({ ...common, jwt: request.proofJwt })]
      : await verifyProofJwts({ ...common, jwts: request.proofJwts, allowJwkProof: true });
  const proof = proofs[0];
  // Verified first, consumed second: a forged proof never burns the holder's nonce.
  if (!(await consumeProofNonce(deps, proof.nonce, grant.jti))) {
    // OID4VCI 1.0 §8.3.1.2: a stale or unknown c_nonce is invalid_nonce (fetch a new one from
    // the Nonce Endpoint); draft 13 §7.3.2: invalid_proof carrying a fresh c_nonce.
    if (profile === 'v1') throw new InvalidNonce('proof nonce is not a current c_nonce');
    throw new InvalidProof('proof nonce is not a current c_nonce');
  }
  return proofs;
}

/** A configuration named in the request must be the one offered with this access token (the application's). */
function assertConfigurationOffered(offered: string, requested: string | undefined): void {
  if (requested !== undefined && requested !== offered) {
    throw new InvalidCredentialRequest(`credential_configuration_id ${requested} was not offered with this access token (offered: ${offered})`);
  }
}

/** A collected transaction's credential again (its kept bytes), for a wallet whose answer was lost. */
async function collectedAgain(deps: Deps, grant: AccessTokenRecord, transaction: Transaction): Promise<IssuedKcc> {
  const claim = await deps.store.issuedCredentials.claimOf(transaction.applicationId);
  const record = transaction.credentialId ? await deps.store.issuedCredentials.get(transaction.credentialId) : undefined;
  const status = record ? await deps.store.credentialStatus.get(record.id) : undefined;
  if (!record || !claim?.jwt || claim.credentialId !== record.id || status?.revokedAt != null)
    throw new InvalidTransactionId('transaction_id is unknown or was already used');
  return handOutAgain(deps, { grant, profile: transaction.profile as Oid4vciProfile }, record, claim.jwt);
}

/** The deferred request's transaction: this access token's application's (used or not: see collectedAgain). */
async function transactionOf(deps: Deps, grant: AccessTokenRecord, transactionId: string): Promise<Transaction> {
  const transaction = await deps.store.transactions.get(transactionId);
  if (!transaction || transaction.applicationId !== grant.applicationId) {
    throw new InvalidTransactionId('transaction_id is unknown or was already used');
  }
  return transaction;
}

/**
 * Why a presented credential of an approved application no longer holds (expired, revoked,
 * suspended), re-checked now; undefined when none was presented or all hold. Only an approval
 * can be issued, so nothing is fetched for any other status.
 */
async function presentedCredentialsProblem(deps: Deps, application: Application, prefill: ApplicationPrefill | null): Promise<string | undefined> {
  return application.status === 'approved' ? assertPresentedCredentialsStillValid(deps, application.id, prefill) : undefined;
}

/** An approval lacking the KCC's data is no approval: the application goes to review (one commit, ./identityVerification.ts). */
async function sendToReview(deps: Deps, application: Application, problem: string): Promise<void> {
  await applyResult(deps, {
    applicationId: application.id,
    provider: application.idvProvider ?? deps.config.idv.provider,
    result: { state: 'needs_review', reasonCodes: [`kcc:${problem}`], final: false, checks: [], vendorReference: application.id },
    eventAt: deps.clock(),
    actor: 'system:issuance',
    current: application,
  });
  deps.logger.warn('approval_sent_to_review', { applicationId: application.id, reason: problem });
}

/** A deferred transaction for this access token (OID4VCI §9): the wallet collects with its id. */
async function openTransaction(deps: Deps, grant: AccessTokenRecord, application: Application, profile: Oid4vciProfile, wanted: Wanted): Promise<string> {
  const transactionId = randomToken(deps.crypto);
  await deps.store.transactions.create({
    id: transactionId,
    applicationId: application.id,
    accessTokenJti: grant.jti,
    holderDid: grant.applicantDid,
    createdAt: nowSeconds(deps),
    profile,
    format: wanted.format,
    configurationId: wanted.configurationId ?? null,
    holderKeys: wanted.format === 'jwt_vc_json' ? null : wanted.holders.map((h) => ({ jwk: { ...h.jwk }, ...(h.did ? { did: h.did } : {}) })),
  });
  return transactionId;
}

/**
 * One decision, one credential (SECURITY.md): the application's one KCC is claimed before it is
 * signed, kept signed with its claim (`keepSigned`, once), then recorded in one commit with its
 * `credential.issued` event, its OID4VCI 1.0 notification_id and, at the deferred endpoint, the
 * consumption of its transaction (`recordIssued`). A request that finds the claim taken:
 * - recorded → the same credential again (same bytes, same jti): the holder proved its DID key
 *   with this request, and an answer lost to a crash or a timeout must not strand its wallet;
 * - recorded and since revoked, the application approved again → a new decision: the claim is
 *   replaced (one winner) and a new KCC issued;
 * - not recorded (the request that claimed crashed or failed) → taken over: the kept bytes are
 *   recorded, or the same credential id is signed (its status entry reused), so there is never a
 *   second KCC for the decision. Legacy claims recorded without kept bytes stay refused.
 */
async function issueOnce(
  deps: Deps,
  application: Application,
  prefill: ApplicationPrefill | null,
  how: { grant: AccessTokenRecord; profile: Oid4vciProfile; transactionId?: string },
  attempt = 0,
): Promise<IssuedKcc> {
  const fresh = `urn:uuid:${timeOrderedUuid(deps.clock())}`;
  if (await deps.store.issuedCredentials.claim(application.id, fresh, nowSeconds(deps))) return signAndRecord(deps, application, prefill, how, fresh);
  const claim = await deps.store.issuedCredentials.claimOf(application.id);
  // A claim released or replaced in between: claim again (bounded).
  if (!claim) return retryClaim(deps, application, prefill, how, attempt);
  const record = await deps.store.issuedCredentials.get(claim.credentialId);
  if (!record) return signAndRecord(deps, application, prefill, how, claim.credentialId, claim.jwt ?? undefined);
  const status = await deps.store.credentialStatus.get(record.id);
  if (status?.revokedAt != null) {
    if (await deps.store.issuedCredentials.reclaim(application.id, record.id, fresh, nowSeconds(deps)))
      return signAndRecord(deps, application, prefill, how, fresh);
    return retryClaim(deps, application, prefill, how, attempt);
  }
  // The claim was read before a racing request kept its bytes and recorded them: read it again.
  const kept = claim.jwt ?? (await deps.store.issuedCredentials.claimOf(application.id).then((c) => (c?.credentialId === record.id ? c.jwt : undefined)));
  if (kept) return handOutAgain(deps, how, record, kept);
  // OID4VCI 1.0 §9.3: a transaction that can no longer yield a credential is invalid_transaction_id.
  if (how.transactionId !== undefined) throw new InvalidTransactionId('the credential for this application was already issued');
  throw new CredentialRequestDenied('the credential for this application was already issued; a renewal or an upgrade is a new application');
}

function retryClaim(
  ...args: [Deps, Application, ApplicationPrefill | null, { grant: AccessTokenRecord; profile: Oid4vciProfile; transactionId?: string }, number]
) {
  const [deps, application, prefill, how, attempt] = args;
  if (attempt >= 3) throw new ServerError('the credential claim kept changing; retry');
  return issueOnce(deps, application, prefill, how, attempt + 1);
}

/**
 * Signs the claimed credential `id` (or takes the bytes its claim kept), keeps the bytes with
 * the claim and records them. A racing request for the same claim may win either step: its
 * bytes are then the credential, and its record counts as ours.
 */
async function signAndRecord(
  deps: Deps,
  application: Application,
  prefill: ApplicationPrefill | null,
  how: { grant: AccessTokenRecord; profile: Oid4vciProfile; transactionId?: string },
  id: string,
  kept?: string,
): Promise<IssuedKcc> {
  const deferred = how.transactionId !== undefined;
  let jwt = kept;
  if (jwt === undefined) {
    const signed = await signKnownCustomerCredential(deps, application, prefill, id);
    jwt = await deps.store.issuedCredentials.keepSigned(application.id, id, signed.jwt);
    if (jwt === undefined) throw new ServerError('the credential claim was replaced; retry');
  }
  const credential = { ...signedCredentialOf(jwt, id), supersedes: evidenceOfApplication(application, prefill, nowSeconds(deps)).supersedes };
  const now = nowSeconds(deps);
  // OID4VCI 1.0 §8.3 / §11: the notification_id the wallet may send to the Notification Endpoint, recorded against this grant.
  const notificationId = how.profile === 'v1' ? randomToken(deps.crypto, 16) : undefined;
  let recorded: boolean;
  try {
    recorded = await deps.store.issuedCredentials.recordIssued({
      credential: credentialRecord(deps, application, credential),
      transactionId: how.transactionId,
      event: credentialIssuedEvent(deps, application, credential, deferred),
      notification: notificationId
        ? { id: notificationId, applicationId: how.grant.applicationId, accessTokenJti: how.grant.jti, credentialId: id, createdAt: now }
        : undefined,
      now,
    });
  } catch (e) {
    // A racing request (or this one, before its answer was lost) recorded the same credential first.
    const record = await deps.store.issuedCredentials.get(id).catch(() => undefined);
    if (!record) throw e;
    return handOutAgain(deps, how, record, jwt);
  }
  if (!recorded) {
    // The transaction was consumed by a racing collection of the same credential: that one's answer is ours too.
    const record = await deps.store.issuedCredentials.get(id);
    if (!record) throw new InvalidTransactionId('transaction_id was already used');
    return handOutAgain(deps, how, record, jwt);
  }
  return { ...credential, notificationId };
}

/** The recorded credential again, with its notification_id (a new one for a 1.0 wallet when it had none). */
async function handOutAgain(
  deps: Deps,
  how: { grant: AccessTokenRecord; profile: Oid4vciProfile },
  record: { id: string; applicationId: string },
  jwt: string,
): Promise<IssuedKcc> {
  let notificationId: string | undefined;
  if (how.profile === 'v1') {
    notificationId = (await deps.store.notifications.forCredential(record.id))?.id;
    if (notificationId === undefined) {
      notificationId = randomToken(deps.crypto, 16);
      await deps.store.notifications.create({
        id: notificationId,
        applicationId: record.applicationId,
        accessTokenJti: how.grant.jti,
        credentialId: record.id,
        createdAt: nowSeconds(deps),
      });
    }
  }
  deps.logger.info('credential_handed_out_again', { applicationId: record.applicationId, credentialId: record.id });
  // Superseded KCCs were revoked when it was first issued.
  return { ...signedCredentialOf(jwt, record.id), supersedes: [], notificationId };
}

/** id and dates of a signed KCC, read from its own claims (jti, nbf or iat, exp). */
function signedCredentialOf(jwt: string, id: string): { id: string; jwt: string; issuedAt: number; expiresAt: number } {
  const payload = JSON.parse(utf8.decode(base64urlDecode(jwt.split('.')[1] ?? ''))) as { jti?: string; nbf?: number; iat?: number; exp?: number };
  if (payload.jti !== undefined && payload.jti !== id) throw new ServerError('the kept credential is not the claimed one');
  return { id, jwt, issuedAt: Number(payload.nbf ?? payload.iat), expiresAt: Number(payload.exp) };
}

type IssuedKcc = Awaited<ReturnType<typeof signKnownCustomerCredential>> & { notificationId?: string };

/** What one issuance handed out: one KCC, or the copies of an SD-JWT VC batch (the first's id claimed the issuance). */
interface Issued {
  id: string;
  credentials: string[];
  supersedes: string[];
  notificationId?: string;
}

/** Issues what the wallet asked for under the application's one decision: the jwt_vc_json KCC, or the SD-JWT VC copies. */
async function issueWanted(
  deps: Deps,
  application: Application,
  prefill: ApplicationPrefill | null,
  how: { grant: AccessTokenRecord; profile: Oid4vciProfile; transactionId?: string },
  wanted: Wanted,
): Promise<Issued> {
  if (wanted.format === 'jwt_vc_json') {
    const kcc = await issueOnce(deps, application, prefill, how);
    return { id: kcc.id, credentials: [kcc.jwt], supersedes: kcc.supersedes, notificationId: kcc.notificationId };
  }
  return issueSdJwtOnce(deps, application, prefill, how, { ...wanted, format: wanted.format });
}

/**
 * The SD-JWT VC copies of the application's one issuance, as `issueOnce` does for jwt_vc_json:
 * claimed first (one claim for the whole batch), then each copy signed with its own key and
 * status index, then all recorded in one commit with one `credential.issued` event, one
 * notification_id and the transaction's consumption.
 */
async function issueSdJwtOnce(
  deps: Deps,
  application: Application,
  prefill: ApplicationPrefill | null,
  how: { grant: AccessTokenRecord; profile: Oid4vciProfile; transactionId?: string },
  wanted: Wanted & { format: SdJwtVcFormat },
): Promise<Issued> {
  const deferred = how.transactionId !== undefined;
  const id = `urn:uuid:${randomUuid()}`;
  if (!(await deps.store.issuedCredentials.claim(application.id, id, nowSeconds(deps)))) {
    if (deferred) throw new InvalidTransactionId('the credential for this application was already issued');
    throw new CredentialRequestDenied('the credential for this application was already issued; a renewal or an upgrade is a new application');
  }
  try {
    const { evidence, supersedes } = evidenceOfApplication(application, prefill, nowSeconds(deps));
    const copies = await signSdJwtKnownCustomerCredentials(deps, application, {
      holders: wanted.holders,
      evidence,
      vct: sdJwtVcSettingsOf(deps.config).vct,
      typ: wanted.format,
      firstId: id,
    });
    const now = nowSeconds(deps);
    const notificationId = how.profile === 'v1' ? randomToken(deps.crypto, 16) : undefined;
    const records = copies.map((c) => ({
      ...credentialRecord(deps, application, { id: c.id, jwt: c.sdJwt, issuedAt: c.issuedAt, expiresAt: c.expiresAt }),
      format: 'dc+sd-jwt' as const,
    }));
    const recorded = await deps.store.issuedCredentials.recordIssued({
      credential: records[0],
      copies: records.slice(1),
      transactionId: how.transactionId,
      event: credentialIssuedEvent(deps, application, copies[0], deferred, { format: wanted.format, ids: copies.map((c) => c.id) }),
      notification: notificationId
        ? { id: notificationId, applicationId: how.grant.applicationId, accessTokenJti: how.grant.jti, credentialId: id, createdAt: now }
        : undefined,
      now,
    });
    if (!recorded) throw new InvalidTransactionId('transaction_id was already used');
    return { id, credentials: copies.map((c) => c.sdJwt), supersedes, notificationId };
  } catch (e) {
    await deps.store.issuedCredentials.releaseClaim(application.id, id);
    throw e;
  }
}

/** Signs the KCC for an approved application. The caller records it once it has won the right to (issueOnce). */
export async function signKnownCustomerCredential(deps: Deps, application: Application, prefill: ApplicationPrefill | null, id = `urn:uuid:${randomUuid()}`) {
  const now = nowSeconds(deps);
  const { credential } = deps.config;
  // Never a KCC the published schema refuses (decideIssuance sends such approvals to review).
  if (kccDataProblem(application)) throw new ServerError('the application lacks the data a KCC needs');
  // The tier its decision granted (src/issuance/tierRule.ts): the KCC, its status entry and the KYC status API name the same.
  const tier = grantedTierOf(deps, application);
  // Validity per tier; the default tier's validityDays is credential.validityDays.
  const expiresAt = now + tier.validityDays * 86400;
  const { evidence, supersedes } = evidenceOfApplication(application, prefill, now);
  const status = await allocateCredentialStatus(deps, {
    credentialId: id,
    subjectDid: application.applicantDid,
    tierId: tier.id,
    evidence,
    issuedAt: now,
    expiresAt,
  });
  const jwt = await signKcc(deps.issuer.signer, {
    id,
    issuerDid: deps.issuer.did,
    subjectDid: application.applicantDid,
    countryOfResidence: application.countryOfResidence as string,
    tier: tier.name,
    jurisdictionCountry: credential.jurisdictionCountry,
    schemaId: credential.schemaId ?? issuerUrls(deps.config.publicUrl).kccSchema,
    evidence: evidence.map(({ kind, checks }) => ({ kind, checks })),
    issuedAt: now,
    expiresAt,
    credentialStatus: status.entries,
  });
  return { id, jwt, issuedAt: now, expiresAt, supersedes };
}

/** What the issuer keeps of a credential it issues: ids, dates and a digest of the JWT. */
export function credentialRecord(
  deps: Pick<Deps, 'crypto'>,
  application: Application,
  credential: { id: string; jwt: string; issuedAt: number; expiresAt: number },
) {
  return {
    id: credential.id,
    applicationId: application.id,
    subjectDid: application.applicantDid,
    jwtSha256: base64urlEncode(deps.crypto.sha256(credential.jwt)),
    issuedAt: credential.issuedAt,
    expiresAt: credential.expiresAt,
  };
}

/** The `credential.issued` event for the PFI's systems (docs/idv.md); the credential id makes it idempotent. */
function credentialIssuedEvent(
  deps: Deps,
  application: Application,
  credential: { id: string; issuedAt: number; expiresAt: number },
  deferred: boolean,
  sdJwt?: { format: SdJwtVcFormat; ids: string[] },
): OutboxRow {
  return outboxRow(deps, 'credential.issued', credential.id, {
    credential_id: credential.id,
    application_id: application.id,
    applicant_did: application.applicantDid,
    deferred,
    issued_at: new Date(credential.issuedAt * 1000).toISOString(),
    expires_at: new Date(credential.expiresAt * 1000).toISOString(),
    // SD-JWT VC: the format and every copy of the batch (credential_id is the first).
    ...(sdJwt ? { format: sdJwt.format, credential_ids: sdJwt.ids } : {}),
  });
}

/** Re-issue after an upgrade or renewal revokes the KCCs the new one supersedes (each change announced). */
async function revokeSuperseded(deps: Deps, credential: { id: string; supersedes: string[] }): Promise<void> {
  for (const supersededId of credential.supersedes) {
    if (supersededId !== credential.id) await revokeCredential(deps, supersededId, `superseded by ${credential.id}`);
  }
}

/**
 * Evidence for the KCC: checks carried over from presented credentials (still fresh, with
 * their original time) plus the checks IDV did for this application (at its decision time).
 */
function evidenceOfApplication(
  application: Application,
  prefill: ApplicationPrefill | null,
  now: number,
): { evidence: EvidenceRecord[]; supersedes: string[] } {
  const verifiedAt = application.decidedAt ?? now;
  const fresh = (application.evidence ?? []).map((e) => ({ kind: e.kind, checks: [...(e.checks ?? [])], verifiedAt }));
  const carried = (prefill?.verifiedEvidence ?? [])
    .map(({ kind, checks, verifiedAt }) => ({ kind, checks, verifiedAt }))
    .filter((c) => !fresh.some((f) => f.kind === c.kind));
  // The KCCs this one replaces (upgrade, renewal).
  return { evidence: [...carried, ...fresh], supersedes: prefill?.supersedes ?? [] };
}

/**
 * The success body: draft 13 `{ credential }`; OID4VCI 1.0 §8.3 / §9.2 `credentials: [{ credential }]`
 * and the `notification_id` recorded with it.
 */
function credentialResponse(profile: Oid4vciProfile, issued: Issued): Record<string, unknown> {
  if (profile !== 'v1') return { credential: issued.credentials[0] };
  return { credentials: issued.credentials.map((credential) => ({ credential })), notification_id: issued.notificationId };
}

/** OID4VCI 1.0 §8.3 / §9.2 deferred body (HTTP 202): the transaction and the polling interval. */
function v1DeferredResponse(deps: Deps, transactionId: string) {
  return { transaction_id: transactionId, interval: deps.config.deferredIntervalSeconds };
}
