import type { MiddlewareHandler } from 'hono';
import type { RouterRoute } from 'hono/types';
import { z } from 'zod';
import type { IssuerConfig } from '../config';
import { basePathOf } from '../paths';
import { ErrorBody } from './apiBodies';

/**
 * The OpenAPI 3.1 description of the HTTP API, served at /openapi.json, generated from the routes
 * the app registered (Hono's `app.routes`): every GET and POST route is in it by construction. Each
 * route describes itself with a `describeRoute(…)` registered on the same method and path just
 * before its handler (the shape of hono-openapi's `describeRoute`, without its dependencies); a
 * route without one still appears, marked `x-undocumented`, which test/http/openapi.test.ts refuses.
 * Request bodies are the zod schemas the routes parse with; response bodies are in ./apiBodies.ts.
 * Converted with zod v4's `z.toJSONSchema` (JSON Schema 2020-12, the dialect of OpenAPI 3.1 §4.8.24).
 */

type Schema = z.ZodType;

/** One documented answer of an operation. */
export interface Answer {
  description: string;
  /** A JSON body; or another media type with no schema. */
  json?: Schema;
  mediaType?: string;
  /** Further media types of the same answer (string bodies), chosen by the request's Accept. */
  other?: string[];
}

/** What a route says about itself (OpenAPI Operation Object, in short). */
export interface Operation {
  summary: string;
  tags: string[];
  security?: 'bearer';
  /** Request body (JSON unless `form` adds application/x-www-form-urlencoded). */
  body?: Schema;
  form?: boolean;
  query?: Record<string, { description: string; required?: boolean }>;
  /** Request headers beyond Authorization. */
  headers?: Record<string, { description: string; required?: boolean }>;
  responses: Record<string, Answer>;
}

/** Shorthands for the answers routes describe. */
export const doc = {
  json: (description: string, schema: Schema): Answer => ({ description, json: schema }),
  error: (description: string): Answer => ({ description, json: ErrorBody }),
  html: (description: string): Answer => ({ description, mediaType: 'text/html' }),
  /** The hosted form answers browsers with pages and JSON clients with JSON (src/http/errors.ts wantsJsonResponse). */
  pageOrError: (description: string): Answer => ({ description, json: ErrorBody, other: ['text/html'] }),
  redirect: (description: string): Answer => ({ description }),
  /** The answers of the operator API's bearer check (src/http/routes/admin.ts). */
  operatorAuth: {
    401: { description: 'Missing or wrong operator token', json: ErrorBody },
    404: { description: 'Not found, or the operator API is disabled', json: ErrorBody },
  } satisfies Record<string, Answer>,
};

const OPERATION = Symbol('openapi operation');
/** Hono keeps a sub-app's handler here when `route()` wraps it (hono/utils/constants COMPOSED_HANDLER). */
const COMPOSED_HANDLER = '__COMPOSED_HANDLER';
type Described = MiddlewareHandler & { [OPERATION]?: Operation; [COMPOSED_HANDLER]?: Described };

/**
 * The description of one route, registered on its method and path before its handler:
 * `routes.get(PATH, describeRoute({ … }))`. At request time it only passes on.
 */
export function describeRoute(operation: Operation): MiddlewareHandler {
  const passOn: Described = (_c, next) => next();
  passOn[OPERATION] = operation;
  return passOn;
}

function operationOf(handler: unknown): Operation | undefined {
  const h = handler as Described;
  return h[OPERATION] ?? h[COMPOSED_HANDLER]?.[OPERATION];
}

const toJson = (schema: Schema, io: 'input' | 'output') => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

/** `/a/:id` and `/a/:id{[0-9]+}` (Hono) → `/a/{id}` (OpenAPI). */
export function openApiPath(path: string): string {
  return path.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}');
}

const UNDOCUMENTED: Operation = {
  summary: 'Undocumented route: it has no describeRoute',
  tags: [],
  responses: { default: { description: 'Not described' } },
};

function operationObject(path: string, op: Operation): Record<string, unknown> {
  const parameters = [
    ...[...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } })),
    ...Object.entries(op.query ?? {}).map(([name, q]) => ({
      name,
      in: 'query',
      required: q.required ?? false,
      description: q.description,
      schema: { type: 'string' },
    })),
    ...Object.entries(op.headers ?? {}).map(([name, h]) => ({
      name,
      in: 'header',
      required: h.required ?? false,
      description: h.description,
      schema: { type: 'string' },
    })),
  ];
  const responses = Object.fromEntries(
    Object.entries(op.responses).map(([status, answer]) => {
      const media: Record<string, { schema: object }> = {};
      if (answer.json) media[answer.mediaType ?? 'application/json'] = { schema: toJson(answer.json, 'output') };
      else if (answer.mediaType) media[answer.mediaType] = { schema: { type: 'string' } };
      for (const type of answer.other ?? []) media[type] = { schema: { type: 'string' } };
      return [status, { description: answer.description, ...(Object.keys(media).length ? { content: media } : {}) }];
    }),
  );
  return {
    summary: op.summary,
    tags: op.tags,
    ...(op === UNDOCUMENTED ? { 'x-undocumented': true } : {}),
    ...(op.security ? { security: [{ bearer: [] }] } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(op.body
      ? {
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: toJson(op.body, 'input') },
              ...(op.form ? { 'application/x-www-form-urlencoded': { schema: toJson(op.body, 'input') } } : {}),
            },
          },
        }
      : {}),
    responses,
  };
}

/**
 * The document of the routes an app registered (`app.routes`). Paths are relative to PUBLIC_URL
 * (the document's server); the few the app serves outside its base path (the host's well-known
 * documents when PUBLIC_URL has a path) carry the origin as their own server. A path with and
 * without a trailing slash is one path.
 */
export function buildOpenApiDocument(routes: readonly RouterRoute[], config: Pick<IssuerConfig, 'publicUrl' | 'clientName'>): Record<string, unknown> {
  const base = basePathOf(config.publicUrl);
  const origin = new URL(config.publicUrl).origin;
  const operations = new Map<string, { outside: boolean; methods: Map<string, Operation | undefined> }>();
  for (const route of routes) {
    const method = route.method.toLowerCase();
    if ((method !== 'get' && method !== 'post') || route.path.includes('*')) continue;
    const full = route.path.replace(/\/+$/, '') || '/';
    const inside = full === base || full.startsWith(`${base}/`);
    const path = openApiPath(inside ? full.slice(base.length) || '/' : full);
    let item = operations.get(path);
    if (!item) {
      item = { outside: !inside, methods: new Map() };
      operations.set(path, item);
    }
    item.methods.set(method, item.methods.get(method) ?? operationOf(route.handler));
  }
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, { outside, methods }] of operations) {
    const item: Record<string, unknown> = outside ? { servers: [{ url: origin }] } : {};
    for (const [method, op] of methods) item[method] = operationObject(path, op ?? UNDOCUMENTED);
    paths[path] = item;
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: { title: `${config.clientName} — Known Customer Credential issuer`, version: '0.1.0' },
    servers: [{ url: config.publicUrl }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
