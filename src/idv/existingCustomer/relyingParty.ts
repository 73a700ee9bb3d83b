import { importJWK } from 'jose';
import * as oidc from 'openid-client';
import type { TierConfig } from '../../config';
import { base64urlDecodeToString, base64urlEncode } from '../../crypto/base64url';
import type { DigestsAndRandom } from '../../crypto/keys';
import type { Clock } from '../../ports/clock';
import type { HttpFetch } from '../provider';
import { mapClaimsToKcc, type ExistingCustomerEvidence, type FallbackReason } from './claims';
import { digestBankSubject, openLoginTransaction, sealLoginTransaction, type ExistingCustomerKeys } from './loginTransaction';
import { isLoopbackHttp, type ExistingCustomerSettings } from './settings';

/**
 * The issuer as the OpenID Connect relying party of the PFI's own customer login, with panva's
 * openid-client (v6: fetch and Web Crypto only, so the same code runs on Node and Workers):
 * discovery (OpenID Connect Discovery 1.0), the authorization code flow with PKCE S256
 * (RFC 7636), `state` and `nonce`, client_secret_basic or private_key_jwt at the token
 * endpoint, the ID token verified (signature against the provider's JWKS, iss, aud, exp, iat,
 * nonce; azp when present; OpenID Connect Core 1.0 §3.1.3.7), userinfo refused for another
 * `sub` (§5.3.2), then the claims mapped (./claims.ts).
 *
 * Every refusal throws BankLoginRejected and yields no result. A customer who cancels at the
 * bank (`error=access_denied`) is a result of its own, `cancelled`.
 */

/** What the relying party needs from its runtime. */
export interface BankLoginDeps {
  clock: Clock;
  /** Outbound HTTP to the provider (Node: global fetch; Workers: fetch; tests: loopback). */
  fetch: HttpFetch;
  random: Pick<DigestsAndRandom, 'randomBytes'>;
  keys: ExistingCustomerKeys;
}

/** Per-instance cache of a relying party (no module-level state): discovery, the provider's keys, our client key. */
export interface OidcClientCache {
  server?: { metadata: oidc.ServerMetadata; fetchedAt: number };
  jwks?: oidc.ExportedJWKSCache;
  clientKey?: oidc.PrivateKey;
}

/**
 * What the OpenID Connect client code below needs of a relying party: the bank login here, and
 * the review console's workforce sign-in (src/issuance/operatorSso.ts) reuses it.
 */
export interface OidcClient {
  readonly settings: Pick<ExistingCustomerSettings, 'issuer' | 'clientId' | 'clientAuth' | 'clockToleranceSeconds' | 'idTokenAlg'>;
  readonly deps: { clock: Clock; fetch: HttpFetch };
  readonly cache: OidcClientCache;
}

/** One configured relying party, built once per process or isolate; caches discovery and the provider's keys. */
export interface BankLogin extends OidcClient {
  readonly settings: ExistingCustomerSettings;
  /** Our callback, registered at the provider as a redirect_uri. */
  readonly redirectUri: string;
  readonly tiers: readonly TierConfig[];
  readonly deps: BankLoginDeps;
  /** Mutable per-instance cache (no module-level state). */
  readonly cache: OidcClientCache;
}

export type BankLoginRejectReason =
  /** The transaction is not one we sealed (tampered, another key, missing) or belongs to other settings. */
  | 'invalid_transaction'
  | 'transaction_expired'
  /** The callback's `state` is not the transaction's: a forged or cross-session callback. */
  | 'state_mismatch'
  /** The callback's `iss` (RFC 9207) names another provider: a mix-up. */
  | 'issuer_mismatch'
  /** The provider refused the code (replayed, issued to another client or login, PKCE mismatch). */
  | 'invalid_grant'
  /** The ID token did not verify (signature, issuer, audience, azp, expiry, nonce, algorithm). */
  | 'invalid_id_token'
  /** Userinfo is about another subject than the ID token. */
  | 'userinfo_mismatch'
  /** The provider answered the authorization with an error other than a cancellation. */
  | 'authorization_error'
  /** Discovery, token or userinfo endpoint unreachable or not speaking the protocol. */
  | 'provider_error';

