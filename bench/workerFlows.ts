/**
 * `npm run bench:worker -- --flows`: complete KCC flows against the Workers build in workerd
 * (local, via miniflare, D1 on disk), the same lean wallet and flow as `npm run bench`, and the
 * CPU the workerd process used per flow against the same floor measured in the same run
 * (bench/floor.ts). workerd is not the edge (no per-request CPU limits, D1 is local SQLite behind
 * workerd's own I/O), so this compares the Workers build with the Node server on one machine.
 * Env: BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2), BENCH_CONCURRENCY (16). BENCH_PERF=1 (Linux
 * perf): workerd's CPU in the timed window split by kind of code (./perfSplit.ts; workerd is not
 * stripped and links SQLite, BoringSSL, V8 and its kj/capnp runtime statically), so local D1's own
 * SQLite shows apart. JavaScript is not named (workerd writes no perf map): ours, the D1
 * simulator's (miniflare runs local D1 as a Durable Object script in the same workerd) and V8's
 * builtins are one row.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createWebCryptoProvider } from '../src/crypto/webCrypto';
import { applyMigrationsWithWrangler, bundleWorker, freePort, startWorker } from '../test/helpers/workerd';
import { FLOW_COUNTS, floorMs, measureFloor, processCpuMs } from './floor';
import { createLeanHttp } from './leanHttp';
import { PfiKeyCache, runLeanFlow } from './leanWallet';
import { PERF_KINDS, perfAvailable, startPerfRecord } from './perfSplit';

/** PIDs of this process's workerd children (miniflare spawns one per instance). */
function workerdPids(): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (stat.includes('(workerd)') && Number(stat.split(') ')[1].split(' ')[1]) === process.pid) pids.push(Number(d));
    } catch {
      // gone
    }
  }
  return pids;
}

export async function benchWorkerFlows(dir: string) {
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const warmup = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
  const persistTo = join(dir, 'state');
  const [scriptPath] = await Promise.all([bundleWorker(join(dir, 'bundle')), applyMigrationsWithWrangler(persistTo)]);
  const port = await freePort();
  const key = JSON.stringify(await createWebCryptoProvider().generateKeyPair('EdDSA'));
  const { mf, url } = await startWorker({
    scriptPath,
    persistTo,
    port,
    bindings: {
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      ISSUER_PRIVATE_JWK: key,
      PII_DATA_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url'),
      LOG_LEVEL: 'silent',
      RATE_LIMITS: 'off',
    },
  });
  const http = createLeanHttp({ maxSockets: concurrency });
  const floorHttp = createLeanHttp({ maxSockets: concurrency });
  try {
    const pids = workerdPids();
    if (pids.length === 0) throw new Error('no workerd process found (Linux /proc only)');
    const cpu = () => pids.reduce((sum, pid) => sum + (processCpuMs(pid) ?? 0), 0);
    const keys = new PfiKeyCache();
    let stop = false;
    let recording = false;
    let flows = 0;
    let failures = 0;
    const worker = async () => {
      while (!stop) {
        try {
          await runLeanFlow({ issuer: url, http, keys });
          if (recording) flows++;
        } catch (e) {
          if (++failures <= 3) console.error('flow failed:', (e as Error).message);
        }
      }
    };
    const workers = Array.from({ length: concurrency }, worker);
    await new Promise((r) => setTimeout(r, warmup * 1000));
    recording = true;
    const cpu0 = cpu();
    const perf = process.env.BENCH_PERF === '1' && perfAvailable() ? startPerfRecord(pids, dir) : undefined;
    const started = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const cpu1 = cpu();
    const split = await perf?.stop();
    const elapsed = (performance.now() - started) / 1000;
    recording = false;
    stop = true;
    await Promise.all(workers);
    const floor = await measureFloor(floorHttp, { concurrency, seconds: 3 });
    if (flows === 0) throw new Error('no flow completed');
    const perFlow = (cpu1 - cpu0) / flows;
    const floorPer = floorMs(floor, FLOW_COUNTS);
    console.log(
      `workerd (miniflare, local D1): ${flows} complete flows in ${elapsed.toFixed(1)}s = ${(flows / elapsed).toFixed(1)}/s at concurrency ${concurrency}; failures: ${failures}`,
    );
    console.log(
      `CPU per flow: workerd ${perFlow.toFixed(2)} ms; floor (same run) ${floorPer.toFixed(2)} ms → floor efficiency ${((100 * floorPer) / perFlow).toFixed(0)}% (${(perFlow / floorPer).toFixed(2)}× its floor)`,
    );
    if (split) {
      const total = [...split.values()].reduce((a, b) => a + b, 0) || 1;
      console.log('workerd CPU by kind of code (perf, every thread, timed window), ms per flow:');
      for (const kind of PERF_KINDS) {
        const share = split.get(kind) ?? 0;
        if (share > 0) console.log(`  ${kind.padEnd(52)} ${((100 * share) / total).toFixed(1).padStart(5)} %  ${((perFlow * share) / total).toFixed(2)} ms`);
      }
    }
    if (failures > 0) process.exitCode = 1;
  } finally {
    http.close();
    floorHttp.close();
    await mf.dispose();
  }
}
