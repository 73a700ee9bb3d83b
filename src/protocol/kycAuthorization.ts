import { audienceMatches, checkTimeClaims, decodeJwt, JwtError, verifyJwtSignature } from '../crypto/jwt';
import type { SignatureVerifier } from '../crypto/keys';
import { DidError, resolveVerificationKey, type DidResolver } from '../did/resolver';

/**
 * A subject's authorisation for one relying party (tenant) to read its KYC status: a compact JWS
 * signed by an authentication key of the subject's DID, handed by the wallet to the relying party,
 * which presents it with the read (`KYC-Subject-Authorization` header). Without one a tenant
 * learns nothing about a DID (404, src/issuance/kycStatusRead.ts) — KYCPort scopes reads to a
 * tenant's own users (seed 000, "Read a user's verification status").
 *
 * Header: `typ: kyc-authorization+jwt`, `alg` EdDSA or ES256K, `kid` a DID URL of the subject.
 * Payload: `iss` = `sub` = the subject DID, `aud` the issuer URL or the PFI DID, `tenant` the
 * tenant's name, `iat` and `exp` at most {@link KYC_AUTHORIZATION_MAX_LIFETIME} seconds apart.
 * It may be presented until it expires (it names one tenant, so another cannot use it).
 */
export const KYC_AUTHORIZATION_TYP = 'kyc-authorization+jwt';
export const KYC_AUTHORIZATION_MAX_LIFETIME = 600;

export type KycAuthorizationRefusal =
  | 'missing'
  | 'malformed'
  | 'wrong_subject'
  | 'wrong_tenant'
  | 'wrong_audience'
  | 'expired'
  | 'too_long_lived'
  | 'bad_signature';

export type KycAuthorizationResult = { ok: true; kid: string; exp: number } | { ok: false; reason: KycAuthorizationRefusal };

/** Verifies a KYC status authorisation for `subject` and `tenant`; never throws for a bad token. */
export async function verifyKycStatusAuthorization(input: {
  token: string | undefined;
  subject: string;
  tenant: string;
  /** What `aud` may name: the issuer URL and the PFI DID. */
  audiences: readonly string[];
  resolver: DidResolver;
  verifier: SignatureVerifier;
  /** Seconds since the epoch. */
  now: number;
  skewSeconds?: number;
}): Promise<KycAuthorizationResult> {
  if (!input.token) return { ok: false, reason: 'missing' };
  try {
    const jwt = decodeJwt(input.token, { maxLength: 8192 });
    const { header, payload } = jwt;
    if (header.typ !== KYC_AUTHORIZATION_TYP || typeof header.kid !== 'string') return { ok: false, reason: 'malformed' };
    if (payload.iss !== input.subject || payload.sub !== input.subject || header.kid.split('#')[0] !== input.subject)
      return { ok: false, reason: 'wrong_subject' };
    if (payload.tenant !== input.tenant) return { ok: false, reason: 'wrong_tenant' };
    if (!audienceMatches(payload.aud, input.audiences)) return { ok: false, reason: 'wrong_audience' };
    checkTimeClaims(payload, { now: input.now, skew: input.skewSeconds ?? 60, requireExp: true, requireIat: true });
    const exp = payload.exp as number;
    if (exp - (payload.iat as number) > KYC_AUTHORIZATION_MAX_LIFETIME) return { ok: false, reason: 'too_long_lived' };
    const key = await resolveVerificationKey(input.resolver, header.kid, 'authentication');
    await verifyJwtSignature(jwt, key.jwk, input.verifier);
    return { ok: true, kid: header.kid, exp };
  } catch (e) {
    if (e instanceof JwtError) {
      if (e.code === 'ERR_JWT_EXPIRED' || e.code === 'ERR_JWT_NOT_YET_VALID') return { ok: false, reason: 'expired' };
      if (e.code === 'ERR_JWS_SIGNATURE_INVALID' || e.code === 'ERR_JWS_ALG_NOT_ALLOWED') return { ok: false, reason: 'bad_signature' };
      return { ok: false, reason: 'malformed' };
    }
    if (e instanceof DidError) return { ok: false, reason: 'bad_signature' };
    throw e;
  }
}
