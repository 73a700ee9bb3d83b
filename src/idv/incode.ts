import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { SETTING_DEFAULTS, type Settings } from '../config';
import { base64urlEncode } from '../crypto/base64url';
import { sha256 } from '../crypto/hash';
import { validateIdentityFields, type FieldErrorCode } from './fields';
import { CallbackRejected, WebhookRejected, type CheckPerformed, type HttpFetch, type IdvProvider, type IdvResult, type IdvState } from './provider';
import { createHmacKeyring } from './webhookSignature';

/**
 * Incode as an IDV vendor through its OpenID Connect integration (Incode is the identity
 * provider, the issuer the relying party; the facts used are in docs/incode.md):
 * - Handoff: the webview goes to `{issuer}/oauth2/authorize?client_id&redirect_uri&
 *   response_type=code&scope=openid …&state&nonce`; Incode runs document capture, liveness and
 *   face match and returns the browser to `redirect_uri?code&state`.
 * - Result: the code is exchanged server-to-server at `POST {issuer}/oauth2/token` with the
 *   client secret (Client Secret Post or Basic); the `id_token` is verified against
 *   `{issuer}/oauth2/jwks` (signature, iss, aud, exp, nonce) and carries
 *   `auth_overall_status` (OK | FAIL | MANUAL_REVIEW); `GET {issuer}/userinfo` with the access
 *   token gives the document's name and birthdate (profile) and address (address scope).
 * Incode documents no webhook signature, so no webhook is trusted: the only result accepted is
 * the one redeemed with our credentials and signed by Incode's keys (docs/incode.md).
 */
export interface IncodeOptions {
  clientId: string;
  clientSecret: string;
  /** https://auth.incode.com (production), https://auth.demo.incode.com (sandbox); tests a loopback server. */
  issuer: string;
  tokenAuthMethod?: 'client_secret_post' | 'client_secret_basic';
  /** Must include openid; profile for name and birthdate, address for the country of residence. */
  scope?: string;
  fetch: HttpFetch;
  /** Tier written into the KCC for an approved verification. */
  tier?: string;
  clockToleranceSeconds?: number;
}

/** Asymmetric algorithms only: an HMAC-signed token would be keyed by our own client secret. */
const ID_TOKEN_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const JWKS_MAX_AGE_MS = 10 * 60_000;
/** A token signed by a key not in the cached set refetches the set, at most this often. */
const JWKS_MIN_REFRESH_MS = 30_000;
const TIMEOUT_MS = 10_000;

const STATUS_MAP: Record<string, IdvState> = { OK: 'approved', FAIL: 'declined', MANUAL_REVIEW: 'needs_review' };

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= 512 ? v : undefined);
const REFERENCE = /^[\w.:-]{1,128}$/;

/**
 * Incode options from the settings (INCODE_*, src/config/settings.ts, where the defaults and the
 * checks of each value are); undefined when Incode is not configured.
 */
export function incodeOptionsFromSettings(settings: Settings['idvVendors']['incode'], fetch: HttpFetch): IncodeOptions | undefined {
  const { clientId, clientSecret } = settings;
  if (!clientId && !clientSecret) return undefined;
  if (!clientId) throw new Error('INCODE_CLIENT_ID is required with INCODE_CLIENT_SECRET');
  if (!clientSecret) throw new Error('INCODE_CLIENT_SECRET is required with INCODE_CLIENT_ID');
  return { clientId, clientSecret, issuer: settings.issuer, tokenAuthMethod: settings.tokenAuthMethod, scope: settings.scope, fetch };
}

/** The ID token's `nonce` for a session: bound to the state, so a token minted for another session does not fit this one. */
function nonceFor(state: string): string {
  return base64urlEncode(sha256(new TextEncoder().encode(`kcc-incode-nonce:${state}`)));
}

