import type { Context } from 'hono';

/**
 * Headers of every HTML page we serve (the IDV form, the review console): a strict CSP with our
 * own stylesheet only, no caching (pages carry tokens and PII), no framing.
 */
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The CSP with the PFI's logo origin (ISSUER_LOGO_URI, an https URL) allowed as an image source,
 * and `formTargets` (origins a form's POST may redirect to: the bank login of the IDV page) as
 * form-action targets besides our own.
 */
function cspFor(logoUri: string | undefined, formTargets: readonly string[] = []): string {
  let csp = logoUri ? CSP.replace("img-src 'self'", `img-src 'self' ${new URL(logoUri).origin}`) : CSP;
  if (formTargets.length) csp = csp.replace("form-action 'self'", `form-action 'self' ${formTargets.join(' ')}`);
  return csp;
}

export function htmlSecurityHeaders(c: Context, referrerPolicy: 'no-referrer' | 'same-origin', logoUri?: string, formTargets?: readonly string[]): void {
  c.header('Content-Security-Policy', cspFor(logoUri, formTargets));
  c.header('Cache-Control', 'no-store');
  c.header('Referrer-Policy', referrerPolicy);
  c.header('X-Frame-Options', 'DENY');
}
