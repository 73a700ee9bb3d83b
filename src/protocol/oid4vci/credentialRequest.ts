import { z } from 'zod';
import { InvalidCredentialRequest, InvalidProof, UnsupportedCredentialFormat, UnsupportedCredentialType } from '../errors';
import { KCC_TYPES } from './metadata';

/**
 * Credential Request (spec "Credential Request"; OID4VCI draft 13 §7.2): `format`
 * (MUST be jwt_vc_json) and/or draft 13's `credential_definition`, and a `jwt` proof.
 */
const CredentialRequestWire = z.object({
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
});

export interface CredentialRequest {
  proofJwt: string;
}

export function parseCredentialRequest(body: unknown): CredentialRequest {
  const parsed = CredentialRequestWire.safeParse(body);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.join('.') || 'body';
    throw new InvalidCredentialRequest(`invalid credential request: ${field}`);
  }
  const req = parsed.data;
  if (!req.format && !req.credential_definition) throw new InvalidCredentialRequest('format is required');
  if (req.format && req.format !== 'jwt_vc_json') throw new UnsupportedCredentialFormat('only jwt_vc_json is issued');
  const types = req.credential_definition?.type;
  if (types && !(types.includes(KCC_TYPES[1]) && types.every((t) => (KCC_TYPES as readonly string[]).includes(t)))) {
    throw new UnsupportedCredentialType('credential_definition.type must be ["VerifiableCredential","KnownCustomerCredential"]');
  }
  if (!req.proof) throw new InvalidProof('proof is required');
  if (req.proof.proof_type !== 'jwt') throw new InvalidProof('proof_type must be jwt');
  if (!req.proof.jwt) throw new InvalidProof('proof.jwt is required');
  return { proofJwt: req.proof.jwt };
}
