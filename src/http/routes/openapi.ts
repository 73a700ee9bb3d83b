import { Hono } from 'hono';
import type { RouterRoute } from 'hono/types';
import { z } from 'zod';
import { PATHS } from '../../paths';
import type { AppEnv } from '../context';
import { buildOpenApiDocument, describeRoute, doc } from '../openapi';

/**
 * The OpenAPI 3.1 description of this issuer's HTTP API (src/http/openapi.ts), generated from the
 * app's own routes on the first request and kept: the routes and the config of an app never change.
 */
export function openApiRoutes(appRoutes: () => readonly RouterRoute[]): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  let document: string | undefined;
  routes.get(
    PATHS.openapi,
    describeRoute({ summary: 'This document', tags: ['ops'], responses: { 200: doc.json('OpenAPI 3.1', z.looseObject({ openapi: z.string() })) } }),
  );
  routes.get(PATHS.openapi, (c) => {
    document ??= JSON.stringify(buildOpenApiDocument(appRoutes(), c.get('deps').config));
    return c.body(document, 200, { 'Content-Type': 'application/json', 'Cache-Control': 'public, max-age=300', 'Access-Control-Allow-Origin': '*' });
  });
  return routes;
}
