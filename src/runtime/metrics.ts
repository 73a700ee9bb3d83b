import { listenError } from './listenError';
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { MIN_ADMIN_TOKEN_LENGTH, SETTING_DEFAULTS } from '../config';
import type { Logger, RequestMetrics } from '../http/context';
import { PATHS } from '../paths';
import type { StatsQueries } from '../store/stats';

/**
 * Prometheus metrics on Node (prom-client), one Registry per issuer (never prom-client's global
 * default registry, so two issuers in one process, as in the tests, never share counters):
 *
 * - request counts and latency histograms per route pattern (`c.req.routePath`, never the raw
 *   path: the IDV form URL carries a secret token), method and status;
 * - business figures read from the database at scrape time (src/store/stats.ts), so they are
 *   right whichever instance is scraped: applications by status, IDV decisions by provider and
 *   outcome, the manual-review queue, credentials issued / revoked / suspended, webhook
 *   deliveries and failures, the outbox backlog. They are gauges: a count from the database is a
 *   level, not something this process incremented;
 * - prom-client's default process metrics (CPU, memory, event-loop lag, GC).
 *
 * Served at /metrics behind METRICS_TOKEN on the main port, or without auth on a separate
 * loopback METRICS_PORT (startMetricsListener). Not on Workers: prom-client needs Node.
 */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * METRICS_TOKEN is a bearer secret like ADMIN_TOKEN and the KYC keys, and held to the same floor
 * (32 characters: 192 bits as base64url), so /metrics on the main port is no easier to guess.
 */
export function checkMetricsToken(token: string | undefined): void {
  if (token !== undefined && token.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new TypeError(`METRICS_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (e.g. openssl rand -base64 32)`);
  }
}

