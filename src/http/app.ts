import { Hono } from 'hono';
import type { z } from 'zod';
import { didWebDocumentPath } from '../did/pfi';
import { PayloadTooLarge } from '../protocol/errors';
import type { AppDeps, AppEnv } from './context';
import { AuthorizationServerMetadata, CredentialIssuerMetadata, DidDocument, JwtVcIssuerMetadata } from './apiBodies';
import { describeRoute, doc } from './openapi';
import { bodyLimitFor } from './body';
import { handleError, notFound } from './errors';
import { requestHeader } from './headers';
import { PATHS, basePathOf } from '../paths';
import { parseTraceparent } from '../ports/tracing';
import { adminRoutes } from './routes/admin';
import { credentialRoutes } from './routes/credential';
import { deferredRoutes } from './routes/deferred';
import { idvFormRoutes } from './routes/idvForm';
import { idvCallbackRoutes } from './routes/idvCallback';
import { idvWebhookRoutes } from './routes/idvWebhook';
import { consoleRoutes } from './routes/console';
import {
  authorizationServerMetadataResponse,
  createDiscoveryDocuments,
  credentialIssuerMetadataResponse,
  didDocumentResponse,
  metadataRoutes,
} from './routes/metadata';
import { kycStatusRoutes } from './routes/kycStatus';
import { kyaRoutes } from './routes/kya';
import { nonceRoutes } from './routes/nonce';
import { notificationRoutes } from './routes/notification';
import { openApiRoutes } from './routes/openapi';
import { opsRoutes } from './routes/ops';
import { siopRoutes } from './routes/siop';
import { presentationDefinitionRoutes } from './routes/presentationDefinitions';
import { statusListRoutes } from './routes/statusList';
import { jwtVcIssuerMetadataResponse, sdJwtVcRoutes } from './routes/sdJwtVc';
import { tokenRoutes } from './routes/token';

