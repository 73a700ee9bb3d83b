import { z } from 'zod';
import {
  InvalidCredentialRequest,
  InvalidProof,
  UnknownCredentialConfiguration,
  UnknownCredentialIdentifier,
  UnsupportedCredentialFormat,
  UnsupportedCredentialType,
  InvalidEncryptionParameters,
  InvalidTransactionId,
} from '../errors';
import { LEGACY_SD_JWT_VC_FORMAT, SD_JWT_VC_FORMAT } from '../sdJwtVc/kcc';
import { KCC_TYPES } from './metadata';
import { parseCredentialResponseEncryption, type ResponseEncryption } from './responseEncryption';

/**
 * Credential Request, in either profile the issuer serves:
 * - draft 13 (the spec's "Credential Request"; OID4VCI draft 13 §7.2): `format` (jwt_vc_json)
 *   and/or `credential_definition`, and one `proof` of type jwt;
 * - OID4VCI 1.0 Final (§8.2): `credential_configuration_id` (or `credential_identifier`) and
 *   `proofs: { jwt: [..] }`; drafts 14/15 sent a single `proof` with the configuration id, which
 *   is accepted too.
 * The profile is read from the request itself: a configuration id, identifier or `proofs`
 * means 1.0; otherwise draft 13.
 *
 * SD-JWT VC KCCs, batches and encrypted responses are parsed only when the caller passes the
 * options that offer them (`sdJwtConfigurations`, `batchSize`, `responseEncryption`); without
 * them a request is read exactly as before.
 */
export type Oid4vciProfile = 'draft13' | 'v1';

const JwtString = z
  .string()
  .min(1)
  .max(16 * 1024);

export const CredentialRequestWire = z.object({
  format: z.string().max(100).optional(),
  credential_definition: z
    .object({ type: z.array(z.string().max(200)).max(20).optional(), '@context': z.array(z.unknown()).optional() })
    .passthrough()
    .optional(),
  credential_identifier: z.string().max(200).optional(),
  credential_configuration_id: z.string().max(200).optional(),
  proof: z
    .object({ proof_type: z.string().max(50), jwt: z.string().optional() }) // size is checked by decodeJwt → invalid_proof
    .passthrough()
    .optional(),
  proofs: z.record(z.string().max(50), z.array(z.unknown()).max(20)).optional(),
  /** Draft 13 §A.3.4: a vc+sd-jwt request names the credential type by `vct`. */
  vct: z.string().max(512).optional(),
  credential_response_encryption: z.unknown().optional(),
});

export type RequestedFormat = 'jwt_vc_json' | typeof SD_JWT_VC_FORMAT | typeof LEGACY_SD_JWT_VC_FORMAT;

export interface CredentialRequest {
  /** The first (usually the only) key proof. */
  proofJwt: string;
  /** Every key proof, in request order: more than one is a batch (one credential per proof). */
  proofJwts: string[];
  profile: Oid4vciProfile;
  /** The 1.0 request's credential_configuration_id; draft 13 names a format and types instead. */
  configurationId?: string;
  /** What is asked for: jwt_vc_json, or an SD-JWT VC (`vc+sd-jwt` from draft-13 wallets). */
  format: RequestedFormat;
  /** `credential_response_encryption`, checked (only with the `responseEncryption` option). */
  responseEncryption?: ResponseEncryption;
}

/** An SD-JWT VC configuration a request may name (src/issuance/credentialConfigurations.ts). */
export interface SdJwtConfigurationRef {
  id: string;
  vct: string;
}

export interface CredentialRequestOptions {
  /** The issuer's jwt_vc_json configurations; a 1.0 request naming another is unknown_credential_configuration. */
  configurationIds?: readonly string[];
  /** The dc+sd-jwt configurations offered; none: SD-JWT VC requests are refused as before. */
  sdJwtConfigurations?: readonly SdJwtConfigurationRef[];
  /**
   * `batch_credential_issuance.batch_size`: most `proofs.jwt` for an SD-JWT VC configuration.
   * jwt_vc_json stays one proof, one KCC (one decision, one credential). Default 1.
   */
  batchSize?: number;
  /**
   * Parse `credential_response_encryption` (OID4VCI 1.0 §8.2) and, with `required`, refuse a
   * request without it. Off: the member is ignored, as before.
   */
  responseEncryption?: { required: boolean };
}

