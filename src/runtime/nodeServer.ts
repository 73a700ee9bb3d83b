import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { join } from 'node:path';
import { SETTING_DEFAULTS, readSettings, type IssuerConfigInput, type IssuerDidMethod, type Settings } from '../config';
import type { KeyCustody } from '../crypto/keyCustody';
import type { JwsAlgorithm } from '../crypto/keys';
import { jsonLogger, type IssuerIdentity, type Logger } from '../http/context';
import type { IdvDeps } from '../idv/deps';
import { buildIssuer, type IssuerKey } from '../issuer';
import { createSqliteStats } from '../store/sqlite';
import { ensureDataDir } from './dataDir';
import { listenError } from './listenError';
import { startBackgroundJobs } from './dispatcher';
import { idvDepsFromEnv } from './idvNode';
import { checkMetricsToken, nodeMetrics } from './metrics';
import { readIncomingBody } from './nodeBody';
import { createNodeCryptoProvider } from './nodeCrypto';
import { nodeDidMethods, nodePresentedFetch, nodeStatusListFetch, startDidDhtPublishing } from './nodeDid';
import { nodeExchange } from './nodeExchange';
import { loadKeyFile, reloadKeyFile } from './nodeKeys';
import { pkcs11IssuerKeys, type Pkcs11Custody } from './pkcs11Signer';
import { openPostgres } from './postgres';
import { openSqlite } from './sqlite';
import packageJson from '../../package.json';
import { startOtelTracer, type OtelSettings } from './otel';
import { nodeTracing, tracedFetch, tracedStore } from './tracing';

/**
 * The Node server: database, keys, the app on @hono/node-server, background jobs, and shutdown.
 * Its options come from the settings table through src/runtime/nodeSettings.ts (`npm start`)
 * or directly from code (tests); every default is the table's (src/config/settings.ts).
 */
export type HttpTimeouts = Settings['server']['httpTimeouts'];

/** node:http server options for these timeouts. */
export function httpServerOptions(input: Partial<HttpTimeouts> = {}) {
  const t = { ...SETTING_DEFAULTS.server.httpTimeouts, ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) };
  for (const [name, value] of Object.entries(t))
    if (!(Number.isInteger(value) && value > 0)) throw new Error(`HTTP timeout ${name} must be a positive integer (ms)`);
  // Node's headers timeout must not exceed its request timeout; and it checks both only every
  // connectionsCheckingInterval (30 s by default), so check often enough to honour short ones.
  return {
    headersTimeout: Math.min(t.headersMs, t.requestMs),
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(Math.min(t.headersMs, t.requestMs) / 2))),
  };
}

