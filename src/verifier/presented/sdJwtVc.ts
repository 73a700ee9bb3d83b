import { SDJwtVcInstance, type SdJwtVcPayload } from '@sd-jwt/sd-jwt-vc';
import { compactVerify, decodeJwt, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { base64urlDecodeToString, base64urlEncode } from '../../crypto/base64url';
import { nowSeconds } from '../../ports/clock';
import {
  PresentedCredentialError,
  evidenceFor,
  readClaims,
  type PresentationContext,
  type PresentedVerificationDeps,
  type VerifiedPresentedCredential,
} from './result';
import { anchorsOf, type SdJwtVcTrust } from './trust';
import { CertificateChainError, certificateNamesIssuer, publicJwkOf, verifyCertificateChain } from './x509';

/**
 * Verifies an SD-JWT VC presentation (draft-ietf-oauth-sd-jwt-vc, RFC 9901 SD-JWT) with
 * @sd-jwt/sd-jwt-vc, for one trust entry (`vct`):
 *  - the issuer-signed JWT: `typ` dc+sd-jwt (or the older vc+sd-jwt), the entry's `vct`, an
 *    asymmetric `alg`; the key from an `x5c` chain to one of the entry's anchors (the leaf naming
 *    `iss`), or, without x5c, from the JWT VC Issuer Metadata (`/.well-known/jwt-vc-issuer`, §5)
 *    of an `iss` the entry lists — an unlisted issuer is refused before anything is fetched;
 *  - iat / nbf / exp with skew (the library), and a holder key (`cnf.jwk`) is required;
 *  - the Key Binding JWT (RFC 9901 §4.3): present, signed by `cnf.jwk`, `nonce` the SIOP nonce,
 *    `aud` the PFI's client_id, fresh `iat`, `sd_hash` over the presentation;
 *  - every disclosure referenced by exactly one digest (RFC 9901 §7.1 step 3: an altered or
 *    added disclosure is refused, which the library leaves to the caller);
 *  - status through the IETF Token Status List when the credential has `status.status_list`:
 *    the list token fetched through the port, signed by the credential's issuer key, its `sub`
 *    the referenced URI; 0 valid, 1 revoked, 2 suspended, anything else refused.
 * Throws PresentedCredentialError with the reasons.
 */
export async function verifySdJwtVcPresentation(
  presentation: string,
  entry: SdJwtVcTrust,
  context: PresentationContext,
  deps: Pick<PresentedVerificationDeps, 'clock' | 'crypto' | 'fetch'>,
): Promise<VerifiedPresentedCredential> {
  if (presentation.length > MAX_PRESENTATION) throw new PresentedCredentialError(['the SD-JWT VC is too large']);
  const parts = presentation.split('~');
  const issuerJwt = parts[0];
  const kbJwt = parts[parts.length - 1];
  const disclosures = parts.slice(1, -1);
  if (parts.length < 2 || !kbJwt) throw new PresentedCredentialError(['the SD-JWT VC has no Key Binding JWT']);
  if (disclosures.some((d) => d.length === 0)) throw new PresentedCredentialError(['the SD-JWT VC has an empty disclosure']);

  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(issuerJwt) as Record<string, unknown>;
    payload = decodeJwt(issuerJwt) as Record<string, unknown>;
  } catch {
    throw new PresentedCredentialError(['the SD-JWT VC is not a JWT']);
  }
  if (header.typ !== 'dc+sd-jwt' && header.typ !== 'vc+sd-jwt') throw new PresentedCredentialError([`typ ${String(header.typ)} is not an SD-JWT VC's`]);
  if (typeof header.alg !== 'string' || !ALGORITHMS.includes(header.alg)) throw new PresentedCredentialError([`alg ${String(header.alg)} is not accepted`]);
  if (payload.vct !== entry.vct) throw new PresentedCredentialError([`vct ${String(payload.vct)} is not ${entry.vct}`]);
  const iss = typeof payload.iss === 'string' ? payload.iss : undefined;
  if (!iss) throw new PresentedCredentialError(['the SD-JWT VC has no iss']);
  const cnf = payload.cnf as { jwk?: JWK } | undefined;
  if (!cnf?.jwk || typeof cnf.jwk !== 'object' || 'd' in cnf.jwk) throw new PresentedCredentialError(['the SD-JWT VC is bound to no holder key (cnf.jwk)']);

  const now = nowSeconds(deps);
  const issuerKey = await issuerKeyFor(header, iss, entry, context, deps, now);
  const issuerDescription = issuerKey.subject ? `${iss} (${issuerKey.subject})` : iss;

  const verifySignature = async (data: string, signature: string, key: JWK, algorithms: string[]) => {
    try {
      await compactVerify(`${data}.${signature}`, await importJWK(key, String(decodeProtectedHeader(`${data}.${signature}`).alg)), { algorithms });
      return true;
    } catch {
      return false;
    }
  };
  const skew = context.skewSeconds ?? 60;
  const maxAge = context.maxAgeSeconds ?? 300;
  const kbProblems: string[] = [];
  const statusProblems: string[] = [];
  const sdjwt = new SDJwtVcInstance({
    hasher: (data, alg) => {
      if (alg.toLowerCase() !== 'sha-256') throw new Error(`_sd_alg ${alg} is not supported`);
      return deps.crypto.sha256(typeof data === 'string' ? data : new Uint8Array(data));
    },
    verifier: (data, signature) => verifySignature(data, signature, issuerKey.jwk, [header.alg as string]),
    kbVerifier: async (data, signature, sdPayload) => {
      const holderKey = (sdPayload as { cnf?: { jwk?: JWK } }).cnf?.jwk as JWK;
      if (!(await verifySignature(data, signature, holderKey, ALGORITHMS))) {
        kbProblems.push('the Key Binding JWT is not signed by the holder key (cnf)');
        return false;
      }
      const kb = JSON.parse(base64urlDecodeToString(data.split('.')[1])) as Record<string, unknown>;
      if (kb.aud !== context.clientId) kbProblems.push('the Key Binding JWT aud is not this PFI');
      if (typeof kb.iat !== 'number' || kb.iat > now + skew || kb.iat < now - maxAge - skew) kbProblems.push('the Key Binding JWT iat is not fresh');
      return kbProblems.length === 0;
    },
    statusListFetcher: async (uri) => {
      if (!/^https:\/\//.test(uri)) {
        statusProblems.push('the status list URI is not https');
        throw new Error(statusProblems[0]);
      }
      try {
        return await deps.fetch(uri, 'application/statuslist+jwt');
      } catch (e) {
        statusProblems.push(`the status list could not be fetched: ${(e as Error).message.slice(0, 120)}`);
        throw e;
      }
    },
    // Token Status List §8.3: the list token is a statuslist+jwt whose sub is the URI referenced, signed by the issuer.
    statusVerifier: async (data, signature) => {
      const [h, p] = data.split('.').map((s) => JSON.parse(base64urlDecodeToString(s)) as Record<string, unknown>);
      const uri = (payload.status as { status_list?: { uri?: unknown } } | undefined)?.status_list?.uri;
      if (h.typ !== 'statuslist+jwt') statusProblems.push('the status list is not a statuslist+jwt');
      else if (p.sub !== uri) statusProblems.push('the status list sub is not the URI referenced');
      else if (typeof h.alg !== 'string' || !ALGORITHMS.includes(h.alg)) statusProblems.push('the status list alg is not accepted');
      else if (!(await verifySignature(data, signature, issuerKey.jwk, [h.alg]))) statusProblems.push('the status list is not signed by the issuer');
      return statusProblems.length === 0;
    },
    statusValidator: async (status) => {
      if (status === 0) return;
      statusProblems.push(status === 1 ? 'revoked' : status === 2 ? 'suspended' : `status ${status}`);
      throw new Error(statusProblems[statusProblems.length - 1]);
    },
  });

  let verified: { payload: SdJwtVcPayload };
  try {
    verified = await sdjwt.verify(presentation, { currentDate: now, skewSeconds: skew, keyBindingNonce: context.nonce });
  } catch (e) {
    const reason = kbProblems[0] ?? statusProblems[0] ?? libraryReason(e);
    throw new PresentedCredentialError([reason]);
  }

  const digestOf = (s: string) => base64urlEncode(deps.crypto.sha256(s));
  const unreferenced = unreferencedDisclosures(payload, disclosures, digestOf);
  if (unreferenced) throw new PresentedCredentialError([unreferenced]);

  return {
    descriptorId: entry.id,
    evidence: evidenceFor('dc+sd-jwt', issuerDescription, entry.vct, entry.id, now),
    claims: readClaims(verified.payload, entry.claims),
    satisfies: [...entry.satisfies],
    disclosed: verified.payload as Record<string, unknown>,
    recheck: {
      format: 'dc+sd-jwt',
      issuerJwk: issuerKey.jwk as Record<string, unknown>,
      ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp } : {}),
      ...(payload.status !== undefined ? { status: payload.status } : {}),
    },
  };
}

