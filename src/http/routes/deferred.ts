import { Hono } from 'hono';
import { CredentialRequestDenied, InvalidTransactionId, IssuancePending } from '../../protocol/errors';
import { readJsonObject } from '../body';
import { nowSeconds, type AppEnv } from '../context';
import { announceCredentialIssued, authenticateAccessToken, credentialRecord, signKnownCustomerCredential, v1CredentialsResponse, v1DeferredResponse } from '../../issuance/issueCredential';
import { PATHS } from '../../paths';
import { enforceRateLimit, rateLimitByIp } from '../rateLimit';

/**
 * Deferred Credential Endpoint (spec "Deferred Credential Endpoint"; OID4VCI draft 13 §9):
 * 400 issuance_pending until IDV is decided, then the credential exactly once; the
 * transaction is consumed by one conditional UPDATE, so a replay gets invalid_transaction_id.
 * A transaction opened by an OID4VCI 1.0 request is answered in the 1.0 shape (§9.2): 202 with
 * the same transaction_id and `interval` while pending, 200 `credentials` + notification_id.
 */
export const deferredRoutes = new Hono<AppEnv>();

deferredRoutes.post(PATHS.deferredCredential, rateLimitByIp('credential'), async (c) => {
  const deps = c.get('deps');
  c.header('Cache-Control', 'no-store');
  const grant = await authenticateAccessToken(deps, c.req.header('authorization'));
  enforceRateLimit(deps, 'credential', 'client', grant.applicantDid);
  const body = await readJsonObject(c);
  const transactionId = body.transaction_id;
  if (typeof transactionId !== 'string' || transactionId.length === 0 || transactionId.length > 200) {
    throw new InvalidTransactionId('transaction_id is required');
  }
  const transaction = await deps.store.transactions.get(transactionId);
  if (!transaction || transaction.applicationId !== grant.applicationId || transaction.consumedAt != null) {
    throw new InvalidTransactionId('transaction_id is unknown or was already used');
  }
  const application = await deps.store.applications.get(transaction.applicationId);
  if (!application) throw new InvalidTransactionId('transaction_id is unknown');
  if (application.status === 'pending' || application.status === 'review') {
    if (transaction.profile === 'v1') return c.json(v1DeferredResponse(deps, transaction.id), 202);
    throw new IssuancePending('identity verification is not finished yet');
  }
  if (application.status === 'rejected') throw new CredentialRequestDenied('identity verification was not successful');

  const credential = await signKnownCustomerCredential(deps, application);
  const won = await deps.store.transactions.completeWithCredential(transaction.id, credentialRecord(application, credential), nowSeconds(deps));
  if (!won) throw new InvalidTransactionId('transaction_id was already used');
  await announceCredentialIssued(deps, application, credential, true);
  deps.logger.info('credential_issued', { requestId: c.get('requestId'), applicationId: application.id, deferred: true, profile: transaction.profile });
  if (transaction.profile === 'v1') return c.json(await v1CredentialsResponse(deps, grant, credential));
  return c.json({ credential: credential.jwt });
});
