import { Hono } from 'hono';
import { digestSecret } from '../../crypto/hash';
import { randomToken, randomUuid } from '../../crypto/random';
import { InvalidRequest } from '../../protocol/errors';
import { SIGNING_ALGS, buildCredentialOffer } from '../../protocol/oid4vci/metadata';
import { buildAuthorizationRequest, encodeAuthorizationRequest, signRequestObject } from '../../protocol/siop/authorizationRequest';
import { verifyIdToken } from '../../protocol/siop/verifyIdToken';
import { acceptsPriorCredentials, findTier, priorCredentialDefinition } from '../../protocol/tiers';
import type { TierConfig } from '../../config';
import { prefillFromCredentials, verifyPresentedCredentials, type Prefill } from '../../issuance/presentedCredentials';
import { readFormOrJson } from '../body';
import { nowSeconds, type AppDeps, type AppEnv } from '../context';
import { PATHS, issuerUrls } from '../../paths';
import { enforceRateLimit, rateLimitByIp } from '../rateLimit';

/**
 * Initiate Application (spec "Initiate Application", "Authenticate Applicant DID"):
 * GET the IDV service endpoint → SIOPv2 Authorization Request;
 * POST the Authorization Response (direct_post) → IDV Request `{ url, credential_offer }`.
 */
export const siopRoutes = new Hono<AppEnv>();

siopRoutes.get(PATHS.initiate, rateLimitByIp('initiate'), async (c) => {
  const deps = c.get('deps');
  const tier = selectTier(deps, c.req.query('presentation_definition_id'));
  const { request, requestObject } = await createAuthorizationRequest(deps, tier);
  c.header('Cache-Control', 'no-store');
  // Clients that ask for JSON get the parameters as an object (with the signed `request`);
  // everyone else gets the URI-encoded query string the spec prescribes.
  if ((c.req.header('accept') ?? '').includes('application/json')) return c.json({ ...request, request: requestObject });
  return c.body(encodeAuthorizationRequest(request, requestObject), 200, { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' });
});

siopRoutes.post(PATHS.siopResponse, rateLimitByIp('siop'), async (c) => {
  const deps = c.get('deps');
  const { body } = await readFormOrJson(c);
  const verified = await authenticateApplicant(deps, body);
  enforceRateLimit(deps, 'siop', 'client', verified.applicantDid);
  const pending = await deps.store.siopRequests.get(verified.nonce);
  const tier = tierOfRequest(deps, pending?.presentationDefinitionId ?? null);
  let prefill: Prefill | undefined;
  if (body.vp_token !== undefined && body.vp_token !== '') {
    // spec "Authenticate Applicant DID": vp_token answers the request's presentation_definition.
    if (!pending) throw new InvalidRequest('nonce is unknown, expired or already used');
    if (!acceptsPriorCredentials(tier)) throw new InvalidRequest('this request asked for no presentation (vp_token)');
    const credentials = await verifyPresentedCredentials(deps, { body, applicantDid: verified.applicantDid, nonce: verified.nonce, tier });
    prefill = await prefillFromCredentials(deps, tier, credentials);
  }
  await consumeRequestNonce(deps, verified.nonce);
  const idvRequest = await openApplication(deps, verified.applicantDid, tier, prefill);
  deps.logger.info('application_created', { requestId: c.get('requestId'), applicationId: idvRequest.applicationId });
  c.header('Cache-Control', 'no-store');
  return c.json({ url: idvRequest.url, credential_offer: idvRequest.credentialOffer });
});

/** spec "Initiate Application": presentation_definition_id names the KCC (tier) to issue; none → the PFI chooses (the default tier). */
function selectTier(deps: AppDeps, id: string | undefined): TierConfig {
  if (id === undefined || id === '') return tierOfRequest(deps, null);
  const tier = findTier(deps.config.tiers, id);
  if (!tier) {
    const known = deps.config.tiers.map((t) => t.id).join(', ');
    throw new InvalidRequest(`unknown presentation_definition_id ${JSON.stringify(id.slice(0, 64))}; this PFI issues: ${known}`);
  }
  return tier;
}

function tierOfRequest(deps: AppDeps, id: string | null): TierConfig {
  return (id ? findTier(deps.config.tiers, id) : undefined) ?? (findTier(deps.config.tiers, deps.config.defaultTierId) as TierConfig);
}

async function createAuthorizationRequest(deps: AppDeps, tier: TierConfig) {
  const now = nowSeconds(deps);
  const nonce = randomToken();
  await deps.store.siopRequests.create({ nonce, presentationDefinitionId: tier.id, createdAt: now, expiresAt: now + deps.config.ttl.siopRequest });
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
    // A tier that accepts prior credentials asks for them (response_type becomes "id_token vp_token").
    presentationDefinition: acceptsPriorCredentials(tier)
      ? (priorCredentialDefinition(tier, deps.issuer.did) as unknown as Record<string, unknown>)
      : undefined,
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
async function openApplication(deps: AppDeps, applicantDid: string, tier: TierConfig, prefill?: Prefill) {
  const now = nowSeconds(deps);
  const urls = issuerUrls(deps.config.publicUrl);
  const applicationId = randomUuid();
  const formToken = randomToken();
  const preAuthorizedCode = randomToken();
  // Every check already covered by presented credentials (renewal with fresh evidence): no
  // IDV to do, the application is approved now and the webview goes straight to finish.html.
  const nothingMissing = prefill !== undefined && prefill.missingChecks.length === 0 && prefill.countryOfResidence !== undefined;
  // One atomic write (store.applications.createWithCode): never an application without its code.
  await deps.store.applications.createWithCode(
    {
      id: applicationId,
      applicantDid,
      credentialConfigurationId: tier.id,
      status: nothingMissing ? 'approved' : 'pending',
      formTokenHash: digestSecret(formToken),
      formExpiresAt: now + deps.config.ttl.idvForm,
      createdAt: now,
      updatedAt: now,
      ...(nothingMissing
        ? {
            formSubmittedAt: now,
            idvProvider: 'presented-credentials',
            countryOfResidence: prefill.countryOfResidence,
            tier: tier.name,
            evidence: '[]',
            decidedBy: 'presented-credentials',
            decidedAt: now,
          }
        : {}),
    },
    {
      codeHash: digestSecret(preAuthorizedCode),
      applicationId,
      applicantDid,
      expiresAt: now + deps.config.ttl.preAuthorizedCode,
    },
  );
  if (prefill) {
    await deps.store.applicationPrefill.create({
      applicationId,
      tierId: tier.id,
      verifiedEvidence: JSON.stringify(prefill.verifiedEvidence),
      missingChecks: JSON.stringify(prefill.missingChecks),
      supersedes: JSON.stringify(prefill.supersedes),
      countryOfResidence: prefill.countryOfResidence ?? null,
      createdAt: now,
    });
  }
  return {
    applicationId,
    url: nothingMissing ? urls.idvFinish : urls.idvForm(formToken),
    credentialOffer: buildCredentialOffer({
      credentialIssuer: urls.credentialIssuer,
      configurationId: tier.id,
      preAuthorizedCode,
    }),
  };
}
