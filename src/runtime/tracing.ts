import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { formatTraceparent, parseTraceparent, type SpanContext, type SpanOptions, type Tracing } from '../ports/tracing';
import type { OtelSpan, OtelTracer } from './otel';

/**
 * Trace context on Node (src/ports/tracing.ts). The active span of the work at hand lives in an
 * AsyncLocalStorage, so the outbound calls a request makes (IDV vendors, the bank's OpenID
 * provider, DID resolution, other issuers' status lists) carry its `traceparent` without every
 * layer passing it along.
 * - Without a collector: a request that came with a valid `traceparent` is given a span id of
 *   its own in that trace (W3C Trace Context §3.2.2.3: a participant forwards its own parent-id),
 *   which its outbound calls carry; a request without one is not traced, at no cost.
 * - With a collector (./otel.ts): a server span per request (the caller's trace continued, or a
 *   new one), a span per store call and per outbound call, exported over OTLP.
 */
export function nodeTracing(otel?: OtelTracer): Tracing {
  const active = new AsyncLocalStorage<SpanContext>();
  const spanId = () => randomBytes(8).toString('hex');
  const current = () => active.getStore();

  return {
    async serve(request, handle, done) {
      const caller = parseTraceparent(request.traceparent);
      if (!otel) {
        if (!caller) return handle();
        return active.run({ traceId: caller.traceId, spanId: spanId(), sampled: caller.sampled }, handle);
      }
      const span = otel.startSpan(request.method, 'server', { 'http.request.method': request.method }, caller);
      try {
        return await active.run(span.context, handle);
      } finally {
        const { route, status } = done();
        span.updateName(`${request.method} ${route}`);
        span.setAttributes({ 'http.route': route, 'http.response.status_code': status });
        if (status >= 500) span.fail(`HTTP ${status}`);
        span.end();
      }
    },
    traceId: () => current()?.traceId,
    traceparent() {
      const ctx = current();
      return ctx ? formatTraceparent(ctx) : undefined;
    },
    async span(name, options: SpanOptions, work) {
      if (!otel) {
        const parent = parseTraceparent(options.parent);
        // Nothing to record; a given parent (a webhook queued by a traced request) is still carried.
        return parent ? active.run({ ...parent, spanId: spanId() }, work) : work();
      }
      const span: OtelSpan = otel.startSpan(name, options.kind ?? 'internal', options.attributes ?? {}, parseTraceparent(options.parent) ?? current());
      try {
        return await active.run(span.context, work);
      } catch (e) {
        span.fail((e as Error)?.name ?? 'Error');
        throw e;
      } finally {
        span.end();
      }
    },
  };
}

/**
 * An outbound fetch that carries the trace: a client span (with a collector) and the
 * `traceparent` header of the active span, unless the caller set one (then it is the parent).
 * Attributes name the method, host and status, never the URL's path or query (they can hold ids).
 */
export function tracedFetch<F extends (input: string | URL | Request, init?: RequestInit) => Promise<Response>>(fetch: F, tracing: Tracing | undefined): F {
  if (!tracing) return fetch;
  const traced = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const url = new URL(input instanceof Request ? input.url : String(input));
    const given = headers.get('traceparent') ?? undefined;
    return tracing.span(
      method,
      { kind: 'client', parent: given, attributes: { 'http.request.method': method, 'server.address': url.hostname, 'url.scheme': url.protocol.slice(0, -1) } },
      async () => {
        const traceparent = tracing.traceparent();
        if (!traceparent) return fetch(input, init);
        headers.set('traceparent', traceparent);
        return input instanceof Request && !init ? fetch(new Request(input, { headers })) : fetch(input, { ...init, headers });
      },
    );
  };
  return traced as F;
}

/**
 * The store with a span per repository call (`store applications.create`): each call is one
 * store transaction (a statement, a batch, a group-committed write). Only with a collector: the
 * wrapper is not free, and without one there is nothing to record.
 */
export function tracedStore<S extends object>(store: S, tracing: Tracing, system: 'sqlite' | 'postgresql'): S {
  const wrapped: Record<string, unknown> = {};
  for (const [name, repository] of Object.entries(store)) {
    if (typeof repository !== 'object' || repository === null) {
      wrapped[name] = repository;
      continue;
    }
    const methods = new Map<PropertyKey, unknown>();
    wrapped[name] = new Proxy(repository, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        let method = methods.get(prop);
        if (!method) {
          const operation = `${name}.${String(prop)}`;
          const attributes = { 'db.system.name': system, 'db.operation.name': operation };
          method = (...args: unknown[]) => tracing.span(`store ${operation}`, { attributes }, async () => value.apply(target, args));
          methods.set(prop, method);
        }
        return method;
      },
    });
  }
  return wrapped as S;
}
