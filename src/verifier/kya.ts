import { JwtError, checkTimeClaims, decodeJwt, verifyJwtSignature, type DecodedJwt } from '../crypto/jwt';
import { parsePublicJwk, type PublicJwk, type SignatureVerifier } from '../crypto/keys';
import { DidError, resolveVerificationKey, type DidResolver } from '../did/resolver';
import { AGENT_PROOF_TYP, tokenHash } from '../protocol/kya/agentProof';
import { KYA_TOKEN_TYP } from '../protocol/kya/token';
import { checkCredentialStatus, typHeaderIs, type StatusListFetcher } from './verifyCredential';

/**
 * A merchant's (or any service's) verification of a KYA token (seed 002; docs/kya.md): the PFI's
 * signature through its DID document (`kid` an assertionMethod key of `iss`), issuer trust,
 * `exp`/`nbf`, the human principal's KCC still good through its status list
 * (`hid.verification_status`), and the agent's proof of possession of `cnf.jwk` (a DPoP-shaped
 * proof, src/protocol/kya/agentProof.ts). Every check runs and is reported, like the KCC verifier
 * (./verifyCredential.ts). Sub-claims this verifier does not know are ignored, as the seed
 * requires of recipients.
 */
export type KyaCheckName = 'format' | 'signature' | 'issuer_trust' | 'dates' | 'principal' | 'key_binding';

export interface KyaCheck {
  check: KyaCheckName;
  ok: boolean;
  detail: string;
}

export interface KyaVerdict {
  ok: boolean;
  reasons: string[];
  checks: KyaCheck[];
  /** The token's claims, once it parsed (also when a check failed, for diagnostics). */
  claims?: Record<string, unknown>;
  issuer?: string;
  /** Whether the PFI still vouches for the human principal: hid.verified and the KCC neither revoked nor suspended. */
  principal?: { verified: boolean; verificationId?: string; verifier?: string; detail: string };
  agent?: { name?: string; creationIp?: string; sourceIps?: string[] };
}

/** The agent's proof for the request being served, and what that request is. */
export interface AgentProofInput {
  proof: string;
  /** HTTP method of the request the proof came with. */
  htm: string;
  /** The request's URL without query and fragment (RFC 9449 §4.3). */
  htu: string;
  /** The nonce the merchant handed the agent, when it uses them. */
  nonce?: string;
  /** Oldest `iat` accepted, in seconds (default 300). */
  maxAgeSeconds?: number;
}

