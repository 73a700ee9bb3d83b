import { HOLDER_ALGORITHMS, parseHolderJwk, verifyHolderSignature, type HolderJwk } from '../../crypto/holderKeys';
import { JwtError, audienceMatches, checkTimeClaims, decodeJwt, verifyJwtSignature } from '../../crypto/jwt';
import type { SignatureVerifier } from '../../crypto/keys';
import { DidError, resolveVerificationKey, type DidResolver } from '../../did/resolver';
import { InvalidProof } from '../errors';

export interface VerifiedProof {
  /** The applicant DID (for a `jwk` proof: the DID the grant is bound to, not proven by this key). */
  holderDid: string;
  /** The DID URL of the key, for a DID-bound proof. */
  kid?: string;
  nonce: string;
  /** The proven key: what an SD-JWT VC binds in `cnf.jwk`. */
  holderJwk: HolderJwk;
  /** True when the key is a key of the applicant DID (`kid`); false for a bare `jwk` proof. */
  didBound: boolean;
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
  /**
   * Accept a proof whose key is a bare `jwk` header (OID4VCI 1.0 §F.1; EdDSA, ES256K or ES256):
   * for SD-JWT VC configurations, whose copies are bound to keys that need not be in the
   * applicant's DID document (a batch of unlinkable keys). Off: `kid` only, as for jwt_vc_json.
   */
  allowJwkProof?: boolean;
}): Promise<VerifiedProof> {
  try {
    if (input.allowJwkProof) {
      const jwt = decodeJwt(input.jwt, { algorithms: HOLDER_ALGORITHMS });
      if ('jwk' in jwt.header) return await verifyJwkProof(jwt, input);
    }
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
    return { holderDid, kid: header.kid, nonce: payload.nonce, holderJwk: key.jwk, didBound: true };
  } catch (e) {
    if (e instanceof InvalidProof) throw e;
    if (e instanceof JwtError || e instanceof DidError) throw new InvalidProof(`invalid proof: ${e.message}`);
    throw e;
  }
}

type ProofInput = Parameters<typeof verifyProofJwt>[0];

/** A proof whose key is its `jwk` header: the same claims, the signature by that key. */
async function verifyJwkProof(jwt: ReturnType<typeof decodeJwt>, input: ProofInput): Promise<VerifiedProof> {
  const { header, payload } = jwt;
  if (header.typ !== 'openid4vci-proof+jwt') throw new InvalidProof('proof typ must be openid4vci-proof+jwt');
  // One way to name the key (1.0 §F.1: kid, jwk and x5c are mutually exclusive).
  if ('kid' in header || 'x5c' in header) throw new InvalidProof('proof key must be named by one of kid or jwk');
  const jwk = parseHolderJwk(header.jwk);
  if (!jwk) throw new InvalidProof('proof jwk must be an Ed25519, secp256k1 or P-256 public key');
  if (payload.iss === undefined && input.requireIss) throw new InvalidProof('proof iss (the applicant DID) is required');
  if (payload.iss !== undefined && payload.iss !== input.applicantDid) throw new InvalidProof('proof iss must be the applicant DID');
  if (!audienceMatches(payload.aud, input.audiences)) throw new InvalidProof('proof aud must be the credential issuer');
  if (typeof payload.iat !== 'number') throw new InvalidProof('proof iat is required');
  checkTimeClaims(payload, { now: input.now, skew: input.skewSeconds, requireIat: true, maxAge: input.maxAgeSeconds });
  if (typeof payload.nonce !== 'string' || !payload.nonce) throw new InvalidProof('proof nonce (c_nonce) is required');
  await verifyHolderSignature(jwt, jwk, input.verifier);
  return { holderDid: input.applicantDid, nonce: payload.nonce, holderJwk: jwk, didBound: false };
}

/**
 * The proofs of a batch (`proofs.jwt`, OID4VCI 1.0 §8.2): each verified as above, all with the
 * same nonce (one c_nonce per request, consumed once by the caller), and no key twice (copies
 * bound to one key would be linkable and are not what a batch is for).
 */
export async function verifyProofJwts(input: Omit<ProofInput, 'jwt'> & { jwts: readonly string[] }): Promise<VerifiedProof[]> {
  const proofs: VerifiedProof[] = [];
  for (const jwt of input.jwts) proofs.push(await verifyProofJwt({ ...input, jwt }));
  if (proofs.some((p) => p.nonce !== proofs[0].nonce)) throw new InvalidProof('every proof of a request must carry the same nonce');
  const keys = new Set(proofs.map((p) => `${p.holderJwk.crv}:${p.holderJwk.x}`));
  if (keys.size !== proofs.length) throw new InvalidProof('each proof of a batch must be made with its own key');
  return proofs;
}
