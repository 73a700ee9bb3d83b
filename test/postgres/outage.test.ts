import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/http/context';
import type { IssuerKey } from '../../src/issuer';
import { startNodeIssuer } from '../../src/runtime/node';
import { createNodePiiVault } from '../../src/runtime/nodePiiVault';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { makeIssuerKeys } from '../helpers/issuer';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres';

/**
 * PostgreSQL stopped under load (`pg_ctl stop -m immediate`) and started again, the issuer left
 * running: every request answers within a bound (a JSON 503 with Retry-After while the database
 * is down, never a 500, never a hang), /readyz too, and once the database is back the issuer
 * serves at normal latency without a restart; what was issued before is still there, once.
 */
const PUBLIC_URL = 'http://kcc.outage.test';
const ADMIN_TOKEN = 'pg-outage-admin-token-0123456789abcdef';
/** connect 2 s + statement 2 s + slack: the longest any answer may take while the database is down. */
const BOUND_MS = 6000;

let server: TestPostgres;
let keys: IssuerKey[];

beforeAll(async () => {
  server = await startTestPostgres();
  keys = await makeIssuerKeys();
}, 60_000);
afterAll(async () => server?.stop());

interface Answer {
  path: string;
  status: number;
  ms: number;
  retryAfter: string | null;
  error?: string;
}

async function timed(base: string, path: string, init?: RequestInit): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  let error: string | undefined;
  try {
    error = (JSON.parse(text) as { error?: string }).error;
  } catch {
    error = undefined;
  }
  return { path, status: res.status, ms: performance.now() - started, retryAfter: res.headers.get('retry-after'), error };
}

describe('PostgreSQL down and back under load', () => {
  it('answers every request within the bound (503 + Retry-After while down) and recovers by itself', async () => {
    const databaseUrl = await server.createDatabase();
    const issuer = await startNodeIssuer({
      port: 0,
      dataDir: '/nonexistent-unused-with-postgres',
      databaseUrl,
      databasePoolSize: 4,
      databaseTimeouts: { connectSeconds: 2, statementSeconds: 2 },
      keys,
      idv: { vendors: new Map(), outboundSecrets: [], vault: createNodePiiVault(crypto.getRandomValues(new Uint8Array(32))) },
      logger: silentLogger,
      backgroundIntervalMs: 0,
      config: { publicUrl: PUBLIC_URL, adminToken: ADMIN_TOKEN, rateLimits: { enabled: false } },
    });
    const base = `http://127.0.0.1:${issuer.port}`;
    try {
      // Before: a wallet collects its KCC.
      const before = new WalletClient(await Holder.create(), (u, i) => fetch(u.replace(PUBLIC_URL, base), i));
      const first = await applyForKcc(before, { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY, pollAttempts: 0 });
      expect(first.credential).toMatch(/^ey/);

      // Load: 4 clients in a loop on a write (Nonce Endpoint), a read (/readyz) and a page without the database.
      const answers: Answer[] = [];
      let running = true;
      const paths: [string, RequestInit | undefined][] = [
        ['/oid4vci/nonce', { method: 'POST' }],
        ['/readyz', undefined],
        ['/.well-known/openid-credential-issuer', undefined],
      ];
      const load = Array.from({ length: 4 }, async (_, worker) => {
        for (let i = worker; running; i++) {
          const [path, init] = paths[i % paths.length];
          answers.push(await timed(base, path, init));
        }
      });
      await new Promise((ok) => setTimeout(ok, 500));
      const haltedAt = answers.length;
      await server.halt();
      await new Promise((ok) => setTimeout(ok, 6000));
      const down = answers.slice(haltedAt);
      await server.resume();
      const resumedAt = performance.now();
      // Back: the Nonce Endpoint answers 200 again within seconds, without a restart.
      let recoveredMs = Number.POSITIVE_INFINITY;
      while (performance.now() - resumedAt < 15_000) {
        const a = await timed(base, '/oid4vci/nonce', { method: 'POST' });
        if (a.status === 200) {
          recoveredMs = performance.now() - resumedAt;
          break;
        }
        await new Promise((ok) => setTimeout(ok, 100));
      }
      await new Promise((ok) => setTimeout(ok, 1000));
      const afterAt = answers.length;
      await new Promise((ok) => setTimeout(ok, 1000));
      running = false;
      await Promise.all(load);
      const after = answers.slice(afterAt);

      // Down: each answer within the bound; 503 with Retry-After for what needs the database; never a 500.
      expect(down.length).toBeGreaterThan(10);
      expect(down.filter((a) => a.ms > BOUND_MS)).toEqual([]);
      expect(down.filter((a) => a.status === 500)).toEqual([]);
      const failed = down.filter((a) => a.status !== 200);
      expect(failed.length).toBeGreaterThan(0);
      for (const a of failed) {
        expect(a.status, JSON.stringify(a)).toBe(503);
        if (a.path !== '/readyz') expect(a.retryAfter, JSON.stringify(a)).toMatch(/^\d+$/);
      }
      // Back: within seconds, at normal latency.
      expect(recoveredMs).toBeLessThan(5000);
      expect(after.length).toBeGreaterThan(5);
      expect(after.filter((a) => a.status !== 200)).toEqual([]);
      expect(Math.max(...after.map((a) => a.ms))).toBeLessThan(1000);

      // Nothing lost or doubled: the KCC issued before is there once, and a new wallet collects one.
      expect(await issuer.deps.store.issuedCredentials.count()).toBe(1);
      const later = new WalletClient(await Holder.create(), (u, i) => fetch(u.replace(PUBLIC_URL, base), i));
      const second = await applyForKcc(later, { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY, pollAttempts: 0 });
      expect(second.credential).toMatch(/^ey/);
      expect(await issuer.deps.store.issuedCredentials.count()).toBe(2);
    } finally {
      const closing = performance.now();
      await issuer.close();
      // Shutdown is bounded as well.
      expect(performance.now() - closing).toBeLessThan(10_000);
    }
  }, 90_000);
});
