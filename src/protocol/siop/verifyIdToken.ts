import { JwtError, audienceMatches, checkTimeClaims, decodeJwt, verifyJwtSignature } from '../../crypto/jwt';
import type { SignatureVerifier } from '../../crypto/keys';
import { DidError, resolveVerificationKey, type DidResolver } from '../../did/resolver';
import { didMethodOf } from '../../did/types';
import { InvalidRequest } from '../errors';

export interface VerifiedIdToken {
  applicantDid: string;
  kid: string;
  nonce: string;
}

/**
 * Verifies the applicant's self-issued ID Token (spec, "Authenticate Applicant DID"; SIOPv2 §11.1):
 * signature by an authentication key of the DID named in `kid`; `iss == sub ==` that DID;
 * `aud` the PFI DID; `nonce` present (the caller consumes it); `exp`/`iat` within skew.
 * Only EdDSA and ES256K are accepted. Every failure is an `invalid_request`.
 *
 * @example
 * const { applicantDid, nonce } = await verifyIdToken({ idToken, clientId: pfiDid, resolver, verifier, now });
 */
export async function verifyIdToken(input: {
  idToken: unknown;
  clientId: string;
  resolver: DidResolver;
  verifier: SignatureVerifier;
  now: number;
  skewSeconds?: number;
  maxAgeSeconds?: number;
  acceptedMethods?: readonly string[];
}): Promise<VerifiedIdToken> {
  const skew = input.skewSeconds ?? 60;
  try {
    const jwt = decodeJwt(input.idToken);
    const { header, payload } = jwt;
    // An ID token is a plain JWT; refuse tokens typed as something else (access token, proof, request object).
    if (header.typ !== undefined && header.typ.toUpperCase() !== 'JWT') throw new InvalidRequest('id_token has the wrong typ');
    if (typeof header.kid !== 'string') throw new InvalidRequest('id_token header must carry kid (a DID URL of the applicant)');
    const { iss, sub, nonce } = payload;
    if (typeof iss !== 'string' || typeof sub !== 'string') throw new InvalidRequest('id_token must carry iss and sub');
    if (iss !== sub) throw new InvalidRequest('id_token iss must equal sub (self-issued)');
    const did = header.kid.split('#')[0];
    if (did !== sub) throw new InvalidRequest('id_token kid must be a key of the sub DID');
    const method = didMethodOf(sub);
    if (!method || (input.acceptedMethods && !input.acceptedMethods.includes(method))) {
      throw new InvalidRequest(`${method ?? 'this DID'} is not a supported subject syntax type`);
    }
    if (!audienceMatches(payload.aud, [input.clientId])) throw new InvalidRequest('id_token aud must be the PFI DID (client_id)');
    if (typeof nonce !== 'string' || nonce.length === 0) throw new InvalidRequest('id_token must carry the request nonce');
    checkTimeClaims(payload, { now: input.now, skew, requireExp: true, requireIat: true, maxAge: input.maxAgeSeconds });
    const key = await resolveVerificationKey(input.resolver, header.kid, 'authentication');
    await verifyJwtSignature(jwt, key.jwk, input.verifier);
    return { applicantDid: sub, kid: header.kid, nonce };
  } catch (e) {
    if (e instanceof InvalidRequest) throw e;
    if (e instanceof JwtError || e instanceof DidError) throw new InvalidRequest(`invalid id_token: ${e.message}`);
    throw e;
  }
}
