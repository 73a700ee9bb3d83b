import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listSettings } from '../../src/config';
import { ensureDevVars, offlineEnv } from '../../src/runtime/workerDev';
import { freePort, ROOT } from '../helpers/workerd';

/**
 * `npm run worker:dev` from a clean checkout (a clone of this repository's HEAD, node_modules
 * linked in): it must write .dev.vars, migrate the local D1 and serve a working issuer, offline.
 */
const exited = (child: ChildProcess) =>
  new Promise<void>((ok) => (child.exitCode !== null || child.signalCode !== null ? ok() : child.once('exit', () => ok())));

/** PIDs still in the process group (workerd must not outlive the test). */
function groupMembers(pgid: number): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,pgid='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter(([, group]) => group === pgid)
    .map(([pid]) => pid);
}

/** Ends the whole process group (npm → tsx → wrangler → workerd): SIGTERM, then SIGKILL after 15 s. */
async function stopTree(child: ChildProcess): Promise<void> {
  const pgid = child.pid!;
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pgid, s);
    } catch {
      /* the group is gone */
    }
  };
  signal('SIGTERM');
  for (let i = 0; i < 150 && groupMembers(pgid).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  if (groupMembers(pgid).length > 0) signal('SIGKILL');
  await exited(child);
}

describe('npm run worker:dev on a clean checkout', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kcc-worker-dev-'));
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child && groupMembers(child.pid!).length > 0) await stopTree(child);
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes .dev.vars, applies the D1 migrations and serves the DID document on the port given', async () => {
    const checkout = join(dir, 'checkout');
    execFileSync('git', ['clone', '--quiet', '--no-hardlinks', ROOT, checkout]);
    symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'));
    expect(existsSync(join(checkout, '.dev.vars'))).toBe(false);
    const port = await freePort();
    let output = '';
    child = spawn('npm', ['run', 'worker:dev', '--', '--port', String(port)], {
      cwd: checkout,
      detached: true, // its own process group, so the whole tree can be stopped
      env: { ...process.env, NO_COLOR: '1', PUBLIC_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (b) => (output += b));
    child.stderr!.on('data', (b) => (output += b));

    const url = `http://127.0.0.1:${port}`;
    let doc: { id?: string; service?: { type: string; serviceEndpoint: string }[] } | undefined;
    for (let i = 0; i < 240 && !doc; i++) {
      if (child.exitCode !== null) throw new Error(`worker:dev exited (${child.exitCode}):\n${output}`);
      const res = await fetch(`${url}/.well-known/did.json`).catch(() => undefined);
      if (res?.status === 200) doc = await res.json();
      else await new Promise((r) => setTimeout(r, 500));
    }
    expect(doc, output).toBeDefined();
    expect(doc!.id).toBe(`did:web:127.0.0.1%3A${port}`);
    expect(doc!.service?.find((s) => s.type === 'IDV')?.serviceEndpoint).toBe(`${url}/idv/siopv2/initiate`);

    // A D1-backed request: the migrations were applied (the SIOPv2 request inserts a nonce).
    const initiate = await fetch(`${url}/idv/siopv2/initiate`);
    expect(initiate.status).toBe(200);
    expect(new URLSearchParams(await initiate.text()).get('client_id')).toBe(doc!.id);
    // Readiness reads wrangler's d1_migrations: every drizzle/ migration is recorded as applied.
    const ready = await fetch(`${url}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', migrations: 'ok' } });
    // Metrics are Node-only: not served by the worker.
    expect((await fetch(`${url}/metrics`)).status).toBe(404);

    expect(output).toContain('created .dev.vars');
    expect(output).toContain('0002_tiers_status.sql');
    // Offline: miniflare did not try to download the Request.cf object, wrangler no banner update check.
    expect(output).not.toContain('Unable to fetch the `Request.cf` object');
    expect(output).not.toContain('update available');
    const devVars = readFileSync(join(checkout, '.dev.vars'), 'utf8');
    const jwk = JSON.parse(/^ISSUER_PRIVATE_JWK='(.*)'$/m.exec(devVars)![1]);
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    expect(typeof jwk.d).toBe('string');
    // No secret is printed.
    expect(output).not.toContain(jwk.d);
    expect(output).not.toContain(/^PII_DATA_KEY='(.*)'$/m.exec(devVars)![1]);
    expect(statSync(join(checkout, '.dev.vars')).mode & 0o077).toBe(0);
    // git ignores what it wrote (.dev.vars, .wrangler/): the checkout stays clean.
    expect(
      execFileSync('git', ['status', '--porcelain'], { cwd: checkout, encoding: 'utf8' })
        .split('\n')
        .filter((l) => l && !l.endsWith('node_modules')),
    ).toEqual([]);

    const pgid = child.pid!;
    await stopTree(child);
    expect(groupMembers(pgid)).toEqual([]);
    expect((await fetch(`${url}/.well-known/did.json`).catch(() => undefined))?.status).toBeUndefined();
  }, 180_000);

  it('keeps an existing .dev.vars (its key is the local DID key) and names only variables, never values', () => {
    const d = mkdtempSync(join(dir, 'vars-'));
    const first = ensureDevVars(d);
    expect(first).toEqual(['ISSUER_PRIVATE_JWK', 'PII_DATA_KEY', 'ADMIN_TOKEN']);
    const text = readFileSync(join(d, '.dev.vars'), 'utf8');
    expect(ensureDevVars(d)).toBeUndefined();
    expect(readFileSync(join(d, '.dev.vars'), 'utf8')).toBe(text);
    expect(Buffer.from(/^PII_DATA_KEY='(.*)'$/m.exec(text)![1], 'base64url').length).toBe(32);
  });

  it('turns off everything of wrangler that reaches the network', () => {
    expect(offlineEnv({})).toEqual({
      WRANGLER_SEND_METRICS: 'false',
      WRANGLER_SEND_ERROR_REPORTS: 'false',
      WRANGLER_HIDE_BANNER: 'true',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    });
  });

  it('.dev.vars.example documents every variable the worker reads', () => {
    const example = readFileSync(join(ROOT, '.dev.vars.example'), 'utf8');
    // The worker reads every variable of the settings table not marked Node-only (src/config/settings.ts).
    const read = new Set(listSettings().flatMap(({ spec }) => (spec.env && spec.only !== 'node' ? [spec.env] : [])));
    expect(read.size).toBeGreaterThan(15);
    const documented = new Set([...example.matchAll(/^#?\s?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect([...read].filter((v) => !documented.has(v))).toEqual([]);
  });
});
