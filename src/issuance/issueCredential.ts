import { base64urlEncode } from '../crypto/base64url';
import { randomToken, randomUuid } from '../crypto/random';
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
import { parseCredentialRequest, type CredentialRequest, type Oid4vciProfile } from '../protocol/oid4vci/credentialRequest';
import { verifyProofJwt } from '../protocol/oid4vci/verifyProofJwt';
import type { AccessTokenRecord, Application, ApplicationPrefill } from '../store/store';
import { credentialConfigurations, tierOfApplication } from './credentialConfigurations';
import { allocateCredentialStatus, revokeCredential, type EvidenceRecord } from './credentialStatus';
import type { IssuanceDeps } from './deps';
import { emitEvent } from './events';
import { consumeProofNonce, freshCNonce } from './grants';
import { applyResult } from './identityVerification';
import { kccDataProblem } from './kccClaims';
import { assertPresentedCredentialsStillValid } from './presentedCredentials';

/**
 * Issuance (spec "Credential Endpoint", "Deferred Credential Endpoint"; OID4VCI draft 13 §7 and
 * §9, 1.0 §8 and §9): proof of possession, then the KCC at once when the application is
 * approved, a transaction while it is undecided, the denial when it was declined. What may be
 * issued is decided here, in one place, for both endpoints and both profiles:
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
}

type Deps = IssuanceDeps;

/** The Credential Endpoint, after the access token was authenticated (src/issuance/grants.ts). */
export async function requestCredential(deps: Deps, grant: AccessTokenRecord, body: unknown): Promise<IssuanceAnswer> {
  const registry = credentialConfigurations(deps.config);
  let request: CredentialRequest | undefined;
  try {
    request = parseCredentialRequest(body, { configurationIds: registry.all.map((c) => c.id) });
    await checkProofOfPossession(deps, grant, request.proofJwt, request.profile);
  } catch (e) {
    // Draft 13 §7.3.2: every invalid_proof answer carries a fresh c_nonce for the retry (also when
    // the request could not be parsed far enough to know its profile); 1.0 wallets use the Nonce Endpoint.
    if (e instanceof InvalidProof && request?.profile !== 'v1') e.extra = { ...e.extra, ...(await freshCNonce(deps, grant.jti)) };
    throw e;
  }
  const application = await deps.store.applications.get(grant.applicationId);
  if (!application) throw new ServerError('application not found');
  const configuration = registry.ofApplication(application);
  if (request.configurationId !== undefined && request.configurationId !== configuration.id) {
    throw new InvalidCredentialRequest(
      `credential_configuration_id ${request.configurationId} was not offered with this access token (offered: ${configuration.id})`,
    );
  }
  const prefill = await deps.store.applicationPrefill.get(application.id);
  if (await issuable(deps, application, prefill ?? null)) {
    const credential = await issueOnce(deps, application, prefill ?? null, (c) =>
      deps.store.issuedCredentials.record({ ...credentialRecord(deps, application, c), transactionId: null }).then(() => true),
    );
    await announceCredentialIssued(deps, application, credential, false);
    const answer = request.profile === 'v1' ? await v1CredentialsResponse(deps, grant, credential) : { credential: credential.jwt };
    return { status: 200, body: answer, applicationId: application.id, deferred: false, issued: true, profile: request.profile };
  }
  // IDV still running or in review: deferred issuance (spec: HTTP 202 with transaction_id).
  const transactionId = randomToken(deps.crypto);
  await deps.store.transactions.create({
    id: transactionId,
    applicationId: application.id,
    accessTokenJti: grant.jti,
    holderDid: grant.applicantDid,
    createdAt: nowSeconds(deps),
    profile: request.profile,
  });
  const answer = request.profile === 'v1' ? v1DeferredResponse(deps, transactionId) : { transaction_id: transactionId };
  return { status: 202, body: answer, applicationId: application.id, deferred: true, issued: false, profile: request.profile };
}

