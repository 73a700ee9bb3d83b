import { serve, type ServerType } from '@hono/node-server';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseTiersConfig, type IssuerConfigInput } from '../config';
import { algorithmForJwk, type JwsAlgorithm, type PrivateJwk } from '../crypto/keys';
import { jsonLogger, silentLogger, type Logger } from '../http/context';
import { buildIssuer, type IssuerKey } from '../issuer';
import { createDidDhtResolver } from '../did/dht';
import { createDidWebResolver } from '../did/web';
import { createNodeCryptoProvider } from './nodeCrypto';
import { createSafeFetch } from './safeFetch';
import { loadOrCreateKeys } from './keyFile';
import { openSqlite } from './sqlite';

/**
 * The Node runtime: the only place (with src/runtime/*) that reads process.env or touches
 * node: modules. `npm start` runs this file.
 *
 * Environment (documented in the README):
 *   PORT (3000), PUBLIC_URL (http://localhost:$PORT), DATA_DIR (./data), ADMIN_TOKEN (unset:
 *   operator API off), ISSUER_PRIVATE_JWK (a configured signing key, JSON JWK), ISSUER_KEY_ALG
 *   (EdDSA | ES256K, for a generated key), ISSUER_KEYS_FILE (DATA_DIR/issuer-keys.json), SQLITE_SYNCHRONOUS (NORMAL | FULL), LOG_LEVEL (info | silent),
 *   DID_WEB_ALLOW_INSECURE (false), DID_DHT_GATEWAY (https://diddht.tbddev.org),
 *   KCC_TIERS_FILE (unset: one tier from the credential defaults; docs/tiers-and-status.md).
 */
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
  /** Pkarr relay for did:dht resolution (DID_DHT_GATEWAY). */
  didDhtGateway?: string;
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
  return {
    ...createDidWebResolver({ fetch: safeFetch, allowHttp: insecure, allowIpHosts: insecure }),
    ...createDidDhtResolver({ gatewayUrl: options.didDhtGateway ?? DEFAULT_DID_DHT_GATEWAY, fetch: safeFetch }),
  };
}

export async function startNodeIssuer(options: NodeIssuerOptions) {
  const port = options.port ?? 3000;
  const hostname = options.hostname ?? '127.0.0.1';
  mkdirSync(options.dataDir, { recursive: true });
  const crypto = createNodeCryptoProvider();
  const keys = options.keys ?? (await loadOrCreateKeys(options.keysFile ?? join(options.dataDir, 'issuer-keys.json'), crypto, options.keyAlg ?? 'EdDSA'));
  const { sqlite, db } = openSqlite(join(options.dataDir, 'kcc-issuer.db'), { synchronous: options.synchronous });
  let server: ServerType | undefined;
  const listening = new Promise<number>((ok) => {
    // The port may be 0 (tests): PUBLIC_URL is known only once listening, so build lazily.
    server = serve({ fetch: (req) => appFetch(req), port, hostname }, (info) => ok(info.port));
  });
  let appFetch: (req: Request) => Response | Promise<Response> = () => new Response('starting', { status: 503 });
  const actualPort = await listening;
  const publicUrl = options.config?.publicUrl ?? `http://localhost:${actualPort}`;
  const issuer = await buildIssuer({
    config: { ...options.config, publicUrl },
    db,
    crypto,
    keys,
    clock: options.clock,
    logger: options.logger ?? jsonLogger(),
    didMethods: nodeDidMethods(options),
    statusListFetch: nodeStatusListFetch(options),
  });
  appFetch = (req) => issuer.app.fetch(req);
  return {
    ...issuer,
    url: publicUrl,
    port: actualPort,
    sqlite,
    async close() {
      await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
      sqlite.close();
    },
  };
}

/** ISSUER_PRIVATE_JWK: an Ed25519 (EdDSA) or secp256k1 (ES256K) private JWK. Never logged. */
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

async function main() {
  const env = process.env;
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('PORT must be a port number');
  const dataDir = resolve(env.DATA_DIR ?? './data');
  const keyAlg = (env.ISSUER_KEY_ALG ?? 'EdDSA') as JwsAlgorithm;
  if (keyAlg !== 'EdDSA' && keyAlg !== 'ES256K') throw new Error('ISSUER_KEY_ALG must be EdDSA or ES256K');
  const issuer = await startNodeIssuer({
    port,
    keys: env.ISSUER_PRIVATE_JWK ? [configuredKey(env.ISSUER_PRIVATE_JWK)] : undefined,
    keysFile: env.ISSUER_KEYS_FILE || undefined,
    hostname: env.HOST ?? '0.0.0.0',
    dataDir,
    keyAlg,
    synchronous: env.SQLITE_SYNCHRONOUS === 'FULL' ? 'FULL' : 'NORMAL',
    didWebAllowInsecure: env.DID_WEB_ALLOW_INSECURE === 'true',
    didDhtGateway: env.DID_DHT_GATEWAY || undefined,
    logger: env.LOG_LEVEL === 'silent' ? silentLogger : jsonLogger(),
    config: {
      publicUrl: env.PUBLIC_URL || `http://localhost:${port}`,
      adminToken: env.ADMIN_TOKEN,
      clientName: env.ISSUER_NAME,
      ...(env.KCC_TIERS_FILE ? parseTiersConfig(JSON.parse(readFileSync(env.KCC_TIERS_FILE, 'utf8'))) : {}),
    },
  });
  console.log(
    JSON.stringify({
      level: 'info',
      event: 'issuer_started',
      url: issuer.url,
      did: issuer.deps.issuer.did,
      idvEndpoint: `${issuer.url}/idv/siopv2/initiate`,
      operatorApi: issuer.deps.config.adminToken ? 'enabled' : 'disabled',
    }),
  );
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
