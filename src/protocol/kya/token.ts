import { z } from 'zod';
import { signJwt } from '../../crypto/jwt';
import { parsePublicJwk, type PublicJwk, type Signer } from '../../crypto/keys';
import { InvalidRequest } from '../errors';
import { validateSourceIps, type SourceIpProblem } from './sourceIps';

/**
 * KYA ("Know Your Agent") tokens (seed 002): a JWT the PFI signs about a verified customer (the
 * human principal, `hid`), the software agent acting for them (`aid`) and, as the holder asserts
 * it, the agent's platform (`apd`). Pure: the request's wire schema, what the holder may ask to
 * disclose, the claims, and the signature. docs/kya.md describes the token for merchants.
 */

/**
 * The token's `typ` (RFC 8725 §3.11: explicit typing, so a KYA token can stand in for no other
 * JWT we sign). The seed defines none; media types compare case-insensitively, so `kya+JWT`
 * written by others matches too.
 */
export const KYA_TOKEN_TYP = 'kya+jwt';

/**
 * `hid` sub-claims the seed defines that this issuer never discloses, and why: the hosted form
 * collects no e-mail or phone number and no organisation; names and the birthdate are sealed for
 * the review console only and purged after the retention period (README "Sandbox IDV test
 * values"), so the issuer does not hold them for a token and will not invent them.
 */
export const HID_CLAIMS_NOT_HELD: Readonly<Record<string, string>> = {
  email: 'the issuer collects no e-mail address',
  phone_number: 'the issuer collects no phone number',
  organization_name: 'the issuer verifies individuals, not organisations',
  given_name: 'the issuer keeps names only for its own review and erases them after the retention period; it discloses none',
  middle_name: 'the issuer keeps names only for its own review and erases them after the retention period; it discloses none',
  family_name: 'the issuer keeps names only for its own review and erases them after the retention period; it discloses none',
  birthdate: 'the issuer keeps the birthdate only for its own review and erases it after the retention period; it discloses none',
};

/**
 * Additional `hid` sub-claims (the seed: "Additional sub-claims MAY be defined") a holder may
 * choose to disclose: what the KCC itself says and the issuer holds for as long as the KCC lives.
 */
export const HID_DISCLOSABLE = ['country_of_residence', 'tier'] as const;
export type HidDisclosable = (typeof HID_DISCLOSABLE)[number];

// RFC 6749 §3.3 scope tokens: NQCHAR, space-separated.
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/;
// No control characters in free text that a merchant may display or log.
// eslint-disable-next-line no-control-regex
const PrintableText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^\P{Cc}+$/u, 'must not contain control characters');

/** The request's `apd`: only what the holder may assert; `verified`, `verifier`, `verification_id` are the PFI's to set. */
const ApdWire = z.strictObject({
  id: PrintableText(256),
  name: PrintableText(200).optional(),
  email: z.email().max(254).optional(),
  phone_number: z
    .string()
    .regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +14155550100')
    .optional(),
  organization_name: PrintableText(200).optional(),
});

/** POST body of the KYA token endpoint (docs/kya.md), snake_case as on the wire. */
export const KyaTokenRequestWire = z.strictObject({
  /** A jwt_vp_json presentation of one KCC, signed by the holder DID, `aud` the issuer, `nonce` a fresh issuer nonce. */
  vp_token: z
    .string()
    .min(1)
    .max(64 * 1024),
  aid: z.strictObject({
    name: PrintableText(200),
    source_ips: z.union([z.string().max(8 * 1024), z.array(z.unknown()).max(64)]).optional(),
  }),
  /** RFC 7800 confirmation: the agent's public key, to which the token is bound. */
  cnf: z.strictObject({ jwk: z.record(z.string(), z.unknown()) }),
  scope: z.string().max(1000).regex(SCOPE, 'must be space-separated scope tokens (RFC 6749 §3.3)').optional(),
  apd: ApdWire.optional(),
  /** `hid` sub-claims the holder chooses to disclose beyond verified / verifier / verification_id. */
  hid_claims: z.array(z.string().max(64)).max(16).optional(),
});
export type KyaTokenRequestWire = z.infer<typeof KyaTokenRequestWire>;

/** A request whose every member was checked: ready to become claims once the KCC is verified. */
export interface KyaTokenRequest {
  vpToken: string;
  agentName: string;
  sourceIps?: string[];
  agentJwk: PublicJwk;
  scope?: string;
  apd?: Record<string, string>;
  hidClaims: HidDisclosable[];
}

/** invalid_request naming every problem (a member path and what is wrong), also as a list in `problems`. */
function refuse(problems: string[]): InvalidRequest {
  return new InvalidRequest(problems.join('; ').slice(0, 4000), { problems: problems.slice(0, 64) });
}

/**
 * Checks a parsed JSON body against the wire schema and the rules zod cannot say: each
 * `source_ips` entry (every bad one named), the agent key (a public Ed25519 or secp256k1 JWK,
 * the algorithms this issuer verifies), `hid_claims` against what the issuer holds, and that the
 * holder sets no member the request itself must supply (`aid.creation_ip`).
 */
