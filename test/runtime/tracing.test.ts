import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/http/context';
import { formatTraceparent, parseTraceparent } from '../../src/ports/tracing';
import { startNodeIssuer } from '../../src/runtime/node';
import { nodeOptionsFromSettings } from '../../src/runtime/nodeSettings';
import { nodeTracing, tracedFetch } from '../../src/runtime/tracing';
import { WalletClient } from '../../src/wallet/client';
import { Holder } from '../../src/wallet/holder';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { startFakePersona } from '../helpers/fakePersona';
import { openApplication } from '../helpers/idvFlow';
import { makeIssuerKeys } from '../helpers/issuer';

/**
 * W3C Trace Context and OpenTelemetry on Node, against the real server process's wiring
 * (startNodeIssuer) and real loopback peers: an IDV vendor (Persona's API, test/helpers/fakePersona.ts)
 * that records the `traceparent` it is sent, and an OTLP/HTTP collector (a node:http server that
 * keeps the JSON the exporter posts).
 */
const API_KEY = 'persona_sandbox_key_tracing';
const SECRET = 'wbhsec_tracing_0123456789abcdef';
const CALLER = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', sampled: true };

/** An OTLP/HTTP receiver on loopback: every export request's JSON body and headers. */
async function startCollector() {
  const exports: { headers: IncomingHttpHeaders; body: OtlpExport }[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method === 'POST' && req.url === '/v1/traces' && req.headers['content-type']?.startsWith('application/json')) {
      exports.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    } else res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const spans = () =>
    exports.flatMap((e) =>
      e.body.resourceSpans.flatMap((r) =>
        r.scopeSpans.flatMap((s) =>
          s.spans.map((span) => ({
            ...span,
            service: r.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue,
            attr: (key: string) => {
              const v = span.attributes.find((a) => a.key === key)?.value;
              return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined);
            },
          })),
        ),
      ),
    );
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exports,
    spans,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
