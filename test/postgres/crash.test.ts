/**
 * Two issuer processes on one PostgreSQL database behind a load balancer (test/helpers/postgres.ts:
 * round robin, an instance that refuses connections is skipped), under load from several wallets
 * (immediate, deferred through family_name "Review" and operator approval, declined;
 * test/helpers/crashLoad.ts). CYCLES times, in short cycles, one instance (each in turn) is
 * SIGKILLed under load and started again (from a process loaded ahead, test/helpers/warmIssuers.ts)
 * while the other keeps serving; the wallets carry on as real wallets do (retrying, taking a
 * fresh c_nonce, starting again at SIOPv2 with the same DID when a token answer was lost).
 * Outbound webhooks go to a loopback receiver.
 *
 * Checked afterwards: "no stranded wallet, no ghost" (crashLoad.ts `checkNoStrandedNoGhost`: every
 * approved application has a credential its wallet received or gets one now at SIOPv2, every
 * held grant gives the same KCC again, the admin API, the KYC status API and the console show
 * as live exactly what wallets hold, one credential per application and per wallet, no code
 * redeemed twice, no 5xx but lost connections), nothing stuck in review, and every outbox event
 * delivered, each exactly once except an event whose delivery was in flight on a killed
 * instance (claimed, not yet marked delivered): that one is delivered again with the same event
 * id (at-least-once; receivers deduplicate on KCC-Event-Id, docs/idv.md).
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64urlEncode } from '../../src/crypto/base64url';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { checkNoStrandedNoGhost, crashLoad, KYC_KEY, KYC_TENANT } from '../helpers/crashLoad';
import { balancedFetch, startTestPostgres, type TestPostgres } from '../helpers/postgres';
import { killHard, warmIssuers, type WarmIssuers } from '../helpers/warmIssuers';

const PUBLIC_URL = 'http://kcc.lb.test';
const ADMIN_TOKEN = 'pg-crash-admin-token-0123456789-abcdefghij';
const WALLETS = 6;
/** SIGKILLs under load, one instance at a time. */
const CYCLES = Number(process.env.CRASH_CYCLES ?? 30); // CRASH_CYCLES: fewer for a quick local run, more for a longer one
/** Each cycle kills after a random number of answers in [ANSWERS_MIN, ANSWERS_MAX) (at most LOAD_MS_MAX), as test/security/crash.test.ts. */
const ANSWERS_MIN = 2;
const ANSWERS_MAX = 40;
const LOAD_MS_MAX = 3000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  await new Promise((ok) => server.close(ok));
  return port;
}

