import { Hono } from 'hono';
import { NotFound } from '../../protocol/errors';
import { STATUS_PURPOSES, type StatusPurpose } from '../../protocol/statusList';
import { statusListCredential } from '../../issuance/credentialStatus';
import type { AppEnv } from '../context';
import { PATHS } from '../../paths';
import { describeRoute, doc } from '../openapi';

/**
 * Status list credentials (W3C Bitstring Status List v1.0 §2.2), signed by the PFI as
 * jwt_vc_json and served publicly with a cache lifetime (§6.2: caching; relying parties may
 * fetch it from a CDN, which also hides which credential they check).
 */
export const statusListRoutes = new Hono<AppEnv>();

statusListRoutes.get(
  PATHS.statusList,
  describeRoute({
    summary: 'Bitstring Status List credential',
    tags: ['metadata'],
    responses: { 200: { description: 'Signed status list credential', mediaType: 'application/vc+jwt' }, 404: doc.error('No such status list') },
  }),
);
statusListRoutes.get(PATHS.statusList, async (c) => {
  const deps = c.get('deps');
  const listId = Number(c.req.param('listId'));
  const purpose = c.req.param('purpose');
  if (!Number.isSafeInteger(listId) || listId < 1 || !(STATUS_PURPOSES as readonly string[]).includes(purpose)) {
    throw new NotFound('no such status list');
  }
  const jwt = await statusListCredential(deps, listId, purpose as StatusPurpose);
  if (!jwt) throw new NotFound('no such status list');
  return c.body(jwt, 200, {
    'Content-Type': 'application/vc+jwt',
    'Cache-Control': `public, max-age=${deps.config.statusList.cacheSeconds}`,
    'Access-Control-Allow-Origin': '*',
  });
});
