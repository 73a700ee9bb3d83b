import { z } from 'zod';
import type { IssuerConfig } from '../config';
import { FIELD_RULES } from '../idv/fields';
import { PATHS } from '../paths';
import { KyaTokenRequestWire } from '../protocol/kya/token';
import { CredentialRequestWire } from '../protocol/oid4vci/credentialRequest';
import { TokenRequestWire } from '../protocol/oid4vci/tokenRequest';
import { DecisionWire, EraseWire } from './routes/admin';
import { StatusChangeWire } from './routes/adminCredentials';
import { NotificationWire } from './routes/notification';

/**
 * The OpenAPI 3.1 description of the HTTP API, served at /openapi.json. Request bodies are the
 * zod schemas the routes parse with (src/protocol/oid4vci/*.ts, src/http/routes/*.ts); response
 * bodies are declared here, next to each other, and test/http/openapi.test.ts checks real
 * answers of every endpoint against them. Converted with zod v4's `z.toJSONSchema` (JSON Schema
 * 2020-12, the dialect of OpenAPI 3.1 §4.8.24).
 */

// ---- Response bodies ----

/** Every error body (src/http/errors.ts): RFC 6749 §5.2 / OID4VCI style. */
const ErrorBody = z.looseObject({ error: z.string(), error_description: z.string().optional() });
const DraftCNonce = { c_nonce: z.string().optional(), c_nonce_expires_in: z.number().int().optional() };

