import { JwtError, checkTimeClaims, decodeJwt, verifyJwtSignature, type DecodedJwt } from '../crypto/jwt';
import type { SignatureVerifier } from '../crypto/keys';
import { DidError, resolveVerificationKey, type DidResolver } from '../did/resolver';
import { evaluateDescriptor, type PresentationDefinition } from '../protocol/pe/evaluate';
import { decodeStatusList, getBit } from '../protocol/statusList';

/**
 * Verification of a `jwt_vc_json` credential (a KCC, or any VC) for a relying party and for
 * the issuer's own use on presented credentials: JWS signature by an assertionMethod key of the
 * issuer DID (resolved), JWT/VC claim consistency (VCDM 1.1 §6.3.1), dates, Bitstring Status
 * List entries (revocation, suspension), issuer trust, subject binding, an optional schema
 * validator and an optional Presentation Definition. Every check runs; the verdict lists each
 * failure as a reason, so a relying party learns everything wrong at once.
 */
export type CheckName = 'kcc_type' | 'format' | 'signature' | 'claims' | 'dates' | 'status' | 'issuer_trust' | 'subject' | 'schema' | 'presentation_definition';

export interface CheckResult {
  check: CheckName;
  ok: boolean;
  detail: string;
}

export interface CredentialVerdict {
  ok: boolean;
  /** Failed checks, one line each ("expired: …", "revoked: …"). */
  reasons: string[];
  checks: CheckResult[];
  /** Decoded claims (undefined when the token is not a JWT). */
  payload?: Record<string, unknown>;
  vc?: Record<string, unknown>;
  issuer?: string;
  subject?: string;
  /** Per status purpose: true when the bit is set (revoked / suspended). */
  status?: Record<string, boolean>;
  alg?: string;
}

/** Fetches the status list credential (a JWT) at a URL; throw if it cannot. */
export type StatusListFetcher = (url: string) => Promise<string>;

/** Validates the VC object against the KCC JSON schema; returns error messages (none when valid). */
export type SchemaValidator = (vc: unknown) => string[];

