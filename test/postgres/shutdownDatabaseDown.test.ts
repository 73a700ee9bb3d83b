import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64urlEncode } from '../../src/crypto/base64url';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres';

/**
 * SIGTERM while PostgreSQL is down (`pg_ctl stop -m immediate`): the real server process exits
 * within its own bound, SHUTDOWN_DRAIN_MS + SHUTDOWN_TIMEOUT_MS, whatever the database does:
 * requests in flight, the background job run in flight and the pool's end all share that bound
 * (src/runtime/nodeServer.ts `close`).
 */
const DRAIN_MS = 500;
const TIMEOUT_MS = 3000;
/** Process exit (measured 0.6 s on a loaded 2-core host), stdout flush and the test's own timer. */
const SLACK_MS = 1500;

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startTestPostgres();
}, 60_000);
afterAll(async () => pg?.stop());

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  await new Promise((ok) => server.close(ok));
  return port;
}

function startIssuer(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/runtime/node.ts'], {
    cwd: join(__dirname, '..', '..'),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`issuer did not start: ${out}`)), 30_000);
    const poll = setInterval(() => {
      if (out.includes('issuer_started')) {
        clearInterval(poll);
        clearTimeout(timer);
        ok({ child, output: () => out });
      }
    }, 20);
    child.on('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      fail(new Error(`issuer exited (${code}) before starting: ${out}`));
    });
  });
}

describe('SIGTERM with PostgreSQL down', () => {
  it(`exits within SHUTDOWN_DRAIN_MS + SHUTDOWN_TIMEOUT_MS (${DRAIN_MS} + ${TIMEOUT_MS} ms), requests and a job run in flight`, async () => {
    const crypto = createNodeCryptoProvider();
    const port = await freePort();
    const { child, output } = await startIssuer({
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      DATABASE_URL: await pg.createDatabase(),
      DATABASE_POOL_SIZE: '4',
      // The request bounds are longer than the shutdown's on purpose: shutdown must not wait for them.
      DATABASE_CONNECT_TIMEOUT_SECONDS: '10',
      DATABASE_STATEMENT_TIMEOUT_SECONDS: '10',
      ISSUER_PRIVATE_JWK: JSON.stringify(await crypto.generateKeyPair('EdDSA')),
      PII_DATA_KEY: base64urlEncode(globalThis.crypto.getRandomValues(new Uint8Array(32))),
      RATE_LIMITS: 'off',
      LOG_LEVEL: 'silent',
      WEBHOOK_DISPATCH_INTERVAL_MS: '100',
      SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
      SHUTDOWN_TIMEOUT_MS: String(TIMEOUT_MS),
    });
    const base = `http://127.0.0.1:${port}`;
    const exited = new Promise<{ code: number | null; at: number }>((ok) => child.once('exit', (code) => ok({ code, at: performance.now() })));
    try {
      expect((await fetch(`${base}/oid4vci/nonce`, { method: 'POST' })).status).toBe(200);
      // Load that needs the database, in flight when the database goes and when SIGTERM comes.
      let running = true;
      const load = Array.from({ length: 4 }, async () => {
        while (running)
          await fetch(`${base}/oid4vci/nonce`, { method: 'POST', signal: AbortSignal.timeout(30_000) }).then(
            (r) => r.text(),
            () => '',
          );
      });
      await new Promise((ok) => setTimeout(ok, 300));
      await pg.halt();
      await new Promise((ok) => setTimeout(ok, 700));
      const signalledAt = performance.now();
      child.kill('SIGTERM');
      const { code, at } = await exited;
      running = false;
      await Promise.all(load);
      const ms = at - signalledAt;
      console.log(`SIGTERM with PostgreSQL down: exited ${code} after ${Math.round(ms)} ms (bound ${DRAIN_MS} + ${TIMEOUT_MS} ms)`);
      expect(code, output()).toBe(0);
      expect(ms, output()).toBeLessThan(DRAIN_MS + TIMEOUT_MS + SLACK_MS);
      const stopped = output()
        .split('\n')
        .filter((l) => l.includes('"issuer_stopped"'))
        .map((l) => JSON.parse(l) as { ms: number; graceful: boolean });
      expect(stopped).toHaveLength(1);
      // The process's own measure: within the bound (the pool cut at its end, so not graceful).
      expect(stopped[0].ms).toBeLessThanOrEqual(DRAIN_MS + TIMEOUT_MS + 100);
      expect(stopped[0].graceful).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await pg.resume().catch(() => undefined);
    }
  }, 60_000);
});
