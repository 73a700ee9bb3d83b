import type { Context } from 'hono';
import type { IssuanceDeps } from '../issuance/deps';
import type { LiveOperatorSession } from '../issuance/operatorSessions';
import type { StatsQueries } from '../store/stats';
import type { RateLimiter } from './rateLimiter';

export type { Logger } from '../ports/logger';
export type { IssuerIdentity } from '../ports/issuerIdentity';
export { jsonLogger, silentLogger } from '../ports/logger';
export { nowSeconds } from '../ports/clock';

/** What a request handler needs: the lifecycle's ports plus what only HTTP uses. */
export interface AppDeps extends IssuanceDeps {
  rateLimiter: RateLimiter;
  /** The client's IP address as the runtime sees it (socket, or a trusted proxy header). */
  clientAddress?: (c: Context) => string | undefined;
  /** True once the runtime is shutting down (SIGTERM): /readyz answers 503 so load balancers stop sending traffic. */
  draining?: () => boolean;
  /** Counting queries of /readyz and the business metrics (src/store/stats.ts, SQLite and D1); absent on PostgreSQL. */
  stats?: StatsQueries;
  /** Prometheus metrics (Node: src/runtime/metrics.ts). Absent (the default, and on Workers): no request metrics, no /metrics. */
  metrics?: RequestMetrics;
  /**
   * Reads the request body (at most `limit` bytes, else throws `tooLarge()`) more cheaply than
   * the web Request can; returns undefined to fall back to `c.req.raw.body`. Node sets it.
   */
  readRequestBody?: (c: Context, limit: number, tooLarge: () => Error) => Promise<Uint8Array> | undefined;
  /**
   * The runtime's own view of the exchange, cheaper than the web Request/Response for what every
   * request needs (Node: the IncomingMessage's parsed headers, and `ServerResponse.setHeader`,
   * which Node merges into whatever the handler answers). Absent: the web objects are used;
   * `setHeaders` returns false (and `header` reads the web Request) where the runtime has no
   * objects of its own for this request (`app.request` in tests).
   */
  exchange?: {
    header(c: Context, name: string): string | undefined;
    setHeaders(c: Context, headers: Record<string, string>): boolean;
  };
}

/**
 * What the app needs of a metrics registry: a cheap per-request observation (by route pattern,
 * never the raw path: the IDV form URL carries a secret token) and the exposition for /metrics.
 */
export interface RequestMetrics {
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** The Prometheus text exposition, with the business metrics computed now. */
  scrape(): Promise<{ contentType: string; body: string }>;
  /** Bearer token for /metrics on the main port; undefined: /metrics is not served there (METRICS_PORT only). */
  token?: string;
  /** One failed operator sign-in (src/http/operatorAuth.ts); `overGlobal`: past the global failure count (alert on it). */
  operatorAuthFailure?(via: 'api' | 'console', overGlobal: boolean): void;
}

/** Read variables with `c.get('deps')`: Hono's `c.var` copies every variable into a new object on each access. */
export type AppEnv = {
  Variables: {
    deps: AppDeps;
    requestId: string;
    /** The review console's session, set by its middleware (src/http/routes/console.ts). */
    operatorSession: LiveOperatorSession;
  };
};
