import { JwtError, audienceMatches, checkTimeClaims, decodeJwt, verifyJwtSignature, type DecodedJwt } from '../crypto/jwt';
import type { SignatureVerifier } from '../crypto/keys';
import { DidError, resolveVerificationKey, type DidResolver } from '../did/resolver';
import {
  type PresentationExchangeError,
  evaluateSubmission,
  formatFamily,
  parsePresentationSubmission,
  type DescriptorMapEntry,
  type PresentationDefinition,
  type SubmittedCredential,
} from '../protocol/pe/evaluate';
import { queryJsonPath } from '../protocol/pe/jsonPath';
import { typHeaderIs, verifyCredentialJwt, type CredentialVerdict, type VerifyCredentialOptions } from './verifyCredential';

/**
 * Verifies an OID4VP `vp_token` of `jwt_vp_json` presentations with its `presentation_submission`
 * (spec "Authenticate Applicant DID": vp_token, presentation_submission):
 *  - each VP is a JWT signed by an authentication key of the holder DID (kid), iss = holder,
 *    `aud` the verifier (client_id) and `nonce` the request's nonce (OID4VP §6.1, replay
 *    protection), fresh `iat`;
 *  - each VC inside is verified by `verifyCredentialJwt` (issuer signature, dates, status,
 *    trust, subject == holder);
 *  - the submission is evaluated against the definition; every matched credential must verify.
 */
export interface PresentationVerdict {
  ok: boolean;
  reasons: string[];
  /** Credentials that satisfied an input descriptor and verified, by descriptor id. */
  matched: Map<string, CredentialVerdict>;
}

export interface VerifyPresentationInput {
  vpToken: unknown;
  presentationSubmission: unknown;
  definition: PresentationDefinition;
  holderDid: string;
  nonce: string;
  audience: string;
  resolver: DidResolver;
  verifier: SignatureVerifier;
  now: number;
  skewSeconds?: number;
  maxAgeSeconds?: number;
  /** Options for each credential (trust, status fetching, schema); expectedSubject is the holder. */
  credentialOptions?: Omit<VerifyCredentialOptions, 'resolver' | 'verifier' | 'now' | 'expectedSubject'>;
}

const MAX_PRESENTATIONS = 5;
const MAX_CREDENTIALS = 10;

export async function verifyPresentation(input: VerifyPresentationInput): Promise<PresentationVerdict> {
  const reasons: string[] = [];
  const matchedVerdicts = new Map<string, CredentialVerdict>();
  const done = () => ({ ok: reasons.length === 0, reasons, matched: matchedVerdicts });
  const tokens = typeof input.vpToken === 'string' ? [input.vpToken] : Array.isArray(input.vpToken) ? input.vpToken : null;
  if (!tokens || tokens.length === 0 || tokens.length > MAX_PRESENTATIONS || !tokens.every((t) => typeof t === 'string')) {
    reasons.push('vp_token must be a jwt_vp_json presentation or an array of at most 5');
    return done();
  }
  let submission: ReturnType<typeof parsePresentationSubmission>;
  try {
    submission = parsePresentationSubmission(input.presentationSubmission);
  } catch (e) {
    reasons.push((e as PresentationExchangeError).message);
    return done();
  }

  const presentations = new Map<string, { jwt: DecodedJwt; vp: Record<string, unknown> }>();
  for (const token of tokens as string[]) {
    try {
      presentations.set(token, await verifyPresentationJwt(token, input));
    } catch (e) {
      if (e instanceof JwtError || e instanceof DidError || e instanceof PresentationError) reasons.push(`vp_token: ${e.message}`);
      else throw e;
    }
  }
  if (reasons.length) return done();

  const credentialVerdicts = new Map<string, CredentialVerdict>();
  let count = 0;
  for (const { vp } of presentations.values()) {
    const vcs = Array.isArray(vp.verifiableCredential) ? vp.verifiableCredential : [];
    for (const vc of vcs) {
      if (typeof vc !== 'string' || credentialVerdicts.has(vc)) continue;
      if (++count > MAX_CREDENTIALS) {
        reasons.push('too many credentials in the presentation');
        return done();
      }
      credentialVerdicts.set(
        vc,
        await verifyCredentialJwt(vc, {
          ...input.credentialOptions,
          resolver: input.resolver,
          verifier: input.verifier,
          now: input.now,
          skewSeconds: input.skewSeconds,
          expectedSubject: input.holderDid,
        }),
      );
    }
  }

  const root = tokens.length === 1 ? tokens[0] : tokens;
  const located = new Map<string, string>();
  const locate = (entry: DescriptorMapEntry): SubmittedCredential => {
    const vcJwt = locateCredential(root, entry, presentations);
    const verdict = credentialVerdicts.get(vcJwt);
    if (!verdict) throw new PresentationError('the submitted credential is not in a verified presentation');
    located.set(entry.id, vcJwt);
    return { credential: verdict.vc, payload: verdict.payload, format: 'jwt_vc_json', alg: verdict.alg };
  };
  const result = evaluateSubmission(input.definition, submission, locate);
  reasons.push(...result.reasons);
  // A credential that matched no descriptor: say why it also failed verification (e.g. untrusted issuer).
  for (const [id, vcJwt] of located) {
    const verdict = credentialVerdicts.get(vcJwt) as CredentialVerdict;
    if (!result.matched.has(id) && !verdict.ok) reasons.push(...verdict.reasons.map((r) => `credential for ${id}: ${r}`));
  }
  for (const id of result.matched.keys()) {
    const verdict = credentialVerdicts.get(located.get(id) as string) as CredentialVerdict;
    if (verdict.ok) matchedVerdicts.set(id, verdict);
    else reasons.push(...verdict.reasons.map((r) => `credential for ${id}: ${r}`));
  }
  return done();
}

