import { Hono } from 'hono';
import { PATHS } from '../../paths';
import type { AppEnv } from '../context';
import { buildOpenApiDocument } from '../openapi';

/** The OpenAPI 3.1 description of this issuer's HTTP API (src/http/openapi.ts). */
export const openApiRoutes = new Hono<AppEnv>();

openApiRoutes.get(PATHS.openapi, (c) =>
  c.json(buildOpenApiDocument(c.get('deps').config), 200, { 'Cache-Control': 'public, max-age=300', 'Access-Control-Allow-Origin': '*' }),
);
