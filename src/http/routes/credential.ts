import { Hono } from 'hono';
import { randomToken } from '../../crypto/random';
import { CredentialRequestDenied, InvalidNonce, InvalidProof, ServerError } from '../../protocol/errors';
import { parseCredentialRequest, type CredentialRequest, type Oid4vciProfile } from '../../protocol/oid4vci/credentialRequest';
import { verifyProofJwt } from '../../protocol/oid4vci/verifyProofJwt';
import type { AccessTokenRecord } from '../../store/store';
import { readJsonObject } from '../body';
import { nowSeconds, type AppDeps, type AppEnv } from '../context';
import {
  authenticateAccessToken,
  consumeProofNonce,
  freshCNonce,
  recordCredential,
  signKnownCustomerCredential,
  v1CredentialsResponse,
  v1DeferredResponse,
} from '../../issuance/issueCredential';
import { PATHS, issuerUrls } from '../../paths';
import { enforceRateLimit, rateLimitByIp } from '../rateLimit';

/**
 * Credential Endpoint (spec "Credential Endpoint"; OID4VCI draft 13 §7): bearer token, proof
 * of possession, then the credential at once (200) when IDV approved, a transaction_id (202)
 * while IDV is unfinished, or credential_request_denied when IDV declined.
 *
 * The same endpoint serves OID4VCI 1.0 Final (§8), detected from the request (see
 * parseCredentialRequest): then the body is `credentials: [{credential}]` with a notification_id,
 * the deferred answer carries `interval`, and a stale nonce is `invalid_nonce`.
 */
export const credentialRoutes = new Hono<AppEnv>();

credentialRoutes.post(PATHS.credential, rateLimitByIp('credential'), async (c) => {
  const deps = c.get('deps');
  c.header('Cache-Control', 'no-store');
  const grant = await authenticateAccessToken(deps, c.req.header('authorization'));
  enforceRateLimit(deps, 'credential', 'client', grant.applicantDid);
  let request: CredentialRequest | undefined;
  await withFreshNonceOnInvalidProof(deps, grant, () => request?.profile, async () => {
    request = parseCredentialRequest(await readJsonObject(c), { configurationId: deps.config.credential.configurationId });
    await checkProofOfPossession(deps, grant, request.proofJwt, request.profile);
  });
  if (!request) throw new ServerError('unreachable: request not parsed');
  const application = await deps.store.applications.get(grant.applicationId);
  if (!application) throw new ServerError('application not found');

  if (application.status === 'rejected') throw new CredentialRequestDenied('identity verification was not successful');
  if (application.status === 'approved') {
    const credential = await signKnownCustomerCredential(deps, application);
    await recordCredential(deps, application, credential);
    deps.logger.info('credential_issued', { requestId: c.get('requestId'), applicationId: application.id, deferred: false, profile: request.profile });
    if (request.profile === 'v1') return c.json(await v1CredentialsResponse(deps, grant, credential));
    return c.json({ credential: credential.jwt });
  }
  // IDV still running or in review: deferred issuance (spec: HTTP 202 with transaction_id).
  const transactionId = randomToken();
  await deps.store.transactions.create({
    id: transactionId,
    applicationId: application.id,
    accessTokenJti: grant.jti,
    holderDid: grant.applicantDid,
    createdAt: nowSeconds(deps),
    profile: request.profile,
  });
  deps.logger.info('credential_deferred', { requestId: c.get('requestId'), applicationId: application.id, profile: request.profile });
  if (request.profile === 'v1') return c.json(v1DeferredResponse(deps, transactionId), 202);
  return c.json({ transaction_id: transactionId }, 202);
});

/**
 * OID4VCI draft 13 §7.3.2: every invalid_proof answer carries a fresh c_nonce for the retry
 * (also when the request could not be parsed far enough to know its profile). OID4VCI 1.0
 * wallets get nonces from the Nonce Endpoint instead.
 */
async function withFreshNonceOnInvalidProof(deps: AppDeps, grant: AccessTokenRecord, profile: () => Oid4vciProfile | undefined, step: () => Promise<void>) {
  try {
    await step();
  } catch (e) {
    if (e instanceof InvalidProof && profile() !== 'v1') e.extra = { ...e.extra, ...(await freshCNonce(deps, grant.jti)) };
    throw e;
  }
}

async function checkProofOfPossession(deps: AppDeps, grant: AccessTokenRecord, proofJwt: string, profile: Oid4vciProfile) {
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
  });
  // Verified first, consumed second: a forged proof never burns the holder's nonce.
  if (!(await consumeProofNonce(deps, proof.nonce, grant.jti))) {
    // OID4VCI 1.0 §8.3.1.2: a stale or unknown c_nonce is invalid_nonce (fetch a new one from
    // the Nonce Endpoint); draft 13 §7.3.2: invalid_proof carrying a fresh c_nonce.
    if (profile === 'v1') throw new InvalidNonce('proof nonce is not a current c_nonce');
    throw new InvalidProof('proof nonce is not a current c_nonce');
  }
}
