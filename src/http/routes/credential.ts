import { Hono } from 'hono';
import { randomToken } from '../../crypto/random';
import { CredentialRequestDenied, InvalidProof, ServerError } from '../../protocol/errors';
import { parseCredentialRequest } from '../../protocol/oid4vci/credentialRequest';
import { verifyProofJwt } from '../../protocol/oid4vci/verifyProofJwt';
import type { AccessTokenRecord } from '../../store/store';
import { readJsonObject } from '../body';
import { nowSeconds, type AppDeps, type AppEnv } from '../context';
import { authenticateAccessToken, freshCNonce, recordCredential, signKnownCustomerCredential } from '../issuance';
import { PATHS, issuerUrls } from '../paths';
import { enforceRateLimit, rateLimitByIp } from '../rateLimit';

/**
 * Credential Endpoint (spec "Credential Endpoint"; OID4VCI draft 13 §7): bearer token, proof
 * of possession, then the credential at once (200) when IDV approved, a transaction_id (202)
 * while IDV is unfinished, or credential_request_denied when IDV declined.
 */
export const credentialRoutes = new Hono<AppEnv>();

credentialRoutes.post(PATHS.credential, rateLimitByIp('credential'), async (c) => {
  const deps = c.var.deps;
  c.header('Cache-Control', 'no-store');
  const grant = await authenticateAccessToken(deps, c.req.header('authorization'));
  enforceRateLimit(deps, 'credential', 'client', grant.applicantDid);
  await withFreshNonceOnInvalidProof(deps, grant, async () => {
    const request = parseCredentialRequest(await readJsonObject(c));
    await checkProofOfPossession(deps, grant, request.proofJwt);
  });
  const application = await deps.store.applications.get(grant.applicationId);
  if (!application) throw new ServerError('application not found');

  if (application.status === 'rejected') throw new CredentialRequestDenied('identity verification was not successful');
  if (application.status === 'approved') {
    const credential = await signKnownCustomerCredential(deps, application);
    await recordCredential(deps, application, credential);
    deps.logger.info('credential_issued', { requestId: c.var.requestId, applicationId: application.id, deferred: false });
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
  });
  deps.logger.info('credential_deferred', { requestId: c.var.requestId, applicationId: application.id });
  return c.json({ transaction_id: transactionId }, 202);
});

/** OID4VCI draft 13 §7.3.2: every invalid_proof answer carries a fresh c_nonce for the retry. */
async function withFreshNonceOnInvalidProof(deps: AppDeps, grant: AccessTokenRecord, step: () => Promise<void>) {
  try {
    await step();
  } catch (e) {
    if (e instanceof InvalidProof) e.extra = { ...e.extra, ...(await freshCNonce(deps, grant.jti)) };
    throw e;
  }
}

async function checkProofOfPossession(deps: AppDeps, grant: AccessTokenRecord, proofJwt: string) {
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
  const consumed = await deps.store.cNonces.consume(proof.nonce, grant.jti, now);
  if (!consumed) throw new InvalidProof('proof nonce is not a current c_nonce');
}