/** A refused callback: nothing is to be issued or recorded from it. `detail` names the check (never a token or claim value). */
export class BankLoginRejected extends Error {
  constructor(
    readonly reason: BankLoginRejectReason,
    readonly detail?: string,
  ) {
    super(detail ? `${reason}: ${detail}` : reason);
    this.name = 'BankLoginRejected';
  }
}

export type BankLoginOutcome =
  | {
      status: 'verified';
      formTokenDigest: string;
      formToken?: string;
      /** HMAC of issuer and sub under the subject key: the link to the bank customer, never the sub itself. */
      subjectDigest: string;
      countryOfResidence: string;
      tierId: string;
      evidence: ExistingCustomerEvidence[];
      notes: string[];
      /** ms: when the bank authenticated the customer (auth_time) or the ID token was issued. */
      authenticatedAt: number;
    }
  | {
      status: 'fallback';
      formTokenDigest: string;
      formToken?: string;
      subjectDigest: string;
      next: 'regular_verification' | 'review';
      reasons: FallbackReason[];
      countryOfResidence?: string;
      tierId?: string;
      evidence: ExistingCustomerEvidence[];
      notes: string[];
      authenticatedAt: number;
    }
  /** The customer cancelled at the bank: back to the choice page. */
  | { status: 'cancelled'; formTokenDigest: string; formToken?: string };

const DISCOVERY_MAX_AGE_MS = 60 * 60_000;
const TIMEOUT_SECONDS = 10;

/**
 * Builds the relying party. `redirectUri` is the issuer's callback URL as registered at the
 * provider; `tiers` are the configured tiers the claim mapping names.
 */
export function createBankLogin(
  settings: ExistingCustomerSettings,
  deps: BankLoginDeps,
  options: { redirectUri: string; tiers: readonly TierConfig[] },
): BankLogin {
  const redirect = new URL(options.redirectUri);
  if (redirect.search || redirect.hash) throw new Error('the existing-customer redirect URI has no query or fragment');
  return { settings, redirectUri: redirect.href, tiers: options.tiers, deps, cache: {} };
}

function fetchFor(login: OidcClient): oidc.CustomFetch {
  return (url, options) => login.deps.fetch(url, options as RequestInit);
}

async function clientAuthFor(login: OidcClient): Promise<oidc.ClientAuth> {
  const auth = login.settings.clientAuth;
  if (auth.method === 'client_secret_basic') return oidc.ClientSecretBasic(auth.clientSecret);
  if (!login.cache.clientKey) {
    const jwk = auth.privateJwk as Record<string, unknown> & { kty: string; kid?: string; alg?: string; crv?: string };
    const alg = auth.alg ?? jwk.alg ?? (jwk.kty === 'RSA' ? 'RS256' : jwk.kty === 'OKP' ? 'EdDSA' : jwk.crv === 'P-384' ? 'ES384' : 'ES256');
    const key = (await importJWK(jwk, alg)) as CryptoKey;
    login.cache.clientKey = { key, ...(jwk.kid ? { kid: jwk.kid } : {}) };
  }
  return oidc.PrivateKeyJwt(login.cache.clientKey);
}

/** Client metadata with the injected clock: openid-client reads Date.now() plus this skew. */
function clientMetadata(login: OidcClient): Partial<oidc.ClientMetadata> {
  return {
    [oidc.clockSkew]: Math.round((login.deps.clock() - Date.now()) / 1000),
    [oidc.clockTolerance]: login.settings.clockToleranceSeconds,
    ...(login.settings.idTokenAlg ? { id_token_signed_response_alg: login.settings.idTokenAlg } : {}),
  };
}