/** The PFI's webhook receiver: records every delivery, answers 204. */
async function startReceiver() {
  const received: { id: string; type: string }[] = [];
  const server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; type: string };
    received.push({ id: String(req.headers['kcc-event-id']), type: body.type });
    res.writeHead(204).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/kcc-events`,
    received,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

describe('two PostgreSQL-backed issuer processes, SIGKILLed in turn under load', () => {
  let pg: TestPostgres;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let issuers: WarmIssuers | undefined;
  beforeAll(async () => {
    [pg, receiver] = await Promise.all([startTestPostgres(), startReceiver()]);
  }, 60_000);
  afterAll(async () => {
    await issuers?.close();
    await receiver?.close();
    await pg?.stop();
  });

  it(`${CYCLES} SIGKILLs, the other instance serving: no stranded wallet, no ghost, every outbox event delivered`, async () => {
    const databaseUrl = await pg.createDatabase();
    const crypto = createNodeCryptoProvider();
    issuers = await warmIssuers({
      ahead: 4,
      env: {
        DATABASE_URL: databaseUrl,
        DATABASE_POOL_SIZE: '5',
        PUBLIC_URL,
        HOST: '127.0.0.1',
        ISSUER_PRIVATE_JWK: JSON.stringify(await crypto.generateKeyPair('EdDSA')),
        PII_DATA_KEY: base64urlEncode(globalThis.crypto.getRandomValues(new Uint8Array(32))),
        ADMIN_TOKEN,
        KYC_API_KEYS: `${KYC_TENANT}:${KYC_KEY}`,
        LOG_LEVEL: 'silent',
        RATE_LIMITS: 'off',
        PFI_WEBHOOK_URL: receiver.url,
        PFI_WEBHOOK_SECRETS: 'pfi-webhook-secret',
        WEBHOOK_DISPATCH_INTERVAL_MS: '100',
      },
    });
    const ports = await Promise.all([freePort(), freePort()]);
    const urls = ports.map((p) => `http://127.0.0.1:${p}`);
    // Both start at the same moment on the empty database.
    const children = await Promise.all(ports.map((port) => issuers!.start({ PORT: String(port) }).ready));
    let alive = [...urls];
    const lb = balancedFetch(PUBLIC_URL, () => alive);
    const fetch = (input: string, init?: RequestInit) => lb.fetch(input, { ...init, signal: AbortSignal.timeout(10_000) });
    const load = crashLoad({
      publicUrl: PUBLIC_URL,
      fetch,
      adminToken: ADMIN_TOKEN,
      wallets: WALLETS,
      families: ['Doe', 'Review', 'Doe', 'Declined', 'Review', 'Doe'],
    });

    const db = postgres(databaseUrl, { max: 2, onnotice: () => {} });
    try {
      const startedAt = Date.now();
      load.start();
      // Events a killed instance may have been delivering at that moment (claimed, not marked).
      const inFlight = new Set<string>();
      const killedAfterMs: number[] = [];
      const restartMs: number[] = [];
      for (let cycle = 0; cycle < CYCLES && !load.state.failed; cycle++) {
        const victim = cycle % 2;
        killedAfterMs.push(await load.until(ANSWERS_MIN + Math.floor(Math.random() * (ANSWERS_MAX - ANSWERS_MIN)), LOAD_MS_MAX));
        await killHard(children[victim]);
        alive = urls.filter((_, i) => i !== victim);
        for (const r of await db<{ id: string }[]>`SELECT id FROM outbox_events WHERE lease_until IS NOT NULL AND delivered_at IS NULL`) inFlight.add(r.id);
        const restarting = Date.now();
        children[victim] = await issuers.start({ PORT: String(ports[victim]) }).ready;
        restartMs.push(Date.now() - restarting);
        alive = [...urls];
      }
      if (load.state.failed) throw load.state.failed;
      const drained = await load.drain(60_000);
      if (load.state.failed) throw load.state.failed;
      expect(drained, 'every wallet flow finished').toBe(true);
      await load.stop();
      const loadMs = Date.now() - startedAt;

      const figures = await checkNoStrandedNoGhost({
        load,
        publicUrl: PUBLIC_URL,
        fetch,
        adminToken: ADMIN_TOKEN,
        query: async (sql) => (await db.unsafe(sql)) as unknown as Record<string, unknown>[],
      });
      expect(load.serverErrors).toEqual([]);
      expect(await db`SELECT id FROM applications WHERE status = 'review'`).toHaveLength(0);
      expect(lb.hits[0], 'both instances served').toBeGreaterThan(0);
      expect(lb.hits[1]).toBeGreaterThan(0);

      // Every outbox event delivered; exactly once but for those in flight on a killed instance.
      const deadline = Date.now() + 30_000;
      while ((await db`SELECT 1 FROM outbox_events WHERE delivered_at IS NULL LIMIT 1`).length > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200));
      const events = await db<{ id: string; delivered_at: string | null }[]>`SELECT id, delivered_at FROM outbox_events`;
      expect(events.length).toBeGreaterThan(load.flows.length);
      expect(events.filter((e) => e.delivered_at === null)).toEqual([]);
      const times = new Map<string, number>();
      for (const r of receiver.received) times.set(r.id, (times.get(r.id) ?? 0) + 1);
      expect([...times.keys()].sort()).toEqual(events.map((e) => e.id).sort());
      const again = [...times].filter(([, n]) => n > 1).map(([id]) => id);
      for (const id of again) expect(inFlight.has(id), `${id} delivered twice though not in flight at a kill`).toBe(true);
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
      console.log(
        `crash (PostgreSQL): ${CYCLES} SIGKILL cycles under load (killed after ${ANSWERS_MIN}-${ANSWERS_MAX} answers, median ${median(killedAfterMs)} ms under load; restart median ${median(restartMs)} ms), ${loadMs} ms under load, ${load.flows.length} flows, ${events.length} outbox events (${again.length} re-delivered after a kill, ${inFlight.size} in flight), requests per instance ${JSON.stringify(lb.hits)}`,
        JSON.stringify(load.stats),
        JSON.stringify(figures),
      );
      expect(figures.credentials).toBeGreaterThan(0);
    } finally {
      load.state.running = false;
      load.state.accepting = false;
      await db.end({ timeout: 2 });
    }
  }, 300_000);
});
