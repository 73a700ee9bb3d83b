import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL server for tests: Debian's PostgreSQL (`initdb` + `pg_ctl`) in a
 * temporary directory, listening on 127.0.0.1 only on a free port, trust authentication for the
 * `postgres` role. Run as root (CI), the server runs as the `postgres` user (`runuser`), which
 * owns the directory. Durability is off (fsync, synchronous_commit): a test cluster needs none,
 * and it keeps startup and every commit fast. `stop()` stops the server and removes the directory.
 */
export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** The directory of the server's Unix socket (`.s.PGSQL.<port>`): PGHOST for a client connecting without TCP. */
  socketDir: string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
  /** Stops the server as a crash would (`pg_ctl stop -m immediate`), keeping its data. */
  halt(): Promise<void>;
  /** Starts the halted server again on the same port and data. */
  resume(): Promise<void>;
}

export function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  await new Promise((ok) => server.close(ok));
  return port;
}

let databases = 0;

/**
 * `settings` are extra `-c name=value` server settings, after (so overriding) the test defaults;
 * the benchmark (bench/flows.ts, BENCH_POSTGRES=1) turns durability back on and loads
 * pg_stat_statements with them.
 */
export async function startTestPostgres(config: { settings?: Record<string, string> } = {}): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install -y postgresql; .ci/run does this)');
  const dir = mkdtempSync(join(tmpdir(), 'kcc-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  chmodSync(dir, 0o700);
  // As root: through the postgres user (PostgreSQL refuses to run as root).
  const exec = (file: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, file), ...args]) : run(join(bin, file), args));
  await exec('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '--no-instructions', '-E', 'UTF8', '--locale=C']);
  let port = 0;
  let options = '';
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    options = [
      `-p ${port}`,
      "-c listen_addresses='127.0.0.1'",
      `-c unix_socket_directories='${dir}'`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=200',
      '-c shared_buffers=32MB',
      ...Object.entries(config.settings ?? {}).map(([name, value]) => `-c ${name}=${value}`),
    ].join(' ');
    try {
      await exec('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', options, '-w', '-t', '30', 'start']);
      break;
    } catch (e) {
      if (attempt >= 2) {
        rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    socketDir: dir,
    async createDatabase(name = `kcc_test_${process.pid}_${++databases}`) {
      const admin = postgres(url, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`CREATE DATABASE "${name}"`);
      } finally {
        await admin.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async halt() {
      await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    },
    async resume() {
      await exec('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', options, '-w', '-t', '30', 'start']);
    },
    async stop() {
      await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fetch that failed before the request left: the instance refused the connection. */
function connectionRefused(e: unknown): boolean {
  const cause = (e as { cause?: { code?: string; errors?: { code?: string }[] } })?.cause;
  return cause?.code === 'ECONNREFUSED' || (cause?.errors?.some((x) => x.code === 'ECONNREFUSED') ?? false);
}

/**
 * A load balancer in the wallet's fetch: every request to `publicUrl` (the one PUBLIC_URL all
 * instances share) goes to the next instance in turn, so consecutive requests of one wallet
 * alternate between them. An instance that refuses the connection is skipped (as a balancer's
 * health check would), unless `failover` is false. `hits[i]` counts what instance i answered.
 */
export function balancedFetch(publicUrl: string, instanceUrls: () => string[], options: { failover?: boolean } = {}) {
  let next = 0;
  const hits: number[] = [];
  const route: { path: string; instance: number }[] = [];
  const fetchVia = async (input: string, init?: RequestInit): Promise<Response> => {
    if (!input.startsWith(publicUrl)) return globalThis.fetch(input, init);
    const urls = instanceUrls();
    let lastError: unknown;
    for (let tries = 0; tries < urls.length; tries++) {
      const i = next++ % urls.length;
      try {
        const res = await globalThis.fetch(urls[i] + input.slice(publicUrl.length), init);
        hits[i] = (hits[i] ?? 0) + 1;
        route.push({ path: new URL(input).pathname, instance: i });
        return res;
      } catch (e) {
        lastError = e;
        // Only a refused connection is safe to send elsewhere: a reset after the request was sent
        // may have been processed (a credential issued), so the caller sees it, as behind a real
        // balancer, which does not replay a POST.
        if (options.failover === false || !connectionRefused(e)) throw e;
      }
    }
    throw lastError;
  };
  return { fetch: fetchVia, hits, route };
}