const SiopAuthorizationRequestJson = z.looseObject({
  client_id: z.string(),
  response_type: z.string(),
  response_uri: z.string().optional(),
  nonce: z.string(),
  request: z.string(),
});
const IdvRequestBody = z.object({
  url: z.string(),
  credential_offer: z.looseObject({
    credential_issuer: z.string(),
    credential_configuration_ids: z.array(z.string()),
    grants: z.record(z.string(), z.unknown()),
  }),
});
const TokenResponse = z.looseObject({ access_token: z.string(), token_type: z.string(), expires_in: z.number().int(), ...DraftCNonce });
const CredentialResponse = z.union([
  z.looseObject({ credential: z.string(), ...DraftCNonce }),
  z.looseObject({ credentials: z.array(z.object({ credential: z.string() })).min(1), notification_id: z.string().optional() }),
]);
const DeferredResponse = z.looseObject({ transaction_id: z.string(), interval: z.number().int().optional() });
const NonceResponse = z.object({ c_nonce: z.string() });
/** The KYC status answer (src/issuance/kycStatus.ts KycStatusAnswer). */
const KycStatusResponse = z.object({
  kyc_status: z.enum(['verified', 'pending', 'rejected', 'unverified', 'expired']),
  kyc_tier: z.string().nullable(),
  aml_clear: z.boolean(),
});
const KyaTokenResponse = z.object({ kya_token: z.string(), token_type: z.literal('kya+jwt'), expires_in: z.number().int() });
const CredentialIssuerMetadata = z.looseObject({
  credential_issuer: z.string(),
  credential_endpoint: z.string(),
  credential_configurations_supported: z.record(z.string(), z.looseObject({ format: z.string() })),
});
const AuthorizationServerMetadata = z.looseObject({ issuer: z.string(), token_endpoint: z.string() });
const DidDocument = z.looseObject({ id: z.string(), verificationMethod: z.array(z.looseObject({ id: z.string(), type: z.string() })).optional() });
/** GET /api/v1/kyc/{subject}/status (src/issuance/kycStatus.ts KycStatusAnswer). */
const KycStatusBody = z.object({
  kyc_status: z.enum(['verified', 'pending', 'rejected', 'unverified', 'expired']),
  kyc_tier: z.string().nullable(),
  aml_clear: z.boolean(),
});
const Health = z.object({ status: z.literal('ok') });
const Ready = z.object({ status: z.literal('ready'), checks: z.object({ database: z.string(), migrations: z.string() }) });
const NotReady = z.looseObject({
  error: z.literal('not_ready'),
  error_description: z.string(),
  checks: z.object({ database: z.string(), migrations: z.string() }),
  pending_migrations: z.array(z.string()),
});
const Tiers = z.object({
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
const PresentationDefinition = z.looseObject({ id: z.string(), input_descriptors: z.array(z.looseObject({ id: z.string() })) });
const IdvFormStatus = z.object({ status: z.enum(['pending', 'review', 'approved', 'rejected', 'withdrawn']) });
const IdvFormErrors = z.looseObject({
  error: z.literal('invalid_request'),
  error_description: z.string(),
  /** Stable codes per field (src/idv/fields.ts FieldErrorCode, or consent_required). */
  errors: z.record(z.string(), z.string()),
  /** The same errors in the page's language (Accept-Language). */
  messages: z.record(z.string(), z.string()).optional(),
});
const WebhookReceived = z.object({ received: z.literal(true), disposition: z.string() });
const Iso = z.string();
const AdminApplication = z.object({
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
const AdminApprovalProposed = AdminApplication.extend({
  pending_approval: z.object({ proposed_by: z.string(), proposed_at: Iso, tier: z.string().nullable() }),
});
const AdminApplicationDetail = z.looseObject({ ...AdminApplication.shape });
const AdminAudit = z.object({
  audit: z.array(z.object({ at: Iso, actor: z.string(), action: z.string(), detail: z.unknown() })),
  idv_events: z.array(z.object({ id: z.string(), type: z.string(), occurred_at: Iso, disposition: z.string().nullable(), state_after: z.string().nullable() })),
});
const AdminErase = z.object({ application_id: z.string(), erased: z.boolean() });
const AdminWebhookEvents = z.object({
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
const AdminCredential = z.object({
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
const AdminCredentialDetail = AdminCredential.extend({
  events: z.array(z.object({ action: z.string(), reason: z.string().nullable(), actor: z.string(), at: Iso.nullable() })),
});

// ---- Request bodies the routes parse without a zod schema of their own ----

const SiopResponseBody = z.looseObject({
  id_token: z.string(),
  vp_token: z.unknown().optional(),
  presentation_submission: z.unknown().optional(),
  state: z.string().optional(),
});
const DeferredRequestBody = z.looseObject({ transaction_id: z.string().min(1).max(200) });
/** The hosted form's fields (src/idv/fields.ts FIELD_RULES) and the consent answer. */
const IdvFormBody = z.looseObject({
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

// ---- The document ----

type Schema = z.ZodType;
interface Answer {
  description: string;
  /** A JSON body; or another media type with no schema. */
  json?: Schema;
  mediaType?: string;
  /** Further media types of the same answer (string bodies), chosen by the request's Accept. */
  other?: string[];
}
interface Operation {
  summary: string;
  tags: string[];
  security?: 'bearer';
  /** Request body (JSON unless `form` adds application/x-www-form-urlencoded). */
  body?: Schema;
  form?: boolean;
  query?: Record<string, { description: string; required?: boolean }>;
  /** Request headers beyond Authorization. */
  headers?: Record<string, { description: string; required?: boolean }>;
  responses: Record<string, Answer>;
}

const json = (description: string, schema: Schema): Answer => ({ description, json: schema });
const error = (description: string): Answer => ({ description, json: ErrorBody });
const html = (description: string): Answer => ({ description, mediaType: 'text/html' });
/** The hosted form answers browsers with pages and JSON clients with JSON (src/http/errors.ts wantsJsonResponse). */
const pageOrError = (description: string): Answer => ({ description, json: ErrorBody, other: ['text/html'] });
const redirect = (description: string): Answer => ({ description });

/** Every path the app serves (src/paths.ts PATHS) with its operations. */
function operations(): Record<string, Partial<Record<'get' | 'post', Operation>>> {
  const idvForm = { 404: pageOrError('Unknown form link'), 409: pageOrError('Already submitted'), 410: pageOrError('Link expired') };
  const bearer = { 401: error('Missing or invalid access token'), 429: error('Too many requests') };
  const admin = { 401: error('Missing or wrong operator token'), 404: error('Not found, or the operator API is disabled') };
  return {
    [PATHS.initiate]: {
      get: {
        summary: 'SIOPv2 Authorization Request (the IDV endpoint of the PFI DID document)',
        tags: ['applicant'],
        query: { presentation_definition_id: { description: 'Tier to apply for (GET /presentation-definitions)' } },
        responses: {
          200: {
            description: 'The request as URL parameters (application/x-www-form-urlencoded), or as JSON when asked for',
            json: SiopAuthorizationRequestJson,
            other: ['application/x-www-form-urlencoded'],
          },
          400: error('Unknown tier'),
          429: error('Too many requests'),
        },
      },
    },
    [PATHS.siopResponse]: {
      post: {
        summary: 'SIOPv2 Authorization Response: opens the application, answers the IDV Request',
        tags: ['applicant'],
        body: SiopResponseBody,
        form: true,
        responses: {
          200: json('IDV Request: the form URL and the credential offer', IdvRequestBody),
          400: error('Invalid or replayed ID token'),
          429: error('Too many requests'),
        },
      },
    },
    [PATHS.idvForm]: {
      get: {
        summary: 'Hosted IDV form: the consent step (or a redirect to the vendor)',
        tags: ['applicant'],
        responses: { 200: html('Consent step'), 303: redirect('To the IDV vendor'), ...idvForm },
      },
      post: {
        summary: 'Hosted IDV form: consent, then the identity fields',
        tags: ['applicant'],
        body: IdvFormBody,
        form: true,
        responses: {
          200: { description: 'JSON: the application status; HTML: the next step or the withdrawn page', json: IdvFormStatus, other: ['text/html'] },
          303: redirect('To finish.html'),
          400: { description: 'Per-field errors (JSON: stable codes), or the form again', json: IdvFormErrors, other: ['text/html'] },
          403: pageOrError('Cross-site or stale submission'),
          ...idvForm,
        },
      },
    },
    [PATHS.idvFinish]: { get: { summary: 'Where the wallet closes its webview', tags: ['applicant'], responses: { 200: html('Thank you page') } } },
    [PATHS.idvFinishApproved]: {
      get: {
        summary: 'Where the wallet closes its webview: verified, the credential is ready',
        tags: ['applicant'],
        responses: { 200: html('Verified page') },
      },
    },
    [PATHS.idvFinishReview]: {
      get: {
        summary: 'Where the wallet closes its webview: in manual review, with when to expect an answer',
        tags: ['applicant'],
        responses: { 200: html('In review page') },
      },
    },
    [PATHS.existingCustomerStart]: {
      post: {
        summary: "Existing customers: sign in at the PFI's own login instead of IDV (docs/existing-customers.md); CSRF-checked form post",
        tags: ['applicant'],
        responses: {
          303: redirect("To the bank's authorization endpoint (the login transaction in an HttpOnly cookie)"),
          403: html('Cross-site or stale form submission'),
          404: error('Sign-in with the bank is not configured (EXISTING_CUSTOMER_ISSUER unset)'),
          503: html('The bank cannot be reached'),
        },
      },
    },
    [PATHS.existingCustomerCallback]: {
      get: {
        summary: "Existing customers: the bank's redirect back (code, state); verified, then applied as the IDV result",
        tags: ['applicant'],
        responses: {
          303: redirect('To the finish page, the regular verification, or the choice page (cancelled)'),
          400: html('Refused: nothing was issued'),
          404: error('Sign-in with the bank is not configured'),
        },
      },
    },
    [PATHS.idvCss]: { get: { summary: 'Stylesheet of the form', tags: ['applicant'], responses: { 200: { description: 'CSS', mediaType: 'text/css' } } } },
    [PATHS.credentialIssuerMetadata]: {
      get: { summary: 'OID4VCI Credential Issuer Metadata', tags: ['metadata'], responses: { 200: json('Metadata', CredentialIssuerMetadata) } },
    },
    [PATHS.authorizationServerMetadata]: {
      get: { summary: 'RFC 8414 Authorization Server Metadata', tags: ['metadata'], responses: { 200: json('Metadata', AuthorizationServerMetadata) } },
    },
    '/.well-known/did.json': {
      get: {
        summary: 'did:web document of the PFI',
        tags: ['metadata'],
        responses: { 200: { description: 'DID document', json: DidDocument, mediaType: 'application/did+json' }, 404: error('Not a did:web issuer') },
      },
    },
    [PATHS.token]: {
      post: {
        summary: 'Token Endpoint (pre-authorized code)',
        tags: ['wallet'],
        body: TokenRequestWire,
        form: true,
        responses: {
          200: json('Access token', TokenResponse),
          400: error('invalid_request, invalid_grant, unsupported_grant_type…'),
          401: error('invalid_client'),
          429: error('Too many requests'),
        },
      },
    },
    [PATHS.credential]: {
      post: {
        summary: 'Credential Endpoint',
        tags: ['wallet'],
        security: 'bearer',
        body: CredentialRequestWire,
        responses: {
          200: json('The KCC (draft 13 `credential`, 1.0 `credentials`)', CredentialResponse),
          202: json('Deferred: identity verification is not finished', DeferredResponse),
          400: error('invalid_credential_request, invalid_proof, invalid_nonce, credential_request_denied…'),
          ...bearer,
        },
      },
    },
    [PATHS.deferredCredential]: {
      post: {
        summary: 'Deferred Credential Endpoint',
        tags: ['wallet'],
        security: 'bearer',
        body: DeferredRequestBody,
        responses: {
          200: json('The KCC', CredentialResponse),
          202: json('Still pending (1.0)', DeferredResponse),
          400: error('issuance_pending, invalid_transaction_id, credential_request_denied'),
          ...bearer,
        },
      },
    },
    [PATHS.nonce]: { post: { summary: 'Nonce Endpoint (OID4VCI 1.0 §7)', tags: ['wallet'], responses: { 200: json('A fresh c_nonce', NonceResponse) } } },
    '/api/v1/kyc/:subject/status': {
      get: {
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
          200: json('The status (also when the subject has none: unverified)', KycStatusBody),
          400: error('subject is not a DID'),
          401: error('Missing or unknown tenant key'),
          404: error('API disabled, or no authorisation of this subject for this tenant (the same answer as an unknown DID)'),
        },
      },
    },
    [PATHS.kyaToken]: {
      post: {
        summary: "KYA token for one of the KCC holder's agents (docs/kya.md)",
        tags: ['wallet'],
        body: KyaTokenRequestWire,
        responses: {
          200: json('The KYA token (typ kya+jwt)', KyaTokenResponse),
          400: error('invalid_request (each bad member named, also in `problems`), invalid_nonce (replayed or stale presentation)'),
          403: error("access_denied: the KCC is not this issuer's, not the presenter's, revoked, suspended or expired"),
          413: error('Body too large'),
          415: error('Not application/json'),
          429: error('Too many requests'),
        },
      },
    },
    [PATHS.notification]: {
      post: {
        summary: 'Notification Endpoint (OID4VCI 1.0 §11)',
        tags: ['wallet'],
        security: 'bearer',
        body: NotificationWire,
        responses: {
          204: { description: 'Recorded' },
          400: error('invalid_notification_request, invalid_notification_id'),
          401: error('Missing or invalid access token'),
        },
      },
    },
    [PATHS.kccSchema]: {
      get: { summary: 'The KCC JSON Schema', tags: ['metadata'], responses: { 200: json('JSON Schema', z.looseObject({ $schema: z.string().optional() })) } },
    },
    [PATHS.presentationDefinitions]: { get: { summary: 'The KCC tiers', tags: ['metadata'], responses: { 200: json('Tiers', Tiers) } } },
    [PATHS.presentationDefinition]: {
      get: {
        summary: 'Presentation Definition of a tier',
        tags: ['metadata'],
        responses: { 200: json('Presentation Definition', PresentationDefinition), 404: error('No such tier') },
      },
    },
    [PATHS.statusList]: {
      get: {
        summary: 'Bitstring Status List credential',
        tags: ['metadata'],
        responses: { 200: { description: 'Signed status list credential', mediaType: 'application/vc+jwt' }, 404: error('No such status list') },
      },
    },
    [PATHS.tokenStatusList]: {
      get: {
        summary: 'IETF Token Status List of the SD-JWT VC KCCs (same status as the Bitstring lists)',
        tags: ['metadata'],
        responses: { 200: { description: 'Status List Token', mediaType: 'application/statuslist+jwt' }, 404: error('No such status list') },
      },
    },
    [PATHS.jwtVcIssuerMetadata]: {
      get: {
        summary: 'JWT VC Issuer Metadata: the keys that sign SD-JWT VC KCCs',
        tags: ['metadata'],
        responses: {
          200: json(
            'JWT VC Issuer Metadata',
            z.object({ issuer: z.string(), jwks: z.object({ keys: z.array(z.looseObject({ kid: z.string(), kty: z.string() })) }) }),
          ),
        },
      },
    },
    [PATHS.kccTypeMetadata]: {
      get: {
        summary: 'SD-JWT VC Type Metadata of the KCC vct',
        tags: ['metadata'],
        responses: { 200: json('Type Metadata', z.looseObject({ vct: z.string(), claims: z.array(z.looseObject({ path: z.array(z.string()) })) })) },
      },
    },
    [PATHS.idvWebhook]: {
      post: {
        summary: 'IDV vendor webhook (signed)',
        tags: ['idv'],
        body: z.looseObject({}),
        responses: {
          200: json('Accepted', WebhookReceived),
          400: error('Rejected'),
          401: error('Bad signature'),
          404: error('No such provider'),
          502: error('Result could not be fetched'),
        },
      },
    },
    [PATHS.idvCallback]: {
      get: {
        summary: "OIDC IDV vendor's redirect_uri (code and state; docs/incode.md)",
        tags: ['idv'],
        responses: {
          303: redirect('Result applied: to finish.html'),
          400: html('Result not accepted'),
          404: html('No such provider'),
          502: html('Result could not be fetched'),
        },
      },
    },
    [PATHS.health]: { get: { summary: 'Liveness', tags: ['ops'], responses: { 200: json('Alive', Health) } } },
    [PATHS.ready]: {
      get: {
        summary: 'Readiness: database reachable, migrations applied',
        tags: ['ops'],
        responses: { 200: json('Ready', Ready), 503: json('Not ready', NotReady) },
      },
    },
    [PATHS.metrics]: {
      get: {
        summary: 'Prometheus metrics (when METRICS_TOKEN is set)',
        tags: ['ops'],
        security: 'bearer',
        responses: {
          200: { description: 'Prometheus text format', mediaType: 'text/plain' },
          401: error('Wrong token'),
          404: error('Metrics not served here'),
        },
      },
    },
    [PATHS.openapi]: { get: { summary: 'This document', tags: ['ops'], responses: { 200: json('OpenAPI 3.1', z.looseObject({ openapi: z.string() })) } } },
    [`${PATHS.admin}/applications`]: {
      get: {
        summary: 'Applications by status',
        tags: ['operator'],
        security: 'bearer',
        query: { status: { description: 'pending | review | approved | rejected | withdrawn (default review)' } },
        responses: { 200: json('Applications', z.object({ applications: z.array(AdminApplication) })), 400: error('Unknown status'), ...admin },
      },
    },
    [`${PATHS.admin}/applications/:id`]: {
      get: { summary: 'One application', tags: ['operator'], security: 'bearer', responses: { 200: json('Application', AdminApplicationDetail), ...admin } },
    },
    [`${PATHS.admin}/applications/:id/decision`]: {
      post: {
        summary: 'Decide an application in review (or overrule)',
        tags: ['operator'],
        security: 'bearer',
        body: DecisionWire,
        responses: {
          200: json('Decided', AdminApplication),
          202: json('Four-eyes (REVIEW_FOUR_EYES): approval proposed, awaiting a second party', AdminApprovalProposed),
          400: error('Invalid decision'),
          403: error('Four-eyes: the proposing party cannot confirm'),
          409: error('Not awaiting review'),
          ...admin,
        },
      },
    },
    [`${PATHS.admin}/applications/:id/audit`]: {
      get: { summary: 'Audit trail', tags: ['operator'], security: 'bearer', responses: { 200: json('Audit trail', AdminAudit), ...admin } },
    },
    [`${PATHS.admin}/applications/:id/erase-pii`]: {
      post: {
        summary: "Erase an applicant's PII",
        tags: ['operator'],
        security: 'bearer',
        body: EraseWire,
        responses: { 200: json('Erased', AdminErase), 400: error('Invalid body'), ...admin },
      },
    },
    [`${PATHS.admin}/webhooks/events`]: {
      get: { summary: 'Outbound webhook outbox', tags: ['operator'], security: 'bearer', responses: { 200: json('Events', AdminWebhookEvents), ...admin } },
    },
    [`${PATHS.admin}/credentials`]: {
      get: {
        summary: 'Credentials of a subject',
        tags: ['operator'],
        security: 'bearer',
        query: { subject: { description: 'Subject DID', required: true } },
        responses: { 200: json('Credentials', z.object({ credentials: z.array(AdminCredential) })), 400: error('subject is required'), ...admin },
      },
    },
    [`${PATHS.admin}/credentials/:id`]: {
      get: {
        summary: 'One credential with its status events',
        tags: ['operator'],
        security: 'bearer',
        responses: { 200: json('Credential', AdminCredentialDetail), ...admin },
      },
    },
    [`${PATHS.admin}/credentials/:id/status`]: {
      post: {
        summary: 'Revoke, suspend or reinstate',
        tags: ['operator'],
        security: 'bearer',
        body: StatusChangeWire,
        responses: { 200: json('Updated', AdminCredential), 400: error('Invalid change'), 409: error('Not allowed in this state'), ...admin },
      },
    },
    [PATHS.console]: {
      get: {
        summary: 'Review console (HTML, session cookie)',
        tags: ['console'],
        responses: { 200: html('Queue'), 303: redirect('To the sign-in page'), 404: error('Console disabled') },
      },
    },
    [`${PATHS.console}/login`]: {
      get: { summary: 'Console sign-in', tags: ['console'], responses: { 200: html('Sign-in page') } },
      post: {
        summary: 'Console sign-in',
        tags: ['console'],
        responses: {
          303: redirect('Signed in'),
          401: html('Account (or, before any account exists, ADMIN_TOKEN) not accepted'),
          429: html('Too many failed sign-ins'),
        },
      },
    },
    [PATHS.consoleSsoStart]: {
      get: {
        summary: "Console sign-in through the PFI's workforce login (docs/operator-sso.md)",
        tags: ['console'],
        responses: {
          303: redirect("To the workforce provider's authorization endpoint (the sign-in transaction in an HttpOnly cookie)"),
          404: html('Workforce sign-in is not configured (OPERATOR_SSO_ISSUER unset)'),
          502: html('The workforce provider cannot be reached'),
        },
      },
    },
    [PATHS.consoleSsoCallback]: {
      get: {
        summary: "The workforce provider's redirect back (code, state): verified, the role mapped, a console session opened",
        tags: ['console'],
        responses: {
          200: html('Signed in: continues to the queue (Refresh header and link)'),
          400: html('Refused: the sign-in was not started in this browser, or expired; no session'),
          401: html('Refused: cancelled, or the code or ID token did not verify; no session'),
          403: html('Refused: no mapped group or role; no session'),
          404: html('Workforce sign-in is not configured'),
        },
      },
    },
    [`${PATHS.console}/logout`]: { post: { summary: 'Console sign-out', tags: ['console'], responses: { 303: redirect('Signed out') } } },
    [`${PATHS.console}/console.css`]: {
      get: { summary: 'Console stylesheet', tags: ['console'], responses: { 200: { description: 'CSS', mediaType: 'text/css' } } },
    },
    [`${PATHS.console}/applications/:id`]: {
      get: {
        summary: 'Console: one application',
        tags: ['console'],
        responses: { 200: html('Application'), 303: redirect('To the sign-in page'), 404: html('No such application') },
      },
    },
    [`${PATHS.console}/applications/:id/decision`]: {
      post: {
        summary: 'Console: decide',
        tags: ['console'],
        responses: {
          303: redirect('Decided or, with four-eyes, proposed'),
          400: html('Invalid decision'),
          403: html('CSRF, or four-eyes: the proposer cannot confirm'),
        },
      },
    },
    [`${PATHS.console}/applications/:id/assign`]: {
      post: {
        summary: 'Console: assign the case to me, or release it',
        tags: ['console'],
        responses: { 303: redirect('Assigned or released (or to the sign-in page)'), 403: html('CSRF, or the role may not'), 404: html('No such application') },
      },
    },
    [`${PATHS.console}/applications/:id/erase-pii`]: {
      post: {
        summary: 'Console: erase PII (admin role)',
        tags: ['console'],
        responses: { 303: redirect('Erased'), 403: html('CSRF, or the role may not'), 404: html('No such application') },
      },
    },
    [`${PATHS.console}/applications/:id/credentials/:credentialId/status`]: {
      post: {
        summary: 'Console: revoke, suspend or reinstate a credential of the application (admin role)',
        tags: ['console'],
        responses: {
          303: redirect('Changed'),
          400: html('Invalid change'),
          403: html('CSRF, or the role may not'),
          404: html('No such credential'),
          409: html('Not allowed in this state'),
        },
      },
    },
    [`${PATHS.console}/operators`]: {
      get: {
        summary: 'Console: operator accounts (admin role)',
        tags: ['console'],
        responses: { 200: html('Accounts'), 303: redirect('To the sign-in page'), 403: html('The role may not') },
      },
      post: {
        summary: 'Console: add, reset or remove an operator account (admin role)',
        tags: ['console'],
        responses: {
          200: html('Done (a new secret is shown once)'),
          303: redirect('Removed'),
          400: html('Invalid'),
          403: html('CSRF, or the role may not'),
          409: html('Name taken'),
        },
      },
    },
  };
}

const toJson = (schema: Schema, io: 'input' | 'output') => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

/** `/a/:id` (Hono) → `/a/{id}` (OpenAPI). */
export function openApiPath(path: string): string {
  return path.replace(/:(\w+)/g, '{$1}');
}

export function buildOpenApiDocument(config: Pick<IssuerConfig, 'publicUrl' | 'clientName'>): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, ops] of Object.entries(operations())) {
    const item: Record<string, unknown> = {};
    const params = [...path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    for (const [method, op] of Object.entries(ops) as Array<[string, Operation]>) {
      const query = [
        ...Object.entries(op.query ?? {}).map(([name, q]) => ({
          name,
          in: 'query',
          required: q.required ?? false,
          description: q.description,
          schema: { type: 'string' },
        })),
        ...Object.entries(op.headers ?? {}).map(([name, h]) => ({
          name,
          in: 'header',
          required: h.required ?? false,
          description: h.description,
          schema: { type: 'string' },
        })),
      ];
      const responses = Object.fromEntries(
        Object.entries(op.responses).map(([status, answer]) => {
          const media: Record<string, { schema: object }> = {};
          if (answer.json) media[answer.mediaType ?? 'application/json'] = { schema: toJson(answer.json, 'output') };
          else if (answer.mediaType) media[answer.mediaType] = { schema: { type: 'string' } };
          for (const type of answer.other ?? []) media[type] = { schema: { type: 'string' } };
          const content = Object.keys(media).length ? media : undefined;
          return [status, { description: answer.description, ...(content ? { content } : {}) }];
        }),
      );
      item[method] = {
        summary: op.summary,
        tags: op.tags,
        ...(op.security ? { security: [{ bearer: [] }] } : {}),
        ...(params.length || query.length ? { parameters: [...params, ...query] } : {}),
        ...(op.body
          ? {
              requestBody: {
                required: true,
                content: {
                  'application/json': { schema: toJson(op.body, 'input') },
                  ...(op.form ? { 'application/x-www-form-urlencoded': { schema: toJson(op.body, 'input') } } : {}),
                },
              },
            }
          : {}),
        responses,
      };
    }
    paths[openApiPath(path)] = item;
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: { title: `${config.clientName} — Known Customer Credential issuer`, version: '0.1.0' },
    servers: [{ url: config.publicUrl }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
