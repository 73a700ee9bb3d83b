import { Hono } from 'hono';
import { sdJwtVcSettingsOf } from '../../issuance/credentialConfigurations';
import { tokenStatusListJwt, type TokenStatusListCache } from '../../issuance/credentialStatus';
import { PATHS, issuerUrls } from '../../paths';
import { NotFound } from '../../protocol/errors';
import { buildJwtVcIssuerMetadata, buildKccTypeMetadata } from '../../protocol/sdJwtVc/metadata';
import { STATUS_LIST_JWT_MEDIA_TYPE } from '../../protocol/tokenStatusList';
import type { AppDeps, AppEnv } from '../context';
import { describeRoute, doc } from '../openapi';
import { JwtVcIssuerMetadata } from '../apiBodies';
import { z } from 'zod';

/**
 * What wallets and relying parties fetch about SD-JWT VC KCCs: the JWT VC Issuer Metadata (the
 * keys for an https `iss`), the Type Metadata of the default `vct`, and the IETF Token Status
 * Lists (§8.1: `application/statuslist+jwt`). Public documents: CORS and a cache lifetime, like
 * the Bitstring lists (src/http/routes/statusList.ts).
 */
const PUBLIC_HEADERS = { 'Cache-Control': 'public, max-age=300', 'Access-Control-Allow-Origin': '*' };

export function jwtVcIssuerMetadata(deps: AppDeps) {
  return buildJwtVcIssuerMetadata({ issuer: issuerUrls(deps.config.publicUrl).credentialIssuer, keys: deps.issuer.publishedKeys });
}

/** GET of the JWT VC Issuer Metadata (also mounted at the host's well-known when PUBLIC_URL has a path). */
export const jwtVcIssuerMetadataResponse = (deps: AppDeps): Response =>
  new Response(JSON.stringify(jwtVcIssuerMetadata(deps)), { headers: { 'Content-Type': 'application/json', ...PUBLIC_HEADERS } });

/** The routes over one app's Token Status List cache (created with the app, like the discovery documents). */
export function sdJwtVcRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const tokenStatusLists: TokenStatusListCache = new Map();

  routes.get(
    PATHS.jwtVcIssuerMetadata,
    describeRoute({
      summary: 'JWT VC Issuer Metadata: the keys that sign SD-JWT VC KCCs',
      tags: ['metadata'],
      responses: { 200: doc.json('JWT VC Issuer Metadata', JwtVcIssuerMetadata) },
    }),
  );
  routes.get(PATHS.jwtVcIssuerMetadata, (c) => jwtVcIssuerMetadataResponse(c.get('deps')));

  routes.get(
    PATHS.kccTypeMetadata,
    describeRoute({
      summary: 'SD-JWT VC Type Metadata of the KCC vct',
      tags: ['metadata'],
      responses: { 200: doc.json('Type Metadata', z.looseObject({ vct: z.string(), claims: z.array(z.looseObject({ path: z.array(z.string()) })) })) },
    }),
  );
  routes.get(PATHS.kccTypeMetadata, (c) => {
    const deps = c.get('deps');
    const settings = sdJwtVcSettingsOf(deps.config);
    return c.json(buildKccTypeMetadata({ vct: settings.vct }), 200, PUBLIC_HEADERS);
  });

  routes.get(
    PATHS.tokenStatusList,
    describeRoute({
      summary: 'IETF Token Status List of the SD-JWT VC KCCs (same status as the Bitstring lists)',
      tags: ['metadata'],
      responses: { 200: { description: 'Status List Token', mediaType: 'application/statuslist+jwt' }, 404: doc.error('No such status list') },
    }),
  );
  routes.get(PATHS.tokenStatusList, async (c) => {
    const deps = c.get('deps');
    const listId = Number(c.req.param('listId'));
    if (!Number.isSafeInteger(listId) || listId < 1) throw new NotFound('no such status list');
    const jwt = await tokenStatusListJwt(deps, listId, tokenStatusLists);
    if (!jwt) throw new NotFound('no such status list');
    return c.body(jwt, 200, {
      'Content-Type': STATUS_LIST_JWT_MEDIA_TYPE,
      'Cache-Control': `public, max-age=${deps.config.statusList.cacheSeconds}`,
      'Access-Control-Allow-Origin': '*',
    });
  });
  return routes;
}