/** The provider's metadata: discovered from `<issuer>/.well-known/openid-configuration` (its `issuer` must equal ours), cached an hour. */
async function serverMetadata(login: OidcClient): Promise<oidc.ServerMetadata> {
  const now = login.deps.clock();
  const cached = login.cache.server;
  if (cached && now - cached.fetchedAt < DISCOVERY_MAX_AGE_MS) return cached.metadata;
  const issuer = new URL(login.settings.issuer);
  let discovered: oidc.Configuration;
  try {
    discovered = await oidc.discovery(issuer, login.settings.clientId, clientMetadata(login), await clientAuthFor(login), {
      [oidc.customFetch]: fetchFor(login),
      execute: isLoopbackHttp(issuer) ? [oidc.allowInsecureRequests] : [],
      timeout: TIMEOUT_SECONDS,
    });
  } catch (e) {
    throw new BankLoginRejected('provider_error', `discovery failed (${errorCode(e)})`);
  }
  const metadata = { ...discovered.serverMetadata() } as oidc.ServerMetadata;
  if (!metadata.authorization_endpoint || !metadata.token_endpoint || !metadata.jwks_uri) {
    throw new BankLoginRejected('provider_error', 'discovery lacks authorization_endpoint, token_endpoint or jwks_uri');
  }
  if (metadata.code_challenge_methods_supported && !metadata.code_challenge_methods_supported.includes('S256')) {
    throw new BankLoginRejected('provider_error', 'the provider does not support PKCE S256');
  }
  login.cache.server = { metadata, fetchedAt: now };
  return metadata;
}

/**
 * The origins the webview goes to when the applicant chooses sign-in: the provider's issuer and
 * its authorization endpoint (discovery, cached). A page offering the sign-in lists them in its
 * CSP `form-action`, which browsers also apply to the redirect that follows the form's POST.
 * Discovery failing leaves the issuer's origin (the sign-in then fails with its own error).
 */
export async function bankLoginOrigins(login: BankLogin): Promise<string[]> {
  const origins = new Set([new URL(login.settings.issuer).origin]);
  try {
    origins.add(new URL((await serverMetadata(login)).authorization_endpoint as string).origin);
  } catch (e) {
    if (!(e instanceof BankLoginRejected)) throw e;
  }
  return [...origins];
}

/** A Configuration for one call: cached metadata, this moment's clock skew, signature checks on, the JWKS cache carried over. */
export async function configurationFor(login: OidcClient): Promise<oidc.Configuration> {
  const metadata = await serverMetadata(login);
  const config = new oidc.Configuration(metadata, login.settings.clientId, clientMetadata(login), await clientAuthFor(login));
  config[oidc.customFetch] = fetchFor(login);
  config.timeout = TIMEOUT_SECONDS;
  if (isLoopbackHttp(new URL(login.settings.issuer))) oidc.allowInsecureRequests(config);
  // The ID token's signature is verified against the provider's JWKS even though it arrives
  // over TLS from the token endpoint: the KCC rests on it, so we do not rely on transport alone.
  oidc.enableNonRepudiationChecks(config);
  if (login.cache.jwks) oidc.setJwksCache(config, login.cache.jwks);
  return config;
}

function randomValue(login: BankLogin): string {
  return base64urlEncode(login.deps.random.randomBytes(32));
}

/**
 * Starts a login: fresh state, nonce and PKCE verifier (256 bits each from the random port),
 * sealed with the application's form token digest into the transaction the http layer keeps
 * (an HttpOnly cookie), and the provider's authorization URL the webview is sent to.
 */
export async function beginBankLogin(
  login: BankLogin,
  input: { formTokenDigest: string; formToken?: string },
): Promise<{ authorizationUrl: string; transaction: string; expiresAt: number }> {
  const config = await configurationFor(login);
  const state = randomValue(login);
  const nonce = randomValue(login);
  const codeVerifier = randomValue(login);
  const expiresAt = Math.floor(login.deps.clock() / 1000) + login.settings.loginTtlSeconds;
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: login.redirectUri,
    response_type: 'code',
    scope: login.settings.scopes.join(' '),
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    ...(login.settings.maxAuthAgeSeconds !== undefined ? { max_age: String(login.settings.maxAuthAgeSeconds) } : {}),
  });
  const transaction = await sealLoginTransaction(login.deps, {
    issuer: login.settings.issuer,
    state,
    nonce,
    codeVerifier,
    formTokenDigest: input.formTokenDigest,
    ...(input.formToken ? { formToken: input.formToken } : {}),
    expiresAt,
  });
  return { authorizationUrl: url.href, transaction, expiresAt };
}

/**
 * openid-client wraps oauth4webapi's errors in a ClientError with a generic message; the
 * wrapped error carries the precise message and, for claim checks, the claim's name.
 */