export function parseKyaTokenRequest(body: unknown): KyaTokenRequest {
  const problems: string[] = [];
  const aid = (body as { aid?: unknown })?.aid;
  if (aid && typeof aid === 'object' && 'creation_ip' in aid) {
    problems.push('aid.creation_ip: not accepted from the holder; the issuer captures it from this request');
  }
  const parsed = KyaTokenRequestWire.safeParse(body);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys' && issue.path.join('.') === 'aid' && issue.keys.every((k) => k === 'creation_ip')) continue;
      problems.push(`${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    throw refuse(problems);
  }
  const wire = parsed.data;
  let sourceIps: string[] | undefined;
  if (wire.aid.source_ips !== undefined) {
    const result = validateSourceIps(wire.aid.source_ips);
    if (result.ok) sourceIps = result.entries;
    else problems.push(...result.problems.map((p: SourceIpProblem) => `aid.source_ips: ${JSON.stringify(p.entry)}: ${p.reason}`));
  }
  const agentJwk = 'd' in wire.cnf.jwk ? undefined : parsePublicJwk(wire.cnf.jwk);
  if ('d' in wire.cnf.jwk) problems.push("cnf.jwk: a private key was sent; send the agent's public key only (and consider this private key exposed)");
  else if (!agentJwk) problems.push('cnf.jwk: must be a public Ed25519 (kty OKP) or secp256k1 (kty EC) JWK');
  const hidClaims: HidDisclosable[] = [];
  for (const name of new Set(wire.hid_claims ?? [])) {
    if ((HID_DISCLOSABLE as readonly string[]).includes(name)) hidClaims.push(name as HidDisclosable);
    else if (name in HID_CLAIMS_NOT_HELD) problems.push(`hid_claims: ${name}: not held by this issuer (${HID_CLAIMS_NOT_HELD[name]})`);
    else if (name === 'verified' || name === 'verifier' || name === 'verification_id')
      continue; // always present
    else problems.push(`hid_claims: ${name.slice(0, 64)}: unknown; disclosable are ${HID_DISCLOSABLE.join(', ')}`);
  }
  if (problems.length) throw refuse(problems);
  return {
    vpToken: wire.vp_token,
    agentName: wire.aid.name,
    ...(sourceIps ? { sourceIps } : {}),
    agentJwk: agentJwk as PublicJwk,
    ...(wire.scope !== undefined ? { scope: wire.scope } : {}),
    ...(wire.apd ? { apd: Object.fromEntries(Object.entries(wire.apd).filter(([, v]) => v !== undefined)) as Record<string, string> } : {}),
    hidClaims,
  };
}

/** What the issuer establishes about the principal from the verified KCC. */
export interface VerifiedPrincipal {
  /** The KCC's id (`vc.id` / `jti`): `hid.verification_id`. */
  credentialId: string;
  /** The KCC's `credentialStatus` entries, copied so a merchant can check the principal is still verified. */
  credentialStatus: unknown[];
  /** The KCC's own expiry: the token never outlives it. */
  credentialExpiresAt: number;
  countryOfResidence?: string;
  tier?: string;
}

export interface KyaTokenClaims {
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  hid: Record<string, unknown>;
  aid: { name: string; creation_ip: string; source_ips?: string[] };
  apd?: Record<string, unknown>;
  scope?: string;
  cnf: { jwk: PublicJwk };
}

/**
 * The token's claims. `hid`: verified, the Identity Verifier (the issuer's public URL), the KCC id,
 * `verification_status` (the KCC's status list entries: a merchant re-checks the principal with
 * them), and only the disclosed sub-claims the KCC carries. `aid.creation_ip` is the address the
 * request came from (seed: "MUST be captured directly from the token request"). `apd` as asserted,
 * `verified: false` (the PFI checks none of it). `exp`: `lifetimeSeconds` from now, never beyond
 * the KCC's expiry.
 */
export function buildKyaTokenClaims(input: {
  issuerDid: string;
  verifierUrl: string;
  request: KyaTokenRequest;
  principal: VerifiedPrincipal;
  creationIp: string;
  now: number;
  lifetimeSeconds: number;
  jti: string;
}): KyaTokenClaims {
  const { request, principal } = input;
  const hid: Record<string, unknown> = {
    verified: true,
    verifier: input.verifierUrl,
    verification_id: principal.credentialId,
    verification_status: principal.credentialStatus,
  };
  for (const name of request.hidClaims) {
    const value = name === 'country_of_residence' ? principal.countryOfResidence : principal.tier;
    if (value !== undefined) hid[name] = value;
  }
  return {
    iss: input.issuerDid,
    iat: input.now,
    nbf: input.now,
    exp: Math.min(input.now + input.lifetimeSeconds, principal.credentialExpiresAt),
    jti: input.jti,
    hid,
    aid: { name: request.agentName, creation_ip: input.creationIp, ...(request.sourceIps ? { source_ips: request.sourceIps } : {}) },
    ...(request.apd ? { apd: { ...request.apd, verified: false } } : {}),
    ...(request.scope !== undefined ? { scope: request.scope } : {}),
    cnf: { jwk: request.agentJwk },
  };
}

/** Signs the claims with the PFI DID key (`kid` a DID URL of its DID document), `typ: kya+jwt`. */
export function signKyaToken(signer: Signer, claims: KyaTokenClaims): Promise<string> {
  return signJwt(signer, claims as unknown as Record<string, unknown>, { typ: KYA_TOKEN_TYP });
}

/**
 * The client address as the token records it: an IPv4-mapped IPv6 socket address
 * (`::ffff:203.0.113.7`, how a dual-stack Node socket reports an IPv4 peer) as plain IPv4.
 */
export function normaliseCreationIp(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped ? mapped[1] : address;
}
