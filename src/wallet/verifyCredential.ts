import { checkTimeClaims, decodeJwt, verifyJwtSignature } from '../crypto/jwt';
import type { SignatureVerifier } from '../crypto/keys';
import { resolveVerificationKey, type DidResolver } from '../did/resolver';

/**
 * Verifies a `jwt_vc_json` KCC as a verifier would (VC Data Model 1.1 §6.3.1): the `kid` is
 * a DID URL of the issuer DID (`iss`), listed under its assertionMethod, the signature
 * verifies with that key (EdDSA or ES256K), `vc.issuer` and `credentialSubject.id` mirror
 * `iss` and `sub`, and the credential is within nbf/exp. Throws on any failure.
 */
export async function verifyKccJwt(input: {
  jwt: string;
  resolver: DidResolver;
  verifier: SignatureVerifier;
  /** Seconds since the epoch. */
  now: number;
  skewSeconds?: number;
  expectedIssuer?: string;
  expectedSubject?: string;
}) {
  const jwt = decodeJwt(input.jwt);
  const { header, payload } = jwt;
  if (typeof header.kid !== 'string') throw new Error('KCC header must carry kid');
  const iss = payload.iss;
  if (typeof iss !== 'string' || header.kid.split('#')[0] !== iss) throw new Error('KCC kid must be a key of the iss DID');
  if (input.expectedIssuer && iss !== input.expectedIssuer) throw new Error('KCC issuer is not the expected PFI');
  const key = await resolveVerificationKey(input.resolver, header.kid, 'assertionMethod');
  await verifyJwtSignature(jwt, key.jwk, input.verifier);
  checkTimeClaims(payload, { now: input.now, skew: input.skewSeconds ?? 60, requireExp: true });
  const vc = payload.vc as { issuer?: unknown; type?: unknown; credentialSubject?: { id?: unknown } } | undefined;
  if (!vc || typeof vc !== 'object') throw new Error('KCC has no vc claim');
  if (vc.issuer !== iss) throw new Error('vc.issuer must equal iss');
  if (!Array.isArray(vc.type) || !vc.type.includes('KnownCustomerCredential')) throw new Error('not a KnownCustomerCredential');
  if (vc.credentialSubject?.id !== payload.sub) throw new Error('credentialSubject.id must equal sub');
  if (input.expectedSubject && payload.sub !== input.expectedSubject) throw new Error('KCC subject is not the holder');
  return { header, payload, kid: header.kid, alg: key.alg };
}