const MAX_PRESENTATION = 64 * 1024;
const ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA'];

function libraryReason(e: unknown): string {
  const message = e instanceof Error ? e.message : 'invalid';
  if (/expired/i.test(message)) return 'the SD-JWT VC has expired';
  if (/not yet valid/i.test(message)) return 'the SD-JWT VC is not yet valid';
  if (/Invalid JWT Signature/i.test(message)) return 'the issuer signature is invalid';
  if (/Key Binding JWT not exist/i.test(message)) return 'the SD-JWT VC has no Key Binding JWT';
  if (/Invalid Nonce/i.test(message)) return 'the Key Binding JWT nonce is not this request’s';
  if (/sd_hash/i.test(message)) return 'the Key Binding JWT sd_hash does not match the presentation';
  if (/Invalid Key Binding Jwt/i.test(message)) return 'the Key Binding JWT is malformed';
  // Other library messages are not echoed: they may quote disclosed values (reasons reach the client and logs).
  if (/Status List/i.test(message)) return 'the status list could not be verified';
  return 'the SD-JWT VC is malformed or invalid';
}

/** The issuer's verification key: from x5c to a configured anchor, or from JWT VC Issuer Metadata of a listed iss. */
async function issuerKeyFor(
  header: Record<string, unknown>,
  iss: string,
  entry: SdJwtVcTrust,
  context: PresentationContext,
  deps: Pick<PresentedVerificationDeps, 'fetch'>,
  now: number,
): Promise<{ jwk: JWK; subject?: string }> {
  if (header.x5c !== undefined) {
    const anchors = anchorsOf(context.trust, entry.x5cTrustAnchors);
    if (anchors.length === 0) throw new PresentedCredentialError([`issuer ${iss} is not trusted: ${entry.id} accepts no x5c chain`]);
    if (!Array.isArray(header.x5c) || header.x5c.length === 0 || !header.x5c.every((c) => typeof c === 'string'))
      throw new PresentedCredentialError(['x5c is malformed']);
    let leaf: Awaited<ReturnType<typeof verifyCertificateChain>>;
    try {
      // RFC 7515 §4.1.6: x5c holds base64 (not base64url) DER.
      const chain = (header.x5c as string[]).map((c) => Uint8Array.from(atob(c), (ch) => ch.charCodeAt(0)));
      leaf = await verifyCertificateChain(chain, anchors, new Date(now * 1000));
    } catch (e) {
      if (e instanceof CertificateChainError) throw new PresentedCredentialError([`issuer ${iss} is not trusted: ${e.message}`]);
      throw new PresentedCredentialError(['x5c is malformed']);
    }
    // SD-JWT VC draft §3.5: with x5c, iss is an https URL the leaf names (SAN URI or DNS name).
    if (!/^https:\/\//.test(iss)) throw new PresentedCredentialError(['with an x5c chain, iss must be an https URL']);
    if (!certificateNamesIssuer(leaf, iss)) throw new PresentedCredentialError([`the x5c certificate does not name the issuer ${iss}`]);
    return { jwk: (await publicJwkOf(leaf)) as JWK, subject: leaf.subject };
  }
  if (!entry.issuers.includes(iss)) throw new PresentedCredentialError([`issuer ${iss} is not trusted for ${entry.vct}`]);
  const keys = await issuerMetadataKeys(iss, deps);
  const kid = header.kid;
  const candidates = keys.filter((k) => (typeof kid === 'string' ? k.kid === kid : true));
  if (candidates.length !== 1)
    throw new PresentedCredentialError([
      typeof kid === 'string' ? `the issuer metadata has no key ${kid}` : 'the issuer metadata has several keys and the SD-JWT VC names none (kid)',
    ]);
  return { jwk: candidates[0] };
}

/**
 * SD-JWT VC draft §5 (JWT VC Issuer Metadata): GET https://host/.well-known/jwt-vc-issuer/<path of iss>;
 * its `issuer` must be `iss`; the keys are inline (`jwks`) or at `jwks_uri`. Private keys are refused.
 */
export async function issuerMetadataKeys(iss: string, deps: Pick<PresentedVerificationDeps, 'fetch'>): Promise<JWK[]> {
  const url = new URL(iss);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const metadataUrl = `${url.origin}/.well-known/jwt-vc-issuer${path}`;
  let metadata: { issuer?: unknown; jwks?: { keys?: unknown }; jwks_uri?: unknown };
  try {
    metadata = JSON.parse(await deps.fetch(metadataUrl, 'application/json'));
  } catch (e) {
    throw new PresentedCredentialError([`the issuer metadata of ${iss} could not be read: ${(e as Error).message.slice(0, 100)}`]);
  }
  if (metadata?.issuer !== iss) throw new PresentedCredentialError([`the issuer metadata at ${metadataUrl} is not for ${iss}`]);
  let jwks = metadata.jwks;
  if (!jwks && typeof metadata.jwks_uri === 'string') {
    if (!metadata.jwks_uri.startsWith('https://')) throw new PresentedCredentialError(['the issuer metadata jwks_uri is not https']);
    try {
      jwks = JSON.parse(await deps.fetch(metadata.jwks_uri, 'application/jwk-set+json, application/json'));
    } catch {
      throw new PresentedCredentialError([`the issuer keys of ${iss} could not be read`]);
    }
  }
  const keys = Array.isArray(jwks?.keys) ? (jwks.keys as JWK[]) : [];
  return keys.filter((k) => k && typeof k === 'object' && typeof k.kty === 'string' && !('d' in k));
}

/**
 * RFC 9901 §7.1 step 3: every disclosure must be referenced by a digest in the payload or in
 * another referenced disclosure, and none twice; returns why not, or undefined.
 */
export function unreferencedDisclosures(
  payload: Record<string, unknown>,
  disclosures: readonly string[],
  digestOf: (disclosure: string) => string,
): string | undefined {
  const byDigest = new Map<string, unknown[]>();
  for (const d of disclosures) {
    const digest = digestOf(d);
    if (byDigest.has(digest)) return 'a disclosure is presented twice';
    let decoded: unknown;
    try {
      decoded = JSON.parse(base64urlDecodeToString(d));
    } catch {
      return 'a disclosure is not base64url JSON';
    }
    if (!Array.isArray(decoded) || (decoded.length !== 2 && decoded.length !== 3)) return 'a disclosure is malformed';
    byDigest.set(digest, decoded);
  }
  const referenced = new Set<string>();
  const pending: unknown[] = [payload];
  const reference = (digest: unknown) => {
    if (typeof digest !== 'string') return;
    referenced.add(digest);
    const disclosure = byDigest.get(digest);
    if (disclosure) pending.push(disclosure[disclosure.length - 1]);
  };
  let seen = 0;
  while (pending.length) {
    if (++seen > 10_000) return 'the SD-JWT VC is nested too deeply';
    const value = pending.pop();
    if (Array.isArray(value)) {
      for (const item of value) {
        if (item && typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length === 1 && '...' in item)
          reference((item as Record<string, unknown>)['...']);
        else pending.push(item);
      }
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k === '_sd' && Array.isArray(v)) v.forEach(reference);
        else pending.push(v);
      }
    }
  }
  for (const digest of byDigest.keys()) if (!referenced.has(digest)) return 'a disclosure is not referenced by the credential (altered or added)';
  return undefined;
}