/** How a Node issuer is started; each option's environment variable and default are in src/config/settings.ts. */
export interface NodeIssuerOptions {
  /** PORT; 0 for any free one. */
  port?: number;
  /** HOST. */
  hostname?: string;
  /** DATA_DIR: the SQLite database, the key file and the generated PII key. */
  dataDir: string;
  config?: Partial<IssuerConfigInput>;
  /** PRESENTED_CREDENTIAL_TRUST(_FILE): credentials people already hold, accepted as IDV input (docs/credentials-as-input.md). */
  presentedCredentialTrust?: unknown;
  /** ISSUER_KEY_ALG: of a key generated on first start. */
  keyAlg?: JwsAlgorithm;
  /** Configured keys (ISSUER_PRIVATE_JWK); unset: the key file. */
  keys?: IssuerKey[];
  /** ISSUER_KEYS_FILE (default DATA_DIR/issuer-keys.json). */
  keysFile?: string;
  /**
   * Holds keys kept as references (an HSM over PKCS#11, ISSUER_PKCS11_*; docs/hsm.md): new keys of
   * the key file are generated in it. The caller closes it after `close()`.
   */
  keyCustody?: KeyCustody | Pkcs11Custody;
  /** ISSUER_PKCS11_KEY_LABEL: the signing keys are these labels in `keyCustody` (no key file), with the did:dht identity key if any. */
  pkcs11Keys?: { labels: string[]; didDhtIdentity?: IssuerKey };
  logger?: Logger;
  clock?: () => number;
  /** SQLITE_SYNCHRONOUS. */
  synchronous?: 'NORMAL' | 'FULL';
  /** DID_WEB_ALLOW_INSECURE: did:web resolution over http and to loopback/private addresses: local development and tests only. */
  didWebAllowInsecure?: boolean;
  /** DID_DHT_GATEWAY: Pkarr relay for did:dht resolution and for publishing a did:dht issuer DID. */
  didDhtGateway?: string;
  /** TRUST_PROXY: behind a reverse proxy, take the client address from the last X-Forwarded-For hop. */
  trustProxy?: boolean;
  /** HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS, HTTP_KEEP_ALIVE_TIMEOUT_MS (slow-client protection). */
  httpTimeouts?: Partial<HttpTimeouts>;
  /** ISSUER_DID_METHOD. */
  didMethod?: IssuerDidMethod;
  /** did:dht: republish the packet this often (ms; 0 disables). DHT records expire. */
  didDhtRepublishMs?: number;
  /** fetch used to PUT the did:dht packet to the gateway (operator-configured, so not the SSRF-safe one). */
  publishFetch?: typeof fetch;
  /** IDV vendors, PII vault, outbound webhooks (default: from `idvEnv`, PII key file in DATA_DIR). */
  idv?: IdvDeps;
  /** Environment for the IDV settings when `idv` is not given (default: none, i.e. hosted form only). */
  idvEnv?: Record<string, string | undefined>;
  /** WEBHOOK_DISPATCH_INTERVAL_MS: background jobs period in ms; 0 disables. */
  backgroundIntervalMs?: number;
  /** METRICS_TOKEN, METRICS_PORT, METRICS_HOST: Prometheus metrics (src/runtime/metrics.ts), off unless a token or a port is set. */
  metrics?: { token?: string; port?: number; hostname?: string };
  /**
   * DATABASE_URL: PostgreSQL (postgres://…) shared by any number of instances instead of SQLite in
   * `dataDir`. Needs `keys` and a configured PII key (`idv`, or PII_DATA_KEY in `idvEnv`): every
   * instance must sign and seal with the same keys, so none may come from a per-instance file.
   */
  databaseUrl?: string;
  /** DATABASE_POOL_SIZE: PostgreSQL connections per instance. */
  databasePoolSize?: number;
  /** DATABASE_CONNECT_TIMEOUT_SECONDS and DATABASE_STATEMENT_TIMEOUT_SECONDS (the latter SQLite's busy wait too). */
  databaseTimeouts?: { connectSeconds: number; statementSeconds: number };
  /** SHUTDOWN_DRAIN_MS, SHUTDOWN_TIMEOUT_MS: how `close()` stops (default for code: no drain delay). */
  shutdown?: Partial<ShutdownOptions>;
  /** OTEL_EXPORTER_OTLP_*, OTEL_SERVICE_NAME: OpenTelemetry spans exported to a collector (./otel.ts); unset: none, no SDK loaded. */
  otel?: OtelSettings;
  /** TRACE_CONTEXT_PROPAGATION: pass an incoming `traceparent` on without a collector too (always with one). */
  traceContext?: boolean;
}

/** With DATABASE_URL, what every instance must share comes from configuration: refuse otherwise. */
export function checkSharedConfiguration(options: {
  keys?: IssuerKey[];
  pkcs11Keys?: NodeIssuerOptions['pkcs11Keys'];
  idv?: IdvDeps;
  idvEnv?: Record<string, string | undefined>;
}): void {
  if (!options.keys && !options.pkcs11Keys) {
    throw new Error('DATABASE_URL is set: ISSUER_PRIVATE_JWK is required (every instance must sign with the same keys; a per-instance key file is not used)');
  }
  if (!options.idv && !readSettings(options.idvEnv ?? {}).idvVendors.piiDataKey) {
    throw new Error('DATABASE_URL is set: PII_DATA_KEY is required (every instance must open the PII the others sealed; a per-instance key file is not used)');
  }
}

/** The client's address: the socket peer, or the hop our own proxy appended to X-Forwarded-For. */
export function nodeClientAddress(trustProxy: boolean) {
  return (c: Context): string | undefined => {
    if (trustProxy) {
      const hops = (c.req.header('x-forwarded-for') ?? '')
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean);
      if (hops.length > 0) return hops[hops.length - 1];
    }
    try {
      return getConnInfo(c).remote.address;
    } catch {
      return undefined;
    }
  };
}

