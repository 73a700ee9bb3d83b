import type { Context } from 'hono';

/**
 * Headers of every HTML page we serve (the IDV form, the review console): a strict CSP with our
 * own stylesheet only, no caching (pages carry tokens and PII), no framing.
 */
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The CSP with the PFI's logo origin (ISSUER_LOGO_URI, an https URL) allowed as an image source. */
function cspFor(logoUri: string | undefined): string {
  if (!logoUri) return CSP;
  return CSP.replace("img-src 'self'", `img-src 'self' ${new URL(logoUri).origin}`);
}

export function htmlSecurityHeaders(c: Context, referrerPolicy: 'no-referrer' | 'same-origin', logoUri?: string): void {
  c.header('Content-Security-Policy', cspFor(logoUri));
  c.header('Cache-Control', 'no-store');
  c.header('Referrer-Policy', referrerPolicy);
  c.header('X-Frame-Options', 'DENY');
}
