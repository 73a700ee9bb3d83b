import type { SpanAttributes, SpanContext } from '../ports/tracing';

/**
 * OpenTelemetry traces exported over OTLP/HTTP (JSON) to a collector, on Node only, loaded only
 * when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: the SDK is
 * imported here, dynamically, and nowhere else (the Workers bundle never sees it). No global
 * provider or context manager is registered: src/runtime/tracing.ts keeps the active span in its
 * own AsyncLocalStorage and hands each span its parent.
 */
export interface OtelSettings {
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces` (OTLP exporter spec). */
  tracesUrl: string;
  /** OTEL_SERVICE_NAME. */
  serviceName: string;
  /** OTEL_EXPORTER_OTLP_HEADERS: e.g. the collector's API key. */
  headers: Record<string, string>;
}

/** One started span, in the terms src/runtime/tracing.ts uses. */
export interface OtelSpan {
  readonly context: SpanContext;
  setAttributes(attributes: SpanAttributes): void;
  updateName(name: string): void;
  /** Marks the span failed (status ERROR) with a short reason: never a message that could carry PII. */
  fail(reason: string): void;
  end(): void;
}

export interface OtelTracer {
  startSpan(name: string, kind: 'server' | 'client' | 'internal', attributes: SpanAttributes, parent: SpanContext | undefined): OtelSpan;
  /** Exports what is buffered and stops (at shutdown). */
  shutdown(): Promise<void>;
}

/** How long shutdown waits for the last spans to be exported. */
const SHUTDOWN_EXPORT_MS = 2000;

/** The traces URL of the standard OTLP settings (the signal path appended to the base endpoint only). */
export function otlpTracesUrl(endpoint: string | undefined, tracesEndpoint: string | undefined): string | undefined {
  if (tracesEndpoint) return tracesEndpoint;
  if (!endpoint) return undefined;
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

/** Starts the SDK: a tracer whose spans are batched and exported to the collector. */
export async function startOtelTracer(settings: OtelSettings, version: string): Promise<OtelTracer> {
  const [api, sdk, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const provider = new sdk.BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName, 'service.version': version }),
    spanProcessors: [new sdk.BatchSpanProcessor(new OTLPTraceExporter({ url: settings.tracesUrl, headers: settings.headers }))],
  });
  const tracer = provider.getTracer('kcc-issuer', version);
  const kinds = { server: api.SpanKind.SERVER, client: api.SpanKind.CLIENT, internal: api.SpanKind.INTERNAL };
  return {
    startSpan(name, kind, attributes, parent) {
      const parentContext = parent
        ? api.trace.setSpanContext(api.ROOT_CONTEXT, {
            traceId: parent.traceId,
            spanId: parent.spanId,
            traceFlags: parent.sampled ? api.TraceFlags.SAMPLED : api.TraceFlags.NONE,
            isRemote: true,
          })
        : api.ROOT_CONTEXT;
      const span = tracer.startSpan(name, { kind: kinds[kind], attributes }, parentContext);
      const ids = span.spanContext();
      return {
        context: { traceId: ids.traceId, spanId: ids.spanId, sampled: (ids.traceFlags & api.TraceFlags.SAMPLED) === api.TraceFlags.SAMPLED },
        setAttributes: (a) => span.setAttributes(a),
        updateName: (n) => span.updateName(n),
        fail: (reason) => span.setStatus({ code: api.SpanStatusCode.ERROR, message: reason }),
        end: () => span.end(),
      };
    },
    // Bounded: an unreachable collector must not hold up the process's exit (the exporter retries).
    shutdown: () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, fail) => {
        timer = setTimeout(() => fail(new Error(`the collector did not take the last spans within ${SHUTDOWN_EXPORT_MS} ms`)), SHUTDOWN_EXPORT_MS);
      });
      return Promise.race([provider.shutdown(), late]).finally(() => clearTimeout(timer));
    },
  };
}
