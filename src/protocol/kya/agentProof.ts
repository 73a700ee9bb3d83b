import { base64urlEncode } from '../../crypto/base64url';
import { sha256 } from '../../crypto/hash';
import { signJwt } from '../../crypto/jwt';
import type { Signer } from '../../crypto/keys';

/**
 * The agent's proof of possession of the key a KYA token binds (`cnf.jwk`, RFC 7800), shaped as a
 * DPoP proof (RFC 9449 §4.2) so a merchant with a DPoP library already verifies it: header
 * `typ: dpop+jwt` with the agent's public `jwk`, payload `jti`, `htm`, `htu`, `iat`, `ath` (the
 * SHA-256 of the KYA token, §4.3), and the merchant's `nonce` when it issued one. A KYA token
 * without such a proof is only a bearer token: anyone who saw it could replay it.
 */
export const AGENT_PROOF_TYP = 'dpop+jwt';

/** `ath`: base64url SHA-256 of the token's ASCII text (RFC 9449 §4.2). */
export function tokenHash(token: string): string {
  return base64urlEncode(sha256(new TextEncoder().encode(token)));
}

/** Signs a proof for one request of the agent to a merchant (tests, the reference agent). */
export function createAgentProof(
  signer: Signer,
  input: { kyaToken: string; htm: string; htu: string; nonce?: string; now?: number; jti?: string },
): Promise<string> {
  const payload: Record<string, unknown> = {
    jti: input.jti ?? crypto.randomUUID(),
    htm: input.htm,
    htu: input.htu,
    iat: input.now ?? Math.floor(Date.now() / 1000),
    ath: tokenHash(input.kyaToken),
  };
  if (input.nonce !== undefined) payload.nonce = input.nonce;
  const { kty, crv, x, y } = signer.publicJwk;
  return signJwt(signer, payload, { typ: AGENT_PROOF_TYP, jwk: y === undefined ? { kty, crv, x } : { kty, crv, x, y } });
}
