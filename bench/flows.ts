/**
 * `npm run bench`: complete KCC flows per second over loopback HTTP against an
 * `npm start`-style server (a child process, fresh SQLite in a temp DATA_DIR), with the
 * wallet at concurrency 32, plus p50/p99 per endpoint and CPU per flow of server and load generator.
 *
 * Env: BENCH_SECONDS (10), BENCH_CONCURRENCY (32), BENCH_WARMUP_SECONDS (20: V8 is still compiling the hot paths for ~15 s, see docs/performance.md), BENCH_SERVER_NODE_ARGS
 * (extra node flags for the server), BENCH_SERVER_STDOUT=1 (the server's stdout, e.g. for --trace-gc), BENCH_WALLET (`lean`, default: bench/leanWallet.ts, the same
 * flow as the reference wallet for a third to a half of its CPU; `reference`: src/wallet on a small
 * fetch), BENCH_HTTP (lean wallet only: `net`, default, a minimal HTTP/1.1 client on node:net;
 * `node:http`, the same on node:http; see bench/leanHttp.ts). The server runs with
 * RATE_LIMITS=off: one load generator on one address would otherwise be (rightly) throttled.
 * A flow = discover (DID doc) → SIOPv2 GET → POST id_token → IDV form GET + POST (+finish.html)
 * → AS + issuer metadata → token → credential: 10 requests, a fresh holder every flow.
 *
 * BENCH_PERF=1 (Linux perf installed): the server's CPU in the timed window split by kind of code, native
 * and kernel work apart from JavaScript (./perfSplit.ts).
 *
 * BENCH_PRESEED=N fills the SQLite database with N applications, credentials and status entries
 * before the server starts (./preseed.ts): per-flow CPU should not grow with the data.
 *
 * DATABASE_URL (postgres://…) is passed through: the server(s) then run on PostgreSQL (use a
 * scratch database: the bench writes to it and leaves its rows), with a generated
 * ISSUER_PRIVATE_JWK and PII_DATA_KEY unless set. BENCH_INSTANCES (1) starts that many servers on
 * the one DATABASE_URL behind a round-robin TCP balancer in this process (each wallet connection
 * goes to the next instance); server CPU is then the sum over the instances. See docs/postgres.md.
 * BENCH_POSTGRES=1 starts a throwaway PostgreSQL cluster for the run instead (test/helpers/postgres.ts,
 * durable as an operator would run it: fsync, synchronous_commit and full_page_writes on) with
 * pg_stat_statements loaded, and removes it afterwards. With either, the bench prints the database's
 * statements (round trips), WAL and CPU per flow, read from the server (./postgresFigures.ts).
 * BENCH_POSTGRES_SOCKET=1 (with BENCH_POSTGRES=1) connects the servers over the cluster's Unix
 * socket instead of TCP on 127.0.0.1: on loopback TCP the sender's system call also runs the
 * receiver's TCP input, so each statement's write charges the database's side of the exchange to
 * the issuer; over a Unix socket (or a real network) it does not.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeCryptoProvider } from '../src/runtime/nodeCrypto';
import { WalletClient, type Fetch } from '../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../src/wallet/flow';
import { Holder } from '../src/wallet/holder';
import { createHttpFetch } from './httpFetch';
import { createLeanHttp, type LeanTransport } from './leanHttp';
import { FLOW_COUNTS, PAIR_COUNTS, floorMs, measureFloor, processCpuMs, processIo, type FloorPieces } from './floor';
import { preseed } from './preseed';
import { PERF_KINDS, perfAvailable, startPerfRecord } from './perfSplit';
import { PfiKeyCache, runLeanFlow, runLeanIssuance, runLeanOffer, type LeanOffer } from './leanWallet';
import { openPostgresFigures } from './postgresFigures';
import { startTestPostgres, type TestPostgres } from '../test/helpers/postgres';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 20);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const PORT = 20000 + Math.floor(Math.random() * 20000);
const WALLET = process.env.BENCH_WALLET ?? 'lean';
if (WALLET !== 'lean' && WALLET !== 'reference') throw new Error('BENCH_WALLET must be lean or reference');
const TRANSPORT = (process.env.BENCH_HTTP ?? 'net') as LeanTransport;
/** `--pairs`: only token + credential are timed; the offers are made before the timed window. */
const PAIRS = process.argv.includes('--pairs');
if (PAIRS && WALLET !== 'lean') throw new Error('--pairs runs with the lean wallet');
/** Offers prepared for --pairs (each is redeemed once). */
const PAIR_OFFERS = Number(process.env.BENCH_PAIR_OFFERS ?? 8000);
/** --pairs: redemptions made before the timed window (the token and credential code is cold until then). */
const PAIR_WARMUP = Number(process.env.BENCH_PAIR_WARMUP ?? 3000);
const FLOOR_SECONDS = Number(process.env.BENCH_FLOOR_SECONDS ?? 3);
// BENCH_PERF=1: the server's CPU in the timed window split by kind of code (./perfSplit.ts).
const PERF = process.env.BENCH_PERF === '1';
if (PERF && !perfAvailable()) {
  console.error('BENCH_PERF=1 needs Linux perf on the PATH (Debian: apt-get install linux-perf)');
  process.exit(2);
}
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 1);
if (!Number.isInteger(INSTANCES) || INSTANCES < 1) throw new Error('BENCH_INSTANCES must be a positive integer');
const OWN_POSTGRES = process.env.BENCH_POSTGRES === '1';
if (OWN_POSTGRES && process.env.DATABASE_URL) throw new Error('BENCH_POSTGRES=1 starts its own cluster: leave DATABASE_URL unset');
/** The bench's own cluster (BENCH_POSTGRES=1), started in main(). */
let ownPostgres: TestPostgres | undefined;
let DATABASE_URL = process.env.DATABASE_URL || undefined;
if (INSTANCES > 1 && !DATABASE_URL && !OWN_POSTGRES) throw new Error('BENCH_INSTANCES > 1 needs DATABASE_URL (SQLite serves one instance)');
if (TRANSPORT !== 'net' && TRANSPORT !== 'node:http') throw new Error('BENCH_HTTP must be net or node:http');
/** Rows (applications, credentials, status entries) put in the database before the run (./preseed.ts). */
const PRESEED = Number(process.env.BENCH_PRESEED ?? 0);
if (!Number.isInteger(PRESEED) || PRESEED < 0) throw new Error('BENCH_PRESEED must be a non-negative integer');
if (PRESEED > 0 && (DATABASE_URL || OWN_POSTGRES)) throw new Error('BENCH_PRESEED seeds the SQLite database only');

