import { z } from 'zod';
import { FIELD_RULES } from '../idv/fields';

/**
 * The bodies the routes answer with (and the request bodies they read without a zod schema of
 * their own), as zod schemas for the OpenAPI document: each route names its own in its
 * `describeRoute` (src/http/openapi.ts), and test/http/openapi.test.ts checks real answers of
 * every route against them.
 */

/** Every error body (src/http/errors.ts): RFC 6749 §5.2 / OID4VCI style. */
export const ErrorBody = z.looseObject({ error: z.string(), error_description: z.string().optional() });
const DraftCNonce = { c_nonce: z.string().optional(), c_nonce_expires_in: z.number().int().optional() };

export const SiopAuthorizationRequestJson = z.looseObject({
  client_id: z.string(),
  response_type: z.string(),
  response_uri: z.string().optional(),
  nonce: z.string(),
  request: z.string(),
});
export const IdvRequestBody = z.object({
  url: z.string(),
  credential_offer: z.looseObject({
    credential_issuer: z.string(),
    credential_configuration_ids: z.array(z.string()),
    grants: z.record(z.string(), z.unknown()),
  }),
});
export const TokenResponse = z.looseObject({ access_token: z.string(), token_type: z.string(), expires_in: z.number().int(), ...DraftCNonce });
export const CredentialResponse = z.union([
  z.looseObject({ credential: z.string(), ...DraftCNonce }),
  z.looseObject({ credentials: z.array(z.object({ credential: z.string() })).min(1), notification_id: z.string().optional() }),
]);
export const DeferredResponse = z.looseObject({ transaction_id: z.string(), interval: z.number().int().optional() });
export const NonceResponse = z.object({ c_nonce: z.string() });
export const KyaTokenResponse = z.object({ kya_token: z.string(), token_type: z.literal('kya+jwt'), expires_in: z.number().int() });
export const CredentialIssuerMetadata = z.looseObject({
  credential_issuer: z.string(),
  credential_endpoint: z.string(),
  credential_configurations_supported: z.record(z.string(), z.looseObject({ format: z.string() })),
});
export const AuthorizationServerMetadata = z.looseObject({ issuer: z.string(), token_endpoint: z.string() });
/** SD-JWT VC §5 (src/protocol/sdJwtVc/metadata.ts). */
export const JwtVcIssuerMetadata = z.object({ issuer: z.string(), jwks: z.object({ keys: z.array(z.looseObject({ kid: z.string(), kty: z.string() })) }) });
export const DidDocument = z.looseObject({ id: z.string(), verificationMethod: z.array(z.looseObject({ id: z.string(), type: z.string() })).optional() });
/** GET /api/v1/kyc/{subject}/status (src/issuance/kycStatus.ts KycStatusAnswer). */
export const KycStatusBody = z.object({
  kyc_status: z.enum(['verified', 'pending', 'rejected', 'unverified', 'expired']),
  kyc_tier: z.string().nullable(),
  aml_clear: z.boolean(),
});
export const Health = z.object({ status: z.literal('ok') });
export const Ready = z.object({ status: z.literal('ready'), checks: z.object({ database: z.string(), migrations: z.string() }) });
export const NotReady = z.looseObject({
  error: z.literal('not_ready'),
  error_description: z.string(),
  checks: z.object({ database: z.string(), migrations: z.string() }),
  pending_migrations: z.array(z.string()),
});
export const Tiers = z.object({
  default: z.string(),
  tiers: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      required_checks: z.array(z.string()),
      validity_days: z.number(),
      accepts_prior_credentials: z.boolean(),
      presentation_definition_uri: z.string(),
      initiate_uri: z.string(),
    }),
  ),
});
export const PresentationDefinition = z.looseObject({ id: z.string(), input_descriptors: z.array(z.looseObject({ id: z.string() })) });
export const IdvFormStatus = z.object({ status: z.enum(['pending', 'review', 'approved', 'rejected', 'withdrawn']) });
export const IdvFormErrors = z.looseObject({
  error: z.literal('invalid_request'),
  error_description: z.string(),
  /** Stable codes per field (src/idv/fields.ts FieldErrorCode, or consent_required). */
  errors: z.record(z.string(), z.string()),
  /** The same errors in the page's language (Accept-Language). */
  messages: z.record(z.string(), z.string()).optional(),
});
export const WebhookReceived = z.object({ received: z.literal(true), disposition: z.string() });
const Iso = z.string();
export const AdminApplication = z.object({
  id: z.string(),
  applicant_did: z.string(),
  status: z.enum(['pending', 'review', 'approved', 'rejected', 'withdrawn']),
  credential_configuration_id: z.string(),
  idv_provider: z.string().nullable(),
  country_of_residence: z.string().nullable(),
  tier: z.string().nullable(),
  decision_reason: z.string().nullable(),
  decided_by: z.string().nullable(),
  created_at: Iso,
  updated_at: Iso,
  decided_at: Iso.nullable(),
});
export const AdminApprovalProposed = AdminApplication.extend({
  pending_approval: z.object({ proposed_by: z.string(), proposed_at: Iso, tier: z.string().nullable() }),
});
export const AdminApplicationDetail = z.looseObject({ ...AdminApplication.shape });
export const AdminAudit = z.object({
  audit: z.array(z.object({ at: Iso, actor: z.string(), action: z.string(), detail: z.unknown() })),
  idv_events: z.array(z.object({ id: z.string(), type: z.string(), occurred_at: Iso, disposition: z.string().nullable(), state_after: z.string().nullable() })),
});
export const AdminErase = z.object({ application_id: z.string(), erased: z.boolean() });
export const AdminWebhookEvents = z.object({
  events: z.array(
    z.object({
      id: z.string(),
      type: z.string(),
      created_at: Iso,
      attempts: z.number().int(),
      delivered_at: Iso.nullable(),
      failed_at: Iso.nullable(),
      next_attempt_at: Iso,
      last_error: z.string().nullable(),
      deliveries: z.array(z.object({ attempt: z.number().int(), status: z.number().int().nullable(), error: z.string().nullable(), ms: z.number(), at: Iso })),
    }),
  ),
});
export const AdminCredential = z.object({
  id: z.string(),
  subject_did: z.string(),
  tier_id: z.string().nullable(),
  status: z.string(),
  issued_at: Iso.nullable(),
  expires_at: Iso.nullable(),
  revoked_at: Iso.nullable(),
  revocation_reason: z.string().nullable(),
  suspended_at: Iso.nullable(),
  suspension_reason: z.string().nullable(),
  status_list_index: z.number().int(),
  status_list_credentials: z.object({ revocation: z.string(), suspension: z.string() }),
});
export const AdminCredentialDetail = AdminCredential.extend({
  events: z.array(z.object({ action: z.string(), reason: z.string().nullable(), actor: z.string(), at: Iso.nullable() })),
});

export const SiopResponseBody = z.looseObject({
  id_token: z.string(),
  vp_token: z.unknown().optional(),
  presentation_submission: z.unknown().optional(),
  state: z.string().optional(),
});
export const DeferredRequestBody = z.looseObject({ transaction_id: z.string().min(1).max(200) });
/** The hosted form's fields (src/idv/fields.ts FIELD_RULES) and the consent answer. */
export const IdvFormBody = z.looseObject({
  consent: z.enum(['accept', 'decline']),
  step: z.literal('consent').optional(),
  csrf_token: z.string().optional(),
  ...Object.fromEntries(
    FIELD_RULES.map((rule) => [
      rule.name,
      z
        .string()
        .max(rule.maxLength ?? 200)
        .optional(),
    ]),
  ),
});