export function unwrap(e: unknown): { code: string; message: string; field?: string } {
  const outer = (e && typeof e === 'object' ? e : {}) as { code?: unknown; message?: unknown; name?: unknown; cause?: unknown };
  const inner = (outer.cause instanceof Error ? outer.cause : outer) as { message?: unknown; cause?: { claim?: unknown; attribute?: unknown } };
  const field = typeof inner.cause?.claim === 'string' ? inner.cause.claim : typeof inner.cause?.attribute === 'string' ? inner.cause.attribute : undefined;
  const code = typeof outer.code === 'string' ? outer.code : typeof outer.name === 'string' ? outer.name : 'unknown';
  return { code, message: typeof inner.message === 'string' ? inner.message.slice(0, 160) : '', ...(field ? { field } : {}) };
}

/** A rejection's detail: the library's code, the claim checked and its message (they name checks, never values). */
export function errorCode(e: unknown): string {
  if (e instanceof oidc.ResponseBodyError || e instanceof oidc.AuthorizationResponseError) return e.error.slice(0, 64);
  const { code, message, field } = unwrap(e);
  return [code, field, message].filter(Boolean).join(': ');
}

const ID_TOKEN_FAILURES = new Set([
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  'OAUTH_KEY_SELECTION_FAILED',
  'OAUTH_UNSUPPORTED_OPERATION',
]);

/** Sorts an openid-client failure of the callback or code exchange into a rejection reason. */
export function rejectionFor(e: unknown): BankLoginRejected {
  if (e instanceof BankLoginRejected) return e;
  if (e instanceof oidc.ResponseBodyError) {
    return new BankLoginRejected(
      e.error === 'invalid_grant' || e.error === 'invalid_client' ? 'invalid_grant' : 'provider_error',
      `token endpoint: ${errorCode(e)}`,
    );
  }
  if (e instanceof oidc.AuthorizationResponseError) return new BankLoginRejected('authorization_error', errorCode(e));
  const { code, message } = unwrap(e);
  const detail = errorCode(e);
  if (/"state"/.test(message)) return new BankLoginRejected('state_mismatch', detail);
  if (/"iss" \(issuer\) response parameter/.test(message)) return new BankLoginRejected('issuer_mismatch', detail);
  if (ID_TOKEN_FAILURES.has(code) || /ID Token|JWT|JWS|signature/i.test(message)) return new BankLoginRejected('invalid_id_token', detail);
  return new BankLoginRejected('provider_error', detail);
}

/** ID token algorithms accepted: asymmetric only (an HMAC-signed one would be keyed by our own client secret). */
export const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/;

