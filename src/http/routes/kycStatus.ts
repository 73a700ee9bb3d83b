import { Hono } from 'hono';
import { InvalidRequest, NotFound, Unauthorized } from '../../protocol/errors';
import { readKycStatusForTenant } from '../../issuance/kycStatusRead';
import { kycTenantsFromKeys } from '../../config/kycTenants';
import type { AppEnv } from '../context';
import { bearerMatches, bearerOf } from '../bearer';
import { describeRoute, doc } from '../openapi';
import { KycStatusBody } from '../apiBodies';

/**
 * KYC status API for relying parties (README "KYC status API"; seed 000's tenant status read):
 * `GET /api/v1/kyc/{subject}/status` with `Authorization: Bearer <one of KYC_API_KEYS>`; the
 * subject is the applicant DID, URL-encoded. Disabled (404) when no key is configured. The key
 * names the tenant (src/config/kycTenants.ts); the read needs the subject's authorisation for that tenant
 * in `KYC-Subject-Authorization` (src/issuance/kycStatusRead.ts), else 404 whatever the DID.
 */
export const kycStatusRoutes = new Hono<AppEnv>();

const handler = async (c: import('hono').Context<AppEnv>) => {
  const deps = c.get('deps');
  if (deps.config.kycApiKeys.length === 0) throw new NotFound('the KYC status API is disabled (KYC_API_KEYS is not set)');
  // Every key of every tenant is compared, so the time does not say which one (or whether any) matched.
  const presented = bearerOf(c.req.header('authorization'));
  let tenant: string | undefined;
  for (const t of kycTenantsFromKeys(deps.config.kycApiKeys)) for (const k of t.keys) if (bearerMatches(deps.crypto, presented, k)) tenant = t.name;
  if (!tenant) throw new Unauthorized('a valid tenant API key is required');
  const subject = c.req.param('subject') ?? '';
  if (!/^did:[a-z0-9]+:\S{1,2000}$/.test(subject)) throw new InvalidRequest('subject must be a DID (URL-encoded)');
  c.header('Cache-Control', 'no-store');
  return c.json(await readKycStatusForTenant(deps, { tenant, subject, authorization: c.req.header('kyc-subject-authorization') }));
};

kycStatusRoutes.get(
  '/api/v1/kyc/:subject/status',
  describeRoute({
    summary: "KYC status of a subject for a relying party (tenant of KYC_API_KEYS), with the subject's authorisation (docs/kyc-status.md)",
    tags: ['relying party'],
    security: 'bearer',
    headers: {
      'KYC-Subject-Authorization': {
        description: "JWT (typ kyc-authorization+jwt) signed by the subject's DID key naming this tenant and this issuer, a few minutes valid",
        required: true,
      },
    },
    responses: {
      200: doc.json('The status (also when the subject has none: unverified)', KycStatusBody),
      400: doc.error('subject is not a DID'),
      401: doc.error('Missing or unknown tenant key'),
      404: doc.error('API disabled, or no authorisation of this subject for this tenant (the same answer as an unknown DID)'),
    },
  }),
);
kycStatusRoutes.get('/api/v1/kyc/:subject/status', handler);
kycStatusRoutes.get('/api/v1/kyc/:subject/status/', handler);
