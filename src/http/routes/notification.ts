import { Hono } from 'hono';
import { z } from 'zod';
import { InvalidNotificationId, InvalidNotificationRequest, PayloadTooLarge } from '../../protocol/errors';
import { readJsonObject } from '../body';
import { nowSeconds, type AppEnv } from '../context';
import { authenticateAccessToken } from '../../issuance/grants';
import { PATHS } from '../../paths';
import { requestHeader } from '../headers';
import { describeRoute, doc } from '../openapi';

/**
 * Notification Endpoint (OID4VCI 1.0 §11): with the access token of the grant, a wallet reports
 * what became of the credentials behind a `notification_id` (credential_accepted, _failure,
 * _deleted). The event is stored and logged (ids and event only); repeats are idempotent;
 * success is 204 (§11.2).
 */
export const notificationRoutes = new Hono<AppEnv>();

// §11.1: event_description is ASCII %x20-21 / %x23-5B / %x5D-7E (no `"` and no `\`).
export const NotificationWire = z.object({
  notification_id: z.string().min(1).max(200),
  event: z.enum(['credential_accepted', 'credential_failure', 'credential_deleted']),
  event_description: z
    .string()
    .max(500)
    .regex(/^[\x20\x21\x23-\x5B\x5D-\x7E]*$/)
    .optional(),
});

notificationRoutes.post(
  PATHS.notification,
  describeRoute({
    summary: 'Notification Endpoint (OID4VCI 1.0 §11)',
    tags: ['wallet'],
    security: 'bearer',
    body: NotificationWire,
    responses: {
      204: { description: 'Recorded' },
      400: doc.error('invalid_notification_request, invalid_notification_id'),
      401: doc.error('Missing or invalid access token'),
    },
  }),
);
notificationRoutes.post(PATHS.notification, async (c) => {
  const deps = c.get('deps');
  c.header('Cache-Control', 'no-store');
  const grant = await authenticateAccessToken(deps, requestHeader(c, 'authorization'));
  let body: Record<string, unknown>;
  try {
    body = await readJsonObject(c);
  } catch (e) {
    // An oversized body is the transport's 413 (also chunked, with no declared length), not a malformed notification.
    if (e instanceof PayloadTooLarge) throw e;
    throw new InvalidNotificationRequest('body must be a JSON object');
  }
  const parsed = NotificationWire.safeParse(body);
  if (!parsed.success) {
    if (typeof body.notification_id !== 'string' || !body.notification_id) throw new InvalidNotificationRequest('notification_id is required');
    const field = parsed.error.issues[0]?.path.join('.') || 'body';
    throw new InvalidNotificationRequest(`invalid notification request: ${field}`);
  }
  const { notification_id: id, event, event_description: description } = parsed.data;
  const recorded = await deps.store.notifications.recordEvent(id, grant.applicationId, { event, description }, nowSeconds(deps));
  if (!recorded) throw new InvalidNotificationId('notification_id is unknown');
  deps.logger.info('credential_notification', {
    requestId: c.get('requestId'),
    applicationId: grant.applicationId,
    credentialId: recorded.credentialId,
    event,
  });
  return c.body(null, 204);
});
