import { JwtError, audienceMatches, checkTimeClaims, decodeJwt, verifyJwtSignature } from '../../crypto/jwt';
import type { SignatureVerifier } from '../../crypto/keys';
import { DidError, resolveVerificationKey, type DidResolver } from '../../did/resolver';
import { InvalidProof } from '../errors';

export interface VerifiedProof {
  holderDid: string;
  kid: string;
  nonce: string;
}

/**
 * Verifies a proof of possession (spec "proof.jwt JOSE Headers/Claims"; OID4VCI draft 13 §7.2.1.1):
 * `typ: openid4vci-proof+jwt`, EdDSA/ES256K, `kid` a DID URL of the applicant DID (an
 * authentication key), `iss` the applicant DID, `aud` the issuer URL or the PFI DID, `iat`
 * within the window, and a `nonce` (the caller consumes it as the c_nonce). `iss` is REQUIRED
 * for draft-13 requests (the spec's proof claims; draft 13 §7.2.1.1 for a pre-authorized code
 * bound to a client_id) and optional for 1.0 requests (OID4VCI 1.0 Appendix F.1: omitted when
 * the pre-authorized flow is anonymous); see docs/interop.md. Failures are `invalid_proof`.
 */
export async function verifyProofJwt(input: {
  jwt: string;
  applicantDid: string;
  audiences: readonly string[];
  resolver: DidResolver;
  verifier: SignatureVerifier;
  now: number;
  skewSeconds: number;
  maxAgeSeconds: number;
  /** Whether `iss` must be present (draft-13 requests); when present it must always be the applicant DID. */
  requireIss: boolean;
}): Promise<VerifiedProof> {
  try {
    const jwt = decodeJwt(input.jwt);
    const { header, payload } = jwt;
    if (header.typ !== 'openid4vci-proof+jwt') throw new InvalidProof('proof typ must be openid4vci-proof+jwt');
    if (typeof header.kid !== 'string') throw new InvalidProof('proof kid must be a DID URL');
    if ('jwk' in header || 'x5c' in header) throw new InvalidProof('proof key must be named by kid only');
    const holderDid = header.kid.split('#')[0];
    if (holderDid !== input.applicantDid) throw new InvalidProof('proof kid is not a key of the applicant DID');
    if (payload.iss === undefined && input.requireIss) throw new InvalidProof('proof iss (the applicant DID) is required');
    if (payload.iss !== undefined && payload.iss !== input.applicantDid) throw new InvalidProof('proof iss must be the applicant DID');
    if (!audienceMatches(payload.aud, input.audiences)) throw new InvalidProof('proof aud must be the credential issuer');
    if (typeof payload.iat !== 'number') throw new InvalidProof('proof iat is required');
    checkTimeClaims(payload, { now: input.now, skew: input.skewSeconds, requireIat: true, maxAge: input.maxAgeSeconds });
    if (typeof payload.nonce !== 'string' || !payload.nonce) throw new InvalidProof('proof nonce (c_nonce) is required');
    const key = await resolveVerificationKey(input.resolver, header.kid, 'authentication');
    await verifyJwtSignature(jwt, key.jwk, input.verifier);
    return { holderDid, kid: header.kid, nonce: payload.nonce };
  } catch (e) {
    if (e instanceof InvalidProof) throw e;
    if (e instanceof JwtError || e instanceof DidError) throw new InvalidProof(`invalid proof: ${e.message}`);
    throw e;
  }
}
