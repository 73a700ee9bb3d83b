/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) for requests and the calls they make:
 * the runtime continues an incoming `traceparent`, and every outbound call made on the request's
 * behalf carries one. Node implements it (src/runtime/tracing.ts, with OpenTelemetry spans when a
 * collector is configured); absent (Workers, tests): nothing is traced or propagated.
 */

/** The ids of one span as `traceparent` carries them (version 00). */
export interface SpanContext {
  /** 32 lowercase hex digits, not all zeros. */
  traceId: string;
  /** 16 lowercase hex digits, not all zeros. */
  spanId: string;
  /** The `sampled` trace flag. */
  sampled: boolean;
}

/** A `traceparent` header value (version 00, §3.2), else undefined: anything malformed is ignored, never an error. */
export function parseTraceparent(value: string | null | undefined): SpanContext | undefined {
  const m = value ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value.trim()) : null;
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return undefined;
  return { traceId: m[1], spanId: m[2], sampled: (Number.parseInt(m[3], 16) & 1) === 1 };
}

/** The `traceparent` header value of a span. */
export function formatTraceparent(span: SpanContext): string {
  return `00-${span.traceId}-${span.spanId}-${span.sampled ? '01' : '00'}`;
}

export type SpanAttributes = Record<string, string | number | boolean>;

export interface SpanOptions {
  kind?: 'internal' | 'client';
  attributes?: SpanAttributes;
  /** A `traceparent` to continue instead of the active span (a webhook delivered later for the request that queued it). */
  parent?: string;
}

/** What the app and the use cases need of tracing. */
export interface Tracing {
  /**
   * Handles one request under its trace: continues the caller's `traceparent` when valid. `done`
   * tells, once handled, the route pattern (never the raw path: the IDV form URL holds a secret
   * token) and the status, which name the server span.
   */
  serve<T>(request: { method: string; traceparent?: string }, handle: () => Promise<T>, done: () => { route: string; status: number }): Promise<T>;
  /** The trace id of the work at hand, if it is traced. */
  traceId(): string | undefined;
  /** The `traceparent` for a call leaving now, if the work at hand is traced. */
  traceparent(): string | undefined;
  /** Runs `work` as a child span of the active one (a span only where a collector is configured). */
  span<T>(name: string, options: SpanOptions, work: () => Promise<T>): Promise<T>;
}
