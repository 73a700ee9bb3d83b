import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';

/**
 * The production build as an operator runs it: a clean copy of the tracked files (`git ls-files`),
 * `npm run build` (with the dev dependencies, as a build stage would), then only the production
 * dependencies (`npm ci --omit=dev --offline`, from the npm cache; the checkout's compiled
 * better-sqlite3 addon is reused instead of compiling it again), then `npm run start:prod` and a
 * whole flow against it.
 */
const ROOT = resolve(__dirname, '..', '..');

describe('npm run build + npm run start:prod with production dependencies only', () => {
  let copy: string;
  let server: ChildProcess | undefined;
  let url = '';
  const output: string[] = [];
  let exited: Promise<number | null>;

  beforeAll(async () => {
    copy = mkdtempSync(join(tmpdir(), 'kcc-prod-'));
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
    for (const f of files) {
      if (!existsSync(join(ROOT, f))) continue;
      mkdirSync(dirname(join(copy, f)), { recursive: true });
      cpSync(join(ROOT, f), join(copy, f));
    }
    // The build stage: the checkout's tools (esbuild) over the copy's sources.
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--outdir', join(copy, 'dist')], { cwd: ROOT, stdio: 'pipe' });
    // Bundled from the copy's sources would be the same: the build script bundles src/ of its own root.
    execFileSync('npm', ['ci', '--omit=dev', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: copy, stdio: 'pipe' });
    cpSync(join(ROOT, 'node_modules', 'better-sqlite3', 'build'), join(copy, 'node_modules', 'better-sqlite3', 'build'), { recursive: true });

    const dataDir = join(copy, 'data');
    // `npm run start:prod`'s command itself (npm would stand between the signal and the server).
    const command = (JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['start:prod'].split(' ');
    expect(command[0]).toBe('node');
    server = spawn(process.execPath, command.slice(1), {
      cwd: copy,
      env: { ...process.env, NODE_OPTIONS: '', DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', RATE_LIMITS: 'off', WEBHOOK_DISPATCH_INTERVAL_MS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = new Promise((ok) => server!.on('close', (code) => ok(code)));
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`not started:\n${output.join('')}`)), 60_000);
      const onData = (d: Buffer) => {
        output.push(String(d));
        const line = output
          .join('')
          .split('\n')
          .find((l) => l.includes('"issuer_started"'));
        if (line && !url) {
          url = JSON.parse(line).url;
          clearTimeout(timer);
          ok();
        }
      };
      server!.stdout!.on('data', onData);
      server!.stderr!.on('data', (d) => output.push(String(d)));
      exited.then(() => fail(new Error(`exited:\n${output.join('')}`)));
    });
  }, 240_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await exited;
    }
    rmSync(copy, { recursive: true, force: true });
  });

  it('installs no dev dependency (no tsx, no TypeScript, no test tools)', () => {
    const installed = readdirSync(join(copy, 'node_modules'));
    // typescript is absent from this list: valibot (under dcql) names it as an optional peer, which npm installs.
    for (const dev of ['tsx', 'vitest', 'esbuild', 'wrangler', 'drizzle-kit', '@biomejs', 'playwright-core']) expect(installed).not.toContain(dev);
    expect(installed).toContain('better-sqlite3');
  });

  it('the built server runs a whole flow: SIOPv2, the form, the token, the credential', async () => {
    const base = url.replace('localhost', '127.0.0.1');
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const client = new WalletClient(await Holder.create(), (u, init) => fetch(u.replace('localhost', '127.0.0.1'), init));
    const result = await applyForKcc(client, { issuer: url, identity: SAMPLE_IDENTITY, pollAttempts: 0 });
    expect(result.credential).toBeTypeOf('string');
    expect(result.credential!.split('.')).toHaveLength(3);
  }, 60_000);

  it('stops on SIGTERM with exit 0 and its log line', async () => {
    server!.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output.join('')).toContain('"event":"issuer_stopped"');
  });
});
