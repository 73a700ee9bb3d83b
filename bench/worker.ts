/**
 * Worker figures for docs/cloudflare.md: bundle size (what `wrangler deploy` uploads) and cold
 * start in workerd (local, via miniflare): `npm run bench:worker [-- runs]`. Offline.
 *   ready    — a fresh workerd process listening (miniflare start-up; not an edge figure);
 *   cold     — first request to a fresh isolate: module compile + top-level evaluation +
 *              building the issuer (key import), then GET /.well-known/did.json;
 *   firstD1  — the next request, the first touching D1 (signed SIOPv2 request + insert);
 *   warm     — median of 50 further did.json requests.
 * `npm run bench:worker -- --flows`: complete flows and CPU per flow against the floor instead
 * (./workerFlows.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createWebCryptoProvider } from '../src/crypto/webCrypto';
import { applyMigrationsWithWrangler, bundleWorker, freePort, startWorker } from '../test/helpers/workerd';
import { benchWorkerFlows } from './workerFlows';

const flows = process.argv.includes('--flows');
const runs = Number(process.argv.filter((a) => a !== '--flows')[2] ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'kcc-worker-bench-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x: number) => Math.round(x * 10) / 10;

async function coldStart() {
  const persistTo = join(dir, 'state');
  const [scriptPath] = await Promise.all([bundleWorker(join(dir, 'bundle')), applyMigrationsWithWrangler(persistTo)]);
  const code = readFileSync(scriptPath);
  console.log(`bundle: ${(code.length / 1024).toFixed(1)} KiB minified, ${(gzipSync(code, { level: 9 }).length / 1024).toFixed(1)} KiB gzip`);
  const key = JSON.stringify(await createWebCryptoProvider().generateKeyPair('EdDSA'));
  const rows: Record<string, number[]> = { ready: [], cold: [], firstD1: [], warm: [] };
  for (let i = 0; i < runs; i++) {
    const port = await freePort();
    let t = performance.now();
    const { mf, url } = await startWorker({
      scriptPath,
      persistTo,
      port,
      bindings: { PUBLIC_URL: `http://127.0.0.1:${port}`, ISSUER_PRIVATE_JWK: key, LOG_LEVEL: 'silent' },
    });
    rows.ready.push(performance.now() - t);
    t = performance.now();
    await (await fetch(`${url}/.well-known/did.json`)).arrayBuffer();
    rows.cold.push(performance.now() - t);
    t = performance.now();
    const r = await fetch(`${url}/idv/siopv2/initiate`);
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`initiate answered ${r.status}`);
    rows.firstD1.push(performance.now() - t);
    const warm: number[] = [];
    for (let j = 0; j < 50; j++) {
      t = performance.now();
      await (await fetch(`${url}/.well-known/did.json`)).arrayBuffer();
      warm.push(performance.now() - t);
    }
    rows.warm.push(median(warm));
    await mf.dispose();
  }
  for (const [name, xs] of Object.entries(rows)) console.log(`${name.padEnd(8)} median ${ms(median(xs))} ms  (runs: ${xs.map(ms).join(', ')})`);
}

try {
  if (flows) await benchWorkerFlows(dir);
  else await coldStart();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