/** Constant-time string equality (the state in the callback against the sealed one). */
export function sameString(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * Finishes a login from the callback the bank sent the browser to (its query: code, state, iss,
 * or error) and the sealed transaction: opens the transaction, exchanges the code (PKCE
 * verifier, client authentication), verifies the ID token, fetches userinfo for the same
 * subject and maps the claims. Throws BankLoginRejected for anything that does not verify.
 */
export async function completeBankLogin(login: BankLogin, input: { callbackUrl: string | URL; transaction: string | undefined }): Promise<BankLoginOutcome> {
  const nowSeconds = Math.floor(login.deps.clock() / 1000);
  const tx = input.transaction ? await openLoginTransaction(login.deps, input.transaction, nowSeconds) : undefined;
  if (tx === 'expired') throw new BankLoginRejected('transaction_expired');
  if (!tx || tx.issuer !== login.settings.issuer) throw new BankLoginRejected('invalid_transaction');

  const { current, cancelled } = callbackOf(login.redirectUri, input.callbackUrl, tx.state);
  if (cancelled) return { status: 'cancelled', formTokenDigest: tx.formTokenDigest, formToken: tx.formToken };
  const config = await configurationFor(login);
  const { tokens, claims } = await redeemAuthorizationCode(login, config, current, tx);

  const userinfo = await userInfoOf(config, tokens.access_token, claims.sub);

  // Userinfo first, the ID token's own claims over it (both signed or TLS-authenticated by the same provider).
  const merged: Record<string, unknown> = { ...userinfo, ...claims };
  const subjectDigest = await digestBankSubject(login.deps.keys, login.settings.issuer, claims.sub);
  const authenticatedAt = (typeof claims.auth_time === 'number' ? claims.auth_time : claims.iat) * 1000;
  const mapped = mapClaimsToKcc(merged, login.settings.claimMapping, login.tiers, login.deps.clock(), login.settings.fallback);
  return { ...mapped, formTokenDigest: tx.formTokenDigest, formToken: tx.formToken, subjectDigest, authenticatedAt };
}

/**
 * The callback's parameters on our registered redirect_uri (openid-client derives the token
 * request's redirect_uri from this URL). An error answer counts only for this browser's own login
 * (same `state`): `access_denied` is a cancellation; any other goes on to the code exchange,
 * which refuses it. Throws BankLoginRejected.
 */
export function callbackOf(redirectUri: string, callbackUrl: string | URL, state: string): { current: URL; cancelled: boolean } {
  const params = new URL(callbackUrl, redirectUri).searchParams;
  const current = new URL(redirectUri);
  current.search = params.toString();
  const error = params.get('error');
  if (error !== null) {
    const answered = params.get('state');
    if (answered === null || !sameString(answered, state)) throw new BankLoginRejected('state_mismatch', 'error response');
  }
  return { current, cancelled: error === 'access_denied' };
}

/**
 * Redeems the authorization code (PKCE verifier, `state`, `nonce`, and `max_age` when configured:
 * then `auth_time` must be recent enough) and checks the ID token beyond openid-client: signed
 * with an asymmetric algorithm, and `azp`, when present, us (OpenID Connect Core 1.0 §3.1.3.7 (6):
 * openid-client checks it only with several audiences). Keeps the provider's keys in the cache.
 * Throws BankLoginRejected. Shared by the bank login and the console's workforce sign-in.
 */
export async function redeemAuthorizationCode(
  client: OidcClient & { readonly settings: { maxAuthAgeSeconds?: number } },
  config: oidc.Configuration,
  current: URL,
  tx: { codeVerifier: string; state: string; nonce: string },
): Promise<{ tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>; claims: oidc.IDToken }> {
  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
  try {
    tokens = await oidc.authorizationCodeGrant(config, current, {
      pkceCodeVerifier: tx.codeVerifier,
      expectedState: tx.state,
      expectedNonce: tx.nonce,
      idTokenExpected: true,
      ...(client.settings.maxAuthAgeSeconds !== undefined ? { maxAge: client.settings.maxAuthAgeSeconds } : {}),
    });
  } catch (e) {
    throw rejectionFor(e);
  } finally {
    const jwks = oidc.getJwksCache(config);
    if (jwks) client.cache.jwks = jwks;
  }
  const idToken = tokens.id_token;
  const claims = tokens.claims();
  if (!idToken || !claims) throw new BankLoginRejected('invalid_id_token', 'no id_token');
  const alg = headerAlg(idToken);
  if (!alg || !ASYMMETRIC.test(alg)) throw new BankLoginRejected('invalid_id_token', 'id_token not signed with an asymmetric algorithm');
  if (claims.azp !== undefined && claims.azp !== client.settings.clientId) throw new BankLoginRejected('invalid_id_token', 'azp is another client');
  return { tokens, claims };
}

/**
 * The provider's userinfo for the ID token's subject only (OpenID Connect Core 1.0 §5.3.2):
 * openid-client checks `sub`, and so does this, so attributes of another subject are never used.
 * Throws BankLoginRejected.
 */
export async function userInfoOf(config: oidc.Configuration, accessToken: string, sub: string): Promise<Record<string, unknown>> {
  let userinfo: Record<string, unknown>;
  try {
    userinfo = (await oidc.fetchUserInfo(config, accessToken, sub)) as Record<string, unknown>;
  } catch (e) {
    if (unwrap(e).field === 'sub') throw new BankLoginRejected('userinfo_mismatch', 'userinfo sub differs from the id_token sub');
    throw new BankLoginRejected('provider_error', `userinfo: ${errorCode(e)}`);
  }
  if (userinfo.sub !== sub) throw new BankLoginRejected('userinfo_mismatch', 'userinfo sub differs from the id_token sub');
  return userinfo;
}

/** The `alg` of a JWT's protected header, undefined when it cannot be read. */
export function headerAlg(jwt: string): string | undefined {
  try {
    const header = JSON.parse(base64urlDecodeToString(jwt.split('.')[0] ?? '')) as { alg?: unknown };
    return typeof header.alg === 'string' ? header.alg : undefined;
  } catch {
    return undefined;
  }
}