/**
 * `options` says what the issuer offers (see CredentialRequestOptions). Whether the access token
 * grants the configuration named is the caller's check.
 */
export function parseCredentialRequest(body: unknown, options: CredentialRequestOptions = {}): CredentialRequest {
  const parsed = CredentialRequestWire.safeParse(body);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.join('.') || 'body';
    throw new InvalidCredentialRequest(`invalid credential request: ${field}`);
  }
  const req = parsed.data;
  const isV1 = req.credential_configuration_id !== undefined || req.credential_identifier !== undefined || req.proofs !== undefined;
  const request = isV1 ? parseV1(req, options) : parseDraft13(req, options);
  if (options.responseEncryption) {
    if (req.credential_response_encryption !== undefined) request.responseEncryption = parseCredentialResponseEncryption(req.credential_response_encryption);
    else if (options.responseEncryption.required) throw new InvalidEncryptionParameters('this issuer requires credential_response_encryption');
  }
  return request;
}

type Wire = z.infer<typeof CredentialRequestWire>;

function parseDraft13(req: Wire, options: CredentialRequestOptions): CredentialRequest {
  if (!req.format && !req.credential_definition) throw new InvalidCredentialRequest('format is required');
  let format: RequestedFormat = 'jwt_vc_json';
  const sdJwt = options.sdJwtConfigurations ?? [];
  if (req.format && req.format !== 'jwt_vc_json') {
    // Draft 13 §A.3.4 (vc+sd-jwt, `vct`); dc+sd-jwt from wallets between drafts.
    if (sdJwt.length === 0 || (req.format !== LEGACY_SD_JWT_VC_FORMAT && req.format !== SD_JWT_VC_FORMAT))
      throw new UnsupportedCredentialFormat('only jwt_vc_json is issued');
    if (req.credential_definition) throw new InvalidCredentialRequest('credential_definition does not go with an SD-JWT VC request');
    if (!req.vct) throw new InvalidCredentialRequest('vct is required');
    // Every tier's SD-JWT VC shares the vct: as for jwt_vc_json, the application's tier decides
    // which configuration is issued (the caller's choice), the request only names the type.
    if (!sdJwt.some((c) => c.vct === req.vct)) throw new UnsupportedCredentialType('vct is not a credential type this issuer issues');
    format = req.format;
  } else {
    checkTypes(req);
  }
  if (!req.proof) throw new InvalidProof('proof is required');
  if (req.proof.proof_type !== 'jwt') throw new InvalidProof('proof_type must be jwt');
  if (!req.proof.jwt) throw new InvalidProof('proof.jwt is required');
  return { proofJwt: req.proof.jwt, proofJwts: [req.proof.jwt], profile: 'draft13', format };
}