export function createIncodeProvider(options: IncodeOptions): IdvProvider {
  const keyring = createHmacKeyring(2);
  const issuer = options.issuer.replace(/\/+$/, '');
  const scope = options.scope ?? SETTING_DEFAULTS.idvVendors.incode.scope;
  let jwks: { keys: ReturnType<typeof createLocalJWKSet>; fetchedAt: number } | undefined;

  async function call(path: string, init: RequestInit): Promise<Response> {
    return options.fetch(`${issuer}${path}`, { ...init, redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) });
  }

  async function json(res: Response, what: string): Promise<Json> {
    try {
      return obj(JSON.parse(await res.text()));
    } catch {
      throw new Error(`incode ${what} answered with invalid JSON`);
    }
  }

  async function refreshKeys(now: number) {
    const res = await call('/oauth2/jwks', { method: 'GET', headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error(`incode jwks answered ${res.status}`);
    const set = await json(res, 'jwks');
    if (!Array.isArray(set.keys)) throw new Error('incode jwks has no keys');
    jwks = { keys: createLocalJWKSet(set as unknown as JSONWebKeySet), fetchedAt: now };
    return jwks;
  }

  async function verifyIdToken(idToken: string, state: string, now: number): Promise<JWTPayload> {
    const getKey: Parameters<typeof jwtVerify>[1] = async (header, token) => {
      const current = jwks && now - jwks.fetchedAt < JWKS_MAX_AGE_MS ? jwks : await refreshKeys(now);
      try {
        return await current.keys(header, token);
      } catch (e) {
        // Incode rotated its keys: one refetch, rate-limited so forged kids cannot make us hammer the JWKS.
        if (!(e instanceof joseErrors.JWKSNoMatchingKey) || now - current.fetchedAt < JWKS_MIN_REFRESH_MS) throw e;
        return (await refreshKeys(now)).keys(header, token);
      }
    };
    try {
      const { payload } = await jwtVerify(idToken, getKey, {
        issuer,
        audience: options.clientId,
        algorithms: ID_TOKEN_ALGORITHMS,
        currentDate: new Date(now),
        clockTolerance: options.clockToleranceSeconds ?? 60,
        requiredClaims: ['sub', 'iat', 'exp', 'nonce'],
      });
      // OpenID Connect Core 1.0 §3.1.3.7: the nonce sent, and azp (when present) naming us.
      if (payload.nonce !== nonceFor(state)) throw new CallbackRejected('invalid_id_token', 'id_token nonce does not match the session');
      if (payload.azp !== undefined && payload.azp !== options.clientId) throw new CallbackRejected('invalid_id_token', 'id_token azp is not this client');
      return payload;
    } catch (e) {
      if (e instanceof joseErrors.JOSEError) throw new CallbackRejected('invalid_id_token', `id_token not accepted (${e.code})`);
      throw e;
    }
  }

  function tokenRequest(code: string, callbackUrl: string): RequestInit {
    const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: callbackUrl });
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
    if (options.tokenAuthMethod === 'client_secret_basic') {
      // RFC 6749 §2.3.1: both parts form-encoded before Basic.
      const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
      headers.Authorization = `Basic ${btoa(`${enc(options.clientId)}:${enc(options.clientSecret)}`)}`;
    } else {
      body.set('client_id', options.clientId);
      body.set('client_secret', options.clientSecret);
    }
    return { method: 'POST', headers, body: body.toString() };
  }

  return {
    name: 'incode',
    capabilities: {
      collectsPii: 'vendor',
      // No documented webhook signature: results arrive only by the authorization code (docs/incode.md).
      webhooks: false,
      // The result is redeemed from the callback's code (completeCallback), not fetched by reference.
      resultFetch: false,
      manualReview: true,
      checks: ['document', 'liveness'],
    },

    async createSession(request) {
      if (!request.callbackUrl) throw new Error('incode needs the callback URL registered as its redirect_uri');
      // The state is derived from the session's idempotency key under our client secret:
      // unguessable, and a retried create yields the same session (docs/incode.md).
      const state = base64urlEncode(await keyring.mac(options.clientSecret, new TextEncoder().encode(`kcc-incode-state:${request.idempotencyKey}`)));
      const query = new URLSearchParams({
        client_id: options.clientId,
        redirect_uri: request.callbackUrl,
        response_type: 'code',
        scope,
        state,
        nonce: nonceFor(state),
      });
      return { url: `${issuer}/oauth2/authorize?${query}`, vendorReference: state };
    },

    async verifyWebhook() {
      throw new WebhookRejected('bad_signature', 'incode webhooks are not accepted: results arrive by the OIDC callback');
    },

    parseEvent() {
      throw new WebhookRejected('malformed', 'incode webhooks are not accepted');
    },

    async fetchResult() {
      throw new Error('incode results are redeemed from the authorization code (completeCallback)');
    },

    async completeCallback({ code, vendorReference: state, callbackUrl }, now) {
      const tokenRes = await call('/oauth2/token', tokenRequest(code, callbackUrl));
      if (tokenRes.status === 400) throw new CallbackRejected('invalid_grant', 'incode refused the authorization code');
      if (!tokenRes.ok) throw new Error(`incode token endpoint answered ${tokenRes.status}`);
      const tokens = await json(tokenRes, 'token endpoint');
      const token = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= 16_384 ? v : undefined);
      const idToken = token(tokens.id_token);
      const accessToken = token(tokens.access_token);
      if (!idToken || !accessToken) throw new Error('incode token response lacks id_token or access_token');
      const claims = await verifyIdToken(idToken, state, now);

      const infoRes = await call('/userinfo', { method: 'GET', headers: { Authorization: `Bearer ${accessToken}`, Accept: 'application/json' } });
      if (!infoRes.ok) throw new Error(`incode userinfo answered ${infoRes.status}`);
      const info = await json(infoRes, 'userinfo');
      // OpenID Connect Core 1.0 §5.3.2: attributes of another subject must not be used.
      if (info.sub !== claims.sub) throw new CallbackRejected('userinfo_mismatch', 'userinfo is not about the id_token subject');

      const status = str(claims.auth_overall_status) ?? '';
      let outcome: IdvState = STATUS_MAP[status] ?? 'needs_review';
      const reasonCodes = [STATUS_MAP[status] ? `incode:${status}` : 'incode:unrecognised_status'];

      // The document's claims, held to the hosted form's rules (src/idv/fields.ts); nothing is stored.
      const country = str(obj(info.address).country);
      const only = new Set<string>(['given_name', 'birthdate', ...(country !== undefined ? ['country_of_residence'] : [])]);
      const today = new Date(now).toISOString().slice(0, 10);
      const checked = validateIdentityFields(
        { given_name: str(info.name) ?? str(info.given_name), birthdate: str(info.birthdate), country_of_residence: country },
        today,
        only,
      );
      const fieldErrors: Partial<Record<string, FieldErrorCode>> = checked.ok ? {} : checked.errors;
      const claimErrors = Object.entries(fieldErrors) as [string, FieldErrorCode][];
      if (claimErrors.length) {
        reasonCodes.push(...claimErrors.map(([field, why]) => `incode:claim:${field === 'given_name' ? 'name' : field}:${why}`));
        // An approval whose document data the form would refuse is for compliance staff to decide.
        if (outcome === 'approved') outcome = 'needs_review';
      }

      // OK: Incode's document capture, liveness and face match passed (a claim the form would
      // refuse does not undo that); otherwise which one failed is not reported.
      const passed = status === 'OK';
      const checks: CheckPerformed[] = [
        { kind: 'document', result: passed ? 'passed' : 'unknown', detail: ['document_capture'] },
        { kind: 'liveness', result: passed ? 'passed' : 'unknown', detail: ['liveness', 'face_match'] },
      ];
      const interviewId = str(claims.interview_id);
      const issuedAt = (claims.iat as number) * 1000;
      const jti = str(claims.jti);
      return {
        eventId: jti && REFERENCE.test(jti) ? jti : base64urlEncode(sha256(new TextEncoder().encode(idToken))),
        occurredAt: issuedAt,
        result: {
          state: outcome,
          reasonCodes,
          final: outcome === 'approved' || outcome === 'declined',
          checks,
          countryOfResidence: country !== undefined && !fieldErrors.country_of_residence ? country.trim().toUpperCase() : undefined,
          tier: outcome === 'approved' ? options.tier : undefined,
          verifiedAt: issuedAt,
          // Incode's verification session: what compliance staff look up in Incode's dashboard.
          vendorReference: interviewId && REFERENCE.test(interviewId) ? interviewId : state,
        } satisfies IdvResult,
      };
    },
  };
}
