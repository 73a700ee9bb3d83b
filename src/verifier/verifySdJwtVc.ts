import { base64urlEncode, utf8 } from '../crypto/base64url';
import { sha256 } from '../crypto/hash';
import { HOLDER_ALGORITHMS, parseHolderJwk, verifyHolderSignature, type HolderJwk } from '../crypto/holderKeys';
import { JwtError, checkTimeClaims, decodeJwt, type DecodedJwt } from '../crypto/jwt';
import type { SignatureVerifier } from '../crypto/keys';
import { DidError, resolveVerificationKey, type DidResolver } from '../did/resolver';
import { DisclosedKccClaims } from '../protocol/sdJwtVc/claims';
import { decodeDisclosure } from '../protocol/sdJwtVc/kcc';
import { jwtVcIssuerMetadataUrl } from '../protocol/sdJwtVc/metadata';
import { STATUS_LIST_JWT_TYP, TOKEN_STATUS, decodeTokenStatusList, tokenStatusAt } from '../protocol/tokenStatusList';
import type { CheckResult, StatusListFetcher } from './verifyCredential';

/**
 * Verification of an SD-JWT VC (draft-ietf-oauth-sd-jwt-vc, RFC 9901 SD-JWT) for a relying
 * party: a KCC as issued (`<jwt>~<disclosures>~`) or presented (`…~<KB-JWT>`). Every check
 * runs and is reported, as for jwt_vc_json (./verifyCredential.ts):
 * - format: `typ` dc+sd-jwt (or the draft-era vc+sd-jwt), EdDSA/ES256K only (src/crypto/jwt.ts);
 *   the holder's Key Binding JWT may also be ES256 (src/crypto/holderKeys.ts);
 * - signature: an https `iss` through its JWT VC Issuer Metadata (§5, the key named by `kid`),
 *   a DID `iss` through its DID document (`kid` a DID URL of it, assertionMethod);
 * - disclosures (RFC 9901 §7.1): each digest referenced exactly once, no unreferenced or repeated
 *   disclosure, no disclosed name that is already a claim or `_sd`/`...`; `_sd_alg` sha-256;
 * - dates (`exp`, `nbf`, `iat`), the expected `vct`, issuer trust;
 * - status: the IETF Token Status List named by `status.status_list` (signed by the same issuer,
 *   `sub` the list's URI, unexpired): VALID passes; INVALID is revoked, SUSPENDED suspended;
 * - key binding (§4.3, §7.3) when a presentation is expected or carries a KB-JWT: `typ` kb+jwt,
 *   signed by `cnf.jwk`, `aud` and `nonce` as expected, fresh `iat`, `sd_hash` over what was presented;
 * - schema of the disclosed KCC claims (./../protocol/sdJwtVc/claims.ts).
 * `disclosed` holds only what the holder disclosed; nothing else of the credential is readable.
 */
export type SdJwtCheckName = CheckResult['check'] | 'disclosures' | 'key_binding' | 'vct';

export interface SdJwtCheckResult {
  check: SdJwtCheckName;
  ok: boolean;
  detail: string;
}

export interface SdJwtVcVerdict {
  ok: boolean;
  reasons: string[];
  checks: SdJwtCheckResult[];
  /** The issuer-signed claims that are always disclosed (iss, vct, iat, exp, cnf, status…), without `_sd`. */
  payload?: Record<string, unknown>;
  /** The selectively disclosable claims the holder disclosed, by name. */
  disclosed?: Record<string, unknown>;
  issuer?: string;
  subject?: string;
  vct?: string;
  /** The Token Status List value: 0 valid, 1 revoked, 2 suspended. */
  status?: number;
  alg?: string;
  /** The Key Binding JWT's claims when one was verified. */
  keyBinding?: { aud: string; nonce: string; iat: number };
}

/** Fetches a JSON document (JWT VC Issuer Metadata) at an https URL; throw if it cannot. */
export type JsonFetcher = (url: string) => Promise<unknown>;