/** The Deferred Credential Endpoint: pending until decided, then the credential exactly once, or the denial. */
export async function collectDeferredCredential(deps: Deps, grant: AccessTokenRecord, body: Record<string, unknown>): Promise<IssuanceAnswer> {
  const transactionId = body.transaction_id;
  if (typeof transactionId !== 'string' || transactionId.length === 0 || transactionId.length > 200) {
    throw new InvalidTransactionId('transaction_id is required');
  }
  const transaction = await deps.store.transactions.get(transactionId);
  if (!transaction || transaction.applicationId !== grant.applicationId || transaction.consumedAt != null) {
    throw new InvalidTransactionId('transaction_id is unknown or was already used');
  }
  const profile = transaction.profile as Oid4vciProfile;
  const application = await deps.store.applications.get(transaction.applicationId);
  if (!application) throw new InvalidTransactionId('transaction_id is unknown');
  const prefill = await deps.store.applicationPrefill.get(application.id);
  if (!(await issuable(deps, application, prefill ?? null))) {
    if (profile === 'v1')
      return { status: 202, body: v1DeferredResponse(deps, transaction.id), applicationId: application.id, deferred: true, issued: false, profile };
    throw new IssuancePending('identity verification is not finished yet');
  }
  const credential = await issueOnce(
    deps,
    application,
    prefill ?? null,
    (c) => deps.store.transactions.completeWithCredential(transaction.id, credentialRecord(deps, application, c), nowSeconds(deps)),
    true,
  );
  await announceCredentialIssued(deps, application, credential, true);
  const answer = profile === 'v1' ? await v1CredentialsResponse(deps, grant, credential) : { credential: credential.jwt };
  return { status: 200, body: answer, applicationId: application.id, deferred: true, issued: true, profile };
}

/**
 * true: issue now; false: not decided yet (deferred); throws credential_request_denied when
 * it never will be. An approval lacking the KCC's data is sent to review first (it is no approval).
 */
async function issuable(deps: Deps, application: Application, prefill: ApplicationPrefill | null): Promise<boolean> {
  if (application.status === 'rejected') throw new CredentialRequestDenied('identity verification was not successful');
  if (application.status === 'withdrawn') throw new CredentialRequestDenied('the applicant withdrew the application');
  if (application.status !== 'approved') return false;
  const problem = kccDataProblem(application);
  if (problem) {
    await applyResult(deps, {
      applicationId: application.id,
      provider: application.idvProvider ?? deps.config.idv.provider,
      result: { state: 'needs_review', reasonCodes: [`kcc:${problem}`], final: false, checks: [], vendorReference: application.id },
      eventAt: deps.clock(),
      actor: 'system:issuance',
    });
    deps.logger.warn('approval_sent_to_review', { applicationId: application.id, reason: problem });
    return false;
  }
  const presented = await assertPresentedCredentialsStillValid(deps, application.id, prefill);
  if (presented) throw new CredentialRequestDenied(`a credential presented for this application is no longer valid: ${presented}`);
  return true;
}

async function checkProofOfPossession(deps: Deps, grant: AccessTokenRecord, proofJwt: string, profile: Oid4vciProfile) {
  const now = nowSeconds(deps);
  const urls = issuerUrls(deps.config.publicUrl);
  const proof = await verifyProofJwt({
    jwt: proofJwt,
    applicantDid: grant.applicantDid,
    // spec: aud is the DID of the Credential Issuer; OID4VCI: the Credential Issuer Identifier. Accept both.
    audiences: [deps.issuer.did, urls.credentialIssuer],
    resolver: deps.resolver,
    verifier: deps.crypto,
    now,
    skewSeconds: deps.config.clockSkewSeconds,
    maxAgeSeconds: deps.config.proofMaxAgeSeconds,
    requireIss: profile === 'draft13',
  });
  // Verified first, consumed second: a forged proof never burns the holder's nonce.
  if (!(await consumeProofNonce(deps, proof.nonce, grant.jti))) {
    // OID4VCI 1.0 §8.3.1.2: a stale or unknown c_nonce is invalid_nonce (fetch a new one from
    // the Nonce Endpoint); draft 13 §7.3.2: invalid_proof carrying a fresh c_nonce.
    if (profile === 'v1') throw new InvalidNonce('proof nonce is not a current c_nonce');
    throw new InvalidProof('proof nonce is not a current c_nonce');
  }
}

