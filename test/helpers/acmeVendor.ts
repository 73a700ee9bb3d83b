import { createGenericHmacProvider } from '../../src/idv/genericHmac';

/**
 * "acme", a generic HMAC vendor (docs/idv.md) whose session and decision endpoints are served on
 * loopback at `vendorBase` by the test: `POST /v1/sessions`, `GET /v1/sessions/{id}/decision`;
 * webhooks signed over the body with `acme-secret` in `x-hmac-signature` (hex).
 */
export function acmeVendor(vendorBase: string) {
  return createGenericHmacProvider({
    name: 'acme',
    secrets: ['acme-secret'],
    signature: { scheme: 'body', header: 'x-hmac-signature', encoding: 'hex' },
    sessionUrl: `${vendorBase}/v1/sessions`,
    sessionIdPath: 'verification.id',
    sessionUrlPath: 'verification.url',
    resultUrl: `${vendorBase}/v1/sessions/{reference}/decision`,
    statusPath: 'verification.status',
    countryPath: 'verification.document.country',
    checksPath: 'verification.checks',
    eventIdPath: 'id',
    eventReferencePath: 'verification.id',
    eventTypePath: 'action',
    eventTimePath: 'timestamp',
    statusMap: { started: 'in_progress', approved: 'approved', declined: 'declined', review: 'needs_review' },
    fetch: (u, i) => fetch(u, i),
  });
}