export interface VerifySdJwtVcOptions {
  verifier: SignatureVerifier;
  /** Seconds since the epoch. */
  now: number;
  skewSeconds?: number;
  /** For an `iss` that is a DID. */
  resolver?: DidResolver;
  /** For an `iss` that is an https URL: its JWT VC Issuer Metadata. */
  fetchIssuerMetadata?: JsonFetcher;
  /** Trusted `iss` values; undefined: trust is not checked here. */
  trustedIssuers?: readonly string[];
  /** With trustedIssuers: nothing of an untrusted issuer is fetched (keys, status). */
  refuseUntrustedFirst?: boolean;
  /** Accepted `vct` values; undefined: any. */
  expectedVct?: readonly string[];
  /** How to fetch the Token Status List; undefined: a credential with a status fails (cannot check). */
  fetchStatusList?: StatusListFetcher;
  /** A presentation is expected: a Key Binding JWT for this audience (client_id) and nonce. */
  keyBinding?: { audience: string; nonce: string; maxAgeSeconds?: number };
  /** Validate the disclosed claims as KCC claims (default true). */
  kccSchema?: boolean;
  maxLength?: number;
}

const MAX_DISCLOSURES = 64;
const SD_JWT_TYPS = ['dc+sd-jwt', 'vc+sd-jwt'];

