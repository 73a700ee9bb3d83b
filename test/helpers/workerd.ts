import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Miniflare, type MiniflareOptions } from 'miniflare';
import { drizzle } from 'drizzle-orm/d1';
import { MIGRATIONS_DIR } from '../../src/runtime/sqlite';
import * as schema from '../../src/store/schema';
import type { Database as StoreDb } from '../../src/store/sqlite';

/**
 * Local Cloudflare Workers runtime for tests: workerd (shipped in the `workerd` npm package)
 * driven by miniflare, and wrangler for the bundle and the D1 migrations, exactly the
 * commands docs/cloudflare.md documents. All offline and on loopback.
 */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const run = promisify(execFile);

/** The compatibility_date and D1 database_id of wrangler.toml, so tests run what deploys. */
export function wranglerToml() {
  const text = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  const field = (name: string) => new RegExp(`^${name}\\s*=\\s*"([^"]+)"`, 'm').exec(text)?.[1];
  return { compatibilityDate: field('compatibility_date')!, databaseId: field('database_id')!, text };
}

async function wrangler(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [WRANGLER, ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

/**
 * `wrangler deploy --dry-run --outdir`: the bundle wrangler would upload. Returns its path; esbuild's
 * metafile (what each input module weighs in it) is written beside it as BUNDLE_METAFILE.
 */
export async function bundleWorker(outdir: string): Promise<string> {
  await wrangler(['deploy', '--dry-run', '--outdir', outdir, '--metafile', join(outdir, BUNDLE_METAFILE)]);
  return join(outdir, 'worker.js');
}

/** The members of zod's namespace the Workers build's zod (src/runtime/workerZod) leaves out. */
export const OMITTED_ZOD_MEMBERS = ['core', 'locales', 'compile', 'withParser', 'ZodCompileAsyncError', 'ZodCompileUnsupportedError', 'fromJSONSchema'];

/** The esbuild metafile bundleWorker writes into its outdir. */
export const BUNDLE_METAFILE = 'bundle-meta.json';

/** `wrangler d1 migrations apply DB --local`: the documented migration step, into `persistTo`. */
export async function applyMigrationsWithWrangler(persistTo: string): Promise<void> {
  await wrangler(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo]);
}

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => ok(port));
    });
  });
}

/** The bundled worker in workerd, listening on 127.0.0.1:`port`, with D1 persisted under `persistTo`. */
export async function startWorker(options: { scriptPath: string; persistTo: string; port: number; bindings: Record<string, string> }) {
  const toml = wranglerToml();
  const mfOptions: MiniflareOptions = {
    modules: true,
    scriptPath: options.scriptPath,
    modulesRoot: dirname(options.scriptPath),
    compatibilityDate: toml.compatibilityDate,
    host: '127.0.0.1',
    port: options.port,
    d1Databases: { DB: toml.databaseId },
    d1Persist: join(options.persistTo, 'v3', 'd1'),
    bindings: options.bindings,
    cf: false, // the fallback request.cf: never fetch Cloudflare's cf.json (tests stay offline)
  };
  const mf = new Miniflare(mfOptions);
  const url = await mf.ready;
  return { mf, url: url.toString().replace(/\/$/, '') };
}

/** Applies drizzle/ migrations to a D1 database as wrangler does: each file once, statement by statement. */
export async function migrateD1(d1: D1Like): Promise<void> {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  for (const { tag } of journal.entries) {
    const statements = readFileSync(join(MIGRATIONS_DIR, `${tag}.sql`), 'utf8')
      .split('--> statement-breakpoint')
      .map((s) => s.trim())
      .filter(Boolean);
    await d1.batch(statements.map((s) => d1.prepare(s)));
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type D1Like = { prepare(sql: string): any; batch(statements: any[]): Promise<unknown> };

/**
 * A worker that runs SQL on its D1 binding for the Node side. One HTTP round trip per
 * statement (about 1 ms); miniflare's getD1Database() proxy makes several per statement
 * (about 30 ms), which made the contract suite slow. The statements still execute in
 * workerd's D1, with D1's own prepare/bind/all/raw/run/batch and its result shapes.
 */
const D1_GATEWAY_WORKER = `
const run = (stmt, op) => op === 'raw' ? stmt.raw() : op === 'run' ? stmt.run() : op === 'first' ? stmt.first() : stmt.all();
export default {
  async fetch(request, env) {
    const body = await request.json();
    try {
      const value = body.op === 'batch'
        ? await env.DB.batch(body.statements.map((s) => env.DB.prepare(s.sql).bind(...s.params)))
        : await run(env.DB.prepare(body.sql).bind(...body.params), body.op);
      return Response.json({ value: value ?? null });
    } catch (e) {
      return Response.json({ error: String(e && e.message || e) }, { status: 500 });
    }
  },
};`;

type Bound = { sql: string; params: unknown[] };

/** A D1Database for Node whose statements run in workerd's D1 through D1_GATEWAY_WORKER. */
export function d1OverHttp(url: string) {
  async function call(body: object) {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const out = (await res.json()) as { value?: unknown; error?: string };
    if (out.error !== undefined) throw new Error(out.error);
    return out.value;
  }
  const bound = (sql: string, params: unknown[]) => ({
    sql,
    params,
    bind: (...more: unknown[]) => bound(sql, more),
    all: () => call({ op: 'all', sql, params }),
    raw: () => call({ op: 'raw', sql, params }),
    run: () => call({ op: 'run', sql, params }),
    first: () => call({ op: 'first', sql, params }),
  });
  return {
    prepare: (sql: string) => bound(sql, []),
    batch: (statements: Bound[]) => call({ op: 'batch', statements: statements.map(({ sql, params }) => ({ sql, params })) }),
  };
}

/** An in-memory D1 database in workerd, migrated, wrapped in drizzle as the worker does. */
export async function startD1() {
  const mf = new Miniflare({
    modules: true,
    script: D1_GATEWAY_WORKER,
    compatibilityDate: wranglerToml().compatibilityDate,
    host: '127.0.0.1',
    d1Databases: ['DB'],
    cf: false,
  });
  const d1 = d1OverHttp((await mf.ready).toString());
  await migrateD1(d1);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const db = drizzle(d1 as any, { schema }) as unknown as StoreDb;
  return { mf, d1, db };
}