export interface VerifyKyaOptions {
  resolver: DidResolver;
  verifier: SignatureVerifier;
  /** Seconds since the epoch. */
  now: number;
  skewSeconds?: number;
  /** PFIs (DIDs) whose KYA tokens you accept; undefined: trust is not checked here. */
  trustedIssuers?: readonly string[];
  /** Fetches a status list credential; without it the principal cannot be confirmed (fails closed). */
  fetchStatusList?: StatusListFetcher;
  statusCache?: Map<string, Promise<Uint8Array>>;
  /** The agent's proof of possession; absent: key_binding fails unless `requireAgentProof` is false. */
  agentProof?: AgentProofInput;
  /** Default true: a KYA token without a proof from its agent is a bearer token. */
  requireAgentProof?: boolean;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function sameKey(a: PublicJwk, b: PublicJwk): boolean {
  // Equal members are an equal RFC 7638 thumbprint, without hashing.
  return a.kty === b.kty && a.crv === b.crv && a.x === b.x && a.y === b.y;
}

/** Verifies a KYA token; see the module comment. */
export async function verifyKyaToken(token: string, options: VerifyKyaOptions): Promise<KyaVerdict> {
  const checks: KyaCheck[] = [];
  const pass = (check: KyaCheckName, detail: string) => checks.push({ check, ok: true, detail });
  const fail = (check: KyaCheckName, detail: string) => checks.push({ check, ok: false, detail });
  let claims: Record<string, unknown> | undefined;
  let issuer: string | undefined;
  let principal: KyaVerdict['principal'];
  let agent: KyaVerdict['agent'];
  const verdict = (): KyaVerdict => {
    const reasons = checks.filter((c) => !c.ok).map((c) => `${c.check}: ${c.detail}`);
    return { ok: reasons.length === 0, reasons, checks, claims, issuer, principal, agent };
  };
  const skew = options.skewSeconds ?? 60;

  let jwt: DecodedJwt;
  try {
    jwt = decodeJwt(token.trim(), { maxLength: 32 * 1024 });
  } catch (e) {
    fail('format', e instanceof JwtError ? e.message : 'not a compact JWT');
    return verdict();
  }
  claims = jwt.payload;
  if (!typHeaderIs(jwt.header.typ, [KYA_TOKEN_TYP]) || jwt.header.typ === undefined) {
    fail('format', `typ ${String(jwt.header.typ)} is not ${KYA_TOKEN_TYP}`);
    return verdict();
  }
  issuer = typeof claims.iss === 'string' ? claims.iss : undefined;
  const hid = asRecord(claims.hid);
  const aid = asRecord(claims.aid);
  const cnfJwk = parsePublicJwk(asRecord(claims.cnf)?.jwk);
  const shape: string[] = [];
  if (!issuer) shape.push('no iss');
  if (!hid) shape.push('no hid');
  if (!aid || typeof aid.name !== 'string' || typeof aid.creation_ip !== 'string') shape.push('aid needs name and creation_ip');
  if (!cnfJwk) shape.push('cnf.jwk is not an Ed25519 or secp256k1 public key');
  if (typeof claims.exp !== 'number') shape.push('no exp');
  if (shape.length) fail('format', shape.join('; '));
  else pass('format', `${KYA_TOKEN_TYP}, agent "${String(aid?.name).slice(0, 80)}"`);
  if (aid) {
    agent = {
      ...(typeof aid.name === 'string' ? { name: aid.name } : {}),
      ...(typeof aid.creation_ip === 'string' ? { creationIp: aid.creation_ip } : {}),
      ...(Array.isArray(aid.source_ips) ? { sourceIps: aid.source_ips.filter((s): s is string => typeof s === 'string') } : {}),
    };
  }

  // Trust first: an untrusted issuer's DID is not resolved (a did:web would be fetched).
  const trusted = !options.trustedIssuers || (!!issuer && options.trustedIssuers.includes(issuer));
  let signed = false;
  const kid = jwt.header.kid;
  if (!trusted) fail('signature', 'not checked: the issuer is not trusted');
  else if (!issuer) fail('signature', 'no issuer to verify against');
  else if (typeof kid !== 'string' || kid.split('#')[0] !== issuer) fail('signature', `kid ${kid ?? '(none)'} is not a key of the issuer ${issuer}`);
  else {
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
  if (options.trustedIssuers) {
    if (trusted) pass('issuer_trust', `${issuer} is trusted`);
    else fail('issuer_trust', `issuer ${issuer ?? '(none)'} is not trusted`);
  }

  try {
    checkTimeClaims(claims, { now: options.now, skew, requireExp: true });
    pass('dates', `valid until ${new Date((claims.exp as number) * 1000).toISOString()}`);
  } catch (e) {
    if (!(e instanceof JwtError)) throw e;
    fail('dates', e.code === 'ERR_JWT_EXPIRED' && typeof claims.exp === 'number' ? `expired on ${new Date(claims.exp * 1000).toISOString()}` : e.message);
  }

  // The principal: the PFI said verified, and the KCC behind it is still neither revoked nor
  // suspended. Status lists are fetched only for a token genuinely signed by a trusted issuer.
  if (hid) {
    const verificationId = typeof hid.verification_id === 'string' ? hid.verification_id : undefined;
    const verifier = typeof hid.verifier === 'string' ? hid.verifier : undefined;
    const said = (detail: string, verified: boolean) => {
      principal = { verified, ...(verificationId ? { verificationId } : {}), ...(verifier ? { verifier } : {}), detail };
      (verified ? pass : fail)('principal', detail);
    };
    const entries = hid.verification_status;
    if (hid.verified !== true) said('the issuer does not say the principal is verified (hid.verified is not true)', false);
    else if (!signed) said("not checked: the token's signature was not verified", false);
    else if (!Array.isArray(entries) || entries.length === 0) said('no longer verifiable: the token carries no hid.verification_status to check', false);
    else {
      const { problems } = await checkCredentialStatus(entries, issuer as string, {
        fetchStatusList: options.fetchStatusList,
        statusCache: options.statusCache,
        resolver: options.resolver,
        verifier: options.verifier,
        now: options.now,
        skewSeconds: skew,
      });
      if (problems.length) said(`no longer verified: the verification ${verificationId ?? '(unnamed)'} is ${problems.join('; ')}`, false);
      else said(`verified by ${verifier ?? issuer} (${verificationId ?? 'no verification_id'}), neither revoked nor suspended`, true);
    }
  } else {
    fail('principal', 'the token has no hid');
  }

  if (options.agentProof) {
    const problem = cnfJwk ? await agentProofProblem(options.agentProof, token.trim(), cnfJwk, options) : 'the token binds no usable key';
    if (problem) fail('key_binding', problem);
    else pass('key_binding', `the agent proved possession of cnf.jwk for ${options.agentProof.htm} ${options.agentProof.htu}`);
  } else if (options.requireAgentProof ?? true) {
    fail('key_binding', 'not checked: no proof from the agent (without one the token is a bearer token)');
  }
  return verdict();
}

/**
 * Why the agent's proof does not bind this request to the token's key, or undefined (RFC 9449
 * §4.3 checks 1-11, less the replay check of `jti`, which needs the merchant's own memory: keep
 * the `jti`s you saw for `maxAgeSeconds`).
 */
async function agentProofProblem(input: AgentProofInput, token: string, cnfJwk: PublicJwk, options: VerifyKyaOptions): Promise<string | undefined> {
  let proof: DecodedJwt;
  try {
    proof = decodeJwt(input.proof.trim(), { maxLength: 8 * 1024 });
  } catch (e) {
    return `the proof is not a JWT: ${(e as Error).message}`;
  }
  if (!typHeaderIs(proof.header.typ, [AGENT_PROOF_TYP]) || proof.header.typ === undefined) return `proof typ must be ${AGENT_PROOF_TYP}`;
  const headerJwk = parsePublicJwk(proof.header.jwk);
  if (!headerJwk || !sameKey(headerJwk, cnfJwk)) return 'the proof is not made with the key the token binds (cnf.jwk)';
  try {
    await verifyJwtSignature(proof, cnfJwk, options.verifier);
  } catch (e) {
    return `proof ${(e as Error).message}`;
  }
  const p = proof.payload;
  if (typeof p.jti !== 'string' || p.jti.length === 0) return 'the proof has no jti';
  if (p.htm !== input.htm) return `the proof is for ${String(p.htm)}, not ${input.htm}`;
  if (typeof p.htu !== 'string' || stripQuery(p.htu) !== stripQuery(input.htu)) return `the proof is for ${String(p.htu).slice(0, 200)}, not ${input.htu}`;
  if (p.ath !== tokenHash(token)) return 'the proof is not for this token (ath)';
  if (input.nonce !== undefined && p.nonce !== input.nonce) return 'the proof does not carry the nonce given to the agent';
  try {
    checkTimeClaims(p, { now: options.now, skew: options.skewSeconds ?? 60, requireIat: true, maxAge: input.maxAgeSeconds ?? 300 });
  } catch (e) {
    return `proof ${(e as Error).message}`;
  }
  return undefined;
}

function stripQuery(url: string): string {
  const cut = url.search(/[?#]/);
  return cut < 0 ? url : url.slice(0, cut);
}

/** A verdict as text: the principal and the agent, one line per check, then VALID / INVALID. */
export function formatKyaVerdict(verdict: KyaVerdict): string {
  const lines: string[] = [];
  if (verdict.issuer) lines.push(`issuer    ${verdict.issuer}`);
  if (verdict.principal)
    lines.push(`principal ${verdict.principal.verified ? 'VERIFIED' : 'NOT VERIFIED'} (${verdict.principal.verificationId ?? 'no verification_id'})`);
  if (verdict.agent)
    lines.push(
      `agent     ${verdict.agent.name ?? '(no name)'}, created from ${verdict.agent.creationIp ?? '?'}${verdict.agent.sourceIps ? `, source_ips ${verdict.agent.sourceIps.join(', ')}` : ''}`,
    );
  lines.push(...verdict.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.check.padEnd(23)} ${c.detail}`));
  lines.push(verdict.ok ? 'VALID' : `INVALID: ${verdict.reasons.join('; ')}`);
  return lines.join('\n');
}