/** Opens the database the options name: PostgreSQL (databaseUrl) or SQLite in dataDir. */
async function openDatabase(options: NodeIssuerOptions) {
  if (options.databaseUrl) {
    const pg = await openPostgres(options.databaseUrl, {
      poolSize: options.databasePoolSize,
      connectTimeoutSeconds: options.databaseTimeouts?.connectSeconds,
      statementTimeoutSeconds: options.databaseTimeouts?.statementSeconds,
    });
    return {
      store: pg.store,
      stats: pg.stats,
      sqlite: undefined,
      postgres: pg.client,
      exclusive: pg.runExclusive,
      close: (withinMs?: number) => pg.close(withinMs === undefined ? undefined : withinMs / 1000),
    };
  }
  const database = openSqlite(join(options.dataDir, 'kcc-issuer.db'), {
    synchronous: options.synchronous,
    backgroundCheckpoints: true,
    busyTimeoutMs: (options.databaseTimeouts?.statementSeconds ?? SETTING_DEFAULTS.storage.databaseStatementTimeoutSeconds) * 1000,
  });
  return {
    db: database.db,
    store: database.store,
    stats: createSqliteStats(database.db),
    sqlite: database.sqlite,
    postgres: undefined,
    exclusive: undefined,
    // Local: the open group commit is committed whatever the bound (its writes were acknowledged to no one yet).
    close: (_withinMs?: number) => database.close(),
  };
}

/** How the server stops (SHUTDOWN_DRAIN_MS, SHUTDOWN_TIMEOUT_MS). */
export interface ShutdownOptions {
  /** How long /readyz answers 503 while the listener still accepts, so load balancers notice first (ms). */
  drainMs: number;
  /** How long requests in flight may take to complete once the listener stops accepting (ms); then their connections are cut. */
  timeoutMs: number;
}

