import type { Context } from 'hono';
import type { DigestsAndRandom } from '../crypto/keys';
import type { AppEnv } from './context';
import { getCookie, setCookie } from 'hono/cookie';
import { base64urlEncode } from '../crypto/base64url';
import { timingSafeEqual } from '../crypto/timingSafeEqual';
import { requestHeader } from './headers';

/**
 * CSRF protection of the hosted form (defence in depth beside the unguessable URL token):
 * - a double-submit token in an HttpOnly SameSite=Strict cookie and in a hidden field; a form
 *   POST must carry both, equal. The value is never taken from the request: it is
 *   HMAC-SHA256 keyed by the form link's own 256-bit token (stored server-side only as a digest)
 *   over the issuer's DID, so a cookie planted by a sibling subdomain or a network attacker
 *   (OWASP CSRF Cheat Sheet, "signed double-submit cookie") never matches, and every GET sets
 *   the right one whatever the browser sent;
 * - a form POST whose Origin is another site, or that the browser marks `Sec-Fetch-Site:
 *   cross-site`, is refused;
 * - JSON submissions cannot be sent cross-site without a CORS preflight (which the issuer never
 *   grants), so they need no token.
 */
export const CSRF_COOKIE = 'idv_csrf';

function formCsrfToken(crypto: Pick<DigestsAndRandom, 'hmacSha256'>, formToken: string, issuerDid: string): string {
  return base64urlEncode(crypto.hmacSha256(formToken, `idv-form-csrf|${issuerDid}`));
}

export async function issueFormCsrf(c: Context<AppEnv>, publicUrl: string, formToken: string, issuerDid: string): Promise<string> {
  const token = formCsrfToken(c.get('deps').crypto, formToken, issuerDid);
  const url = new URL(publicUrl);
  setCookie(c, CSRF_COOKIE, token, {
    httpOnly: true,
    sameSite: 'Strict',
    secure: url.protocol === 'https:',
    path: `${url.pathname.replace(/\/+$/, '')}/idv/form`,
    maxAge: 3600,
  });
  return token;
}

export async function checkFormCsrf(
  c: Context<AppEnv>,
  publicUrl: string,
  kind: 'form' | 'json',
  field: unknown,
  form: { formToken: string; issuerDid: string },
): Promise<{ ok: true } | { ok: false; why: string }> {
  const site = requestHeader(c, 'sec-fetch-site');
  if (site === 'cross-site') return { ok: false, why: 'cross_site' };
  const origin = requestHeader(c, 'origin');
  // Under `Referrer-Policy: no-referrer` browsers send `Origin: null` even same-origin; the token decides then.
  if (origin && origin !== 'null' && origin !== new URL(publicUrl).origin) return { ok: false, why: 'origin' };
  if (origin === 'null' && kind === 'json') return { ok: false, why: 'origin' };
  if (kind === 'json') return { ok: true };
  const cookie = getCookie(c, CSRF_COOKIE);
  if (!cookie || typeof field !== 'string') return { ok: false, why: 'token_missing' };
  const enc = new TextEncoder();
  const expected = enc.encode(formCsrfToken(c.get('deps').crypto, form.formToken, form.issuerDid));
  if (!timingSafeEqual(enc.encode(cookie), expected)) return { ok: false, why: 'cookie_not_issued' };
  return timingSafeEqual(enc.encode(field), expected) ? { ok: true } : { ok: false, why: 'token_mismatch' };
}
