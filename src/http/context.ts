import type { IssuerConfig } from '../config';
import type { CryptoProvider, PublicJwk, Signer } from '../crypto/keys';
import type { DidResolver } from '../did/resolver';
import type { PublishedKey } from '../did/pfi';
import type { DIDDocument } from '../did/types';
import type { Context } from 'hono';
import type { Store } from '../store/store';
import type { StatsQueries } from '../store/stats';
import type { RateLimiter } from './rateLimit';
import type { IdvDeps } from '../idv/deps';

/** Structured log lines. Callers pass no PII and no secrets: ids, codes and counts only. */
export interface Logger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

/** The PFI as an issuer: its DID, the key that signs now, and every key still published. */
export interface IssuerIdentity {
  did: string;
  signer: Signer;
  publishedKeys: PublishedKey[];
  /** kid → public key, for verifying our own access tokens. */
  keysByKid: ReadonlyMap<string, PublicJwk>;
  didDocument: DIDDocument;
}

/** Everything a request handler needs; built once per process (Node) or isolate (Workers). */
export interface AppDeps {
  config: IssuerConfig;
  store: Store;
  crypto: CryptoProvider;
  issuer: IssuerIdentity;
  resolver: DidResolver;
  /** Milliseconds since the epoch. */
  clock: () => number;
  logger: Logger;
  rateLimiter: RateLimiter;
  /** The client's IP address as the runtime sees it (socket, or a trusted proxy header). */
  clientAddress?: (c: Context) => string | undefined;
  /** Identity verification: providers, the PII vault, outbound webhook signing (src/idv/deps.ts). */
  idv: IdvDeps;
  /** Counting queries of /readyz and the business metrics (src/store/stats.ts). */
  stats: StatsQueries;
  /** Prometheus metrics (Node: src/runtime/metrics.ts). Absent (the default, and on Workers): no request metrics, no /metrics. */
  metrics?: RequestMetrics;
  /**
   * Fetches another issuer's status list credential (a JWT) when a presented credential
   * names one; our own lists are built locally. Absent: such credentials are refused (fail closed).
   */
  statusListFetch?: (url: string) => Promise<string>;
  /**
   * Reads the request body (at most `limit` bytes, else throws `tooLarge()`) more cheaply than
   * the web Request can; returns undefined to fall back to `c.req.raw.body`. Node sets it.
   */
  readRequestBody?: (c: Context, limit: number, tooLarge: () => Error) => Promise<Uint8Array> | undefined;
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
}

/** Read variables with `c.get('deps')`: Hono's `c.var` copies every variable into a new object on each access. */
export type AppEnv = {
  Variables: {
    deps: AppDeps;
    requestId: string;
  };
};

export function nowSeconds(deps: AppDeps): number {
  return Math.floor(deps.clock() / 1000);
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

export function jsonLogger(write: (line: string) => void = (l) => console.log(l)): Logger {
  const log = (level: string) => (event: string, fields?: Record<string, unknown>) =>
    write(JSON.stringify({ time: new Date().toISOString(), level, event, ...fields }));
  return { info: log('info'), warn: log('warn'), error: log('error') };
}
