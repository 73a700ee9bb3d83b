import { z } from 'zod';
import {
  InvalidCredentialRequest,
  InvalidProof,
  UnknownCredentialConfiguration,
  UnknownCredentialIdentifier,
  UnsupportedCredentialFormat,
  UnsupportedCredentialType,
} from '../errors';
import { KCC_TYPES } from './metadata';

/**
 * Credential Request, in either profile the issuer serves:
 * - draft 13 (the spec's "Credential Request"; OID4VCI draft 13 §7.2): `format` (jwt_vc_json)
 *   and/or `credential_definition`, and one `proof` of type jwt;
 * - OID4VCI 1.0 Final (§8.2): `credential_configuration_id` (or `credential_identifier`) and
 *   `proofs: { jwt: [..] }`; drafts 14/15 sent a single `proof` with the configuration id, which
 *   is accepted too.
 * The profile is read from the request itself: a configuration id, identifier or `proofs`
 * means 1.0; otherwise draft 13.
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
  credential_response_encryption: z.unknown().optional(),
});

export interface CredentialRequest {
  proofJwt: string;
  profile: Oid4vciProfile;
  /** The 1.0 request's credential_configuration_id; draft 13 names a format and types instead. */
  configurationId?: string;
}

/**
 * `configurationIds`: the issuer's credential configurations (src/issuance/credentialConfigurations.ts);
 * a 1.0 request naming another is unknown_credential_configuration. Whether the access token
 * grants the one named is the caller's check.
 */
export function parseCredentialRequest(body: unknown, options: { configurationIds?: readonly string[] } = {}): CredentialRequest {
  const parsed = CredentialRequestWire.safeParse(body);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.join('.') || 'body';
    throw new InvalidCredentialRequest(`invalid credential request: ${field}`);
  }
  const req = parsed.data;
  const isV1 = req.credential_configuration_id !== undefined || req.credential_identifier !== undefined || req.proofs !== undefined;
  return isV1 ? parseV1(req, options.configurationIds) : parseDraft13(req);
}

type Wire = z.infer<typeof CredentialRequestWire>;

function parseDraft13(req: Wire): CredentialRequest {
  if (!req.format && !req.credential_definition) throw new InvalidCredentialRequest('format is required');
  if (req.format && req.format !== 'jwt_vc_json') throw new UnsupportedCredentialFormat('only jwt_vc_json is issued');
  checkTypes(req);
  if (!req.proof) throw new InvalidProof('proof is required');
  if (req.proof.proof_type !== 'jwt') throw new InvalidProof('proof_type must be jwt');
  if (!req.proof.jwt) throw new InvalidProof('proof.jwt is required');
  return { proofJwt: req.proof.jwt, profile: 'draft13' };
}

function parseV1(req: Wire, configurationIds: readonly string[] | undefined): CredentialRequest {
  // 1.0 §8.2: credential_identifier and credential_configuration_id are mutually exclusive.
  if (req.credential_identifier !== undefined && req.credential_configuration_id !== undefined) {
    throw new InvalidCredentialRequest('credential_identifier and credential_configuration_id must not both be present');
  }
  // The token response carries no authorization_details, so no credential_identifier was handed out.
  if (req.credential_identifier !== undefined) throw new UnknownCredentialIdentifier('credential_identifier is not known to this issuer');
  if (req.credential_configuration_id === undefined) throw new InvalidCredentialRequest('credential_configuration_id is required');
  if (configurationIds !== undefined && !configurationIds.includes(req.credential_configuration_id)) {
    throw new UnknownCredentialConfiguration('credential_configuration_id is not offered by this issuer');
  }
  // A configuration id replaces format (1.0 §8.2); a draft-13 format beside it is contradictory.
  if (req.format !== undefined && req.format !== 'jwt_vc_json') throw new InvalidCredentialRequest('format does not match the credential configuration');
  checkTypes(req);
  if (req.proof && req.proofs) throw new InvalidCredentialRequest('proof and proofs must not both be present');
  if (req.proof) {
    // Drafts 14/15: a single proof object.
    if (req.proof.proof_type !== 'jwt') throw new InvalidProof('proof_type must be jwt');
    if (!req.proof.jwt) throw new InvalidProof('proof.jwt is required');
    return { proofJwt: req.proof.jwt, profile: 'v1', configurationId: req.credential_configuration_id };
  }
  // 1.0 §8.2: proofs has exactly one member named after the proof type, a non-empty array.
  if (!req.proofs) throw new InvalidProof('proofs is required');
  const types = Object.keys(req.proofs);
  if (types.length !== 1) throw new InvalidCredentialRequest('proofs must contain exactly one proof type');
  if (types[0] !== 'jwt') throw new InvalidProof('only the jwt proof type is supported');
  const jwts = req.proofs.jwt;
  if (jwts.length === 0) throw new InvalidCredentialRequest('proofs.jwt must not be empty');
  // No batch_credential_issuance in our metadata: one key proof per request (1.0 §12.2.4).
  if (jwts.length > 1) throw new InvalidCredentialRequest('batch issuance is not supported: send exactly one proof');
  const jwt = JwtString.safeParse(jwts[0]);
  if (!jwt.success) throw new InvalidProof('proofs.jwt[0] must be a JWT string');
  return { proofJwt: jwt.data, profile: 'v1', configurationId: req.credential_configuration_id };
}

function checkTypes(req: Wire) {
  const types = req.credential_definition?.type;
  if (types && !(types.includes(KCC_TYPES[1]) && types.every((t) => (KCC_TYPES as readonly string[]).includes(t)))) {
    throw new UnsupportedCredentialType('credential_definition.type must be ["VerifiableCredential","KnownCustomerCredential"]');
  }
}
