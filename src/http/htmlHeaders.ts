import type { Context } from 'hono';

/**
 * Headers of every HTML page we serve (the IDV form, the review console): a strict CSP with our
 * own stylesheet only, no caching (pages carry tokens and PII), no framing.
 */
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function htmlSecurityHeaders(c: Context, referrerPolicy: 'no-referrer' | 'same-origin'): void {
  c.header('Content-Security-Policy', CSP);
  c.header('Cache-Control', 'no-store');
  c.header('Referrer-Policy', referrerPolicy);
  c.header('X-Frame-Options', 'DENY');
}