export async function verifySdJwtVc(token: string, options: VerifySdJwtVcOptions): Promise<SdJwtVcVerdict> {
  const checks: SdJwtCheckResult[] = [];
  const pass = (check: SdJwtCheckName, detail: string) => checks.push({ check, ok: true, detail });
  const fail = (check: SdJwtCheckName, detail: string) => checks.push({ check, ok: false, detail });
  const out: Omit<SdJwtVcVerdict, 'ok' | 'reasons' | 'checks'> = {};
  const verdict = (): SdJwtVcVerdict => {
    const reasons = checks.filter((c) => !c.ok).map((c) => `${c.check}: ${c.detail}`);
    return { ok: reasons.length === 0, reasons, checks, ...out };
  };
  const skew = options.skewSeconds ?? 60;
  const text = token.trim();
  if (text.length > (options.maxLength ?? 64 * 1024)) {
    fail('format', 'the SD-JWT is too large');
    return verdict();
  }
  const parts = text.split('~');
  if (parts.length < 2) {
    fail('format', 'not an SD-JWT (no ~ separator)');
    return verdict();
  }
  const kbText = parts[parts.length - 1] || undefined;
  const disclosures = parts.slice(1, -1);
  if (disclosures.length > MAX_DISCLOSURES) {
    fail('format', `${disclosures.length} disclosures (at most ${MAX_DISCLOSURES})`);
    return verdict();
  }
  let jwt: DecodedJwt;
  try {
    // EdDSA, ES256K, and ES256 (HAIP issuers, ours with SDJWT_VC_SIGNING_ALG=ES256).
    jwt = decodeJwt(parts[0], { algorithms: HOLDER_ALGORITHMS });
  } catch (e) {
    fail('format', e instanceof JwtError ? e.message : 'the issuer-signed part is not a compact JWT');
    return verdict();
  }
  out.alg = jwt.header.alg;
  const typ = typeof jwt.header.typ === 'string' ? jwt.header.typ.toLowerCase().replace(/^application\//, '') : undefined;
  const payload = jwt.payload;
  const iss = typeof payload.iss === 'string' ? payload.iss : undefined;
  const vct = typeof payload.vct === 'string' ? payload.vct : undefined;
  out.issuer = iss;
  out.vct = vct;
  const formatProblems: string[] = [];
  // SD-JWT VC §3.2.1: typ is REQUIRED; a JWT of another kind is no credential (RFC 8725 §3.11).
  if (!typ || !SD_JWT_TYPS.includes(typ)) formatProblems.push(`typ ${String(jwt.header.typ)} is not dc+sd-jwt`);
  if (!iss) formatProblems.push('no iss');
  if (!vct) formatProblems.push('no vct');
  if (payload._sd_alg !== undefined && payload._sd_alg !== 'sha-256') formatProblems.push(`_sd_alg ${String(payload._sd_alg)} is not sha-256`);
  if (formatProblems.length) fail('format', formatProblems.join('; '));
  else pass('format', `${typ}, vct ${vct}, ${disclosures.length} disclosure(s)${kbText ? ', with a Key Binding JWT' : ''}`);

  // Disclosures first: they need no key, and a malformed set means nothing below can be trusted.
  let claims: Record<string, unknown> | undefined;
  try {
    const unpacked = unpackDisclosures(payload, disclosures);
    claims = unpacked.claims;
    out.disclosed = unpacked.disclosed;
    out.payload = unpacked.plain;
    pass('disclosures', `${disclosures.length} disclosure(s) match their digests: ${Object.keys(unpacked.disclosed).join(', ') || 'none disclosed'}`);
  } catch (e) {
    fail('disclosures', (e as Error).message);
  }
  const subject = typeof claims?.sub === 'string' ? claims.sub : undefined;
  out.subject = subject;

  const trusted = !options.refuseUntrustedFirst || !options.trustedIssuers || (!!iss && options.trustedIssuers.includes(iss));
  let signed = false;
  if (!trusted) fail('signature', 'not checked: the issuer is not trusted');
  else if (!iss) fail('signature', 'no issuer to verify against');
  else {
    try {
      const key = await issuerKey(iss, jwt.header.kid, options);
      await verifyHolderSignature(jwt, key, options.verifier);
      pass('signature', `${jwt.header.alg} signature by ${jwt.header.kid}`);
      signed = true;
    } catch (e) {
      if (e instanceof JwtError || e instanceof DidError || e instanceof KeyLookupError) fail('signature', e.message);
      else throw e;
    }
  }

  try {
    checkTimeClaims(payload, { now: options.now, skew });
    pass('dates', typeof payload.exp === 'number' ? `valid until ${new Date(payload.exp * 1000).toISOString()}` : 'valid (no expiry)');
  } catch (e) {
    if (!(e instanceof JwtError)) throw e;
    fail('dates', e.code === 'ERR_JWT_EXPIRED' && typeof payload.exp === 'number' ? `expired on ${new Date(payload.exp * 1000).toISOString()}` : e.message);
  }

  if (options.expectedVct) {
    if (vct && options.expectedVct.includes(vct)) pass('vct', `vct ${vct}`);
    else fail('vct', `vct ${vct ?? '(none)'} is not one of ${options.expectedVct.join(', ')}`);
  }

  // Status only for a trusted, genuinely signed credential: its author chose the URL.
  if (trusted && signed) {
    const reference = asRecord(asRecord(payload.status)?.status_list);
    if (payload.status === undefined) pass('status', 'the credential carries no status');
    else if (!reference || typeof reference.uri !== 'string' || !Number.isSafeInteger(reference.idx) || (reference.idx as number) < 0)
      fail('status', 'status.status_list is malformed');
    else if (!options.fetchStatusList) fail('status', `cannot check the status: no way to fetch ${reference.uri}`);
    else {
      try {
        const value = await tokenStatus(reference.uri, reference.idx as number, iss as string, options);
        out.status = value;
        if (value === TOKEN_STATUS.VALID) pass('status', 'valid (not revoked nor suspended)');
        else
          fail(
            'status',
            value === TOKEN_STATUS.INVALID ? 'revoked' : value === TOKEN_STATUS.SUSPENDED ? 'suspended' : `status 0x${value.toString(16).padStart(2, '0')}`,
          );
      } catch (e) {
        fail('status', `could not be checked: ${(e as Error).message}`);
      }
    }
  }

  if (options.trustedIssuers) {
    if (iss && options.trustedIssuers.includes(iss)) pass('issuer_trust', `${iss} is trusted`);
    else fail('issuer_trust', `issuer ${iss ?? '(none)'} is not trusted`);
  }

  if (kbText || options.keyBinding) {
    try {
      if (!kbText) throw new Error('a presentation must end with a Key Binding JWT');
      if (!options.keyBinding) throw new Error('a Key Binding JWT was presented but no audience and nonce are expected');
      out.keyBinding = await verifyKeyBinding(kbText, text.slice(0, text.length - kbText.length), payload, options.keyBinding, options);
      pass('key_binding', `signed by cnf.jwk for ${out.keyBinding.aud}`);
    } catch (e) {
      fail('key_binding', (e as Error).message);
    }
  }

  if ((options.kccSchema ?? true) && out.disclosed) {
    const parsed = DisclosedKccClaims.safeParse(out.disclosed);
    if (parsed.success) pass('schema', 'the disclosed claims are KCC claims');
    else fail('schema', parsed.error.issues.map((i) => `${i.path.join('.') || '/'} ${i.message}`).join('; '));
  }
  return verdict();
}

class KeyLookupError extends Error {}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** The issuer's key named by `kid`: from its DID document, or from its JWT VC Issuer Metadata. */
async function issuerKey(iss: string, kid: unknown, options: VerifySdJwtVcOptions): Promise<HolderJwk> {
  if (typeof kid !== 'string' || kid.length === 0) throw new KeyLookupError('the JWT names no kid');
  if (iss.startsWith('did:')) {
    if (!options.resolver) throw new KeyLookupError('no DID resolver for a DID issuer');
    if (kid.split('#')[0] !== iss) throw new KeyLookupError(`kid ${kid} is not a key of the issuer ${iss}`);
    return (await resolveVerificationKey(options.resolver, kid, 'assertionMethod')).jwk;
  }
  let url: string;
  try {
    url = jwtVcIssuerMetadataUrl(iss);
  } catch {
    throw new KeyLookupError(`iss ${iss} is neither a DID nor a URL`);
  }
  if (!options.fetchIssuerMetadata) throw new KeyLookupError(`cannot fetch the JWT VC Issuer Metadata ${url}`);
  let metadata: Record<string, unknown> | undefined;
  try {
    metadata = asRecord(await options.fetchIssuerMetadata(url));
  } catch (e) {
    throw new KeyLookupError(`JWT VC Issuer Metadata ${url}: ${(e as Error).message}`);
  }
  // §5.3: the metadata's issuer must be the iss it was fetched for.
  if (!metadata || metadata.issuer !== iss) throw new KeyLookupError(`the JWT VC Issuer Metadata at ${url} is not for ${iss}`);
  const keys = asRecord(metadata.jwks)?.keys;
  if (!Array.isArray(keys)) throw new KeyLookupError('the JWT VC Issuer Metadata has no inline jwks');
  const match = keys.filter((k) => asRecord(k)?.kid === kid);
  if (match.length !== 1) throw new KeyLookupError(`kid ${kid} is not ${match.length ? 'unique' : 'listed'} in the issuer's jwks`);
  const jwk = parseHolderJwk(match[0]);
  if (!jwk) throw new KeyLookupError(`the key ${kid} is not an Ed25519, secp256k1 or P-256 public key`);
  return jwk;
}

/**
 * RFC 9901 §7.1 steps 3-5, strictly: returns the processed claims, the always-disclosed ones
 * and the disclosed ones. Only top-level digests are resolved to names in `disclosed`; nested
 * ones (in objects and arrays) are resolved in place.
 */
function unpackDisclosures(payload: Record<string, unknown>, disclosures: string[]) {
  const byDigest = new Map<string, unknown[]>();
  for (const d of disclosures) {
    if (!/^[A-Za-z0-9_-]+$/.test(d)) throw new Error('a disclosure is not base64url');
    const digest = base64urlEncode(sha256(utf8.encode(d)));
    if (byDigest.has(digest)) throw new Error('a disclosure is repeated');
    let value: unknown[];
    try {
      value = decodeDisclosure(d);
    } catch {
      throw new Error('a disclosure is not a base64url JSON array');
    }
    if (!(value.length === 3 && typeof value[0] === 'string' && typeof value[1] === 'string') && !(value.length === 2 && typeof value[0] === 'string')) {
      throw new Error('a disclosure is neither [salt, name, value] nor [salt, value]');
    }
    byDigest.set(digest, value);
  }
  const used = new Set<string>();
  const take = (digest: unknown): unknown[] | undefined => {
    if (typeof digest !== 'string') throw new Error('a digest is not a string');
    const found = byDigest.get(digest);
    if (!found) return undefined; // a decoy, or a claim the holder did not disclose
    if (used.has(digest)) throw new Error('a digest is referenced twice');
    used.add(digest);
    return found;
  };
  const disclosed: Record<string, unknown> = {};
  const walk = (value: unknown, top: boolean): unknown => {
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      for (const element of value) {
        const r = asRecord(element);
        if (r && Object.keys(r).length === 1 && '...' in r) {
          const d = take(r['...']);
          if (!d) continue;
          if (d.length !== 2) throw new Error('an array element disclosure has a claim name');
          out.push(walk(d[1], false));
        } else out.push(walk(element, false));
      }
      return out;
    }
    const obj = asRecord(value);
    if (!obj) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      if (k === '_sd' || (top && k === '_sd_alg')) continue;
      out[k] = walk(v, false);
    }
    if (obj._sd !== undefined) {
      if (!Array.isArray(obj._sd)) throw new Error('_sd is not an array');
      for (const digest of obj._sd) {
        const d = take(digest);
        if (!d) continue;
        if (d.length !== 3) throw new Error('an object property disclosure has no claim name');
        const name = d[1] as string;
        if (name === '_sd' || name === '...') throw new Error(`a disclosure names the reserved ${name}`);
        if (name in out) throw new Error(`the disclosed claim ${name} is already in the payload`);
        out[name] = walk(d[2], false);
        if (top) disclosed[name] = out[name];
      }
    }
    return out;
  };
  const claims = walk(payload, true) as Record<string, unknown>;
  if (used.size !== byDigest.size) throw new Error('a disclosure is not referenced by the credential');
  const plain = Object.fromEntries(Object.entries(claims).filter(([k]) => !(k in disclosed)));
  return { claims, disclosed, plain };
}

