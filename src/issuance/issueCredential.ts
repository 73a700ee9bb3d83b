import { sha256 } from '@noble/hashes/sha2.js';
import { base64urlEncode, utf8 } from '../crypto/base64url';
import { randomToken, randomUuid } from '../crypto/random';
import { InvalidToken } from '../protocol/errors';
import { bearerToken, verifyAccessToken } from '../protocol/oid4vci/accessToken';
import { signKcc, type Evidence } from '../protocol/kcc';
import { findTier } from '../protocol/tiers';
import type { TierConfig } from '../config';
import { allocateCredentialStatus, revokeCredential, type EvidenceRecord } from './credentialStatus';
import type { AccessTokenRecord, Application } from '../store/store';
import { nowSeconds } from '../ports/clock';
import type { IssuanceDeps } from './deps';
import { issuerUrls } from '../paths';
import { emitEvent } from './identityVerification';

/** Verifies the bearer access token and returns its grant record (not revoked, not expired). */
export async function authenticateAccessToken(deps: IssuanceDeps, authorization: string | undefined): Promise<AccessTokenRecord> {
  const claims = await verifyAccessToken({
    token: bearerToken(authorization),
    issuerDid: deps.issuer.did,
    issuerKeys: deps.issuer.keysByKid,
    verifier: deps.crypto,
    now: nowSeconds(deps),
  });
  const record = await deps.store.accessTokens.get(claims.jti);
  if (!record || record.revokedAt != null || record.applicantDid !== claims.sub) throw new InvalidToken('access token is revoked or unknown');
  return record;
}

/** A fresh c_nonce bound to the access token (returned with invalid_proof, OID4VCI draft 13 §7.3.2). */
export async function freshCNonce(deps: IssuanceDeps, accessTokenJti: string) {
  const now = nowSeconds(deps);
  const nonce = randomToken();
  await deps.store.cNonces.create({ nonce, accessTokenJti, expiresAt: now + deps.config.ttl.cNonce });
  return { c_nonce: nonce, c_nonce_expires_in: deps.config.ttl.cNonce };
}

