import * as oidc from 'openid-client';
import { z } from 'zod';
import type { Settings } from '../config';
import { base64urlEncode } from '../crypto/base64url';
import type { DigestsAndRandom } from '../crypto/keys';
import { openLoginTransaction, sealLoginTransaction, type ExistingCustomerKeys } from '../idv/existingCustomer/loginTransaction';
import {
  BankLoginRejected,
  callbackOf,
  configurationFor,
  redeemAuthorizationCode,
  rejectionFor,
  userInfoOf,
  type BankLoginRejectReason,
  type OidcClient,
  type OidcClientCache,
} from '../idv/existingCustomer/relyingParty';
import { ExistingCustomerSettingsSchema, ID_TOKEN_ALGORITHMS, isLoopbackHttp } from '../idv/existingCustomer/settings';
import type { HttpFetch } from '../idv/provider';
import type { Clock } from '../ports/clock';
import type { OperatorRole } from '../store/types';

/**
 * The review console's sign-in through the PFI's workforce OpenID Connect provider (Entra ID,
 * Okta, Keycloak…), beside the local accounts (./operatorAccounts.ts). The same relying-party
 * code as the bank login (src/idv/existingCustomer/relyingParty.ts, openid-client): discovery,
 * authorization code with PKCE S256, `state` and `nonce` sealed in an HttpOnly cookie bound to
 * the browser, the ID token verified against the provider's keys (iss, aud, azp, exp, nonce,
 * asymmetric alg; OpenID Connect Core 1.0 §3.1.3.7).
 *
 * The console role comes from a configured claim (groups or app roles) at every sign-in, through
 * the configured map; no mapped value refuses the sign-in and nothing is created. Each workforce
 * identity is one four-eyes party, `sso:<keyed digest of iss and sub>` (never the e-mail, which
 * an IdP may reassign): it is the session's operator and the audit trail's actor.
 */

/** Console roles by reach (./operatorAccounts.ts GRANTS): several mapped values give the highest. */
const ROLE_RANK: Record<OperatorRole, number> = { reviewer: 0, admin: 1 };
const RoleSchema = z.enum(Object.keys(ROLE_RANK) as [OperatorRole, ...OperatorRole[]]);

export const OperatorSsoSettingsSchema = z.strictObject({
  /** Shown on the console's sign-in button: "Sign in with <displayName>". */
  displayName: z.string().min(1).max(80),
  issuer: z.string().url(),
  clientId: z.string().min(1).max(512),
  clientAuth: ExistingCustomerSettingsSchema.shape.clientAuth,
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/))
    .min(1)
    .refine((s) => s.includes('openid'), 'the scopes must include openid'),
  /** The claim holding groups or app roles: a top-level name, else a dot path (`realm_access.roles`). */
  rolesClaim: z.string().min(1).max(256),
  /** Claim value (group name, group object id, app role) → console role. */
  roleMap: z.record(z.string().min(1).max(256), RoleSchema).refine((m) => Object.keys(m).length > 0, 'the role map names at least one group'),
  idTokenAlg: z.enum(ID_TOKEN_ALGORITHMS).optional(),
  maxAuthAgeSeconds: z.number().int().min(0).max(86_400).optional(),
  clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
  /** Lifetime of one round trip through the provider's login. */
  loginTtlSeconds: z.number().int().min(60).max(3600).default(600),
});
export type OperatorSsoSettings = z.infer<typeof OperatorSsoSettingsSchema>;
export type OperatorSsoSettingsInput = z.input<typeof OperatorSsoSettingsSchema>;

