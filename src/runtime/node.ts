import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ISSUER_DID_METHODS, configFromSettings, configWarnings, tiersFromJson, type IssuerConfigInput, type IssuerDidMethod } from '../config';
import { algorithmForJwk, type CryptoProvider, type JwsAlgorithm, type PrivateJwk } from '../crypto/keys';
import { publishPfiDidDht } from '../did/pfi';
import { jsonLogger, silentLogger, type IssuerIdentity, type Logger } from '../http/context';
import { buildIssuer, createIssuerIdentity, didDhtIdentityKey, type IssuerKey } from '../issuer';
import { createDidDhtResolver } from '../did/dht';
import { createDidWebResolver } from '../did/web';
import { createNodeCryptoProvider } from './nodeCrypto';
import { createSafeFetch } from './safeFetch';
import { readIncomingBody } from './nodeBody';
import { nodeExchange } from './nodeExchange';
import { loadOrCreateKeys } from './keyFile';
import { openSqlite } from './sqlite';
import { openPostgres, parsePoolSize } from './postgres';
import { parseIssuerKeys } from '../crypto/issuerKeys';
import type { IdvDeps } from '../idv/deps';
import { startBackgroundJobs } from './dispatcher';
import { idvDepsFromEnv } from './idvNode';
import { createNodeMetrics, startMetricsListener } from './metrics';
import { createStatsQueries } from '../store/stats';

/**
 * The Node runtime: the only place (with src/runtime/*) that reads process.env or touches
 * node: modules. `npm start` runs this file.
 *
 * Environment (documented in the README):
 *   PORT (3000), PUBLIC_URL (http://localhost:$PORT), DATA_DIR (./data), ADMIN_TOKEN (unset:
 *   operator API off), ISSUER_PRIVATE_JWK (a configured signing key, JSON JWK), ISSUER_KEY_ALG
 *   (EdDSA | ES256K, for a generated key), ISSUER_KEYS_FILE (DATA_DIR/issuer-keys.json), SQLITE_SYNCHRONOUS (NORMAL | FULL), LOG_LEVEL (info | silent),
 *   DID_WEB_ALLOW_INSECURE (false), DID_DHT_GATEWAY (https://diddht.tbddev.org), TRUST_PROXY (false),
 *   RATE_LIMITS (on | off), RATE_LIMIT_PER_IP (300/min), RATE_LIMIT_PER_CLIENT (30/min),
 *   ISSUER_DID_METHOD (web | dht | jwk), ISSUER_DID_DHT_IDENTITY_JWK (did:dht with ISSUER_PRIVATE_JWK).
 *   SIGHUP reloads the key file (after `npm run keys -- rotate`). See docs/dids-and-keys.md.
 *   Identity verification (docs/idv.md): IDV_PROVIDER, PII_DATA_KEY, PII_RETENTION_DAYS, PERSONA_*, INCODE_*,
 *   IDV_GENERIC_CONFIG, IDV_GENERIC_SECRETS, PFI_WEBHOOK_URL, PFI_WEBHOOK_SECRETS, WEBHOOK_DISPATCH_INTERVAL_MS.
 *   KCC_TIERS_FILE (unset: one tier from the credential defaults; docs/tiers-and-status.md).
 *   HTTP_HEADERS_TIMEOUT_MS (10000), HTTP_REQUEST_TIMEOUT_MS (30000), HTTP_KEEP_ALIVE_TIMEOUT_MS (5000).
 *   METRICS_TOKEN (/metrics on the main port behind this bearer token), METRICS_PORT (/metrics
 *   without auth on a separate listener, METRICS_HOST 127.0.0.1); neither: metrics off.
 *   DATABASE_URL (postgres://…: PostgreSQL for many instances instead of SQLite in DATA_DIR; then
 *   ISSUER_PRIVATE_JWK and PII_DATA_KEY are required), DATABASE_POOL_SIZE (10). See docs/postgres.md.
 *   REVIEW_FOUR_EYES (false: approvals need a second operator; src/config.ts). Console accounts: `npm run operators`.
 */
export interface HttpTimeouts {
  headersMs: number;
  requestMs: number;
  keepAliveMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 };

