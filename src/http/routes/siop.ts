import { Hono } from 'hono';
import { digestSecret } from '../../crypto/hash';
import { randomToken, randomUuid } from '../../crypto/random';
import { InvalidRequest } from '../../protocol/errors';
import { SIGNING_ALGS, buildCredentialOffer } from '../../protocol/oid4vci/metadata';
import { buildAuthorizationRequest, encodeAuthorizationRequest, signRequestObject } from '../../protocol/siop/authorizationRequest';
import { verifyIdToken } from '../../protocol/siop/verifyIdToken';
import { readFormOrJson } from '../body';
import { nowSeconds, type AppDeps, type AppEnv } from '../context';
import { PATHS, issuerUrls } from '../paths';
import { enforceRateLimit, rateLimitByIp } from '../rateLimit';

/**
 * Initiate Application (spec "Initiate Application", "Authenticate Applicant DID"):
 * GET the IDV service endpoint → SIOPv2 Authorization Request;
 * POST the Authorization Response (direct_post) → IDV Request `{ url, credential_offer }`.
 */
export const siopRoutes = new Hono<AppEnv>();

siopRoutes.get(PATHS.initiate, rateLimitByIp('initiate'), async (c) => {
  const deps = c.var.deps;
  const presentationDefinitionId = selectPresentationDefinition(deps, c.req.query('presentation_definition_id'));
  const { request, requestObject } = await createAuthorizationRequest(deps, presentationDefinitionId);
  c.header('Cache-Control', 'no-store');
  // Clients that ask for JSON get the parameters as an object (with the signed `request`);
  // everyone else gets the URI-encoded query string the spec prescribes.
  if ((c.req.header('accept') ?? '').includes('application/json')) return c.json({ ...request, request: requestObject });
  return c.body(encodeAuthorizationRequest(request, requestObject), 200, { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' });
});

siopRoutes.post(PATHS.siopResponse, rateLimitByIp('siop'), async (c) => {
  const deps = c.var.deps;
  const { body } = await readFormOrJson(c);
  const verified = await authenticateApplicant(deps, body);
  enforceRateLimit(deps, 'siop', 'client', verified.applicantDid);
  await consumeRequestNonce(deps, verified.nonce);
  const idvRequest = await openApplication(deps, verified.applicantDid);
  deps.logger.info('application_created', { requestId: c.var.requestId, applicationId: idvRequest.applicationId });
  c.header('Cache-Control', 'no-store');
  return c.json({ url: idvRequest.url, credential_offer: idvRequest.credentialOffer });
});

function selectPresentationDefinition(deps: AppDeps, id: string | undefined): string | null {
  if (id === undefined || id === '') return null;
  // The PFI chooses the KCC when no id is given; the only KCC offered is the configured one.
  if (id !== deps.config.credential.configurationId) throw new InvalidRequest('unknown presentation_definition_id');
  return id;
}

async function createAuthorizationRequest(deps: AppDeps, presentationDefinitionId: string | null) {
  const now = nowSeconds(deps);
  const nonce = randomToken();
  await deps.store.siopRequests.create({ nonce, presentationDefinitionId, createdAt: now, expiresAt: now + deps.config.ttl.siopRequest });
  const request = buildAuthorizationRequest({
    clientId: deps.issuer.did,
    responseUri: issuerUrls(deps.config.publicUrl).siopResponse,
    nonce,
    clientMetadata: {
      subject_syntax_types_supported: [...deps.resolver.methods],
      client_name: deps.config.clientName,
      client_uri: deps.config.publicUrl,
      id_token_signing_alg_values_supported: [...SIGNING_ALGS],
      request_object_signing_alg: deps.issuer.signer.alg,
    },
  });
  const requestObject = await signRequestObject(deps.issuer.signer, request, now, deps.config.ttl.siopRequest);
  return { request, requestObject };
}

async function authenticateApplicant(deps: AppDeps, body: Record<string, unknown>) {
  if (typeof body.id_token !== 'string') throw new InvalidRequest('id_token is required');
  return verifyIdToken({
    idToken: body.id_token,
    clientId: deps.issuer.did,
    resolver: deps.resolver,
    verifier: deps.crypto,
    now: nowSeconds(deps),
    skewSeconds: deps.config.clockSkewSeconds,
    maxAgeSeconds: deps.config.idTokenMaxAgeSeconds,
    acceptedMethods: deps.resolver.methods,
  });
}

async function consumeRequestNonce(deps: AppDeps, nonce: string) {
  // Verified first, consumed second: a forged token cannot burn someone else's nonce.
  const request = await deps.store.siopRequests.consume(nonce, nowSeconds(deps));
  if (!request) throw new InvalidRequest('nonce is unknown, expired or already used');
  return request;
}

/** IDV Request (spec "IDV Request"): the form URL, bound by an unguessable token, and a bound offer. */
async function openApplication(deps: AppDeps, applicantDid: string) {
  const now = nowSeconds(deps);
  const urls = issuerUrls(deps.config.publicUrl);
  const applicationId = randomUuid();
  const formToken = randomToken();
  const preAuthorizedCode = randomToken();
  // One atomic write (store.applications.createWithCode): never an application without its code.
  await deps.store.applications.createWithCode(
    {
      id: applicationId,
      applicantDid,
      credentialConfigurationId: deps.config.credential.configurationId,
      status: 'pending',
      formTokenHash: digestSecret(formToken),
      formExpiresAt: now + deps.config.ttl.idvForm,
      createdAt: now,
      updatedAt: now,
    },
    {
      codeHash: digestSecret(preAuthorizedCode),
      applicationId,
      applicantDid,
      expiresAt: now + deps.config.ttl.preAuthorizedCode,
    },
  );
  return {
    applicationId,
    url: urls.idvForm(formToken),
    credentialOffer: buildCredentialOffer({
      credentialIssuer: urls.credentialIssuer,
      configurationId: deps.config.credential.configurationId,
      preAuthorizedCode,
    }),
  };
}
