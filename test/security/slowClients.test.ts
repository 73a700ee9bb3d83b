import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/http/context';
import { httpServerOptions, startNodeIssuer } from '../../src/runtime/node';
import { makeIssuerKeys } from '../helpers/issuer';

/**
 * Slow-loris: a client that trickles its headers or body holds a connection (and its memory)
 * for as long as the server lets it. The Node server must cut it after its timeouts.
 */
type Issuer = Awaited<ReturnType<typeof startNodeIssuer>>;

/** Opens a raw connection, sends `first`, then one byte every `everyMs`; resolves with what came back and how long the socket lived. */
function trickle(port: number, first: string, drip: string, everyMs: number, giveUpMs: number): Promise<{ ms: number; response: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let response = '';
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ ms: Date.now() - started, response });
    };
    const giveUp = setTimeout(done, giveUpMs);
    socket.on('connect', () => {
      socket.write(first);
      timer = setInterval(() => socket.write(drip[i++ % drip.length]), everyMs);
    });
    socket.on('data', (d) => (response += d.toString('latin1')));
    socket.on('close', done);
    socket.on('error', () => {});
  });
}

describe('Node server timeouts', () => {
  let issuer: Issuer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kcc-slow-'));
    issuer = await startNodeIssuer({
      port: 0,
      dataDir: dir,
      keys: await makeIssuerKeys(),
      logger: silentLogger,
      backgroundIntervalMs: 0,
      httpTimeouts: { headersMs: 600, requestMs: 1200, keepAliveMs: 400 },
    });
  });
  afterAll(async () => {
    await issuer?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const port = () => Number(new URL(issuer.url).port);

  it('drops a client that never finishes its headers', async () => {
    const r = await trickle(port(), 'GET /.well-known/did.json HTTP/1.1\r\nHost: x\r\n', 'X-a: b\r\n', 100, 8000);
    expect(r.ms).toBeLessThan(4000);
    expect(r.response).not.toContain('200 OK');
  });

  it('drops a client that trickles its body', async () => {
    const head = 'POST /oauth2/token HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n';
    const r = await trickle(port(), head, '{', 100, 8000);
    expect(r.ms).toBeLessThan(5000);
  });

  it('closes an idle keep-alive connection', async () => {
    const r = await trickle(port(), 'GET /.well-known/did.json HTTP/1.1\r\nHost: x\r\n\r\n', '', 1_000_000, 8000);
    expect(r.response).toContain('200 OK');
    expect(r.ms).toBeLessThan(3000);
  });

  it("defaults replace Node's 300 s, and settings are validated", () => {
    expect(httpServerOptions()).toMatchObject({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 });
    expect(() => httpServerOptions({ requestMs: 0 })).toThrow(/timeout/);
  });
});