/** Fetches, verifies and reads the Token Status List at `uri` (draft-ietf-oauth-status-list §8.3). */
async function tokenStatus(uri: string, idx: number, iss: string, options: VerifySdJwtVcOptions): Promise<number> {
  const token = await (options.fetchStatusList as StatusListFetcher)(uri);
  const jwt = decodeJwt(token.trim(), { maxLength: 4 * 1024 * 1024, algorithms: HOLDER_ALGORITHMS });
  if (typeof jwt.header.typ !== 'string' || jwt.header.typ.toLowerCase().replace(/^application\//, '') !== STATUS_LIST_JWT_TYP)
    throw new Error('the status list is not a statuslist+jwt');
  // The list must come from the credential's issuer: same key lookup, same iss.
  if (jwt.payload.iss !== undefined && jwt.payload.iss !== iss) throw new Error('the status list is not issued by the credential issuer');
  const key = await issuerKey(iss, jwt.header.kid, options);
  await verifyHolderSignature(jwt, key, options.verifier);
  // §8.3 step 4: sub equals the referenced uri.
  if (jwt.payload.sub !== uri) throw new Error('the status list sub is not its URI');
  checkTimeClaims(jwt.payload, { now: options.now, skew: options.skewSeconds ?? 60, requireIat: true });
  const list = asRecord(jwt.payload.status_list);
  const bits = list?.bits;
  if (!list || typeof list.lst !== 'string' || (bits !== 1 && bits !== 2 && bits !== 4 && bits !== 8)) throw new Error('the status list is malformed');
  return tokenStatusAt(await decodeTokenStatusList(list.lst), bits, idx);
}

async function verifyKeyBinding(
  kbText: string,
  presented: string,
  payload: Record<string, unknown>,
  expected: NonNullable<VerifySdJwtVcOptions['keyBinding']>,
  options: VerifySdJwtVcOptions,
): Promise<{ aud: string; nonce: string; iat: number }> {
  // The holder's key may be ES256 (P-256), as most OID4VCI 1.0 wallets' are.
  const kb = decodeJwt(kbText, { maxLength: 8 * 1024, algorithms: HOLDER_ALGORITHMS });
  if (kb.header.typ !== 'kb+jwt') throw new Error(`typ ${String(kb.header.typ)} is not kb+jwt`);
  const holderKey = parseHolderJwk(asRecord(asRecord(payload.cnf)?.jwk));
  if (!holderKey) throw new Error('the credential has no usable cnf.jwk');
  await verifyHolderSignature(kb, holderKey, options.verifier);
  checkTimeClaims(kb.payload, { now: options.now, skew: options.skewSeconds ?? 60, requireIat: true, maxAge: expected.maxAgeSeconds ?? 300 });
  if (kb.payload.aud !== expected.audience) throw new Error(`aud ${String(kb.payload.aud)} is not ${expected.audience}`);
  if (kb.payload.nonce !== expected.nonce) throw new Error('nonce is not the one this verifier issued');
  // §4.3.1: sd_hash over the SD-JWT as presented, up to and including the last `~`.
  const sdHash = base64urlEncode(sha256(utf8.encode(presented)));
  if (kb.payload.sd_hash !== sdHash) throw new Error('sd_hash does not match the presented SD-JWT');
  return { aud: expected.audience, nonce: expected.nonce, iat: kb.payload.iat as number };
}