/** Parses and checks the settings as a whole; throws naming each problem, never a secret. */
export function parseOperatorSsoSettings(input: unknown): OperatorSsoSettings {
  const parsed = OperatorSsoSettingsSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`);
    throw new Error(`operator SSO settings: ${problems.join('; ')}`);
  }
  const issuer = new URL(parsed.data.issuer);
  if (!(issuer.protocol === 'https:' || isLoopbackHttp(issuer)) || issuer.search || issuer.hash || issuer.username || issuer.password) {
    throw new Error('operator SSO settings: OPERATOR_SSO_ISSUER must be an https URL without query, fragment or credentials (http only on loopback)');
  }
  return parsed.data;
}

/**
 * The settings from the settings table's `operatorSso` section (OPERATOR_SSO_*); undefined when
 * OPERATOR_SSO_ISSUER is not set. Throws naming the problem, never a secret's value.
 */
export function operatorSsoSettingsFromTable(table: Settings['operatorSso']): { settings: OperatorSsoSettings; keySecret: Uint8Array } | undefined {
  if (!table.issuer) {
    const stray = (['clientId', 'clientSecret', 'privateKeyJwk', 'roleMap', 'keySecret'] as const).filter((k) => table[k] !== undefined);
    if (stray.length)
      throw new Error(
        `operator SSO settings: ${stray.map((k) => `OPERATOR_SSO_${k.replace(/[A-Z]/g, (x) => `_${x}`).toUpperCase()}`).join(', ')} set without OPERATOR_SSO_ISSUER`,
      );
    return undefined;
  }
  if (!table.keySecret) throw new Error('OPERATOR_SSO_KEY_SECRET (32 bytes, base64url) is required with OPERATOR_SSO_ISSUER');
  if (table.roleMap === undefined) throw new Error('OPERATOR_SSO_ROLE_MAP (JSON: group → reviewer or admin) is required with OPERATOR_SSO_ISSUER');
  const { clientSecret: secret, privateKeyJwk: jwk } = table;
  if (secret !== undefined && jwk !== undefined) throw new Error('set OPERATOR_SSO_CLIENT_SECRET or OPERATOR_SSO_PRIVATE_KEY_JWK, not both');
  const settings = parseOperatorSsoSettings({
    displayName: table.displayName,
    issuer: table.issuer,
    clientId: table.clientId,
    clientAuth: jwk !== undefined ? { method: 'private_key_jwt', privateJwk: jwk } : { method: 'client_secret_basic', clientSecret: secret },
    scopes: table.scopes.trim().split(/\s+/),
    rolesClaim: table.rolesClaim,
    roleMap: table.roleMap,
    idTokenAlg: table.idTokenAlg,
    maxAuthAgeSeconds: table.maxAuthAgeSeconds,
  });
  return { settings, keySecret: table.keySecret };
}

const encoder = new TextEncoder();

/**
 * The sign-in's keys from OPERATOR_SSO_KEY_SECRET (HKDF-SHA256, labels of their own, so a bank
 * login transaction never opens here): one seals the transaction cookie, one keys the party digest.
 */
export async function deriveOperatorSsoKeys(secret: Uint8Array): Promise<ExistingCustomerKeys> {
  if (secret.length < 32) throw new TypeError('the operator SSO key secret must be at least 32 bytes');
  const base = await crypto.subtle.importKey('raw', secret as Uint8Array<ArrayBuffer>, 'HKDF', false, ['deriveKey']);
  const hkdf = (info: string) => ({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: encoder.encode(info) });
  const seal = await crypto.subtle.deriveKey(hkdf('kcc-operator-sso/login-transaction/v1'), base, { name: 'AES-GCM', length: 256 }, false, [
    'encrypt',
    'decrypt',
  ]);
  const subject = await crypto.subtle.deriveKey(hkdf('kcc-operator-sso/party-digest/v1'), base, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, [
    'sign',
  ]);
  return { seal, subject };
}

/** What the workforce sign-in needs from its runtime. */
export interface OperatorSsoDeps {
  clock: Clock;
  fetch: HttpFetch;
  random: Pick<DigestsAndRandom, 'randomBytes'>;
  keys: ExistingCustomerKeys;
}

/** One configured workforce sign-in, built once per process or isolate (AppDeps.operatorSso). */
export interface OperatorSso extends OidcClient {
  readonly settings: OperatorSsoSettings;
  /** `<PUBLIC_URL>/console/sso/callback`, registered at the provider. */
  readonly redirectUri: string;
  readonly deps: OperatorSsoDeps;
  readonly cache: OidcClientCache;
  /**
   * Names what a session's role rests on (issuer, client, roles claim, role map): a session
   * opened under other settings ends (src/issuance/operatorSessions.ts).
   */
  readonly settingsTag: string;
}

export function createOperatorSso(settings: OperatorSsoSettings, deps: OperatorSsoDeps, options: { redirectUri: string }): OperatorSso {
  const redirect = new URL(options.redirectUri);
  if (redirect.search || redirect.hash) throw new Error('the operator SSO redirect URI has no query or fragment');
  const settingsTag = JSON.stringify([
    settings.issuer,
    settings.clientId,
    settings.rolesClaim,
    Object.entries(settings.roleMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ]);
  return { settings, redirectUri: redirect.href, deps, cache: {}, settingsTag };
}

/** The refusal reasons: the bank login's (same checks) and `no_role` (no mapped group or role). */
export type OperatorSsoRefusalReason = BankLoginRejectReason | 'no_role' | 'cancelled';

/** A refused workforce sign-in: no session, nothing recorded but the refusal. `detail` names a check, never a value. */
export class OperatorSsoRefused extends Error {
  constructor(
    readonly reason: OperatorSsoRefusalReason,
    readonly detail?: string,
    /** The party, when the provider did authenticate someone (no_role): for the audit trail. */
    readonly party?: string,
  ) {
    super(detail ? `${reason}: ${detail}` : reason);
    this.name = 'OperatorSsoRefused';
  }
}

/** Sealed in the transaction where the bank login keeps its form token digest: marks a console sign-in. */
const CONSOLE_TRANSACTION = 'operator-console';

/**
 * Starts a sign-in: fresh state, nonce and PKCE verifier (256 bits each), sealed into the
 * transaction the http layer keeps in a cookie, and the provider's authorization URL.
 */
export async function beginOperatorSso(sso: OperatorSso): Promise<{ authorizationUrl: string; transaction: string; expiresAt: number }> {
  let config: oidc.Configuration;
  try {
    config = await configurationFor(sso);
  } catch (e) {
    throw refusalOf(e);
  }
  const random = () => base64urlEncode(sso.deps.random.randomBytes(32));
  const state = random();
  const nonce = random();
  const codeVerifier = random();
  const expiresAt = Math.floor(sso.deps.clock() / 1000) + sso.settings.loginTtlSeconds;
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: sso.redirectUri,
    response_type: 'code',
    scope: sso.settings.scopes.join(' '),
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    ...(sso.settings.maxAuthAgeSeconds !== undefined ? { max_age: String(sso.settings.maxAuthAgeSeconds) } : {}),
  });
  const transaction = await sealLoginTransaction(sso.deps, {
    issuer: sso.settings.issuer,
    state,
    nonce,
    codeVerifier,
    formTokenDigest: CONSOLE_TRANSACTION,
    expiresAt,
  });
  return { authorizationUrl: url.href, transaction, expiresAt };
}

function refusalOf(e: unknown): OperatorSsoRefused {
  if (e instanceof OperatorSsoRefused) return e;
  const r = e instanceof BankLoginRejected ? e : rejectionFor(e);
  return new OperatorSsoRefused(r.reason, r.detail);
}

/** A signed-in workforce identity. */
export interface OperatorSsoIdentity {
  /** `sso:<HMAC-SHA256(iss \n sub)>`, base64url: the four-eyes party and the session's operator. */
  party: string;
  role: OperatorRole;
  /** The provider's `sub` (for the audit trail; the party names it in logs). */
  subject: string;
  /** `name` or `preferred_username`, for the console header only (never logged). */
  displayName?: string;
  /** The claim values that mapped to a role (group names or ids the PFI configured). */
  matched: string[];
}

/** The keyed digest naming a workforce identity: the same person (iss, sub) always gets the same party. */
export async function operatorSsoParty(keys: Pick<ExistingCustomerKeys, 'subject'>, issuer: string, sub: string): Promise<string> {
  const mac = await crypto.subtle.sign('HMAC', keys.subject, encoder.encode(`${issuer}\n${sub}`));
  return `sso:${base64urlEncode(new Uint8Array(mac))}`;
}

/** The roles claim's values: a top-level claim of that exact name, else the dot path; strings only. */
function claimValues(claims: Record<string, unknown>, path: string): string[] | undefined {
  let value: unknown = claims[path];
  if (value === undefined && path.includes('.')) {
    value = claims;
    for (const name of path.split('.'))
      value = value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[name] : undefined;
  }
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return undefined;
}

/** The highest console role the values map to, and which values did. */
export function roleFromClaim(
  values: readonly string[],
  roleMap: Readonly<Record<string, OperatorRole>>,
): { role: OperatorRole; matched: string[] } | undefined {
  const matched = values.filter((v) => Object.hasOwn(roleMap, v));
  if (!matched.length) return undefined;
  const role = matched.map((v) => roleMap[v]).reduce((a, b) => (ROLE_RANK[b] > ROLE_RANK[a] ? b : a));
  return { role, matched: [...new Set(matched)] };
}

/**
 * Finishes a sign-in from the callback URL and the sealed transaction: opens the transaction,
 * exchanges the code (PKCE verifier, client authentication), verifies the ID token, reads the
 * roles claim (from the ID token, else from userinfo for the same `sub`) and maps it. Throws
 * OperatorSsoRefused for anything that does not verify or maps to no role.
 */
export async function completeOperatorSso(
  sso: OperatorSso,
  input: { callbackUrl: string | URL; transaction: string | undefined },
): Promise<OperatorSsoIdentity> {
  const nowSeconds = Math.floor(sso.deps.clock() / 1000);
  const tx = input.transaction ? await openLoginTransaction(sso.deps, input.transaction, nowSeconds) : undefined;
  if (tx === 'expired') throw new OperatorSsoRefused('transaction_expired');
  if (!tx || tx.issuer !== sso.settings.issuer || tx.formTokenDigest !== CONSOLE_TRANSACTION) throw new OperatorSsoRefused('invalid_transaction');

  let current: URL;
  let config: oidc.Configuration;
  try {
    const callback = callbackOf(sso.redirectUri, input.callbackUrl, tx.state);
    if (callback.cancelled) throw new OperatorSsoRefused('cancelled');
    current = callback.current;
    config = await configurationFor(sso);
  } catch (e) {
    throw refusalOf(e);
  }
  const { tokens, claims } = await redeemAuthorizationCode(sso, config, current, tx).catch((e: unknown) => {
    throw refusalOf(e);
  });

  const party = await operatorSsoParty(sso.deps.keys, sso.settings.issuer, claims.sub);
  let values = claimValues(claims, sso.settings.rolesClaim);
  let displaySource: Record<string, unknown> = claims;
  // Entra ID and Okta put groups in the ID token; oidc-provider and some Keycloak setups only
  // in userinfo: read it there, for the ID token's subject only (OpenID Connect Core 1.0 §5.3.2).
  if (values === undefined && config.serverMetadata().userinfo_endpoint) {
    const userinfo = await userInfoOf(config, tokens.access_token, claims.sub).catch((e: unknown) => {
      throw refusalOf(e);
    });
    values = claimValues(userinfo, sso.settings.rolesClaim);
    displaySource = { ...userinfo, ...claims };
  }
  const mapped = values && roleFromClaim(values, sso.settings.roleMap);
  if (!mapped) {
    throw new OperatorSsoRefused(
      'no_role',
      values === undefined ? `no ${sso.settings.rolesClaim} claim` : `no mapped value in ${sso.settings.rolesClaim}`,
      party,
    );
  }
  const name = [displaySource.name, displaySource.preferred_username].find((v): v is string => typeof v === 'string' && v.trim().length > 0);
  return { party, role: mapped.role, subject: claims.sub, matched: mapped.matched, ...(name ? { displayName: name.trim().slice(0, 64) } : {}) };
}
