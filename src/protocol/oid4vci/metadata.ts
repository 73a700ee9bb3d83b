import { HOLDER_ALGORITHMS } from '../../crypto/holderKeys';
import { SD_JWT_VC_FORMAT } from '../sdJwtVc/kcc';
import { kccClaimDescriptions } from '../sdJwtVc/metadata';
import { credentialResponseEncryptionMetadata } from './responseEncryption';

/**
 * Credential Issuer Metadata (OID4VCI draft 13 §11.2; spec "Credential Issuer Metadata"), with the
 * OID4VCI 1.0 Final additions (§12.2.4) beside the draft-13 members so one document serves both:
 * `nonce_endpoint`, `notification_endpoint` and per-configuration `credential_metadata`. Draft-13
 * wallets ignore what they do not know; 1.0 wallets recognise 1.0 by `credential_metadata`. And
 * Authorization Server Metadata (RFC 8414; spec "Authorization Server Metadata").
 */
export const PRE_AUTHORIZED_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:pre-authorized_code';
export const KCC_TYPES = ['VerifiableCredential', 'KnownCustomerCredential'] as const;
/** spec: cryptographic_binding_methods_supported MUST be ["did:web", "did:jwk", "did:dht"]. */
export const BINDING_METHODS = ['did:web', 'did:jwk', 'did:dht'] as const;
export const SIGNING_ALGS = ['EdDSA', 'ES256K'] as const;

const _CREDENTIAL_DISPLAY = [{ name: 'Known Customer Credential', locale: 'en-US', description: 'Proof of a completed KYC verification' }] as const;

export interface IssuerEndpoints {
  credentialIssuer: string;
  tokenEndpoint: string;
  credentialEndpoint: string;
  deferredCredentialEndpoint: string;
  /** OID4VCI 1.0 §7. */
  nonceEndpoint?: string;
  /** OID4VCI 1.0 §11. */
  notificationEndpoint?: string;
}

export function buildCredentialIssuerMetadata(input: {
  endpoints: IssuerEndpoints;
  displayName: string;
  /** Our KCC signing algorithm(s). */
  credentialSigningAlgs: readonly string[];
  /** One credential configuration per KCC tier (spec "Multiple Credential Types"; src/issuance/credentialConfigurations.ts). */
  configurations: readonly { id: string; name: string; description?: string }[];
  /**
   * The KCC as SD-JWT VC (OID4VCI 1.0 Appendix A.3), with batches and encrypted responses
   * (§12.2.4 `batch_credential_issuance`, `credential_response_encryption`). Absent: the
   * document is what it was before them.
   */
  sdJwt?: {
    configurations: readonly { id: string; name: string; description?: string; vct: string }[];
    /** What signs the SD-JWT VC (SDJWT_VC_SIGNING_ALG): EdDSA, ES256K or ES256. */
    signingAlgs: readonly string[];
    batchSize: number;
    encryptionRequired: boolean;
  };
}) {
  const configurations = input.configurations;
  const sdJwt = input.sdJwt;
  return {
    credential_issuer: input.endpoints.credentialIssuer,
    authorization_servers: [input.endpoints.credentialIssuer],
    credential_endpoint: input.endpoints.credentialEndpoint,
    deferred_credential_endpoint: input.endpoints.deferredCredentialEndpoint,
    ...(input.endpoints.nonceEndpoint ? { nonce_endpoint: input.endpoints.nonceEndpoint } : {}),
    ...(input.endpoints.notificationEndpoint ? { notification_endpoint: input.endpoints.notificationEndpoint } : {}),
    ...(sdJwt
      ? {
          credential_response_encryption: credentialResponseEncryptionMetadata(sdJwt.encryptionRequired),
          // Issuer-wide in 1.0; jwt_vc_json requests stay one proof each (src/protocol/oid4vci/credentialRequest.ts).
          ...(sdJwt.batchSize > 1 ? { batch_credential_issuance: { batch_size: sdJwt.batchSize } } : {}),
          credentials_supported: [],
        }
      : {}),
    display: [{ name: input.displayName, locale: 'en-US' }],
    credential_configurations_supported: Object.fromEntries([
      ...configurations.map((configuration) => [
        configuration.id,
        {
          format: 'jwt_vc_json',
          scope: configuration.id,
          cryptographic_binding_methods_supported: [...BINDING_METHODS],
          credential_signing_alg_values_supported: [...input.credentialSigningAlgs],
          proof_types_supported: { jwt: { proof_signing_alg_values_supported: [...SIGNING_ALGS] } },
          // draft 13 §A.1.1.2: required for jwt_vc_json; wallet libraries pick the credential by it.
          credential_definition: { type: [...KCC_TYPES] },
          display: [{ name: configuration.name, locale: 'en-US', description: configuration.description ?? 'Proof of a completed KYC verification' }],
          // OID4VCI 1.0 §12.2.4 / Appendix A.1.1: display (and claims) moved under credential_metadata.
          credential_metadata: {
            display: [{ name: configuration.name, locale: 'en-US', description: configuration.description ?? 'Proof of a completed KYC verification' }],
          },
        },
      ]),
      ...(sdJwt?.configurations ?? []).map((configuration) => [
        configuration.id,
        {
          format: SD_JWT_VC_FORMAT,
          scope: configuration.id,
          vct: configuration.vct,
          // A copy binds the proof's key (cnf.jwk): a DID key, or a bare jwk (src/protocol/oid4vci/verifyProofJwt.ts).
          cryptographic_binding_methods_supported: ['jwk', ...BINDING_METHODS],
          credential_signing_alg_values_supported: [...(sdJwt?.signingAlgs ?? [])],
          proof_types_supported: { jwt: { proof_signing_alg_values_supported: [...HOLDER_ALGORITHMS] } },
          credential_metadata: {
            display: [{ name: configuration.name, locale: 'en-US', description: configuration.description ?? 'Proof of a completed KYC verification' }],
            claims: kccClaimDescriptions(),
          },
        },
      ]),
    ]),
  };
}

export function buildAuthorizationServerMetadata(input: { issuer: string; tokenEndpoint: string }) {
  return {
    issuer: input.issuer,
    token_endpoint: input.tokenEndpoint,
    grant_types_supported: [PRE_AUTHORIZED_CODE_GRANT],
    // RFC 8414 §2: REQUIRED, and an empty list says nothing. This server has no authorization
    // endpoint (pre-authorized code only, so no `code`); the one authorization response it
    // processes is the SIOPv2 `id_token` the wallet posts to the response_uri (direct_post) before
    // the offer (spec "Initiate Application"; src/protocol/siop/authorizationRequest.ts).
    response_types_supported: ['id_token'],
    token_endpoint_auth_methods_supported: ['none'],
    'pre-authorized_grant_anonymous_access_supported': true,
  };
}

/**
 * Credential Offer (spec "Credential Offer"; OID4VCI draft 13 §4.1.1). No tx_code: the code is
 * bound to the applicant DID. The tier's configuration first (what draft-13 wallets take), then
 * its SD-JWT VC sibling when offered: the wallet asks for one of them.
 */
export function buildCredentialOffer(input: { credentialIssuer: string; configurationIds: readonly string[]; preAuthorizedCode: string }) {
  return {
    credential_issuer: input.credentialIssuer,
    credential_configuration_ids: [...input.configurationIds],
    grants: {
      [PRE_AUTHORIZED_CODE_GRANT]: { 'pre-authorized_code': input.preAuthorizedCode },
    },
  };
}
