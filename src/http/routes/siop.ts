import { Hono } from 'hono';
import { createAuthorizationRequest, openApplication, selectTier } from '../../issuance/applications';
import { PATHS } from '../../paths';
import { encodeAuthorizationRequest } from '../../protocol/siop/authorizationRequest';
import { readFormOrJson } from '../body';
import type { AppEnv } from '../context';
import { enforceRateLimit, rateLimitByIp } from '../rateLimit';
import { requestHeader } from '../headers';
import { describeRoute, doc } from '../openapi';
import { IdvRequestBody, SiopAuthorizationRequestJson, SiopResponseBody } from '../apiBodies';

/**
 * Initiate Application (spec "Initiate Application", "Authenticate Applicant DID"):
 * GET the IDV service endpoint → SIOPv2 Authorization Request;
 * POST the Authorization Response (direct_post) → IDV Request `{ url, credential_offer }`.
 * The use cases are src/issuance/applications.ts.
 */
export const siopRoutes = new Hono<AppEnv>();

siopRoutes.get(
  PATHS.initiate,
  describeRoute({
    summary: 'SIOPv2 Authorization Request (the IDV endpoint of the PFI DID document)',
    tags: ['applicant'],
    query: { presentation_definition_id: { description: 'Tier to apply for (GET /presentation-definitions)' } },
    responses: {
      200: {
        description: 'The request as URL parameters (application/x-www-form-urlencoded), or as JSON when asked for',
        json: SiopAuthorizationRequestJson,
        other: ['application/x-www-form-urlencoded'],
      },
      400: doc.error('Unknown tier'),
      429: doc.error('Too many requests'),
    },
  }),
);
siopRoutes.get(PATHS.initiate, rateLimitByIp('initiate'), async (c) => {
  const deps = c.get('deps');
  const tier = selectTier(deps, c.req.query('presentation_definition_id'));
  const { request, requestObject } = await createAuthorizationRequest(deps, tier);
  c.header('Cache-Control', 'no-store');
  // Clients that ask for JSON get the parameters as an object (with the signed `request`);
  // everyone else gets the URI-encoded query string the spec prescribes.
  if ((requestHeader(c, 'accept') ?? '').includes('application/json')) return c.json({ ...request, request: requestObject });
  return c.body(encodeAuthorizationRequest(request, requestObject), 200, { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' });
});

siopRoutes.post(
  PATHS.siopResponse,
  describeRoute({
    summary: 'SIOPv2 Authorization Response: opens the application, answers the IDV Request',
    tags: ['applicant'],
    body: SiopResponseBody,
    form: true,
    responses: {
      200: doc.json('IDV Request: the form URL and the credential offer', IdvRequestBody),
      400: doc.error('Invalid or replayed ID token'),
      429: doc.error('Too many requests'),
    },
  }),
);
siopRoutes.post(PATHS.siopResponse, rateLimitByIp('siop'), async (c) => {
  const deps = c.get('deps');
  const { body } = await readFormOrJson(c);
  const idvRequest = await openApplication(deps, body, (applicantDid) => enforceRateLimit(deps, 'siop', 'client', applicantDid));
  deps.logger.info('application_created', { requestId: c.get('requestId'), applicationId: idvRequest.applicationId });
  c.header('Cache-Control', 'no-store');
  return c.json({ url: idvRequest.url, credential_offer: idvRequest.credentialOffer });
});