/** node:http server options for these timeouts. */
export function httpServerOptions(input: Partial<HttpTimeouts> = {}) {
  const t = { ...DEFAULT_HTTP_TIMEOUTS, ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) };
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

export interface NodeIssuerOptions {
  port?: number;
  hostname?: string;
  dataDir: string;
  config?: Partial<IssuerConfigInput>;
  keyAlg?: JwsAlgorithm;
  keys?: IssuerKey[];
  keysFile?: string;
  logger?: Logger;
  clock?: () => number;
  synchronous?: 'NORMAL' | 'FULL';
  /** did:web resolution over http and to loopback/private addresses: local development and tests only. */
  didWebAllowInsecure?: boolean;
  /** Pkarr relay for did:dht resolution and for publishing a did:dht issuer DID (DID_DHT_GATEWAY). */
  didDhtGateway?: string;
  /** Behind a reverse proxy: take the client address from the last X-Forwarded-For hop (TRUST_PROXY). */
  trustProxy?: boolean;
  /**
   * HTTP server timeouts (slow-client protection; Node's own defaults allow 300 s per request):
   * `headersMs` to receive the request line and headers (HTTP_HEADERS_TIMEOUT_MS, 10 s),
   * `requestMs` to receive the whole request, body included (HTTP_REQUEST_TIMEOUT_MS, 30 s),
   * `keepAliveMs` an idle keep-alive connection stays open (HTTP_KEEP_ALIVE_TIMEOUT_MS, 5 s).
   */
  httpTimeouts?: Partial<HttpTimeouts>;
  /** The PFI's DID method (ISSUER_DID_METHOD); default web. */
  didMethod?: IssuerDidMethod;
  /** did:dht: republish the packet this often (ms; default 1 hour; 0 disables). DHT records expire. */
  didDhtRepublishMs?: number;
  /** fetch used to PUT the did:dht packet to the gateway (operator-configured, so not the SSRF-safe one). */
  publishFetch?: typeof fetch;
  /** IDV vendors, PII vault, outbound webhooks (default: from the environment given, key file in DATA_DIR). */
  idv?: IdvDeps;
  /** Environment for idvDepsFromEnv when `idv` is not given (default: none, i.e. hosted form only). */
  idvEnv?: Record<string, string | undefined>;
  /** Background jobs (outbound webhooks, PII retention) period in ms (WEBHOOK_DISPATCH_INTERVAL_MS, 5000); 0 disables. */
  backgroundIntervalMs?: number;
  /**
   * Prometheus metrics (src/runtime/metrics.ts), off unless one of these is set: `token`
   * (METRICS_TOKEN) serves /metrics on the main port to that bearer token; `port` (METRICS_PORT,
   * 0 for any free one) serves it without auth on a separate listener at `hostname` (METRICS_HOST,
   * default 127.0.0.1).
   */
  metrics?: { token?: string; port?: number; hostname?: string };
  /**
   * DATABASE_URL: PostgreSQL (postgres://…) shared by any number of instances instead of SQLite in
   * `dataDir`. Needs `keys` and a configured PII key (`idv`, or PII_DATA_KEY in `idvEnv`): every
   * instance must sign and seal with the same keys, so none may come from a per-instance file.
   */
  databaseUrl?: string;
  /** DATABASE_POOL_SIZE: PostgreSQL connections per instance (default 10). */
  databasePoolSize?: number;
}

