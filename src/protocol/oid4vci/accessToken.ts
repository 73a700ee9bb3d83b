import { JwtError, audienceMatches, checkTimeClaims, decodeJwt, signJwt, verifyJwtSignature } from '../../crypto/jwt';
import type { PublicJwk, SignatureVerifier, Signer } from '../../crypto/keys';
import { InvalidToken } from '../errors';

/**
 * Access tokens are JWTs (RFC 9068, `typ: at+jwt`) with the claims the spec lists under
 * "access_token Claims": iss (PFI DID), aud (PFI DID), sub and client_id (applicant DID),
 * exp, iat, jti, c_nonce, c_nonce_expiry.
 */
export interface AccessTokenClaims {
  iss: string;
  aud: string;
  sub: string;
  client_id: string;
  exp: number;
  iat: number;
  jti: string;
  c_nonce: string;
  c_nonce_expiry: number;
}

export function issueAccessToken(signer: Signer, claims: AccessTokenClaims): Promise<string> {
  return signJwt(signer, { ...claims }, { typ: 'at+jwt' });
}

/**
 * Verifies one of our own access tokens: signature by a key the PFI publishes (looked up by
 * kid in `issuerKeys`, never from the token), `typ` at+jwt (so an ID token, proof or KCC is
 * refused), issuer, audience and expiry. Failures are RFC 6750 `invalid_token` (401).
 *
 * `recordedAsIssued(jti, token)`: true when the issuer's own record says exactly these bytes were
 * issued under that jti (a digest of the token kept when it was signed). The bytes are then the
 * ones the issuer signed, so the signature is not verified a second time; every claim still is.
 */
export async function verifyAccessToken(input: {
  token: string;
  issuerDid: string;
  issuerKeys: ReadonlyMap<string, PublicJwk>;
  verifier: SignatureVerifier;
  now: number;
  skewSeconds?: number;
  recordedAsIssued?: (jti: string, token: string) => Promise<boolean>;
}): Promise<AccessTokenClaims> {
  try {
    const jwt = decodeJwt(input.token, { maxLength: 4096 });
    if (jwt.header.typ?.toLowerCase() !== 'at+jwt' && jwt.header.typ?.toLowerCase() !== 'application/at+jwt') {
      throw new InvalidToken('access token has the wrong typ');
    }
    const jwk = jwt.header.kid ? input.issuerKeys.get(jwt.header.kid) : undefined;
    if (!jwk) throw new InvalidToken('access token was not issued by this issuer');
    const p = jwt.payload;
    const asIssued = input.recordedAsIssued !== undefined && typeof p.jti === 'string' && (await input.recordedAsIssued(p.jti, input.token));
    if (!asIssued) await verifyJwtSignature(jwt, jwk, input.verifier);
    if (p.iss !== input.issuerDid) throw new InvalidToken('access token issuer mismatch');
    if (!audienceMatches(p.aud, [input.issuerDid])) throw new InvalidToken('access token audience mismatch');
    checkTimeClaims(p, { now: input.now, skew: input.skewSeconds ?? 0, requireExp: true, requireIat: true });
    if (typeof p.sub !== 'string' || typeof p.jti !== 'string') throw new InvalidToken('access token is malformed');
    return p as unknown as AccessTokenClaims;
  } catch (e) {
    if (e instanceof InvalidToken) throw e;
    if (e instanceof JwtError) throw new InvalidToken(e.code === 'ERR_JWT_EXPIRED' ? 'access token has expired' : 'access token is invalid');
    throw e;
  }
}

/** `Authorization: Bearer <token>` (RFC 6750 §2.1) → token, or InvalidToken. */
export function bearerToken(authorization: string | undefined | null): string {
  if (!authorization) throw new InvalidToken('missing bearer access token');
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
  if (!m) throw new InvalidToken('Authorization header must be a Bearer token');
  return m[1];
}
