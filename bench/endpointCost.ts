/**
 * `npx tsx bench/endpointCost.ts`: the server's CPU per request of the repeatable GET endpoints
 * (discovery documents, finish page, SIOPv2 request), each hammered for 3 s at concurrency 32 with
 * the bench's lean HTTP client: what one request costs above the bare node:http exchange of
 * bench/floor.ts. PATHS (comma-separated) picks the endpoints, SERVER_DIR another checkout's
 * server (A/B), NODE_ARGS extra node flags for the server (e.g. --cpu-prof).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLeanHttp } from './leanHttp';
import { processCpuMs } from './floor';
const PORT = 30000 + Math.floor(Math.random() * 10000);
const dataDir = mkdtempSync(join(tmpdir(), 'kcc-ep-'));
const child = spawn(process.execPath, [...(process.env.NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', 'src/runtime/node.ts'], {
  env: {
    ...process.env,
    PORT: String(PORT),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    RATE_LIMITS: 'off',
    PUBLIC_URL: `http://localhost:${PORT}`,
  },
  stdio: ['ignore', 'ignore', 'inherit'],
  cwd: process.env.SERVER_DIR ?? process.cwd(),
});
const url = `http://localhost:${PORT}`;
for (let i = 0; i < 200; i++) {
  try {
    if ((await fetch(`${url}/healthz`)).ok) break;
  } catch {}
  await new Promise((r) => setTimeout(r, 100));
}
const http = createLeanHttp({ maxSockets: 32 });
const paths = (
  process.env.PATHS ??
  '/healthz,/.well-known/did.json,/.well-known/openid-credential-issuer,/.well-known/oauth-authorization-server,/idv/finish.html,/idv/siopv2/initiate'
).split(',');
for (const path of paths) {
  let stop = false,
    n = 0,
    counting = false;
  const w = async () => {
    while (!stop) {
      const r = await http.send('GET', url + path, {}, undefined, 'x');
      if (r.status >= 400) throw new Error(`${path} ${r.status}`);
      if (counting) n++;
    }
  };
  const ws = Array.from({ length: 32 }, w);
  await new Promise((r) => setTimeout(r, 1000));
  counting = true;
  const c0 = processCpuMs(child.pid!)!;
  await new Promise((r) => setTimeout(r, 3000));
  const c1 = processCpuMs(child.pid!)!;
  counting = false;
  stop = true;
  await Promise.all(ws);
  console.log(path.padEnd(45), (((c1 - c0) * 1000) / n).toFixed(1), 'µs/req', n);
}
http.close();
child.kill();
