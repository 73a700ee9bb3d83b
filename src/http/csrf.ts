import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { randomToken } from '../crypto/random';
import { timingSafeEqual } from '../idv/webhookSignature';

/**
 * CSRF protection of the hosted form (defence in depth beside the unguessable URL token):
 * - a double-submit token: a random value in an HttpOnly SameSite=Strict cookie and in a
 *   hidden field; a form POST must carry both, equal;
 * - a form POST whose Origin is another site, or that the browser marks `Sec-Fetch-Site:
 *   cross-site`, is refused;
 * - JSON submissions cannot be sent cross-site without a CORS preflight (which the issuer never
 *   grants), so they need no token.
 */
export const CSRF_COOKIE = 'idv_csrf';

export function issueFormCsrf(c: Context, publicUrl: string): string {
  const existing = getCookie(c, CSRF_COOKIE);
  const token = existing && /^[\w-]{43}$/.test(existing) ? existing : randomToken();
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

export function checkFormCsrf(c: Context, publicUrl: string, kind: 'form' | 'json', field: unknown): { ok: true } | { ok: false; why: string } {
  const site = c.req.header('sec-fetch-site');
  if (site === 'cross-site') return { ok: false, why: 'cross_site' };
  const origin = c.req.header('origin');
  // Under `Referrer-Policy: no-referrer` browsers send `Origin: null` even same-origin; the token decides then.
  if (origin && origin !== 'null' && origin !== new URL(publicUrl).origin) return { ok: false, why: 'origin' };
  if (origin === 'null' && kind === 'json') return { ok: false, why: 'origin' };
  if (kind === 'json') return { ok: true };
  const cookie = getCookie(c, CSRF_COOKIE);
  if (!cookie || typeof field !== 'string') return { ok: false, why: 'token_missing' };
  const enc = new TextEncoder();
  return timingSafeEqual(enc.encode(cookie), enc.encode(field)) ? { ok: true } : { ok: false, why: 'token_mismatch' };
}
