import { base64urlDecode, base64urlEncode, utf8 } from './base64url';
import type { CredentialSigner, JwsAlgorithm, PublicJwk, SignatureVerifier } from './keys';
import { SUPPORTED_ALGORITHMS, algorithmForJwk } from './keys';

/**
 * Compact JWS/JWT (RFC 7515, RFC 7519) with the checks RFC 8725 asks of every JWT we accept.
 * Errors carry a `code` you can switch on (panva/jose style); callers map them to the
 * protocol's error for the token at hand (invalid_request, invalid_proof, invalid_token).
 */
export type JwtErrorCode =
  | 'ERR_JWT_MALFORMED'
  | 'ERR_JWT_TOO_LARGE'
  | 'ERR_JWS_ALG_NOT_ALLOWED'
  | 'ERR_JWS_CRIT_UNSUPPORTED'
  | 'ERR_JWS_SIGNATURE_INVALID'
  | 'ERR_JWT_TYP_INVALID'
  | 'ERR_JWT_KID_INVALID'
  | 'ERR_JWT_CLAIM_INVALID'
  | 'ERR_JWT_EXPIRED'
  | 'ERR_JWT_NOT_YET_VALID';

export class JwtError extends Error {
  constructor(
    readonly code: JwtErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'JwtError';
  }
}

export interface JwtHeader {
  alg: JwsAlgorithm;
  typ?: string;
  kid?: string;
  [name: string]: unknown;
}

export type JwtPayload = Record<string, unknown>;

export interface DecodedJwt {
  header: JwtHeader;
  payload: JwtPayload;
  /** The ASCII `header.payload` bytes the signature covers. */
  signingInput: Uint8Array;
  signature: Uint8Array;
}

/** Largest compact JWT we will parse unless a caller says otherwise (bytes). */
export const DEFAULT_MAX_JWT_LENGTH = 16 * 1024;

/** Creates a compact JWS; `header.alg` and `kid` come from the signer. */
export async function signJwt(signer: CredentialSigner, payload: JwtPayload, header: Record<string, unknown> = {}): Promise<string> {
  const protectedHeader = base64urlEncode(JSON.stringify({ ...header, alg: signer.alg, kid: signer.kid }));
  const body = base64urlEncode(JSON.stringify(payload));
  const signingInput = `${protectedHeader}.${body}`;
  const signature = await signer.sign(utf8.encode(signingInput));
  return `${signingInput}.${base64urlEncode(signature)}`;
}

