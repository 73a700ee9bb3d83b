import { Hono } from 'hono';
import { handleVendorWebhook } from '../../issuance/identityVerification';
import type { AppEnv } from '../context';
import { readRequestBody } from '../body';
import { PATHS } from '../../paths';

/**
 * IDV vendor webhooks (spec "PII collected by IDV vendor": the vendor notifies the PFI, the
 * PFI requests the result). The raw bytes are verified before anything parses them
 * (src/idv/service.ts). 2xx tells the vendor to stop retrying: a duplicate or an event for
 * an unknown session is acknowledged; a failed result fetch answers 502 so the vendor retries.
 */
export const idvWebhookRoutes = new Hono<AppEnv>();

idvWebhookRoutes.post(PATHS.idvWebhook, async (c) => {
  const deps = c.get('deps');
  const raw = await readRequestBody(c);
  const outcome = await handleVendorWebhook(deps, c.req.param('provider'), raw, c.req.raw.headers);
  c.header('Cache-Control', 'no-store');
  switch (outcome.status) {
    case 200:
      return c.json({ received: true, disposition: outcome.disposition });
    case 404:
      return c.json({ error: 'not_found', error_description: 'no such IDV provider' }, 404);
    case 502:
      return c.json({ error: 'temporarily_unavailable', error_description: 'the verification result could not be fetched; retry later' }, 502);
    default:
      return c.json({ error: 'invalid_request', error_description: `webhook rejected: ${outcome.error}` }, outcome.status);
  }
});