/**
 * The issuer as one Hono app, runtime-agnostic: Node (src/runtime/node.ts) and Workers
 * (src/runtime/worker.ts) build `deps` and call this. Tests call `app.request()`.
 */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const base = basePathOf(deps.config.publicUrl);

  const hsts = deps.config.publicUrl.startsWith('https:');
  // Absent unless the runtime turned metrics on (Node with METRICS_TOKEN or METRICS_PORT).
  const metrics = deps.metrics;
  const exchange = deps.exchange;
  // Trace context (W3C traceparent; OpenTelemetry spans on Node with a collector): registered
  // only where the runtime traces, so it costs nothing elsewhere.
  const tracing = deps.tracing;
  // (Before the middleware that sets `deps`: the header is read through `exchange` directly.)
  if (tracing)
    app.use('*', (c, next) => {
      const traceparent = exchange ? exchange.header(c, 'traceparent') : c.req.header('traceparent');
      return tracing.serve({ method: c.req.method, traceparent }, next, () => ({ route: c.req.routePath, status: c.res.status }));
    });
  app.use('*', async (c, next) => {
    c.set('deps', deps);
    const presentedId = requestHeader(c, 'x-request-id');
    const requestId = presentedId?.slice(0, 64).replace(/[^\w.-]/g, '') || crypto.randomUUID();
    c.set('requestId', requestId);
    const started = Date.now();
    const startedPrecise = metrics ? performance.now() : 0;
    // Every response's own headers. Through the runtime when it can (on Node, set on the
    // ServerResponse: the handler's Response and its headers are then never materialized as
    // web Headers just to add three); else on the finished response in place (`c.header()`
    // after the handler would copy the response, turning a string body into a stream).
    const common: Record<string, string> = hsts
      ? { 'X-Request-Id': requestId, 'X-Content-Type-Options': 'nosniff', 'Strict-Transport-Security': 'max-age=31536000' }
      : { 'X-Request-Id': requestId, 'X-Content-Type-Options': 'nosniff' };
    const setByRuntime = exchange?.setHeaders(c, common) ?? false;
    await next();
    if (!setByRuntime) {
      const headers = c.res.headers;
      for (const name in common) headers.set(name, common[name]);
    }
    // Log the route pattern, never the raw path: the IDV form URL carries a secret token.
    const traceId = tracing ? tracing.traceId() : traceIdOf(requestHeader(c, 'traceparent'));
    deps.logger.info('request', {
      requestId: c.get('requestId'),
      ...(traceId ? { traceId } : {}),
      method: c.req.method,
      route: c.req.routePath,
      status: c.res.status,
      ms: Date.now() - started,
    });
    // By route pattern, like the log line: the raw path of the IDV form holds its secret token.
    if (metrics) metrics.observeRequest(c.req.method, c.req.routePath, c.res.status, (performance.now() - startedPrecise) / 1000);
  });
  // A declared body over the limit is refused before routing; bodies without a length
  // (chunked) are capped as they are read (readRequestBody in ./body.ts).
  app.use('*', async (c, next) => {
    const length = requestHeader(c, 'content-length');
    if (length !== undefined && Number(length) > bodyLimitFor(c)) throw new PayloadTooLarge('request body is too large');
    await next();
  });

  const documents = createDiscoveryDocuments();
  const api = new Hono<AppEnv>();
  api.route('/', metadataRoutes(documents));
  api.route('/', siopRoutes);
  api.route('/', idvFormRoutes);
  api.route('/', tokenRoutes);
  api.route('/', credentialRoutes);
  api.route('/', deferredRoutes);
  api.route('/', nonceRoutes);
  api.route('/', notificationRoutes);
  api.route('/', presentationDefinitionRoutes);
  api.route('/', statusListRoutes);
  api.route('/', sdJwtVcRoutes());
  api.route(PATHS.admin, adminRoutes);
  api.route('/', idvWebhookRoutes);
  api.route('/', idvCallbackRoutes);
  api.route(PATHS.console, consoleRoutes);
  api.route('/', kycStatusRoutes);
  api.route('/', kyaRoutes);
  api.route('/', opsRoutes);
  api.route(
    '/',
    openApiRoutes(() => app.routes),
  );

  // did:web document: /.well-known/did.json, or <path>/did.json when PUBLIC_URL has a path.
  app.get(
    didWebDocumentPath(deps.config.publicUrl),
    describeRoute({
      summary: 'did:web document of the PFI',
      tags: ['metadata'],
      responses: { 200: { description: 'DID document', json: DidDocument, mediaType: 'application/did+json' }, 404: doc.error('Not a did:web issuer') },
    }),
  );
  app.get(didWebDocumentPath(deps.config.publicUrl), (c) => didDocumentResponse(documents(c.get('deps'))));
  if (base) {
    // RFC 8414 §3.1 / OID4VCI 1.0 §12.2.2: well-known inserted between host and path.
    const hostWellKnown = (summary: string, schema: z.ZodType) =>
      describeRoute({ summary: `${summary}, at the host's well-known location`, tags: ['metadata'], responses: { 200: doc.json('Metadata', schema) } });
    app.get(`${PATHS.credentialIssuerMetadata}${base}`, hostWellKnown('OID4VCI Credential Issuer Metadata', CredentialIssuerMetadata));
    app.get(`${PATHS.authorizationServerMetadata}${base}`, hostWellKnown('RFC 8414 Authorization Server Metadata', AuthorizationServerMetadata));
    app.get(`${PATHS.jwtVcIssuerMetadata}${base}`, hostWellKnown('JWT VC Issuer Metadata', JwtVcIssuerMetadata));
    app.get(`${PATHS.credentialIssuerMetadata}${base}`, (c) => credentialIssuerMetadataResponse(documents(c.get('deps'))));
    app.get(`${PATHS.authorizationServerMetadata}${base}`, (c) => authorizationServerMetadataResponse(documents(c.get('deps'))));
    // SD-JWT VC §5: the same insertion for the JWT VC Issuer Metadata of an `iss` with a path.
    app.get(`${PATHS.jwtVcIssuerMetadata}${base}`, (c) => jwtVcIssuerMetadataResponse(c.get('deps')));
  }
  app.route(base || '/', api);

  app.notFound(notFound);
  app.onError(handleError);
  return app;
}

/**
 * The trace id of a W3C Trace Context `traceparent` header (version 00: `00-<32 hex>-<16 hex>-<2 hex>`,
 * neither id all zeros), so the request's log line joins the caller's trace; anything else is ignored.
 */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return parseTraceparent(traceparent)?.traceId;
}