function parseJsonObject(part: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(base64urlDecode(part));
  } catch {
    throw new JwtError('ERR_JWT_MALFORMED', `${what} is not valid base64url UTF-8`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new JwtError('ERR_JWT_MALFORMED', `${what} is not JSON`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new JwtError('ERR_JWT_MALFORMED', `${what} is not a JSON object`);
  }
  if (hasDuplicateKeys(text)) {
    // RFC 7515 §5.2 / RFC 8725 §3.6: refuse rather than guess which duplicate wins.
    throw new JwtError('ERR_JWT_MALFORMED', `${what} has duplicate member names`);
  }
  return value as Record<string, unknown>;
}

/**
 * Cheap duplicate-key check on every object of a JSON text (already parsed, so well-formed): the
 * top level and nested ones alike (a presented VP's `vp`, a VC's `vc` and its credentialSubject).
 */
function hasDuplicateKeys(text: string): boolean {
  // Runs on text JSON.parse accepted, so every string is terminated. One set of seen keys per
  // open object; null for an open array. Strings are skipped with indexOf, not copied: values
  // (a JWK, a vp_token) are most of a JWT's text.
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      let end = text.indexOf('"', i + 1);
      // A quote preceded by an odd number of backslashes is escaped: keep looking.
      for (;;) {
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      const keys = stack[stack.length - 1];
      if (keys && expectKey) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        if (keys.has(key)) return true;
        keys.add(key);
        expectKey = false;
      }
      i = end;
      continue;
    }
    if (ch === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (ch === 0x5b /* [ */) {
      stack.push(null);
      expectKey = false;
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (ch === 0x2c /* , */) expectKey = stack[stack.length - 1] instanceof Set;
  }
  return false;
}

/**
 * Parses a compact JWS without verifying it. Refuses anything but three strict base64url
 * parts, an `alg` outside EdDSA/ES256K (so `none`, HS*, RS* never reach a verifier), and
 * any `crit` header (RFC 7515 §4.1.11: we understand no extensions).
 */
export function decodeJwt(token: unknown, options: { maxLength?: number; algorithms?: readonly string[] } = {}): DecodedJwt {
  if (typeof token !== 'string' || token.length === 0) throw new JwtError('ERR_JWT_MALFORMED', 'token must be a non-empty string');
  if (token.length > (options.maxLength ?? DEFAULT_MAX_JWT_LENGTH)) throw new JwtError('ERR_JWT_TOO_LARGE', 'token is too large');
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('ERR_JWT_MALFORMED', 'token must be a compact JWS with three parts');
  const [h, p, s] = parts;
  const header = parseJsonObject(h, 'JWS header');
  const payload = parseJsonObject(p, 'JWT payload');
  // `algorithms` widens the list for one kind of token only (a holder's Key Binding JWT may be ES256).
  const allowed: readonly string[] = options.algorithms ?? SUPPORTED_ALGORITHMS;
  if (typeof header.alg !== 'string' || !allowed.includes(header.alg)) {
    throw new JwtError('ERR_JWS_ALG_NOT_ALLOWED', `alg must be ${allowed.join(' or ')}`);
  }
  if ('crit' in header) throw new JwtError('ERR_JWS_CRIT_UNSUPPORTED', 'crit header parameters are not supported');
  if (header.kid !== undefined && typeof header.kid !== 'string') throw new JwtError('ERR_JWT_KID_INVALID', 'kid must be a string');
  if (header.typ !== undefined && typeof header.typ !== 'string') throw new JwtError('ERR_JWT_TYP_INVALID', 'typ must be a string');
  let signature: Uint8Array;
  try {
    signature = base64urlDecode(s);
  } catch {
    throw new JwtError('ERR_JWT_MALFORMED', 'signature is not valid base64url');
  }
  if (signature.length === 0) throw new JwtError('ERR_JWS_SIGNATURE_INVALID', 'signature is missing');
  return { header: header as JwtHeader, payload, signingInput: utf8.encode(`${h}.${p}`), signature };
}

/**
 * Verifies the signature of a decoded JWT with a key we chose (never one the token supplies:
 * `jwk`, `jku`, `x5u`, `x5c` headers are ignored). The `alg` must match the key type,
 * which defeats algorithm confusion (RFC 8725 §2.1).
 */
export async function verifyJwtSignature(jwt: DecodedJwt, jwk: PublicJwk, verifier: SignatureVerifier): Promise<void> {
  const expected = algorithmForJwk(jwk);
  if (!expected || expected !== jwt.header.alg) throw new JwtError('ERR_JWS_ALG_NOT_ALLOWED', 'alg does not match the key type');
  const ok = await verifier.verify(jwt.header.alg, jwk, jwt.signingInput, jwt.signature);
  if (!ok) throw new JwtError('ERR_JWS_SIGNATURE_INVALID', 'signature verification failed');
}

export interface TimeClaimsOptions {
  /** Current time, seconds since the epoch. */
  now: number;
  /** Allowed clock skew in seconds. */
  skew: number;
  requireExp?: boolean;
  requireIat?: boolean;
  /** Refuse tokens issued longer ago than this many seconds. */
  maxAge?: number;
}

function numericDate(payload: JwtPayload, name: string): number | undefined {
  const v = payload[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new JwtError('ERR_JWT_CLAIM_INVALID', `${name} must be a NumericDate`);
  return v;
}

/** Checks `exp`, `nbf` and `iat` (RFC 7519 §4.1.4-6) with a small clock skew. */
export function checkTimeClaims(payload: JwtPayload, o: TimeClaimsOptions): void {
  const exp = numericDate(payload, 'exp');
  const nbf = numericDate(payload, 'nbf');
  const iat = numericDate(payload, 'iat');
  if (o.requireExp && exp === undefined) throw new JwtError('ERR_JWT_CLAIM_INVALID', 'exp is required');
  if (o.requireIat && iat === undefined) throw new JwtError('ERR_JWT_CLAIM_INVALID', 'iat is required');
  if (exp !== undefined && exp <= o.now - o.skew) throw new JwtError('ERR_JWT_EXPIRED', 'token has expired');
  if (nbf !== undefined && nbf > o.now + o.skew) throw new JwtError('ERR_JWT_NOT_YET_VALID', 'token is not yet valid');
  if (iat !== undefined) {
    if (iat > o.now + o.skew) throw new JwtError('ERR_JWT_NOT_YET_VALID', 'iat is in the future');
    if (o.maxAge !== undefined && iat < o.now - o.maxAge - o.skew) throw new JwtError('ERR_JWT_EXPIRED', 'token is too old (iat)');
  }
}

/** True when `aud` is `expected` or an array that contains one of the accepted values. */
export function audienceMatches(aud: unknown, accepted: readonly string[]): boolean {
  if (typeof aud === 'string') return accepted.includes(aud);
  if (Array.isArray(aud)) return aud.length > 0 && aud.every((a) => typeof a === 'string') && aud.some((a) => accepted.includes(a));
  return false;
}
