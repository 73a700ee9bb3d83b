import { serve, type ServerType } from '@hono/node-server';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { IssuerConfigInput } from '../config';
import type { JwsAlgorithm } from '../crypto/keys';
import { jsonLogger, silentLogger, type Logger } from '../http/context';
import { buildIssuer, type IssuerKey } from '../issuer';
import { createNodeCryptoProvider } from './nodeCrypto';
import { loadOrCreateKeys } from './keyFile';
import { openSqlite } from './sqlite';

/**
 * The Node runtime: the only place (with src/runtime/*) that reads process.env or touches
 * node: modules. `npm start` runs this file.
 *
 * Environment (documented in the README):
 *   PORT (3000), PUBLIC_URL (http://localhost:$PORT), DATA_DIR (./data), ADMIN_TOKEN (unset:
 *   operator API off), ISSUER_KEY_ALG (EdDSA | ES256K, for a generated key), ISSUER_KEYS_FILE
 *   (DATA_DIR/issuer-keys.json), SQLITE_SYNCHRONOUS (NORMAL | FULL), LOG_LEVEL (info | silent).
 */
export interface NodeIssuerOptions {
  port?: number;
  hostname?: string;
  dataDir: string;
  config?: Partial<IssuerConfigInput>;
  keyAlg?: JwsAlgorithm;
  keys?: IssuerKey[];
  logger?: Logger;
  clock?: () => number;
  synchronous?: 'NORMAL' | 'FULL';
}

export async function startNodeIssuer(options: NodeIssuerOptions) {
  const port = options.port ?? 3000;
  const hostname = options.hostname ?? '127.0.0.1';
  mkdirSync(options.dataDir, { recursive: true });
  const crypto = createNodeCryptoProvider();
  const keys = options.keys ?? (await loadOrCreateKeys(join(options.dataDir, 'issuer-keys.json'), crypto, options.keyAlg ?? 'EdDSA'));
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

async function main() {
  const env = process.env;
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('PORT must be a port number');
  const dataDir = resolve(env.DATA_DIR ?? './data');
  const keyAlg = (env.ISSUER_KEY_ALG ?? 'EdDSA') as JwsAlgorithm;
  if (keyAlg !== 'EdDSA' && keyAlg !== 'ES256K') throw new Error('ISSUER_KEY_ALG must be EdDSA or ES256K');
  const issuer = await startNodeIssuer({
    port,
    hostname: env.HOST ?? '0.0.0.0',
    dataDir,
    keyAlg,
    synchronous: env.SQLITE_SYNCHRONOUS === 'FULL' ? 'FULL' : 'NORMAL',
    logger: env.LOG_LEVEL === 'silent' ? silentLogger : jsonLogger(),
    config: {
      publicUrl: env.PUBLIC_URL || `http://localhost:${port}`,
      adminToken: env.ADMIN_TOKEN,
      clientName: env.ISSUER_NAME,
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