/** A presentation refused for what it says (holder, audience, nonce, shape), not for its JWT encoding. */
export class PresentationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PresentationError';
  }
}

/**
 * One `jwt_vp_json` presentation: signed by an authentication key of `holderDid` (kid), iss and
 * vp.holder (when present) that DID, `aud` the verifier (one of `audience`), the request's
 * `nonce`, a fresh `iat`. Also used alone where the issuer asks for one KCC (src/issuance/kya.ts).
 */
export async function verifyPresentationJwt(
  token: string,
  input: Pick<VerifyPresentationInput, 'holderDid' | 'nonce' | 'resolver' | 'verifier' | 'now' | 'skewSeconds' | 'maxAgeSeconds'> & {
    audience: string | readonly string[];
  },
) {
  const jwt = decodeJwt(token, { maxLength: 128 * 1024 });
  const { header, payload } = jwt;
  // RFC 8725 §3.11: a credential or another token kind is not a presentation.
  if (!typHeaderIs(header.typ, ['jwt', 'vp+jwt'])) throw new PresentationError(`typ ${String(header.typ)} is not a presentation's (JWT)`);
  if (typeof header.kid !== 'string' || header.kid.split('#')[0] !== input.holderDid) {
    throw new PresentationError('the presentation must be signed by a key of the applicant DID');
  }
  if (payload.iss !== undefined && payload.iss !== input.holderDid) throw new PresentationError('presentation iss must be the applicant DID');
  if (!audienceMatches(payload.aud, typeof input.audience === 'string' ? [input.audience] : input.audience))
    throw new PresentationError('presentation aud must be the PFI DID (client_id)');
  if (payload.nonce !== input.nonce) throw new PresentationError('presentation nonce does not match this request');
  checkTimeClaims(payload, { now: input.now, skew: input.skewSeconds ?? 60, requireIat: true, maxAge: input.maxAgeSeconds });
  const vp = payload.vp;
  if (!vp || typeof vp !== 'object' || Array.isArray(vp)) throw new PresentationError('the JWT has no vp claim');
  const types = (vp as { type?: unknown }).type;
  if (!(types === 'VerifiablePresentation' || (Array.isArray(types) && types.includes('VerifiablePresentation')))) {
    throw new PresentationError('vp.type must include VerifiablePresentation');
  }
  const holder = (vp as { holder?: unknown }).holder;
  if (holder !== undefined && holder !== input.holderDid) throw new PresentationError('vp.holder must be the applicant DID');
  const key = await resolveVerificationKey(input.resolver, header.kid, 'authentication');
  await verifyJwtSignature(jwt, key.jwk, input.verifier);
  return { jwt, vp: vp as Record<string, unknown> };
}

/**
 * Follows a descriptor_map entry to a VC JWT: `path` selects a VP in vp_token (`$` for a single
 * one, `$[i]` in an array), `path_nested` the credential inside it (evaluated on the `vp` claim,
 * or on the whole JWT claims for paths written as `$.vp.…`). A path straight to a credential
 * (format jwt_vc_json) is also followed when the VP has been verified.
 */
function locateCredential(root: unknown, entry: DescriptorMapEntry, presentations: Map<string, { jwt: DecodedJwt; vp: Record<string, unknown> }>): string {
  if (formatFamily(entry.format) === 'jwt_vc' && !entry.path_nested && presentations.size === 1) {
    // Older wallets map straight into the single presentation: { format: jwt_vc, path: $.verifiableCredential[0] }.
    const only = [...presentations.values()][0];
    let values = queryJsonPath(only.vp, entry.path);
    if (values.length === 0) values = queryJsonPath(only.jwt.payload, entry.path);
    if (values.length !== 1 || typeof values[0] !== 'string') throw new PresentationError(`descriptor_map path ${entry.path} does not select one credential`);
    return values[0];
  }
  const selected = queryJsonPath(root, entry.path);
  if (selected.length !== 1 || typeof selected[0] !== 'string')
    throw new PresentationError(`descriptor_map path ${entry.path} does not select one presentation`);
  const vpToken = selected[0];
  const presentation = presentations.get(vpToken);
  if (!presentation) throw new PresentationError(`descriptor_map path ${entry.path} does not select a presentation`);
  if (formatFamily(entry.format) !== 'jwt_vp') throw new PresentationError(`descriptor_map format ${entry.format} is not jwt_vp_json`);
  const nested = entry.path_nested;
  if (!nested) throw new PresentationError('descriptor_map entry needs path_nested to name the credential');
  if (formatFamily(nested.format) !== 'jwt_vc') throw new PresentationError(`path_nested format ${nested.format} is not jwt_vc_json`);
  let values = queryJsonPath(presentation.vp, nested.path);
  if (values.length === 0) values = queryJsonPath(presentation.jwt.payload, nested.path);
  if (values.length !== 1 || typeof values[0] !== 'string') throw new PresentationError(`path_nested ${nested.path} does not select one credential`);
  return values[0];
}