export interface VerifyCredentialOptions {
  resolver: DidResolver;
  verifier: SignatureVerifier;
  /** Seconds since the epoch. */
  now: number;
  skewSeconds?: number;
  /** Trusted issuer DIDs; undefined means the caller does not check trust here (reported as such). */
  trustedIssuers?: readonly string[];
  /**
   * With trustedIssuers: an untrusted issuer's credential is refused without resolving its DID
   * (a did:web is fetched) or checking its signature and status. The issuer sets it for presented
   * credentials, whose author picks those URLs; the CLI leaves it off to report every check.
   */
  refuseUntrustedFirst?: boolean;
  /** The DID the credential must be about (credentialSubject.id / sub). */
  expectedSubject?: string;
  /** How to get status list credentials; undefined: a credential with credentialStatus fails (cannot check). */
  fetchStatusList?: StatusListFetcher;
  schema?: SchemaValidator;
  /** The credential must satisfy at least one input descriptor of this definition. */
  presentationDefinition?: PresentationDefinition;
  /** Status lists already fetched and verified in this run, keyed by URL. */
  statusCache?: Map<string, Promise<Uint8Array>>;
  maxJwtLength?: number;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function issuerId(vc: Record<string, unknown>): string | undefined {
  const issuer = vc.issuer;
  if (typeof issuer === 'string') return issuer;
  const id = asRecord(issuer)?.id;
  return typeof id === 'string' ? id : undefined;
}

function subjectId(vc: Record<string, unknown>): string | undefined {
  const cs = Array.isArray(vc.credentialSubject) ? vc.credentialSubject[0] : vc.credentialSubject;
  const id = asRecord(cs)?.id;
  return typeof id === 'string' ? id : undefined;
}

function parseDate(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
}

export async function verifyCredentialJwt(token: string, options: VerifyCredentialOptions): Promise<CredentialVerdict> {
  const checks: CheckResult[] = [];
  const pass = (check: CheckName, detail: string) => checks.push({ check, ok: true, detail });
  const fail = (check: CheckName, detail: string) => checks.push({ check, ok: false, detail });
  const verdict = (): CredentialVerdict => {
    const reasons = checks.filter((c) => !c.ok).map((c) => `${c.check}: ${c.detail}`);
    return { ok: reasons.length === 0, reasons, checks, payload, vc, issuer, subject, status, alg: jwt?.header.alg };
  };
  const skew = options.skewSeconds ?? 60;
  let jwt: DecodedJwt | undefined;
  let payload: Record<string, unknown> | undefined;
  let vc: Record<string, unknown> | undefined;
  let issuer: string | undefined;
  let subject: string | undefined;
  let status: Record<string, boolean> | undefined;

  try {
    jwt = decodeJwt(token.trim(), { maxLength: options.maxJwtLength ?? 64 * 1024 });
  } catch (e) {
    fail('format', e instanceof JwtError ? e.message : 'not a compact JWT');
    return verdict();
  }
  payload = jwt.payload;
  // RFC 8725 §3.11: a JWT of another kind (an access token, a proof, a VP) is not a credential.
  if (!typHeaderIs(jwt.header.typ, ['jwt', 'vc+jwt'])) {
    fail('format', `typ ${String(jwt.header.typ)} is not a credential's (JWT)`);
    return verdict();
  }
  vc = asRecord(payload.vc);
  if (!vc) {
    fail('format', 'the JWT has no vc claim (not a jwt_vc_json credential)');
    return verdict();
  }
  const types = Array.isArray(vc.type) ? vc.type : [];
  if (!types.includes('VerifiableCredential')) fail('format', 'vc.type does not include VerifiableCredential');
  else pass('format', `jwt_vc_json, types ${types.join(', ')}`);

  // VCDM 1.1 §6.3.1: iss ↔ issuer, sub ↔ credentialSubject.id, jti ↔ id must agree when both are present.
  issuer = issuerId(vc) ?? (typeof payload.iss === 'string' ? payload.iss : undefined);
  subject = subjectId(vc) ?? (typeof payload.sub === 'string' ? payload.sub : undefined);
  const mismatches: string[] = [];
  if (typeof payload.iss === 'string' && issuerId(vc) && payload.iss !== issuerId(vc)) mismatches.push('iss ≠ vc.issuer');
  if (typeof payload.sub === 'string' && subjectId(vc) && payload.sub !== subjectId(vc)) mismatches.push('sub ≠ credentialSubject.id');
  if (typeof payload.jti === 'string' && typeof vc.id === 'string' && payload.jti !== vc.id) mismatches.push('jti ≠ vc.id');
  if (!issuer) mismatches.push('no issuer');
  if (mismatches.length) fail('claims', mismatches.join('; '));
  else pass('claims', 'JWT claims and vc agree');

  // With refuseUntrustedFirst, trust is decided first: an untrusted issuer's DID is never
  // resolved (a did:web would be fetched). Status lists are fetched only for a credential whose
  // signature verified, so a forged one cannot make us connect anywhere its author chose.
  const trusted = !options.refuseUntrustedFirst || !options.trustedIssuers || (!!issuer && options.trustedIssuers.includes(issuer));
  let signed = false;
  // Signature: the kid must be a DID URL of the issuer, listed under assertionMethod.
  const kid = jwt.header.kid;
  if (!trusted) fail('signature', 'not checked: the issuer is not trusted');
  else if (!issuer) fail('signature', 'no issuer to verify against');
  else if (typeof kid !== 'string' || kid.split('#')[0] !== issuer) {
    fail('signature', `kid ${kid ?? '(none)'} is not a key of the issuer ${issuer}`);
  } else {
    try {
      const key = await resolveVerificationKey(options.resolver, kid, 'assertionMethod');
      await verifyJwtSignature(jwt, key.jwk, options.verifier);
      pass('signature', `${jwt.header.alg} signature by ${kid}`);
      signed = true;
    } catch (e) {
      if (e instanceof JwtError || e instanceof DidError) fail('signature', e.message);
      else throw e;
    }
  }

  // Dates: exp/nbf (JWT) and expirationDate/issuanceDate (VC), with skew.
  try {
    checkTimeClaims(payload, { now: options.now, skew });
    const expiration = parseDate(vc.expirationDate ?? vc.validUntil);
    const issuance = parseDate(vc.issuanceDate ?? vc.validFrom);
    const expiresAt = typeof payload.exp === 'number' ? payload.exp : expiration;
    if (expiration !== undefined && expiration <= options.now - skew)
      throw new JwtError('ERR_JWT_EXPIRED', `expired on ${new Date(expiration * 1000).toISOString()}`);
    if (issuance !== undefined && issuance > options.now + skew) throw new JwtError('ERR_JWT_NOT_YET_VALID', 'issuanceDate is in the future');
    if (expiresAt === undefined) pass('dates', 'valid (no expiry)');
    else pass('dates', `valid until ${new Date(expiresAt * 1000).toISOString()}`);
  } catch (e) {
    if (!(e instanceof JwtError)) throw e;
    const exp = typeof payload.exp === 'number' ? payload.exp : parseDate(vc.expirationDate);
    if (e.code === 'ERR_JWT_EXPIRED') fail('dates', `expired${exp !== undefined ? ` on ${new Date(exp * 1000).toISOString()}` : ''}`);
    else fail('dates', e.message);
  }

  // Status (Bitstring Status List v1.0 §3.2 validate algorithm).
  // Only for a credential that is both trusted and genuinely signed by its issuer.
  const statusCheck = trusted && signed ? await checkCredentialStatus(vc.credentialStatus, issuer as string, options) : undefined;
  // Not checked is no extra reason: the verdict already fails on the signature or trust.
  if (statusCheck && !statusCheck.status) pass('status', 'the credential carries no credentialStatus');
  else if (statusCheck?.status) {
    status = statusCheck.status;
    if (statusCheck.problems.length) fail('status', statusCheck.problems.join('; '));
    else
      pass(
        'status',
        `not ${Object.keys(status)
          .map((p) => (p === 'revocation' ? 'revoked' : p === 'suspension' ? 'suspended' : p))
          .join(' nor ')}`,
      );
  }

  if (options.trustedIssuers) {
    if (issuer && options.trustedIssuers.includes(issuer)) pass('issuer_trust', `${issuer} is trusted`);
    else {
      const note = issuer?.startsWith('did:jwk:') ? ' (a did:jwk is a bare key, bound to no organisation)' : '';
      fail('issuer_trust', `issuer ${issuer ?? '(none)'} is not trusted${note}`);
    }
  }

  if (options.expectedSubject !== undefined) {
    if (subject === options.expectedSubject) pass('subject', `subject is ${subject}`);
    else fail('subject', `subject ${subject ?? '(none)'} is not ${options.expectedSubject}`);
  }

  if (options.schema) {
    const errors = options.schema(vc);
    if (errors.length) fail('schema', errors.join('; '));
    else pass('schema', 'matches the KCC JSON schema');
  }

  if (options.presentationDefinition) {
    const pd = options.presentationDefinition;
    const results = pd.input_descriptors.map((d) => ({
      id: d.id,
      ...evaluateDescriptor(d, vc, { format: 'jwt_vc_json', alg: jwt?.header.alg, definitionFormat: pd.format, payload }),
    }));
    const matched = results.filter((r) => r.ok);
    if (matched.length) pass('presentation_definition', `satisfies ${matched.map((r) => r.id).join(', ')} of ${pd.id}`);
    else fail('presentation_definition', `matches no input descriptor of ${pd.id}: ${results.flatMap((r) => r.reasons).join('; ')}`);
  }
  return verdict();
}

/** credentialStatus entries checked per credential; more and the credential is refused unfetched. */
export const MAX_STATUS_ENTRIES = 4;

/** Whether a JOSE `typ` header (absent, or a media type compared case-insensitively, RFC 7515 §4.1.9) is one of `allowed`. */
export function typHeaderIs(typ: unknown, allowed: readonly string[]): boolean {
  if (typ === undefined) return true;
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase().replace(/^application\//, '');
  return allowed.includes(t);
}

/**
 * Bitstring Status List v1.0 §3.2 for a credential's `credentialStatus` (one entry or an array):
 * each list is fetched once per run, verified as signed by `issuer`, and the entry's bit read.
 * `status` is undefined when the credential carries no entry; `problems` lists why it is not
 * usable (revoked, suspended, unreadable list). Also used to re-check presented credentials
 * when an application they shortened is redeemed (src/issuance/presentedCredentials.ts).
 */
export async function checkCredentialStatus(
  credentialStatus: unknown,
  issuer: string,
  options: Pick<VerifyCredentialOptions, 'fetchStatusList' | 'statusCache' | 'resolver' | 'verifier' | 'now' | 'skewSeconds'>,
): Promise<{ problems: string[]; status?: Record<string, boolean> }> {
  const entries = (Array.isArray(credentialStatus) ? credentialStatus : credentialStatus ? [credentialStatus] : []).map(asRecord);
  if (entries.length === 0) return { problems: [] };
  // Each entry may cost a fetch: a KCC has one per purpose (revocation, suspension).
  if (entries.length > MAX_STATUS_ENTRIES)
    return { problems: [`the credential has ${entries.length} credentialStatus entries (at most ${MAX_STATUS_ENTRIES} are checked)`], status: {} };
  const status: Record<string, boolean> = {};
  const problems: string[] = [];
  for (const entry of entries) {
    const purpose = entry?.statusPurpose;
    const url = entry?.statusListCredential;
    const index = Number(entry?.statusListIndex);
    if (
      !entry ||
      (entry.type !== 'BitstringStatusListEntry' && entry.type !== 'StatusList2021Entry') ||
      typeof purpose !== 'string' ||
      typeof url !== 'string' ||
      !Number.isSafeInteger(index) ||
      index < 0
    ) {
      problems.push('a credentialStatus entry is malformed');
      continue;
    }
    if (entry.statusSize !== undefined && Number(entry.statusSize) !== 1) {
      // §2.1 statusSize > 1 (multi-bit status messages) is not used by KCCs; refuse rather than misread.
      problems.push(`${purpose} status uses statusSize ${String(entry.statusSize)}, which is not supported`);
      continue;
    }
    if (!options.fetchStatusList) {
      problems.push(`cannot check ${purpose} status: no way to fetch ${url}`);
      continue;
    }
    try {
      const bits = await loadStatusList(url, purpose, issuer, options);
      if (index >= bits.length * 8) throw new Error(`statusListIndex ${index} is outside the list`);
      const set = getBit(bits, index);
      status[purpose] = set;
      if (set) problems.push(purpose === 'revocation' ? 'revoked' : purpose === 'suspension' ? 'suspended' : `status ${purpose} is set`);
    } catch (e) {
      problems.push(`${purpose} status could not be checked: ${(e as Error).message}`);
    }
  }
  return { problems, status };
}

/** Fetches and verifies a status list credential once per URL and run (signed by the credential's issuer, unexpired, right purpose). */
function loadStatusList(url: string, purpose: string, issuer: string, options: Parameters<typeof checkCredentialStatus>[2]): Promise<Uint8Array> {
  options.statusCache ??= new Map();
  const cache = options.statusCache;
  const key = `${url}\n${purpose}\n${issuer}`;
  let hit = cache.get(key);
  if (!hit) {
    hit = fetchAndVerifyStatusList(url, purpose, issuer, options);
    cache.set(key, hit);
    hit.catch(() => cache.delete(key));
  }
  return hit;
}

async function fetchAndVerifyStatusList(
  url: string,
  purpose: string,
  issuer: string,
  options: Parameters<typeof checkCredentialStatus>[2],
): Promise<Uint8Array> {
  const token = await (options.fetchStatusList as StatusListFetcher)(url);
  const jwt = decodeJwt(token.trim(), { maxLength: 4 * 1024 * 1024 });
  const vc = asRecord(jwt.payload.vc);
  const subject = asRecord(vc?.credentialSubject);
  if (!vc || !subject) throw new Error('the status list is not a jwt_vc_json credential');
  const listIssuer = issuerId(vc) ?? jwt.payload.iss;
  // §3.2: the status list credential must come from the credential's issuer.
  if (listIssuer !== issuer) throw new Error('the status list is not issued by the credential issuer');
  const kid = jwt.header.kid;
  if (typeof kid !== 'string' || kid.split('#')[0] !== issuer) throw new Error('the status list is not signed by the credential issuer');
  const key = await resolveVerificationKey(options.resolver, kid, 'assertionMethod');
  await verifyJwtSignature(jwt, key.jwk, options.verifier);
  checkTimeClaims(jwt.payload, { now: options.now, skew: options.skewSeconds ?? 60 });
  if (subject.statusPurpose !== purpose) throw new Error(`the status list purpose is ${String(subject.statusPurpose)}, not ${purpose}`);
  if (typeof subject.encodedList !== 'string') throw new Error('the status list has no encodedList');
  return decodeStatusList(subject.encodedList);
}
