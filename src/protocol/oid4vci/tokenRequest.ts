import { z } from 'zod';
import { InvalidClient, InvalidRequest, UnsupportedGrantType } from '../errors';
import { PRE_AUTHORIZED_CODE_GRANT } from './metadata';

/** Token Request wire schema (spec "Token Request"; OID4VCI draft 13 §6.1), snake_case on the wire. */
export const TokenRequestWire = z.object({
  grant_type: z.string().min(1).max(200),
  'pre-authorized_code': z.string().min(1).max(512).optional(),
  client_id: z.string().min(1).max(4096).optional(),
  // Sent, possibly empty, by some wallets even when the offer asks for none (Sphereon).
  tx_code: z.string().max(64).optional(),
  user_pin: z.string().max(64).optional(),
});

export interface TokenRequest {
  preAuthorizedCode: string;
  clientId?: string;
}

export function parseTokenRequest(body: Record<string, unknown>): TokenRequest {
  const parsed = TokenRequestWire.safeParse(body);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.join('.') || 'body';
    throw new InvalidRequest(`invalid token request: ${field}`);
  }
  const wire = parsed.data;
  if (wire.grant_type !== PRE_AUTHORIZED_CODE_GRANT) {
    throw new UnsupportedGrantType(`grant_type must be ${PRE_AUTHORIZED_CODE_GRANT}`);
  }
  if (!wire['pre-authorized_code']) throw new InvalidRequest('pre-authorized_code is required');
  // Our offers carry no tx_code. An empty tx_code/user_pin (Sphereon sends both) is no code and
  // is accepted; a real one is refused (OID4VCI 1.0 §6.3: invalid_request when none is expected).
  if (wire.tx_code || wire.user_pin) throw new InvalidRequest('this offer requires no transaction code');
  return { preAuthorizedCode: wire['pre-authorized_code'], clientId: wire.client_id };
}

/**
 * The client of a Token Request: the applicant DID, or undefined when the wallet sent no
 * client_id. spec "Token Request": client_id is the applicant DID. OID4VCI 1.0 §6.1 makes it
 * optional for the pre-authorized grant, and the code is bound to the applicant DID anyway, so an
 * absent client_id is accepted; a present one must be a DID (invalid_client otherwise) and must be
 * the DID the code is bound to (checked when the code is redeemed, src/issuance/grants.ts).
 */
export function tokenClientDid(request: TokenRequest): string | undefined {
  if (request.clientId === undefined) return undefined;
  if (!request.clientId.startsWith('did:')) throw new InvalidClient('client_id must be the applicant DID');
  return request.clientId;
}