/**
 * One decision, one credential (SECURITY.md): the application's one KCC is claimed before it is
 * signed (so racing requests, each with its own fresh nonce, never sign two), then signed and
 * recorded by `record`. A repeated request is credential_request_denied: only a digest of the
 * JWT is kept, so there is nothing to hand out again; renewal and upgrade are new applications.
 * A claim whose credential could not be signed or recorded is released for the next request.
 */
async function issueOnce(
  deps: Deps,
  application: Application,
  prefill: ApplicationPrefill | null,
  record: (credential: Awaited<ReturnType<typeof signKnownCustomerCredential>>) => Promise<boolean>,
  deferred = false,
) {
  const id = `urn:uuid:${randomUuid()}`;
  if (!(await deps.store.issuedCredentials.claim(application.id, id, nowSeconds(deps)))) {
    // OID4VCI 1.0 §9.3: a transaction that can no longer yield a credential is invalid_transaction_id.
    if (deferred) throw new InvalidTransactionId('the credential for this application was already issued');
    throw new CredentialRequestDenied('the credential for this application was already issued; a renewal or an upgrade is a new application');
  }
  try {
    const credential = await signKnownCustomerCredential(deps, application, prefill, id);
    if (!(await record(credential))) throw new InvalidTransactionId('transaction_id was already used');
    return credential;
  } catch (e) {
    await deps.store.issuedCredentials.releaseClaim(application.id, id);
    throw e;
  }
}

/** Signs the KCC for an approved application. The caller records it once it has won the right to (issueOnce). */
export async function signKnownCustomerCredential(deps: Deps, application: Application, prefill: ApplicationPrefill | null, id = `urn:uuid:${randomUuid()}`) {
  const now = nowSeconds(deps);
  const { credential } = deps.config;
  // Never a KCC the published schema refuses (issuable() sends such approvals to review).
  if (kccDataProblem(application)) throw new ServerError('the application lacks the data a KCC needs');
  const tier = tierOfApplication(deps, application);
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
    // An explicit tier from a decision (an operator's, or a vendor's) wins over the applied-for tier's name.
    tier: application.tier ?? tier.name,
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

/** Outbound webhook to the PFI's systems (docs/idv.md); the credential id makes it idempotent. */
async function announceCredentialIssued(
  deps: Deps,
  application: Application,
  credential: { id: string; issuedAt: number; expiresAt: number; supersedes: string[] },
  deferred: boolean,
) {
  await emitEvent(deps, 'credential.issued', credential.id, {
    credential_id: credential.id,
    application_id: application.id,
    applicant_did: application.applicantDid,
    deferred,
    issued_at: new Date(credential.issuedAt * 1000).toISOString(),
    expires_at: new Date(credential.expiresAt * 1000).toISOString(),
  });
  // Re-issue after an upgrade or renewal revokes the KCCs the new one supersedes.
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
 * OID4VCI 1.0 §8.3 / §9.2 success body: `credentials: [{ credential }]` and a `notification_id`
 * the wallet may send to the Notification Endpoint (§11), recorded against this grant.
 */
async function v1CredentialsResponse(deps: Deps, grant: { applicationId: string; jti: string }, credential: { id: string; jwt: string }) {
  const notificationId = randomToken(deps.crypto, 16);
  await deps.store.notifications.create({
    id: notificationId,
    applicationId: grant.applicationId,
    accessTokenJti: grant.jti,
    credentialId: credential.id,
    createdAt: nowSeconds(deps),
  });
  return { credentials: [{ credential: credential.jwt }], notification_id: notificationId };
}

/** OID4VCI 1.0 §8.3 / §9.2 deferred body (HTTP 202): the transaction and the polling interval. */
function v1DeferredResponse(deps: Deps, transactionId: string) {
  return { transaction_id: transactionId, interval: deps.config.deferredIntervalSeconds };
}