/** Signs the KCC for an approved application. The caller records it once it has won the right to. */
export async function signKnownCustomerCredential(deps: IssuanceDeps, application: Application) {
  const now = nowSeconds(deps);
  const { credential } = deps.config;
  const id = `urn:uuid:${randomUuid()}`;
  const tier = tierOfApplication(deps, application);
  // Validity per tier (issue 8); the default tier's validityDays is credential.validityDays.
  const expiresAt = now + tier.validityDays * 86400;
  const { evidence, supersedes } = await evidenceOfApplication(deps, application, now);
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
    countryOfResidence: application.countryOfResidence ?? '',
    tier: operatorTier(deps, application) ?? tier.name,
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
export function credentialRecord(application: Application, credential: { id: string; jwt: string; issuedAt: number; expiresAt: number }) {
  return {
    id: credential.id,
    applicationId: application.id,
    subjectDid: application.applicantDid,
    jwtSha256: base64urlEncode(sha256(utf8.encode(credential.jwt))),
    issuedAt: credential.issuedAt,
    expiresAt: credential.expiresAt,
  };
}

/** Records an immediately issued credential (before it is returned, so every credential handed out is on record). */
export async function recordCredential(deps: IssuanceDeps, application: Application, credential: { id: string; jwt: string; issuedAt: number; expiresAt: number; supersedes?: string[] }) {
  await deps.store.issuedCredentials.record({ ...credentialRecord(application, credential), transactionId: null });
  await announceCredentialIssued(deps, application, credential, false);
}

/** Outbound webhook to the PFI's systems (docs/idv.md); the credential id makes it idempotent. */
export async function announceCredentialIssued(
  deps: IssuanceDeps,
  application: Application,
  credential: { id: string; issuedAt: number; expiresAt: number; /** as signKnownCustomerCredential found them */ supersedes?: string[] },
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
  // Re-issue after an upgrade or renewal revokes the KCCs the new one supersedes (issue 8).
  const supersedes = credential.supersedes ?? parseStrings((await deps.store.applicationPrefill.get(application.id))?.supersedes ?? null);
  for (const supersededId of supersedes) {
    if (supersededId !== credential.id) await revokeCredential(deps, supersededId, `superseded by ${credential.id}`);
  }
}

/** The tier an application asked for (its credential configuration id); the default tier otherwise. */
export function tierOfApplication(deps: IssuanceDeps, application: Application): TierConfig {
  return findTier(deps.config.tiers, application.credentialConfigurationId) ?? (findTier(deps.config.tiers, deps.config.defaultTierId) as TierConfig);
}

/**
 * An explicit tier from a decision (an operator's `tier`, or an IDV vendor configured to assign
 * one) wins over the applied-for tier's name. The sandbox and the hosted form assign none.
 */
function operatorTier(_deps: IssuanceDeps, application: Application): string | undefined {
  return application.tier ?? undefined;
}

/**
 * Evidence for the KCC: checks carried over from presented credentials (still fresh, with
 * their original time) plus the checks IDV did for this application (at its decision time).
 */
async function evidenceOfApplication(deps: IssuanceDeps, application: Application, now: number): Promise<{ evidence: EvidenceRecord[]; supersedes: string[] }> {
  const verifiedAt = application.decidedAt ?? now;
  const fresh = parseEvidence(application.evidence).map((e) => ({ kind: e.kind, checks: [...(e.checks ?? [])], verifiedAt }));
  const prefill = await deps.store.applicationPrefill.get(application.id);
  const carried = parseEvidenceRecords(prefill?.verifiedEvidence ?? null).filter((c) => !fresh.some((f) => f.kind === c.kind));
  // The KCCs this one replaces (upgrade, renewal), read here once for announceCredentialIssued.
  return { evidence: [...carried, ...fresh], supersedes: parseStrings(prefill?.supersedes ?? null) };
}

function parseStrings(text: string | null): string[] {
  if (!text) return [];
  try {
    const value = JSON.parse(text);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

export function parseEvidenceRecords(text: string | null): EvidenceRecord[] {
  if (!text) return [];
  try {
    const value = JSON.parse(text);
    if (!Array.isArray(value)) return [];
    return value
      .filter((v) => v && typeof v.kind === 'string' && Array.isArray(v.checks) && typeof v.verifiedAt === 'number')
      .map((v) => ({ kind: v.kind, checks: v.checks.filter((c: unknown) => typeof c === 'string'), verifiedAt: v.verifiedAt }));
  } catch {
    return [];
  }
}

function parseEvidence(text: string | null): Evidence[] {
  if (!text) return [];
  try {
    const value = JSON.parse(text);
    return Array.isArray(value) ? value : [];
  } catch {
    return [];
  }
}

/** A c_nonce from the Nonce Endpoint (OID4VCI 1.0 §7): unbound, single use, short-lived. */
export async function freshUnboundNonce(deps: IssuanceDeps): Promise<string> {
  const now = nowSeconds(deps);
  const nonce = randomToken();
  await deps.store.nonces.create({ nonce, expiresAt: now + deps.config.ttl.cNonce });
  return nonce;
}

/**
 * Consumes the nonce of a verified proof, once: a c_nonce bound to this access token (token
 * response or draft-13 error response), else a Nonce Endpoint nonce. False if it is neither.
 */
export async function consumeProofNonce(deps: IssuanceDeps, nonce: string, accessTokenJti: string): Promise<boolean> {
  const now = nowSeconds(deps);
  if (await deps.store.cNonces.consume(nonce, accessTokenJti, now)) return true;
  return (await deps.store.nonces.consume(nonce, now)) !== undefined;
}

/**
 * OID4VCI 1.0 §8.3 / §9.2 success body: `credentials: [{ credential }]` and a `notification_id`
 * the wallet may send to the Notification Endpoint (§11), recorded against this grant.
 */
export async function v1CredentialsResponse(
  deps: IssuanceDeps,
  grant: { applicationId: string; jti: string },
  credential: { id: string; jwt: string },
) {
  const notificationId = randomToken(16);
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
export function v1DeferredResponse(deps: IssuanceDeps, transactionId: string) {
  return { transaction_id: transactionId, interval: deps.config.deferredIntervalSeconds };
}