function parseV1(req: Wire, options: CredentialRequestOptions): CredentialRequest {
  const configurationIds = options.configurationIds;
  // 1.0 §8.2: credential_identifier and credential_configuration_id are mutually exclusive.
  if (req.credential_identifier !== undefined && req.credential_configuration_id !== undefined) {
    throw new InvalidCredentialRequest('credential_identifier and credential_configuration_id must not both be present');
  }
  // The token response carries no authorization_details, so no credential_identifier was handed out.
  if (req.credential_identifier !== undefined) throw new UnknownCredentialIdentifier('credential_identifier is not known to this issuer');
  if (req.credential_configuration_id === undefined) throw new InvalidCredentialRequest('credential_configuration_id is required');
  const configurationId = req.credential_configuration_id;
  const sdJwt = options.sdJwtConfigurations?.find((c) => c.id === configurationId);
  if (!sdJwt && configurationIds !== undefined && !configurationIds.includes(configurationId)) {
    throw new UnknownCredentialConfiguration('credential_configuration_id is not offered by this issuer');
  }
  const format: RequestedFormat = sdJwt ? SD_JWT_VC_FORMAT : 'jwt_vc_json';
  // A configuration id replaces format (1.0 §8.2); a different format beside it is contradictory.
  if (req.format !== undefined && req.format !== format && !(sdJwt && req.format === LEGACY_SD_JWT_VC_FORMAT)) {
    throw new InvalidCredentialRequest('format does not match the credential configuration');
  }
  if (sdJwt) {
    if (req.credential_definition) throw new InvalidCredentialRequest('credential_definition does not go with an SD-JWT VC configuration');
    if (req.vct !== undefined && req.vct !== sdJwt.vct) throw new InvalidCredentialRequest('vct does not match the credential configuration');
  } else {
    checkTypes(req);
  }
  if (req.proof && req.proofs) throw new InvalidCredentialRequest('proof and proofs must not both be present');
  if (req.proof) {
    // Drafts 14/15: a single proof object.
    if (req.proof.proof_type !== 'jwt') throw new InvalidProof('proof_type must be jwt');
    if (!req.proof.jwt) throw new InvalidProof('proof.jwt is required');
    return { proofJwt: req.proof.jwt, proofJwts: [req.proof.jwt], profile: 'v1', configurationId, format };
  }
  // 1.0 §8.2: proofs has exactly one member named after the proof type, a non-empty array.
  if (!req.proofs) throw new InvalidProof('proofs is required');
  const types = Object.keys(req.proofs);
  if (types.length !== 1) throw new InvalidCredentialRequest('proofs must contain exactly one proof type');
  if (types[0] !== 'jwt') throw new InvalidProof('only the jwt proof type is supported');
  const jwts = req.proofs.jwt;
  if (jwts.length === 0) throw new InvalidCredentialRequest('proofs.jwt must not be empty');
  // 1.0 §8.2 / §12.2.4: as many proofs as batch_credential_issuance.batch_size allows, one
  // credential per proof. Only SD-JWT VC copies are unlinkable; a jwt_vc_json KCC names its
  // subject DID, so it stays one per request.
  const batchSize = sdJwt ? (options.batchSize ?? 1) : 1;
  if (jwts.length > 1 && batchSize === 1) throw new InvalidCredentialRequest('batch issuance is not supported: send exactly one proof');
  if (jwts.length > batchSize) throw new InvalidCredentialRequest(`proofs.jwt holds ${jwts.length} proofs; batch_size is ${batchSize}`);
  const proofJwts = jwts.map((value, i) => {
    const jwt = JwtString.safeParse(value);
    if (!jwt.success) throw new InvalidProof(`proofs.jwt[${i}] must be a JWT string`);
    return jwt.data;
  });
  return { proofJwt: proofJwts[0], proofJwts, profile: 'v1', configurationId, format };
}

/** A Deferred Credential Request (OID4VCI 1.0 §9.1; draft 13 §9.1), with the same encryption option. */
export interface DeferredCredentialRequest {
  transactionId: string;
  responseEncryption?: ResponseEncryption;
}

/** Parses a Deferred Credential Request: `transaction_id`, and `credential_response_encryption` when offered. */
export function parseDeferredCredentialRequest(body: unknown, options: Pick<CredentialRequestOptions, 'responseEncryption'> = {}): DeferredCredentialRequest {
  const b = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const transactionId = b.transaction_id;
  if (typeof transactionId !== 'string' || transactionId.length === 0 || transactionId.length > 200)
    throw new InvalidTransactionId('transaction_id is required');
  const request: DeferredCredentialRequest = { transactionId };
  if (options.responseEncryption) {
    if (b.credential_response_encryption !== undefined) request.responseEncryption = parseCredentialResponseEncryption(b.credential_response_encryption);
    else if (options.responseEncryption.required) throw new InvalidEncryptionParameters('this issuer requires credential_response_encryption');
  }
  return request;
}

function checkTypes(req: Wire) {
  const types = req.credential_definition?.type;
  if (types && !(types.includes(KCC_TYPES[1]) && types.every((t) => (KCC_TYPES as readonly string[]).includes(t)))) {
    throw new UnsupportedCredentialType('credential_definition.type must be ["VerifiableCredential","KnownCustomerCredential"]');
  }
}