export function createNodeMetrics(options: {
  stats?: StatsQueries;
  token?: string;
  clock?: () => number;
  logger?: Logger;
  processMetrics?: boolean;
  /**
   * Whether outbound webhooks are on (PFI_WEBHOOK_URL). Off, nothing delivers the outbox, so its
   * backlog is not a backlog: both gauges stay 0 instead of growing into a false alert.
   */
  outboundWebhooks?: () => boolean;
}) {
  checkMetricsToken(options.token);
  const registry = new Registry();
  const clock = options.clock ?? Date.now;
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'kcc_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'kcc_http_request_duration_seconds',
    help: 'Time from the request reaching the app to its response, by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const operatorAuthFailures = new Counter({
    name: 'kcc_operator_auth_failures_total',
    help: 'Failed operator sign-ins (console, operator API); over_global="true": past the global failure count, an attack on the operator credentials.',
    labelNames: ['via', 'over_global'] as const,
    registers: [registry],
  });
  // Children bound once per label set: a Map lookup per request instead of prom-client's label hashing.
  const counterChildren = new Map<string, { inc(): void }>();
  const durationChildren = new Map<string, { observe(v: number): void }>();

  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });
  const g = {
    up: gauge('kcc_database_up', '1 when the last scrape read the business figures from the database, 0 when it failed.'),
    applications: gauge('kcc_applications', 'KCC applications by status (pending, review, approved, rejected).', ['status']),
    idvDecisions: gauge('kcc_idv_decisions', 'IDV sessions that reached an outcome, by provider and outcome.', ['provider', 'outcome']),
    reviewQueue: gauge('kcc_manual_review_queue', 'Applications awaiting an operator decision.'),
    issued: gauge('kcc_credentials_issued', 'Credentials issued.'),
    revoked: gauge('kcc_credentials_revoked', 'Credentials revoked.'),
    suspended: gauge('kcc_credentials_suspended', 'Credentials suspended now (and not revoked).'),
    deliveries: gauge('kcc_webhook_deliveries', 'Outbound webhook delivery attempts, by result (succeeded: a 2xx answer).', ['result']),
    eventsFailed: gauge('kcc_webhook_events_failed', 'Outbound webhook events whose retries are exhausted.'),
    backlog: gauge('kcc_outbox_backlog', 'Outbound webhook events not delivered yet and still being retried.'),
    backlogAge: gauge('kcc_outbox_oldest_pending_age_seconds', 'Age of the oldest event in the outbox backlog (0 when empty).'),
  };

  async function readBusinessFigures() {
    let s: Awaited<ReturnType<StatsQueries['snapshot']>>;
    try {
      if (!options.stats) return;
      s = await options.stats.snapshot();
    } catch (e) {
      g.up.set(0);
      options.logger?.error('metrics_stats_failed', { message: e instanceof Error ? e.message : String(e) });
      return;
    }
    g.up.set(1);
    g.applications.reset();
    for (const [status, n] of Object.entries(s.applicationsByStatus)) g.applications.set({ status }, n);
    g.idvDecisions.reset();
    for (const d of s.idvDecisions) g.idvDecisions.set({ provider: d.provider, outcome: d.outcome }, d.count);
    g.reviewQueue.set(s.manualReviewQueue);
    g.issued.set(s.credentialsIssued);
    g.revoked.set(s.credentialsRevoked);
    g.suspended.set(s.credentialsSuspended);
    g.deliveries.set({ result: 'succeeded' }, s.webhookDeliveries.succeeded);
    g.deliveries.set({ result: 'failed' }, s.webhookDeliveries.failed);
    g.eventsFailed.set(s.webhookEventsFailed);
    const delivering = options.outboundWebhooks?.() ?? true;
    g.backlog.set(delivering ? s.outboxBacklog : 0);
    g.backlogAge.set(!delivering || s.outboxOldestCreatedAt === undefined ? 0 : Math.max(0, Math.floor(clock() / 1000) - s.outboxOldestCreatedAt));
  }

  const metrics: RequestMetrics & { registry: Registry } = {
    registry,
    token: options.token,
    observeRequest(method, route, status, seconds) {
      const m = METHODS.has(method) ? method : 'OTHER';
      const key = `${m} ${status} ${route}`;
      let c = counterChildren.get(key);
      if (!c) {
        c = requests.labels(m, route, String(status));
        counterChildren.set(key, c);
      }
      c.inc();
      const dkey = `${m} ${route}`;
      let d = durationChildren.get(dkey);
      if (!d) {
        d = duration.labels(m, route);
        durationChildren.set(dkey, d);
      }
      d.observe(seconds);
    },
    operatorAuthFailure(via, overGlobal) {
      operatorAuthFailures.inc({ via, over_global: String(overGlobal) });
    },
    async scrape() {
      await readBusinessFigures();
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
  return metrics;
}

/**
 * /metrics without auth on its own listener (METRICS_PORT), bound to loopback by default so that
 * only this host (a Prometheus agent or sidecar beside the issuer) can reach it.
 */
export async function startMetricsListener(
  metrics: RequestMetrics,
  options: { port: number; hostname?: string },
): Promise<{ port: number; url: string; close(): Promise<void> }> {
  const hostname = options.hostname ?? SETTING_DEFAULTS.metrics.host;
  let server: ServerType | undefined;
  const port = await new Promise<number>((ok, fail) => {
    server = serve(
      {
        port: options.port,
        hostname,
        fetch: async (req) => {
          const path = new URL(req.url).pathname;
          if (path !== PATHS.metrics || (req.method !== 'GET' && req.method !== 'HEAD')) {
            return Response.json({ error: 'not_found', error_description: 'only GET /metrics is served on this port' }, { status: 404 });
          }
          const { contentType, body } = await metrics.scrape();
          return new Response(body, { headers: { 'Content-Type': contentType, 'Cache-Control': 'no-store' } });
        },
      },
      (info: AddressInfo) => ok(info.port),
    );
    server.once('error', (e) => fail(listenError('METRICS_PORT', options.port, hostname, e)));
  });
  const host = hostname.includes(':') ? `[${hostname}]` : hostname;
  return {
    port,
    url: `http://${host}:${port}${PATHS.metrics}`,
    close: () =>
      new Promise<void>((ok) => {
        if (!server) return ok();
        server.close(() => ok());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

/** What the Node options ask of metrics (METRICS_TOKEN, METRICS_PORT, METRICS_HOST): off unless a token or a port is given. */
export interface NodeMetricsOptions {
  token?: string;
  port?: number;
  hostname?: string;
}

/**
 * The Node issuer's metrics: the registry (before the app is built, which counts requests into
 * it) and, with a port, the separate listener (`listen`, once the app is up). Undefined when off.
 */
export function nodeMetrics(
  options: NodeMetricsOptions | undefined,
  input: { stats?: StatsQueries; clock?: () => number; logger?: Logger; outboundWebhooks?: () => boolean },
) {
  if (!options || (!options.token && options.port === undefined)) return undefined;
  const metrics = createNodeMetrics({ ...input, token: options.token });
  const port = options.port;
  return {
    metrics,
    listen: () => (port === undefined ? Promise.resolve(undefined) : startMetricsListener(metrics, { port, hostname: options.hostname })),
  };
}
