import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

/**
 * Issuer processes for the crash suites, started in well under a second once a SIGKILL took the
 * previous one: the server is bundled once (esbuild, as scripts/build.mjs does, packages
 * external) and a few processes are kept loaded ahead (test/helpers/warmServer.ts), each waiting
 * for its environment on stdin. A start then costs only `main` (settings, database, keys, listen),
 * not loading and compiling hundreds of modules (about 1.4 s of CPU for the bundle, 3 s through
 * tsx, which a loaded 2-core host turns into 7-14 s of wall time per restart).
 */
const ROOT = join(__dirname, '..', '..');

export interface IssuerProcess {
  child: ChildProcess;
  /** Resolves once the issuer printed issuer_started; rejects if it exited first. */
  ready: Promise<ChildProcess>;
  /** What it printed (stdout and stderr). */
  output(): string;
}

/** Kills a child with SIGKILL and waits for it to exit. */
export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGKILL');
  await exited;
}

export async function warmIssuers(options: { env: Record<string, string>; ahead?: number }) {
  // Inside the package (node_modules/.cache), so packageRoot finds drizzle/ and the packages resolve.
  const outdir = join(ROOT, 'node_modules', '.cache', `kcc-warm-${randomUUID()}`);
  await build({
    absWorkingDir: ROOT,
    entryPoints: { warmServer: join(ROOT, 'test', 'helpers', 'warmServer.ts') },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  const entry = join(outdir, 'warmServer.js');
  const ahead = options.ahead ?? 3;
  const all = new Set<ChildProcess>();
  const pool: { child: ChildProcess; warm: Promise<void>; out: () => string }[] = [];

  const spawnWarm = () => {
    const child = spawn(process.execPath, [entry], { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    all.add(child);
    child.once('exit', () => all.delete(child));
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const warm = new Promise<void>((ok, fail) => {
      const poll = setInterval(() => {
        if (out.includes('warm')) {
          clearInterval(poll);
          ok();
        }
      }, 10);
      child.once('exit', (code, signal) => {
        clearInterval(poll);
        fail(new Error(`warm issuer exited (${code ?? signal}): ${out.slice(0, 2000)}`));
      });
    });
    warm.catch(() => {});
    pool.push({ child, warm, out: () => out });
  };
  for (let i = 0; i < ahead; i++) spawnWarm();

  return {
    /** Starts an issuer with `env` added (PORT, …) from a process loaded ahead, and loads the next one. */
    start(env: Record<string, string>): IssuerProcess {
      if (pool.length === 0) spawnWarm();
      const next = pool.shift()!;
      spawnWarm();
      const { child } = next;
      const ready = next.warm.then(
        () =>
          new Promise<ChildProcess>((ok, fail) => {
            const timer = setTimeout(() => fail(new Error(`issuer did not start: ${next.out().slice(0, 2000)}`)), 30_000);
            const poll = setInterval(() => {
              if (next.out().includes('issuer_started')) {
                clearInterval(poll);
                clearTimeout(timer);
                ok(child);
              }
            }, 5);
            child.once('exit', (code, signal) => {
              clearInterval(poll);
              clearTimeout(timer);
              fail(new Error(`issuer exited (${code ?? signal}) before starting: ${next.out().slice(0, 2000)}`));
            });
            child.stdin!.write(`${JSON.stringify(env)}\n`);
          }),
      );
      ready.catch(() => {}); // a child killed while starting is expected by the caller
      return { child, ready, output: next.out };
    },
    /** Kills every process it spawned (warm ones included) and removes the bundle. */
    async close() {
      await Promise.all([...all].map((c) => killHard(c)));
      rmSync(outdir, { recursive: true, force: true });
    },
  };
}

export type WarmIssuers = Awaited<ReturnType<typeof warmIssuers>>;
