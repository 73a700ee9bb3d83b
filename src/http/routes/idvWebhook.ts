import { Hono } from 'hono';
import { handleVendorWebhook } from '../../issuance/identityVerification';
import type { AppEnv } from '../context';
import { readRequestBody } from '../body';
import { PATHS } from '../../paths';
import { InvalidRequest, NotFound, ProtocolError, TemporarilyUnavailable } from '../../protocol/errors';
import { describeRoute, doc } from '../openapi';
import { WebhookReceived } from '../apiBodies';
import { z } from 'zod';

/** A webhook whose signature is missing, wrong or stale: 401 with no challenge (vendors sign, they do not log in). */
class WebhookNotAuthenticated extends ProtocolError {
  readonly error = 'invalid_request';
  readonly status = 401;
}

/**
 * IDV vendor webhooks (spec "PII collected by IDV vendor": the vendor notifies the PFI, the
 * PFI requests the result). The raw bytes are verified before anything parses them
 * (handleVendorWebhook, src/issuance/identityVerification.ts). 2xx tells the vendor to stop retrying: a duplicate or an event for
 * an unknown session is acknowledged; a failed result fetch answers 502 so the vendor retries.
 */
export const idvWebhookRoutes = new Hono<AppEnv>();

idvWebhookRoutes.post(
  PATHS.idvWebhook,
  describeRoute({
    summary: 'IDV vendor webhook (signed)',
    tags: ['idv'],
    body: z.looseObject({}),
    responses: {
      200: doc.json('Accepted', WebhookReceived),
      400: doc.error('Rejected'),
      401: doc.error('Bad signature'),
      404: doc.error('No such provider'),
      502: doc.error('Result could not be fetched'),
    },
  }),
);
idvWebhookRoutes.post(PATHS.idvWebhook, async (c) => {
  const deps = c.get('deps');
  const raw = await readRequestBody(c);
  const outcome = await handleVendorWebhook(deps, c.req.param('provider'), raw, c.req.raw.headers);
  c.header('Cache-Control', 'no-store');
  switch (outcome.status) {
    case 200:
      return c.json({ received: true, disposition: outcome.disposition });
    case 404:
      throw new NotFound('no such IDV provider');
    case 502:
      throw new TemporarilyUnavailable('the verification result could not be fetched; retry later');
    case 401:
      throw new WebhookNotAuthenticated(`webhook rejected: ${outcome.error}`);
    default:
      throw new InvalidRequest(`webhook rejected: ${outcome.error}`);
  }
});
