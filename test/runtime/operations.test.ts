import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSettings, SettingsError } from '../../src/config';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';

/**
 * The signals an operator relies on, against the real server process (`npm start`): a graceful
 * SIGTERM, the metrics without outbound webhooks, and a start refused in one line per problem.
 */
const ROOT = resolve(__dirname, '..', '..');
const METRICS_TOKEN = 'metrics-token-0123456789abcdef-0123';

interface Running {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** The issuer_started line (undefined: the process exited first). */
  started?: { url: string; port: number };
  exited: Promise<number | null>;
}

/** Whether user nobody can read this checkout's modules (the as-nobody case needs tsx from it). */
function nobodyReadsCheckout(): boolean {
  const probe = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', join(ROOT, 'node_modules', 'tsx', 'package.json')]);
  if (probe.status !== 0) console.warn(`operations.test: the read-only DATA_DIR case is left out: user nobody cannot read ${ROOT}`);
  return probe.status === 0;
}

const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');

/** `npm start` in a child process; resolves once it has started or exited. */
function startIssuer(env: Record<string, string>, options: { asNobody?: boolean } = {}): Promise<Running> {
  const args = ['--import', 'tsx', 'src/runtime/node.ts'];
  const [cmd, argv] = options.asNobody
    ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...args]]
    : [process.execPath, args];
  const child = spawn(cmd, argv, {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      WEBHOOK_DISPATCH_INTERVAL_MS: '0',
      TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const running: Running = {
    child,
    stdout: [],
    stderr: [],
    // 'close', not 'exit': the output is read to its end.
    exited: new Promise((ok) => child.on('close', (code) => ok(code))),
  };
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  running.exited.then(() => clearTimeout(killer));
  child.stdout?.on('data', (d) => {
    out += d;
    running.stdout = lines(out);
  });
  child.stderr?.on('data', (d) => {
    err += d;
    running.stderr = lines(err);
  });
  return new Promise((ok) => {
    child.stdout?.on('data', () => {
      const line = running.stdout.find((l) => l.includes('"issuer_started"'));
      if (line && !running.started) {
        const url = JSON.parse(line).url as string;
        running.started = { url, port: Number(new URL(url).port) };
        ok(running);
      }
    });
    running.exited.then(() => ok(running));
  });
}

/** Sends the request head and the first part of a body that has not finished arriving; `finish` sends the rest and reads the whole answer. */
function slowRequest(port: number, path: string, body: string, firstBytes: number) {
  const socket = connect(port, '127.0.0.1');
  let answer = '';
  socket.on('data', (d) => (answer += d));
  const ended = new Promise<string>((ok) => {
    socket.on('end', () => ok(answer));
    socket.on('close', () => ok(answer));
    socket.on('error', () => ok(answer));
  });
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, firstBytes)}`,
  );
  return {
    finish: () => {
      socket.write(body.slice(firstBytes));
      return ended;
    },
  };
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
const events = (r: Running) => [...r.stdout, ...r.stderr].map((l) => JSON.parse(l) as Record<string, unknown>);

describe('graceful shutdown of the real server process', () => {
  it('SIGTERM: /readyz 503 at once, new connections refused after the drain delay, a request whose body is still arriving gets its answer, exit 0 with a log line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-shutdown-'));
    try {
      const issuer = await startIssuer({ DATA_DIR: dir, SHUTDOWN_DRAIN_MS: '1500', SHUTDOWN_TIMEOUT_MS: '10000' });
      expect(issuer.started, issuer.stderr.join('\n')).toBeDefined();
      const base = `http://127.0.0.1:${issuer.started!.port}`;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);

      const body = `grant_type=${encodeURIComponent('urn:ietf:params:oauth:grant-type:pre-authorized_code')}&pre-authorized_code=${'x'.repeat(64)}`;
      const inFlight = slowRequest(issuer.started!.port, '/oauth2/token', body, 20);
      await sleep(200);
      issuer.child.kill('SIGTERM');
      await sleep(100);

      // Draining: still accepting, but not ready.
      const ready = await fetch(`${base}/readyz`, { headers: { connection: 'close' } });
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ error: 'not_ready', checks: { shutdown: 'draining' } });

      // After the drain delay the listener is closed: a new connection is refused.
      await sleep(1800);
      await expect(fetch(`${base}/healthz`, { headers: { connection: 'close' } })).rejects.toThrow();

      // The request in flight completes with a real answer (the code is invalid: 400 invalid_grant).
      const answer = await inFlight.finish();
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('"error":"invalid_grant"');

      expect(await issuer.exited).toBe(0);
      const logged = events(issuer);
      expect(logged.find((e) => e.event === 'issuer_stopping')).toMatchObject({ signal: 'SIGTERM', drainMs: 1500 });
      expect(logged.find((e) => e.event === 'issuer_stopped')).toMatchObject({ signal: 'SIGTERM', graceful: true });
      expect(logged.some((e) => e.event === 'unhandled_error' || e.level === 'error')).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('metrics without outbound webhooks (real server process)', () => {
  let dir: string;
  let issuer: Running;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kcc-honest-metrics-'));
    issuer = await startIssuer({ DATA_DIR: dir, METRICS_TOKEN, RATE_LIMITS: 'off' });
  }, 60_000);
  afterAll(async () => {
    issuer.child.kill('SIGTERM');
    await issuer.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it('with no PFI_WEBHOOK_URL, kcc_outbox_backlog and its age stay 0 after flows', async () => {
    expect(issuer.started, issuer.stderr.join('\n')).toBeDefined();
    const base = `http://127.0.0.1:${issuer.started!.port}`;
    for (let i = 0; i < 2; i++) {
      const client = new WalletClient(await Holder.create(), (u, init) => fetch(u, init));
      const result = await applyForKcc(client, { issuer: base, identity: SAMPLE_IDENTITY, pollAttempts: 0 });
      expect(result.credential).toBeTypeOf('string');
    }
    const scrape = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(scrape.status).toBe(200);
    const text = await scrape.text();
    expect(text).toMatch(/^kcc_outbox_backlog 0$/m);
    expect(text).toMatch(/^kcc_outbox_oldest_pending_age_seconds 0$/m);
    expect(text).toMatch(/^kcc_credentials_issued [1-9]/m);
    // The events are still recorded (the operator API lists them), just not counted as a backlog nobody drains.
    const db = new Database(join(dir, 'kcc-issuer.db'), { readonly: true, fileMustExist: true });
    try {
      expect((db.prepare('SELECT count(*) AS n FROM outbox_events WHERE delivered_at IS NULL').get() as { n: number }).n).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  }, 60_000);
});

describe('settings validated as a whole at start', () => {
  it('PUBLIC_URL: a trailing slash is dropped; a query, a fragment or another scheme is refused', () => {
    expect(readSettings({ PUBLIC_URL: 'https://kcc.example.com/' }).issuer.publicUrl).toBe('https://kcc.example.com');
    expect(readSettings({ PUBLIC_URL: 'https://kcc.example.com/kcc//' }).issuer.publicUrl).toBe('https://kcc.example.com/kcc');
    for (const [value, says] of [
      ['https://kcc.example.com/?a=1', 'query'],
      ['https://kcc.example.com/#top', 'fragment'],
      ['ftp://kcc.example.com', 'http(s)'],
      ['kcc.example.com', 'absolute'],
    ]) {
      expect(() => readSettings({ PUBLIC_URL: value }), value).toThrow(new RegExp(`^PUBLIC_URL .*${says.replace(/[()]/g, '\\$&')}`));
    }
  });

  it('every invalid setting is reported, one line each, naming it', () => {
    let error: unknown;
    try {
      readSettings({ PUBLIC_URL: 'https://x.example/?q', PORT: 'eighty', LOG_LEVEL: 'loud' }, 'node');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SettingsError);
    const problems = (error as SettingsError).problems;
    expect(problems).toHaveLength(3);
    expect(problems.map((p) => p.split(/[ :]/)[0]).sort()).toEqual(['LOG_LEVEL', 'PORT', 'PUBLIC_URL']);
  });

  it('the process: invalid settings, a DATA_DIR that is a file, has no parent or is not writable, a port in use: one line each, no stack trace, exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-refused-'));
    const blocker: Server = createServer();
    await new Promise<void>((ok) => blocker.listen(0, '127.0.0.1', ok));
    const busyPort = (blocker.address() as AddressInfo).port;
    try {
      const file = join(dir, 'a-file');
      writeFileSync(file, 'x');
      const readOnly = join(dir, 'read-only');
      mkdirSync(readOnly);
      chmodSync(readOnly, 0o555);
      chmodSync(dir, 0o755);
      const cases: { env: Record<string, string>; names: string[]; says: RegExp; asNobody?: boolean }[] = [
        { env: { DATA_DIR: join(dir, 'ok'), PUBLIC_URL: 'https://kcc.example.com/?x=1', PORT: 'eighty' }, names: ['PUBLIC_URL', 'PORT'], says: /query|port/ },
        { env: { DATA_DIR: file }, names: ['DATA_DIR'], says: /is not a directory/ },
        { env: { DATA_DIR: join(dir, 'missing', 'data') }, names: ['DATA_DIR'], says: /parent directory .* does not exist/ },
        // Root writes anywhere, so the read-only case runs as nobody, which needs to read the
        // checkout (a clone under a 0700 temp dir is not readable to it: the case is left out there).
        ...(process.getuid?.() !== 0 || nobodyReadsCheckout()
          ? [{ env: { DATA_DIR: readOnly }, names: ['DATA_DIR'], says: /not writable|read-only/, asNobody: process.getuid?.() === 0 }]
          : []),
        { env: { DATA_DIR: join(dir, 'ok'), PORT: String(busyPort) }, names: ['PORT'], says: /is in use/ },
      ];
      for (const c of cases) {
        const run = await startIssuer(c.env, { asNobody: c.asNobody });
        const code = await run.exited;
        const detail = `${JSON.stringify(c.env)}\n${run.stderr.join('\n')}`;
        expect(code, detail).toBe(1);
        expect(run.started, detail).toBeUndefined();
        expect(run.stderr, detail).toHaveLength(c.names.length);
        const messages = run.stderr.map((l) => JSON.parse(l) as { event: string; message: string });
        expect(messages.map((m) => m.event)).toEqual(c.names.map(() => 'startup_failed'));
        expect(messages.map((m) => m.message.split(/[ :]/)[0]).sort(), detail).toEqual([...c.names].sort());
        expect(messages.map((m) => m.message).join('\n'), detail).toMatch(c.says);
        expect(run.stderr.join('\n')).not.toMatch(/\n\s+at /);
      }
    } finally {
      blocker.close();
      chmodSync(join(dir, 'read-only'), 0o755);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('PUBLIC_URL with a trailing slash: the URLs handed out have no double slash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-public-url-'));
    try {
      const port = await freePort();
      const issuer = await startIssuer({ DATA_DIR: dir, PUBLIC_URL: 'https://kcc.example.com/', PORT: String(port) });
      expect(issuer.started, issuer.stderr.join('\n')).toBeDefined();
      const started = events(issuer).find((e) => e.event === 'issuer_started');
      expect(started).toMatchObject({ url: 'https://kcc.example.com', idvEndpoint: 'https://kcc.example.com/idv/siopv2/initiate' });
      const metadata = await fetch(`http://127.0.0.1:${port}/.well-known/openid-credential-issuer`).then((r) => r.json());
      expect(metadata.credential_issuer).toBe('https://kcc.example.com');
      expect(metadata.credential_endpoint).toMatch(/^https:\/\/kcc\.example\.com\/[^/]/);
      issuer.child.kill('SIGTERM');
      expect(await issuer.exited).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

/** A port free at this moment (PUBLIC_URL hides the bound one from the start line). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((ok) => probe.listen(0, '127.0.0.1', ok));
  const { port } = probe.address() as AddressInfo;
  await new Promise((ok) => probe.close(ok));
  return port;
}