/** Listens before the app exists (the port may be 0, and PUBLIC_URL defaults to the bound port); `serveApp` installs it. */
async function listen(options: NodeIssuerOptions) {
  let appFetch: (req: Request, env: unknown) => Response | Promise<Response> = () => new Response('starting', { status: 503 });
  let server: ServerType | undefined;
  const requested = options.port ?? SETTING_DEFAULTS.server.port;
  const hostname = options.hostname ?? SETTING_DEFAULTS.server.host;
  const port = await new Promise<number>((ok, fail) => {
    server = serve(
      {
        fetch: (req, env) => appFetch(req, env),
        port: requested,
        hostname,
        serverOptions: httpServerOptions(options.httpTimeouts),
      },
      (info) => ok(info.port),
    );
    // A port in use is one line naming PORT, not Node's stack trace.
    server.once('error', (e) => fail(listenError('PORT', requested, hostname, e)));
    // A client that half-closes after its request (FIN once the body is sent) still gets its
    // answer: by default Node ends such a socket on the FIN, dropping a response that waits on
    // the database (a group commit, PostgreSQL).
    (server as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  });
  type HttpServer = { close(cb: () => void): void; closeIdleConnections(): void; closeAllConnections(): void };
  return {
    port,
    serveApp: (fetch: typeof appFetch) => {
      appFetch = fetch;
    },
    /**
     * Stops accepting connections and lets the requests in flight complete, a request whose body
     * is still arriving included: idle keep-alive connections are closed as they become idle
     * (which also ends each busy one right after its response). After `timeoutMs` whatever is
     * left is cut. Resolves with whether the timeout had to cut connections.
     */
    close: (timeoutMs: number) =>
      new Promise<boolean>((ok) => {
        const http = server as unknown as HttpServer | undefined;
        if (!http) return ok(false);
        let timedOut = false;
        const idle = setInterval(() => http.closeIdleConnections(), 50);
        const deadline = setTimeout(() => {
          timedOut = true;
          http.closeAllConnections();
        }, timeoutMs);
        http.close(() => {
          clearInterval(idle);
          clearTimeout(deadline);
          ok(timedOut);
        });
        http.closeIdleConnections();
      }),
  };
}

async function startNode(options: NodeIssuerOptions) {
  checkMetricsToken(options.metrics?.token);
  if (options.databaseUrl) checkSharedConfiguration(options);
  else ensureDataDir(options.dataDir);
  const crypto = createNodeCryptoProvider();
  const didMethod = options.didMethod ?? options.config?.didMethod ?? SETTING_DEFAULTS.issuer.didMethod;
  const keyAlg = options.keyAlg ?? SETTING_DEFAULTS.keys.alg;
  const keysFile = options.keysFile ?? join(options.dataDir, 'issuer-keys.json');
  const custody = options.keyCustody;
  const configured = options.keys ?? (options.pkcs11Keys && custody ? await labelledKeys(custody, options.pkcs11Keys) : undefined);
  const sdJwtVcSigningAlg = options.config?.sdJwtVc?.signingAlg;
  let keys = configured ?? (await loadKeyFile(keysFile, crypto, keyAlg, didMethod, custody, sdJwtVcSigningAlg));
  const database = await openDatabase(options);
  const server = await listen(options);
  const publicUrl = options.config?.publicUrl ?? `http://localhost:${server.port}`;
  const logger = options.logger ?? jsonLogger();
  const clock = options.clock ?? Date.now;
  // Spans only with a collector; the trace context with one, or when asked for: its
  // AsyncLocalStorage is not free on Node 20 (docs/operations.md "Tracing").
  const otel = options.otel ? await startOtelTracer(options.otel, packageJson.version) : undefined;
  const tracing = otel || options.traceContext ? nodeTracing(otel) : undefined;
  const outboundFetch = tracedFetch((input: string | URL | Request, init?: RequestInit) => globalThis.fetch(input, init), tracing);
  let outboundWebhooks = () => true;
  const metrics = nodeMetrics(options.metrics, { stats: database.stats, clock: options.clock, logger, outboundWebhooks: () => outboundWebhooks() });
  const issuer = await buildIssuer({
    config: { ...options.config, publicUrl, didMethod },
    db: database.db,
    store: otel && tracing ? tracedStore(database.store, tracing, database.postgres ? 'postgresql' : 'sqlite') : database.store,
    stats: database.stats,
    crypto,
    keys,
    clock: options.clock,
    logger,
    didMethods: nodeDidMethods(options, tracing),
    clientAddress: nodeClientAddress(options.trustProxy ?? SETTING_DEFAULTS.server.trustProxy),
    idv: options.idv ?? (await idvDepsFromEnv(options.idvEnv ?? {}, join(options.dataDir, 'pii-data-key'), outboundFetch)),
    existingCustomer: readSettings(options.idvEnv ?? {}, 'node').existingCustomer,
    operatorSso: readSettings(options.idvEnv ?? {}, 'node').operatorSso,
    existingCustomerFetch: outboundFetch,
    statusListFetch: nodeStatusListFetch(options, tracing),
    presentedCredentialTrust: options.presentedCredentialTrust,
    presentedFetch: nodePresentedFetch(options, tracing),
    readRequestBody: readIncomingBody,
    exchange: nodeExchange,
    metrics: metrics?.metrics,
    keyCustody: custody,
    tracing,
  });
  outboundWebhooks = () => Boolean(issuer.deps.config.idv.outboundWebhookUrl);
  let draining = false;
  issuer.deps.draining = () => draining;
  server.serveApp((req, env) => issuer.app.fetch(req, env));
  const metricsListener = await metrics?.listen();
  const didDht =
    didMethod === 'dht'
      ? await startDidDhtPublishing({
          current: () => ({ keys, identity: issuer.deps.issuer }),
          crypto,
          gatewayUrl: options.didDhtGateway,
          republishMs: options.didDhtRepublishMs,
          fetch: options.publishFetch,
          clock,
          logger,
        })
      : undefined;
  const interval = options.backgroundIntervalMs ?? SETTING_DEFAULTS.jobs.intervalMs;
  const jobs = interval > 0 ? startBackgroundJobs(issuer.deps, { intervalMs: interval, exclusive: database.exclusive }) : undefined;
  return {
    ...issuer,
    url: publicUrl,
    port: server.port,
    /** The SQLite connection (unset on PostgreSQL). */
    sqlite: database.sqlite,
    /** The separate metrics listener's URL (METRICS_PORT), if any. */
    metricsUrl: metricsListener?.url,
    /** The PostgreSQL pool (DATABASE_URL; unset on SQLite). */
    postgres: database.postgres,
    /** did:dht only: whether the packet was accepted by the gateway at start. */
    didDhtPublished: didDht?.published,
    /** Republishes the did:dht packet now (no-op for other methods). */
    republishDidDht: () => didDht?.publish() ?? Promise.resolve(false),
    /**
     * Re-reads the key file (after `npm run keys -- rotate`/`retire`): the newest key signs
     * from now on, the DID document lists the current keys, and did:dht is republished.
     */
    async reloadKeys(): Promise<IssuerIdentity> {
      if (configured) throw new Error('keys were configured directly (ISSUER_PRIVATE_JWK or ISSUER_PKCS11_KEY_LABEL); there is no key file to reload');
      const identity = await reloadKeyFile({
        file: keysFile,
        crypto,
        alg: keyAlg,
        didMethod,
        publicUrl,
        custody,
        sdJwtVcSigningAlg,
        logger,
        apply: (next, nextIdentity) => {
          keys = next;
          issuer.deps.issuer = nextIdentity;
        },
      });
      await didDht?.publish();
      return identity;
    },
    jobs,
    /**
     * Stops gracefully: /readyz answers 503 at once; after the drain delay the listener stops
     * accepting and the requests in flight complete (bounded by the timeout); then the timers,
     * the background jobs (the run in flight finishes), the metrics listener and the database
     * (SQLite: the open group commit is committed; PostgreSQL: the pool ends). Resolves once all
     * is closed; `timedOut`: the timeout cut requests still in flight.
     */
    async close(override: Partial<ShutdownOptions> = {}): Promise<{ timedOut: boolean }> {
      const { drainMs, timeoutMs } = { drainMs: 0, timeoutMs: SETTING_DEFAULTS.server.shutdown.timeoutMs, ...options.shutdown, ...override };
      draining = true;
      if (drainMs > 0) await new Promise((ok) => setTimeout(ok, drainMs));
      // One bound for everything after the drain: requests in flight, the job run in flight and
      // the database's end share `timeoutMs`, so an unreachable database (a job or a pool waiting
      // on connect_timeout) never holds the exit longer than SHUTDOWN_TIMEOUT_MS.
      const deadline = Date.now() + timeoutMs;
      const remainingMs = () => Math.max(0, deadline - Date.now());
      didDht?.stop();
      const requestsCut = await server.close(timeoutMs);
      const jobsStopped = await settlesWithin(jobs?.stop(), remainingMs());
      await metricsListener?.close();
      // PostgreSQL: the pool's end destroys what is left once the bound is spent (still a cut).
      const databaseClosed = (await settlesWithin(database.close(remainingMs()), remainingMs() + 100)) && (options.databaseUrl ? remainingMs() > 0 : true);
      // The spans of the last requests, exported before the process exits (the exporter's own bound: src/runtime/otel.ts).
      await otel?.shutdown().catch((e) => logger.warn('otel_shutdown_failed', { message: String((e as Error)?.message ?? e) }));
      return { timedOut: requestsCut || !jobsStopped || !databaseClosed };
    },
  };
}

/** ISSUER_PKCS11_KEY_LABEL: the token's keys by label (the first signs), with the did:dht identity key if any. */
async function labelledKeys(custody: KeyCustody, input: NonNullable<NodeIssuerOptions['pkcs11Keys']>): Promise<IssuerKey[]> {
  return [...(await pkcs11IssuerKeys(custody, input.labels)), ...(input.didDhtIdentity ? [input.didDhtIdentity] : [])];
}

type StartedNodeIssuer = Awaited<ReturnType<typeof startNode>>;

/**
 * Starts the issuer on Node: HTTP server, database (SQLite in dataDir, or PostgreSQL with
 * databaseUrl), keys, background jobs. On SQLite `sqlite` is the open connection.
 */
export function startNodeIssuer(
  options: NodeIssuerOptions & { databaseUrl?: undefined },
): Promise<Omit<StartedNodeIssuer, 'sqlite'> & { sqlite: NonNullable<StartedNodeIssuer['sqlite']> }>;
export function startNodeIssuer(options: NodeIssuerOptions): Promise<StartedNodeIssuer>;
export function startNodeIssuer(options: NodeIssuerOptions): Promise<StartedNodeIssuer> {
  return startNode(options);
}

/** Whether `work` settles within `ms` (its failure counts as settled: shutdown goes on either way). */
async function settlesWithin(work: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (!work) return true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = work.then(
    () => true,
    () => true,
  );
  const late = new Promise<boolean>((ok) => (timer = setTimeout(() => ok(false), ms)));
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