/** With DATABASE_URL, what every instance must share comes from configuration: refuse otherwise. */
export function checkSharedConfiguration(options: { keys?: IssuerKey[]; idv?: IdvDeps; idvEnv?: Record<string, string | undefined> }): void {
  if (!options.keys) {
    throw new Error('DATABASE_URL is set: ISSUER_PRIVATE_JWK is required (every instance must sign with the same keys; a per-instance key file is not used)');
  }
  if (!options.idv && !options.idvEnv?.PII_DATA_KEY) {
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

export const DEFAULT_DID_DHT_GATEWAY = 'https://diddht.tbddev.org';

/**
 * Fetches other issuers' status list credentials (presented KCCs): SSRF-safe, https only
 * unless DID_WEB_ALLOW_INSECURE, at most 1 MiB.
 */
export function nodeStatusListFetch(options: { didWebAllowInsecure?: boolean }) {
  const insecure = options.didWebAllowInsecure ?? false;
  const safeFetch = createSafeFetch({ allowPrivate: insecure, allowHttp: insecure, timeoutMs: 5000, maxBytes: 1024 * 1024 });
  return async (url: string): Promise<string> => {
    if (!insecure && !url.startsWith('https://')) throw new Error('status list URL is not https');
    const res = await safeFetch(url, { headers: { accept: 'application/vc+jwt, application/jwt, text/plain' } });
    if (!res.ok) throw new Error(`status list: HTTP ${res.status}`);
    return (await res.text()).trim();
  };
}

/** did:web (SSRF-safe fetch: public addresses only unless allowed) and did:dht resolvers. */
export function nodeDidMethods(options: { didWebAllowInsecure?: boolean; didDhtGateway?: string }) {
  const insecure = options.didWebAllowInsecure ?? false;
  const safeFetch = createSafeFetch({ allowPrivate: insecure, allowHttp: insecure, timeoutMs: 5000, maxBytes: 64 * 1024 });
  const gatewayUrl = options.didDhtGateway ?? DEFAULT_DID_DHT_GATEWAY;
  // The gateway is operator configuration, not applicant input (an applicant picks only the
  // 52-character z-base-32 id): an http or loopback gateway the operator set is allowed.
  const gatewayIsLocal = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(\/|$)/.test(gatewayUrl);
  const gatewayFetch = gatewayIsLocal || insecure ? createSafeFetch({ allowPrivate: true, allowHttp: true, timeoutMs: 5000, maxBytes: 64 * 1024 }) : safeFetch;
  return {
    ...createDidWebResolver({ fetch: safeFetch, allowHttp: insecure, allowIpHosts: insecure }),
    ...createDidDhtResolver({ gatewayUrl, fetch: gatewayFetch }),
  };
}

/**
 * Publishes the issuer's did:dht document (signed by the identity key) to the gateway.
 * Returns false (and logs) on failure: the issuer keeps serving; the next republish retries.
 */
export async function publishIssuerDidDht(input: {
  keys: IssuerKey[];
  identity: IssuerIdentity;
  crypto: CryptoProvider;
  gatewayUrl: string;
  fetch: typeof fetch;
  now: number;
  logger: Logger;
}): Promise<boolean> {
  const identityKey = didDhtIdentityKey(input.keys);
  if (!identityKey) throw new Error('did:dht needs an identity key');
  try {
    const r = await publishPfiDidDht({
      document: input.identity.didDocument,
      identityPrivateJwk: identityKey.privateJwk,
      crypto: input.crypto,
      gatewayUrl: input.gatewayUrl,
      fetch: input.fetch,
      now: input.now,
    });
    input.logger.info('did_dht_published', { did: input.identity.did, seq: r.seq.toString(), bytes: r.bytes });
    return true;
  } catch (e) {
    input.logger.warn('did_dht_publish_failed', { did: input.identity.did, message: e instanceof Error ? e.message : String(e) });
    return false;
  }
}

/** Opens the database the options name: PostgreSQL (databaseUrl) or SQLite in dataDir. */
async function openDatabase(options: NodeIssuerOptions) {
  if (options.databaseUrl) {
    const pg = await openPostgres(options.databaseUrl, { poolSize: options.databasePoolSize });
    return { store: pg.store, sqlite: undefined, postgres: pg.client, exclusive: pg.runExclusive, close: () => pg.close() };
  }
  const database = openSqlite(join(options.dataDir, 'kcc-issuer.db'), { synchronous: options.synchronous, backgroundCheckpoints: true });
  return { db: database.db, store: database.store, sqlite: database.sqlite, postgres: undefined, exclusive: undefined, close: () => database.close() };
}

async function startNode(options: NodeIssuerOptions) {
  const port = options.port ?? 3000;
  const hostname = options.hostname ?? '127.0.0.1';
  if (options.databaseUrl) checkSharedConfiguration(options);
  else mkdirSync(options.dataDir, { recursive: true });
  const crypto = createNodeCryptoProvider();
  const didMethod = options.didMethod ?? options.config?.didMethod ?? 'web';
  const keysFile = options.keysFile ?? join(options.dataDir, 'issuer-keys.json');
  let keys = options.keys ?? (await loadOrCreateKeys(keysFile, crypto, options.keyAlg ?? 'EdDSA', { didDhtIdentity: didMethod === 'dht' }));
  const database = await openDatabase(options);
  const { sqlite } = database;
  let server: ServerType | undefined;
  const listening = new Promise<number>((ok) => {
    // The port may be 0 (tests): PUBLIC_URL is known only once listening, so build lazily.
    server = serve({ fetch: (req, env) => appFetch(req, env), port, hostname, serverOptions: httpServerOptions(options.httpTimeouts) }, (info) =>
      ok(info.port),
    );
    // A client that half-closes after its request (FIN once the body is sent) still gets its
    // answer: by default Node ends such a socket on the FIN, dropping a response that waits on
    // the database (a group commit, PostgreSQL).
    (server as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  });
  let appFetch: (req: Request, env: unknown) => Response | Promise<Response> = () => new Response('starting', { status: 503 });
  const actualPort = await listening;
  const publicUrl = options.config?.publicUrl ?? `http://localhost:${actualPort}`;
  const logger = options.logger ?? jsonLogger();
  const metricsOn = options.metrics && (options.metrics.token || options.metrics.port !== undefined);
  // The business figures are SQLite queries (src/store/stats.ts); on PostgreSQL only request metrics are kept.
  const metrics = metricsOn
    ? createNodeMetrics({ stats: database.db ? createStatsQueries(database.db) : undefined, token: options.metrics?.token, clock: options.clock, logger })
    : undefined;
  const issuer = await buildIssuer({
    config: { ...options.config, publicUrl, didMethod },
    db: database.db,
    store: database.store,
    crypto,
    keys,
    clock: options.clock,
    logger,
    didMethods: nodeDidMethods(options),
    clientAddress: nodeClientAddress(options.trustProxy ?? false),
    idv: options.idv ?? (await idvDepsFromEnv(options.idvEnv ?? {}, join(options.dataDir, 'pii-data-key'))),
    statusListFetch: nodeStatusListFetch(options),
    readRequestBody: readIncomingBody,
    exchange: nodeExchange,
    metrics,
  });
  appFetch = (req, env) => issuer.app.fetch(req, env);
  const metricsListener =
    metrics && options.metrics?.port !== undefined
      ? await startMetricsListener(metrics, { port: options.metrics.port, hostname: options.metrics.hostname })
      : undefined;
  const clock = options.clock ?? Date.now;
  const publish = () =>
    publishIssuerDidDht({
      keys,
      identity: issuer.deps.issuer,
      crypto,
      gatewayUrl: options.didDhtGateway ?? DEFAULT_DID_DHT_GATEWAY,
      fetch: options.publishFetch ?? globalThis.fetch,
      now: clock(),
      logger,
    });
  let republishTimer: ReturnType<typeof setInterval> | undefined;
  let published: boolean | undefined;
  if (didMethod === 'dht') {
    // Publish at start (did:dht spec: the DID is only resolvable once its packet is on the DHT).
    published = await publish();
    const every = options.didDhtRepublishMs ?? 60 * 60 * 1000;
    if (every > 0) {
      republishTimer = setInterval(() => void publish(), every);
      republishTimer.unref();
    }
  }
  const interval = options.backgroundIntervalMs ?? 5000;
  const jobs = interval > 0 ? startBackgroundJobs(issuer.deps, { intervalMs: interval, exclusive: database.exclusive }) : undefined;
  return {
    ...issuer,
    url: publicUrl,
    port: actualPort,
    /** The SQLite connection (unset on PostgreSQL). */
    sqlite,
    /** The separate metrics listener's URL (METRICS_PORT), if any. */
    metricsUrl: metricsListener?.url,
    /** The PostgreSQL pool (DATABASE_URL; unset on SQLite). */
    postgres: database.postgres,
    /** did:dht only: whether the packet was accepted by the gateway at start. */
    didDhtPublished: published,
    /** Republishes the did:dht packet now (no-op for other methods). */
    republishDidDht: () => (didMethod === 'dht' ? publish() : Promise.resolve(false)),
    /**
     * Re-reads the key file (after `npm run keys -- rotate`/`retire`): the newest key signs
     * from now on, the DID document lists the current keys, and did:dht is republished.
     */
    async reloadKeys(): Promise<IssuerIdentity> {
      if (options.keys) throw new Error('keys were configured directly (ISSUER_PRIVATE_JWK); there is no key file to reload');
      const next = await loadOrCreateKeys(keysFile, crypto, options.keyAlg ?? 'EdDSA', { didDhtIdentity: didMethod === 'dht' });
      const identity = await createIssuerIdentity(publicUrl, next, crypto, { method: didMethod });
      keys = next;
      issuer.deps.issuer = identity;
      logger.info('issuer_keys_reloaded', { did: identity.did, kid: identity.signer.kid, published: identity.publishedKeys.length });
      if (didMethod === 'dht') await publish();
      return identity;
    },
    jobs,
    async close() {
      if (republishTimer) clearInterval(republishTimer);
      await metricsListener?.close();
      await jobs?.stop();
      await new Promise<void>((ok) => {
        if (!server) return ok();
        server.close(() => ok());
        // Keep-alive sockets would hold close() open (and be reused by clients after a restart).
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await database.close();
    },
  };
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

/**
 * ISSUER_PRIVATE_JWK: an Ed25519 (EdDSA) or secp256k1 (ES256K) private JWK; or, as on Workers
 * (src/crypto/issuerKeys.ts), an array of them (the first signs, all are published) so that
 * instances configured alike can roll a rotation. Never logged.
 */
export function configuredKeys(text: string): IssuerKey[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('ISSUER_PRIVATE_JWK is not valid JSON');
  }
  return Array.isArray(value) ? parseIssuerKeys(text) : [configuredKey(text)];
}

/** One ISSUER_PRIVATE_JWK: an Ed25519 (EdDSA) or secp256k1 (ES256K) private JWK. */
function configuredKey(text: string): IssuerKey {
  let jwk: PrivateJwk;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new Error('ISSUER_PRIVATE_JWK is not valid JSON');
  }
  const alg = algorithmForJwk(jwk);
  if (!alg || typeof jwk.d !== 'string') throw new Error('ISSUER_PRIVATE_JWK must be an Ed25519 or secp256k1 private JWK');
  return { id: 'key-1', alg, privateJwk: jwk, createdAt: '1970-01-01T00:00:00Z' };
}

/** ISSUER_DID_DHT_IDENTITY_JWK: the Ed25519 did:dht identity key that goes with ISSUER_PRIVATE_JWK. */
function configuredDidDhtIdentity(text: string | undefined): IssuerKey {
  if (!text) throw new Error('ISSUER_DID_METHOD=dht with ISSUER_PRIVATE_JWK needs ISSUER_DID_DHT_IDENTITY_JWK (an Ed25519 private JWK)');
  const key = configuredKey(text);
  if (key.alg !== 'EdDSA') throw new Error('ISSUER_DID_DHT_IDENTITY_JWK must be an Ed25519 private JWK');
  return { ...key, id: '0', role: 'did-dht-identity' };
}

function msSetting(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive number of milliseconds`);
  return value;
}

function metricsPort(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('METRICS_PORT must be a port number');
  return port;
}

export function parseDidMethod(value: string | undefined): IssuerDidMethod {
  const method = (value || 'web') as IssuerDidMethod;
  if (!ISSUER_DID_METHODS.includes(method)) throw new Error('ISSUER_DID_METHOD must be web, dht or jwk');
  return method;
}

async function main() {
  const env = process.env;
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('PORT must be a port number');
  const dataDir = resolve(env.DATA_DIR ?? './data');
  const keyAlg = (env.ISSUER_KEY_ALG ?? 'EdDSA') as JwsAlgorithm;
  if (keyAlg !== 'EdDSA' && keyAlg !== 'ES256K') throw new Error('ISSUER_KEY_ALG must be EdDSA or ES256K');
  const didMethod = parseDidMethod(env.ISSUER_DID_METHOD);
  const keys = env.ISSUER_PRIVATE_JWK
    ? [...configuredKeys(env.ISSUER_PRIVATE_JWK), ...(didMethod === 'dht' ? [configuredDidDhtIdentity(env.ISSUER_DID_DHT_IDENTITY_JWK)] : [])]
    : undefined;
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl) checkSharedConfiguration({ keys, idvEnv: env });
  const issuer = await startNodeIssuer({
    port,
    didMethod,
    keys,
    databaseUrl,
    databasePoolSize: databaseUrl ? parsePoolSize(env.DATABASE_POOL_SIZE) : undefined,
    keysFile: env.ISSUER_KEYS_FILE || undefined,
    hostname: env.HOST ?? '0.0.0.0',
    dataDir,
    keyAlg,
    synchronous: env.SQLITE_SYNCHRONOUS === 'FULL' ? 'FULL' : 'NORMAL',
    didWebAllowInsecure: env.DID_WEB_ALLOW_INSECURE === 'true',
    didDhtGateway: env.DID_DHT_GATEWAY || undefined,
    trustProxy: env.TRUST_PROXY === 'true',
    logger: env.LOG_LEVEL === 'silent' ? silentLogger : jsonLogger(),
    idvEnv: env,
    backgroundIntervalMs: env.WEBHOOK_DISPATCH_INTERVAL_MS ? Number(env.WEBHOOK_DISPATCH_INTERVAL_MS) : undefined,
    metrics: { token: env.METRICS_TOKEN || undefined, port: metricsPort(env.METRICS_PORT), hostname: env.METRICS_HOST || undefined },
    httpTimeouts: {
      headersMs: msSetting(env, 'HTTP_HEADERS_TIMEOUT_MS'),
      requestMs: msSetting(env, 'HTTP_REQUEST_TIMEOUT_MS'),
      keepAliveMs: msSetting(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS'),
    },
    config: {
      // Unset: http://localhost:<the port actually bound> (PORT=0 picks a free one).
      publicUrl: env.PUBLIC_URL || undefined,
      ...configFromSettings(env),
      ...(env.KCC_TIERS_FILE ? tiersFromJson(`KCC_TIERS_FILE (${env.KCC_TIERS_FILE})`, readSetting('KCC_TIERS_FILE', env.KCC_TIERS_FILE)) : {}),
    },
  });
  for (const warning of configWarnings(issuer.deps.config)) console.error(JSON.stringify({ level: 'warn', event: 'configuration_warning', message: warning }));
  console.log(
    JSON.stringify({
      level: 'info',
      event: 'issuer_started',
      pid: process.pid,
      url: issuer.url,
      did: issuer.deps.issuer.did,
      didMethod,
      signingKid: issuer.deps.issuer.signer.kid,
      ...(issuer.didDhtPublished !== undefined ? { didDhtPublished: issuer.didDhtPublished } : {}),
      idvEndpoint: `${issuer.url}/idv/siopv2/initiate`,
      operatorApi: issuer.deps.config.adminToken ? 'enabled' : 'disabled',
      metrics: issuer.metricsUrl ?? (issuer.deps.metrics?.token ? `${issuer.url}/metrics (bearer METRICS_TOKEN)` : 'disabled'),
      idvProvider: issuer.deps.config.idv.provider,
      outboundWebhooks: issuer.deps.config.idv.outboundWebhookUrl ? 'enabled' : 'disabled',
      database: databaseUrl ? 'postgresql' : 'sqlite',
    }),
  );
  process.on('SIGHUP', () => {
    issuer.reloadKeys().catch((e) => console.error(JSON.stringify({ level: 'error', event: 'issuer_keys_reload_failed', message: String(e?.message ?? e) })));
  });
  const stop = () => issuer.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    console.error(JSON.stringify({ level: 'error', event: 'startup_failed', message: String(e?.message ?? e) }));
    process.exit(1);
  });
}

/** A file named by a setting; a missing or unreadable one fails at start, naming the setting. */
function readSetting(name: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new TypeError(`${name}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