function routeOf(url: string): string {
  const path = new URL(url).pathname;
  return path.startsWith('/idv/form/') ? '/idv/form/:token' : path;
}

async function waitForServer(url: string) {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not start');
}

/** The machine's CPU time so far (all CPUs, ms): busy and stolen by the hypervisor, from /proc/stat (Linux). */
function machineCpuMs(): { busy: number; steal: number; total: number } | undefined {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = ticks.map(Number);
    const toMs = (t: number) => (t * 1000) / 100; // USER_HZ = 100
    return { busy: toMs(user + nice + system + irq + softirq), steal: toMs(steal), total: toMs(user + nice + system + idle + iowait + irq + softirq + steal) };
  } catch {
    return undefined;
  }
}

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * --perf-basic-prof writes /tmp/perf-<pid>.map for perf (bench/perfSplit.ts); on Node 20 it also
 * opens V8's log, one isolate-*-v8.log per thread in the working directory (the checkout): sent
 * to the run's temp directory instead.
 */
function perfNodeArgs(dataDir: string) {
  return ['--perf-basic-prof', `--logfile=${join(dataDir, 'v8.log')}`];
}

async function main() {
  if (OWN_POSTGRES) {
    ownPostgres = await startTestPostgres({
      settings: { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on', shared_buffers: '128MB', shared_preload_libraries: 'pg_stat_statements' },
    });
    DATABASE_URL = await ownPostgres.createDatabase('kcc_bench');
    if (process.env.BENCH_POSTGRES_SOCKET === '1') {
      // postgres.js (and so the servers, which inherit this environment) takes an empty host from PGHOST: a directory is its socket.
      Object.assign(process.env, { PGHOST: ownPostgres.socketDir, PGPORT: String(ownPostgres.port), PGUSER: 'postgres' });
      DATABASE_URL = 'postgres:///kcc_bench';
    }
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'kcc-bench-'));
  if (PRESEED > 0) {
    const seeded = preseed(dataDir, PRESEED);
    console.error(
      `preseeded ${PRESEED} applications, credentials and status entries (${seeded.lists} status lists) in ${seeded.seconds.toFixed(0)} s${seeded.reused ? ' (a copy of the kept seeded file)' : ''}`,
    );
  }
  // PostgreSQL: every instance needs the same keys from configuration (src/runtime/node.ts).
  const shared: Record<string, string> = {};
  if (DATABASE_URL) {
    if (!process.env.ISSUER_PRIVATE_JWK) shared.ISSUER_PRIVATE_JWK = JSON.stringify(await createNodeCryptoProvider().generateKeyPair('EdDSA'));
    if (!process.env.PII_DATA_KEY) shared.PII_DATA_KEY = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
  }
  const serverPorts = INSTANCES === 1 ? [PORT] : Array.from({ length: INSTANCES }, (_, i) => PORT + 1 + i);
  const start = (port: number) =>
    spawn(
      process.execPath,
      [
        ...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
        ...(PERF ? perfNodeArgs(dataDir) : []),
        '--import',
        'tsx',
        'src/runtime/node.ts',
      ],
      {
        env: {
          ...process.env,
          ...shared,
          ...(DATABASE_URL ? { DATABASE_URL } : {}),
          PORT: String(port),
          HOST: '127.0.0.1',
          DATA_DIR: dataDir,
          LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
          RATE_LIMITS: process.env.BENCH_RATE_LIMITS ?? 'off',
          PUBLIC_URL: `http://localhost:${PORT}`,
        },
        stdio: ['ignore', process.env.BENCH_SERVER_STDOUT ? 'inherit' : 'ignore', 'inherit'],
        // BENCH_SERVER_DIR: run another checkout's server (an A/B against an older commit, same load generator).
        cwd: process.env.BENCH_SERVER_DIR ?? process.cwd(),
      },
    );
  // Started one after the other: instances racing to migrate would only wait on the advisory lock.
  const servers = [start(serverPorts[0])];
  for (const port of serverPorts.slice(1)) {
    await waitForServer(`http://localhost:${serverPorts[0]}`);
    servers.push(start(port));
  }
  // Several instances: a round-robin TCP balancer on PORT, the PUBLIC_URL they share.
  let next = 0;
  const balancer =
    INSTANCES > 1
      ? createServer((downstream) => {
          const upstream = connect(serverPorts[next++ % serverPorts.length], '127.0.0.1');
          downstream.pipe(upstream).pipe(downstream);
          const close = () => {
            downstream.destroy();
            upstream.destroy();
          };
          downstream.on('error', close);
          upstream.on('error', close);
        }).listen(PORT, '127.0.0.1')
      : undefined;
  const url = `http://localhost:${PORT}`;
  try {
    for (const port of serverPorts) await waitForServer(`http://localhost:${port}`);
    const latencies = new Map<string, number[]>();
    let recording = false;
    const record = (key: string, ms: number) => {
      if (!recording) return;
      let list = latencies.get(key);
      if (!list) {
        list = [];
        latencies.set(key, list);
      }
      list.push(ms);
    };
    let flows = 0;
    let failures = 0;
    const reasons = new Map<string, number>();
    const failed = (e: unknown) => {
      failures++;
      const reason = e instanceof Error ? e.message : String(e);
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      if (failures <= 5) console.error('flow failed:', reason);
    };
    let stop = false;
    let closeHttp = () => {};
    // biome-ignore lint/suspicious/noConfusingVoidType: the flow runners return nothing or whether the flow completed
    let runFlow: () => Promise<boolean | undefined | void>;
    const floorHttp = createLeanHttp({ maxSockets: CONCURRENCY, transport: TRANSPORT });
    if (WALLET === 'lean') {
      const http = createLeanHttp({ maxSockets: CONCURRENCY, onTiming: record, transport: TRANSPORT });
      closeHttp = () => http.close();
      const keys = new PfiKeyCache();
      if (PAIRS) {
        // The offers first (untimed), then each worker redeems them: token + credential.
        const offers: LeanOffer[] = [];
        const prepare = async () => {
          while (offers.length < PAIR_OFFERS) offers.push(await runLeanOffer({ issuer: url, http, keys }));
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, prepare));
        console.error(`prepared ${offers.length} offers`);
        // Warm-up, untimed: as the complete-flow run's first seconds, so JIT compilation of the
        // token and credential paths is not counted against them.
        const warmUp = offers.splice(0, Math.min(PAIR_WARMUP, offers.length - 1));
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            for (let offer = warmUp.pop(); offer; offer = warmUp.pop()) await runLeanIssuance(offer, { http, keys });
          }),
        );
        runFlow = async () => {
          const offer = offers.pop();
          if (!offer) {
            stop = true;
            return false;
          }
          await runLeanIssuance(offer, { http, keys });
        };
      } else {
        runFlow = async () => {
          await runLeanFlow({ issuer: url, http, keys });
        };
      }
    } else {
      const crypto = createNodeCryptoProvider();
      const httpFetch = createHttpFetch(CONCURRENCY);
      const timedFetch: Fetch = async (input, init) => {
        const started = performance.now();
        const res = await httpFetch(input, init);
        const body = await res.arrayBuffer();
        record(`${init?.method ?? 'GET'} ${routeOf(input)}`, performance.now() - started);
        return new Response(body, { status: res.status, headers: res.headers });
      };
      runFlow = async () => {
        const holder = await Holder.create({ crypto });
        const r = await applyForKcc(new WalletClient(holder, timedFetch, { crypto }), { issuer: url, identity: SAMPLE_IDENTITY });
        if (!r.credential) throw new Error('no credential');
      };
    }
    async function worker() {
      while (!stop) {
        try {
          const ran = await runFlow();
          if (recording && ran !== false && (PAIRS || !stop)) flows++;
        } catch (e) {
          failed(e);
        }
      }
    }
    // --pairs: the prepared offers are the run; warm-up and window are counted in redemptions.
    const workers = Array.from({ length: CONCURRENCY }, () => worker());
    if (!PAIRS) await new Promise((r) => setTimeout(r, WARMUP * 1000));
    const pgFigures = DATABASE_URL ? await openPostgresFigures(DATABASE_URL) : undefined;
    recording = true;
    const started = performance.now();
    // Write system calls (socket writes, WAL frames, checkpoint copies) and bytes written by the server(s), from /proc/<pid>/io.
    const serversIo = () => {
      let calls = 0;
      let bytes = 0;
      for (const s of servers) {
        const io = processIo(s.pid!);
        if (!io) return undefined;
        calls += io.syscw;
        bytes += io.wchar;
      }
      return { calls, bytes };
    };
    const serversCpu = () => {
      let sum = 0;
      for (const s of servers) {
        const ms = processCpuMs(s.pid!);
        if (ms === undefined) return undefined;
        sum += ms;
      }
      return sum;
    };
    const serverCpu0 = serversCpu();
    const serverIo0 = serversIo();
    const database0 = await pgFigures?.snapshot();
    const clientCpu0 = process.cpuUsage();
    const machine0 = machineCpuMs();
    const perf = PERF
      ? startPerfRecord(
          servers.map((s) => s.pid!),
          dataDir,
        )
      : undefined;
    if (PAIRS) await Promise.all(workers);
    else await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const machine1 = machineCpuMs();
    recording = false;
    const elapsed = (performance.now() - started) / 1000;
    const serverCpu1 = serversCpu();
    const serverIo1 = serversIo();
    const database1 = await pgFigures?.snapshot();
    await pgFigures?.close();
    const clientCpu = process.cpuUsage(clientCpu0);
    const perfSplit = await perf?.stop();
    stop = true;
    await Promise.all(workers);
    closeHttp();
    // The floor, measured now, in this run, with the same client and concurrency.
    let floor: FloorPieces | undefined;
    try {
      floor = await measureFloor(floorHttp, { concurrency: CONCURRENCY, seconds: FLOOR_SECONDS });
    } catch (e) {
      console.error('floor not measured:', (e as Error).message);
    } finally {
      floorHttp.close();
    }

    const rows = [...latencies.entries()].map(([endpoint, list]) => {
      list.sort((a, b) => a - b);
      return { endpoint, requests: list.length, p50_ms: percentile(list, 50).toFixed(2), p99_ms: percentile(list, 99).toFixed(2) };
    });
    const unit = PAIRS ? 'token + credential pairs' : 'complete flows';
    const database = DATABASE_URL
      ? `PostgreSQL${process.env.PGHOST?.startsWith('/') ? ' over its Unix socket' : ''}, ${INSTANCES} instance${INSTANCES > 1 ? 's behind a round-robin balancer' : ''}`
      : PRESEED > 0
        ? `SQLite (WAL) preseeded with ${PRESEED} applications, credentials and status entries`
        : 'fresh SQLite (WAL)';
    console.log(
      `\nKCC issuer benchmark: ${PAIRS ? `${PAIR_OFFERS} prepared offers` : `${SECONDS}s`}, concurrency ${CONCURRENCY}, ${WALLET === 'lean' ? `lean wallet (${TRANSPORT})` : 'reference wallet'}, loopback HTTP, ${database}`,
    );
    console.table(rows);
    console.log(`${unit}: ${flows} in ${elapsed.toFixed(1)}s = ${(flows / elapsed).toFixed(1)}/s; failures: ${failures}`);
    if (serverCpu0 !== undefined && serverCpu1 !== undefined && flows > 0) {
      const serverMs = (serverCpu1 - serverCpu0) / flows;
      console.log(
        `CPU per ${PAIRS ? 'pair' : 'flow'}: server${INSTANCES > 1 ? `s (sum of ${INSTANCES})` : ''} ${serverMs.toFixed(2)} ms, wallet/load generator${balancer ? ' and balancer' : ''} ${((clientCpu.user + clientCpu.system) / 1000 / flows).toFixed(2)} ms`,
      );
      if (floor) {
        const counts = PAIRS ? PAIR_COUNTS : FLOW_COUNTS;
        const floorPer = floorMs(floor, counts);
        console.log(
          `floor (same run): Ed25519 sign ${floor.signUs.toFixed(0)} µs, verify ${floor.verifyUs.toFixed(0)} µs, bare node:http exchange ${floor.exchangeUs.toFixed(0)} µs, ` +
            `2-write WAL transaction ${floor.transactionUs.toFixed(0)} µs → ${counts.signs} + ${counts.verifies} + ${counts.exchanges} + ${counts.transactions} = ${floorPer.toFixed(2)} ms per ${PAIRS ? 'pair' : 'flow'}`,
        );
        console.log(`floor efficiency: ${((100 * floorPer) / serverMs).toFixed(0)}% (the issuer at ${(serverMs / floorPer).toFixed(2)}× its floor)`);
      }
      if (serverIo0 && serverIo1)
        console.log(
          `server writes per ${PAIRS ? 'pair' : 'flow'}: ${((serverIo1.calls - serverIo0.calls) / flows).toFixed(1)} write system calls (socket writes, WAL frames, checkpoint copies), ${((serverIo1.bytes - serverIo0.bytes) / flows / 1024).toFixed(1)} KiB`,
        );
      if (perfSplit) {
        console.log(`server CPU by kind of code (perf, every thread, timed window), ms per ${PAIRS ? 'pair' : 'flow'}:`);
        const total = [...perfSplit.values()].reduce((a, b) => a + b, 0) || 1;
        let native = 0;
        for (const kind of PERF_KINDS) {
          if (kind.startsWith('workerd')) continue; // the Node server has none
          const ms = (serverMs * (perfSplit.get(kind) ?? 0)) / total;
          if (!/^(JavaScript|V8)/.test(kind)) native += ms;
          console.log(`  ${kind.padEnd(52)} ${((100 * (perfSplit.get(kind) ?? 0)) / total).toFixed(1).padStart(5)} %  ${ms.toFixed(2)} ms`);
        }
        // The part no faster JavaScript could remove: with none at all, this is the efficiency left.
        if (floor)
          console.log(
            `  native and kernel work alone: ${native.toFixed(2)} ms (with no JavaScript at all, the floor efficiency would be ${((100 * floorMs(floor, PAIRS ? PAIR_COUNTS : FLOW_COUNTS)) / native).toFixed(0)}%)`,
          );
      }
    }
    if (pgFigures && database0 && database1 && flows > 0)
      for (const line of pgFigures.report(database0, database1, flows, PAIRS ? 'pair' : 'flow')) console.log(line);
    if (machine0 && machine1) {
      // On a shared VM the hypervisor may take CPU away (steal): flows/s then says more about the host than the code.
      const total = machine1.total - machine0.total;
      console.log(
        `machine during the run: ${((100 * (machine1.busy - machine0.busy)) / total).toFixed(0)}% busy, ${((100 * (machine1.steal - machine0.steal)) / total).toFixed(0)}% stolen by the hypervisor`,
      );
    }
    if (failures > 0) {
      console.log('failure reasons (count):');
      for (const [reason, n] of [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5)) console.log(`  ${n} × ${reason.slice(0, 300)}`);
      process.exitCode = 1;
    }
  } finally {
    balancer?.close();
    await Promise.all(
      servers.map((s) => {
        const exited = new Promise((r) => s.once('exit', r));
        s.kill('SIGTERM');
        return exited;
      }),
    );
    rmSync(dataDir, { recursive: true, force: true });
    await ownPostgres?.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