type OtlpValue = { stringValue?: string; intValue?: string | number };
type OtlpSpan = { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes: { key: string; value: OtlpValue }[] };
type OtlpExport = { resourceSpans: { resource: { attributes: { key: string; value: OtlpValue }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[] };

/** Persona as the IDV vendor, wired from the settings as `npm start` does (so its calls go through the runtime's fetch). */
function personaEnv(apiBase: string) {
  return {
    PERSONA_API_KEY: API_KEY,
    PERSONA_TEMPLATE_ID: 'itmpl_tracing',
    PERSONA_WEBHOOK_SECRETS: SECRET,
    PERSONA_API_BASE: apiBase,
    PII_DATA_KEY: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8',
  };
}

/** Opens an application and loads its form, which opens the vendor session (an outbound call) inside the request. */
async function loadForm(issuerUrl: string, headers: Record<string, string>) {
  const client = new WalletClient(await Holder.create(), (u, i) => fetch(u, i));
  const { idvRequest } = await openApplication(client, issuerUrl);
  const res = await fetch(idvRequest.url, { redirect: 'manual', headers });
  expect(res.status).toBe(303);
}

describe('traceparent on outbound calls, without a collector', () => {
  let dir: string;
  let persona: Awaited<ReturnType<typeof startFakePersona>>;
  let issuer: Awaited<ReturnType<typeof startNodeIssuer>>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kcc-trace-'));
    persona = await startFakePersona({ apiKey: API_KEY, secrets: [SECRET] });
    issuer = await startNodeIssuer({
      port: 0,
      dataDir: dir,
      keys: await makeIssuerKeys(),
      logger: silentLogger,
      backgroundIntervalMs: 0,
      config: { idv: { provider: 'persona' } },
      idvEnv: personaEnv(persona.apiBase),
      traceContext: nodeOptionsFromSettings({ DATA_DIR: dir, TRACE_CONTEXT_PROPAGATION: 'true' }).traceContext,
    });
  });
  afterAll(async () => {
    await issuer?.close();
    await persona?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("carries the request's trace id to the IDV vendor under a span id of its own; an untraced request sends none", async () => {
    await loadForm(issuer.url, { traceparent: formatTraceparent(CALLER) });
    const traced = persona.requests.filter((r) => r.method === 'POST');
    expect(traced.length).toBeGreaterThanOrEqual(2); // the inquiry, its one-time link
    for (const r of traced) {
      const sent = parseTraceparent(r.traceparent);
      expect(sent?.traceId).toBe(CALLER.traceId);
      expect(sent?.spanId).not.toBe(CALLER.spanId);
      expect(sent?.sampled).toBe(true);
    }
    // One span id for the whole request: both calls are made by the same participant.
    expect(new Set(traced.map((r) => r.traceparent)).size).toBe(1);

    const before = persona.requests.length;
    await loadForm(issuer.url, { traceparent: 'garbage' });
    expect(persona.requests.slice(before).length).toBeGreaterThan(0);
    expect(persona.requests.slice(before).filter((r) => r.traceparent !== undefined)).toEqual([]);
  });

  it('is off by default (TRACE_CONTEXT_PROPAGATION unset, no collector): nothing is passed on', async () => {
    expect(nodeOptionsFromSettings({ DATA_DIR: dir }).traceContext).toBe(false);
    const offDir = mkdtempSync(join(tmpdir(), 'kcc-trace-off-'));
    const quiet = await startNodeIssuer({
      port: 0,
      dataDir: offDir,
      keys: await makeIssuerKeys(),
      logger: silentLogger,
      backgroundIntervalMs: 0,
      config: { idv: { provider: 'persona' } },
      idvEnv: personaEnv(persona.apiBase),
    });
    try {
      const before = persona.requests.length;
      await loadForm(quiet.url, { traceparent: formatTraceparent(CALLER) });
      expect(persona.requests.slice(before).length).toBeGreaterThan(0);
      expect(persona.requests.slice(before).filter((r) => r.traceparent !== undefined)).toEqual([]);
    } finally {
      await quiet.close();
      rmSync(offDir, { recursive: true, force: true });
    }
  });
});

describe('traceparent on outbound webhooks (the outbox)', () => {
  it('delivers each event with the trace of the request that queued it, long after that request ended', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-trace-hook-'));
    // The PFI's webhook receiver on loopback: each delivery's event type and traceparent.
    const deliveries: { type: string; traceparent?: string }[] = [];
    const receiver = createServer((req, res) => {
      deliveries.push({ type: String(req.headers['kcc-event-type']), traceparent: req.headers.traceparent as string | undefined });
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((ok) => receiver.listen(0, '127.0.0.1', ok));
    const issuer = await startNodeIssuer({
      port: 0,
      dataDir: dir,
      keys: await makeIssuerKeys(),
      logger: silentLogger,
      backgroundIntervalMs: 50,
      traceContext: true,
      config: { idv: { outboundWebhookUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks` } },
      idvEnv: { PFI_WEBHOOK_SECRETS: 'pfi-webhook-secret-0123456789' },
    });
    try {
      // A wallet whose every request belongs to the caller's trace.
      const traced = (u: string | URL | Request, i?: RequestInit) => {
        const headers = new Headers(i?.headers);
        headers.set('traceparent', formatTraceparent(CALLER));
        return fetch(u, { ...i, headers });
      };
      const result = await applyForKcc(new WalletClient(await Holder.create(), traced), { issuer: issuer.url, identity: SAMPLE_IDENTITY });
      expect(result.deferred).toBe(false);
      const deadline = Date.now() + 5000;
      while (!deliveries.some((d) => d.type === 'credential.issued') && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 25));
      // Events queued alone (emitEvent) and in a use case's transaction (the IDV result, the issued credential).
      expect(deliveries.map((d) => d.type)).toEqual(expect.arrayContaining(['application.approved', 'credential.issued']));
      for (const d of deliveries) expect(parseTraceparent(d.traceparent)?.traceId).toBe(CALLER.traceId);
      const stored = await issuer.deps.store.outbox.list();
      expect(stored.every((e) => parseTraceparent(e.traceParent)?.traceId === CALLER.traceId)).toBe(true);
    } finally {
      await issuer.close();
      await new Promise<void>((ok) => receiver.close(() => ok()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('OpenTelemetry spans exported to an OTLP/HTTP collector', () => {
  let dir: string;
  let persona: Awaited<ReturnType<typeof startFakePersona>>;
  let collector: Awaited<ReturnType<typeof startCollector>>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kcc-otel-'));
    persona = await startFakePersona({ apiKey: API_KEY, secrets: [SECRET] });
    collector = await startCollector();
  });
  afterAll(async () => {
    await persona?.close();
    await collector?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exports a server span continuing the incoming traceparent, with store and outbound client spans under it', async () => {
    // As `npm start` reads them: the standard variable names.
    const fromEnv = nodeOptionsFromSettings({
      DATA_DIR: dir,
      OTEL_EXPORTER_OTLP_ENDPOINT: `${collector.endpoint}/`,
      OTEL_SERVICE_NAME: 'kcc-tracing-test',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-key=k%3Dsecret',
    });
    expect(fromEnv.otel).toEqual({ tracesUrl: `${collector.endpoint}/v1/traces`, serviceName: 'kcc-tracing-test', headers: { 'x-collector-key': 'k=secret' } });
    const issuer = await startNodeIssuer({
      port: 0,
      dataDir: dir,
      keys: await makeIssuerKeys(),
      logger: silentLogger,
      backgroundIntervalMs: 0,
      config: { idv: { provider: 'persona' } },
      idvEnv: personaEnv(persona.apiBase),
      otel: fromEnv.otel,
    });
    try {
      await loadForm(issuer.url, { traceparent: formatTraceparent(CALLER) });
    } finally {
      await issuer.close(); // flushes the batch to the collector
    }
    expect(collector.exports.length).toBeGreaterThan(0);
    expect(collector.exports[0].headers['x-collector-key']).toBe('k=secret');
    const spans = collector.spans();
    expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['kcc-tracing-test']));

    const server = spans.find((s) => s.name === 'GET /idv/form/:token');
    expect(server).toBeDefined();
    expect(server?.kind).toBe(2); // SPAN_KIND_SERVER
    expect(server?.traceId).toBe(CALLER.traceId);
    expect(server?.parentSpanId).toBe(CALLER.spanId);
    expect(server?.attr('http.route')).toBe('/idv/form/:token');
    expect(server?.attr('http.response.status_code')).toBe(303);

    const inTrace = spans.filter((s) => s.traceId === CALLER.traceId);
    const clients = inTrace.filter((s) => s.kind === 3); // SPAN_KIND_CLIENT
    expect(clients.map((s) => s.name)).toContain('POST');
    for (const c of clients) {
      expect(c.parentSpanId).toBe(server?.spanId);
      expect(c.attr('server.address')).toBe('127.0.0.1');
    }
    // The vendor got the client span's own context.
    const sent = persona.requests.filter((r) => r.method === 'POST').map((r) => parseTraceparent(r.traceparent));
    expect(sent.map((p) => p?.spanId).sort()).toEqual(clients.map((c) => c.spanId).sort());
    const store = inTrace.filter((s) => s.name.startsWith('store '));
    expect(store.length).toBeGreaterThan(0);
    expect(store.every((s) => s.attr('db.system.name') === 'sqlite')).toBe(true);

    // Requests of the same flow without a traceparent start traces of their own.
    const initiate = spans.find((s) => s.name === 'GET /idv/siopv2/initiate');
    expect(initiate?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(initiate?.traceId).not.toBe(CALLER.traceId);
    expect(initiate?.parentSpanId ?? '').toBe('');
  });
});

describe('trace context pieces', () => {
  it('tracedFetch keeps a traceparent its caller set (a webhook queued by an earlier request) and passes the rest through', async () => {
    const seen: (string | null)[] = [];
    const fetch = async (_input: string | URL | Request, init?: RequestInit) => {
      seen.push(new Headers(init?.headers).get('traceparent'));
      return new Response('ok');
    };
    const traced = tracedFetch(fetch, nodeTracing());
    const queued = formatTraceparent({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), sampled: true });
    await traced('http://127.0.0.1:9/hook', { method: 'POST', headers: { traceparent: queued } });
    await traced('http://127.0.0.1:9/hook');
    expect(parseTraceparent(seen[0])?.traceId).toBe('a'.repeat(32));
    expect(seen[1]).toBeNull();
  });

  it('the OpenTelemetry SDK is imported by src/runtime/otel.ts only, and there only dynamically (not loaded when off; never in the Workers bundle)', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : f.endsWith('.ts') ? [join(dir, f)] : []));
    const importing = files('src').filter((f) => /['"]@opentelemetry\//.test(readFileSync(f, 'utf8')));
    expect(importing).toEqual([join('src', 'runtime', 'otel.ts')]);
    const otel = readFileSync(join('src', 'runtime', 'otel.ts'), 'utf8');
    expect(otel).not.toMatch(/^import [^;]*from '@opentelemetry\//m);
    expect(otel).toMatch(/import\('@opentelemetry\/sdk-trace-base'\)/);
  });
});
