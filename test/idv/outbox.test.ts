import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/http/context';
import { backoffSeconds, dispatchDueWebhooks } from '../../src/issuance/webhookDelivery';
import { emitEvent } from '../../src/issuance/events';
import { verifyTimestampedHmac } from '../../src/idv/webhookSignature';
import { startNodeIssuer } from '../../src/runtime/node';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { makeIssuerKeys, makeTestIssuer, testClock } from '../helpers/issuer';

/** The PFI's receiver on loopback: checks every signature, fails the first `failFirst` deliveries. */
async function startReceiver(secret: string) {
  const received: { id: string; type: string; status: number; signatureOk: boolean }[] = [];
  let failFirst = 0;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = new Uint8Array(Buffer.concat(chunks));
    let signatureOk = true;
    try {
      await verifyTimestampedHmac({ header: req.headers['kcc-signature'] as string, raw, secrets: [secret], now: Date.now(), toleranceSeconds: 3600 });
    } catch {
      signatureOk = false;
    }
    const body = JSON.parse(Buffer.from(raw).toString('utf8'));
    const status = !signatureOk ? 401 : failFirst > 0 ? 500 : 204;
    if (signatureOk && failFirst > 0) failFirst--;
    expect(req.headers['kcc-event-id']).toBe(body.id);
    received.push({ id: body.id, type: body.type, status, signatureOk });
    res.writeHead(status);
    res.end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/kcc-events`,
    received,
    failNext(n: number) {
      failFirst = n;
    },
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

describe('outbound webhooks to the PFI', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let dir: string;
  beforeAll(async () => {
    receiver = await startReceiver('pfi-secret');
    dir = mkdtempSync(join(tmpdir(), 'kcc-outbox-'));
  });
  afterAll(async () => {
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('backs off exponentially up to a cap', () => {
    expect([1, 2, 3, 4, 20].map((n) => backoffSeconds(n, 30, 3600))).toEqual([30, 60, 120, 240, 3600]);
  });

  it('retries failed deliveries with backoff and loses nothing across an issuer restart (file-backed SQLite)', async () => {
    const keys = await makeIssuerKeys();
    const idv = () => ({ vendors: new Map(), outboundSecrets: ['pfi-secret', 'pfi-secret-next'], outboundFetch: (u: string, i?: RequestInit) => fetch(u, i) });
    const config = { idv: { outboundWebhookUrl: receiver.url } };
    const first = await startNodeIssuer({ port: 0, dataDir: dir, keys, logger: silentLogger, backgroundIntervalMs: 0, config, idv: idv() });
    const client = new WalletClient(await Holder.create(), (u, i) => fetch(u, i));
    const flow = await applyForKcc(client, { issuer: first.url, identity: SAMPLE_IDENTITY, pollAttempts: 0 });
    expect(flow.credential).toBeTypeOf('string');

    receiver.failNext(2);
    const t0 = Date.now();
    const report = await dispatchDueWebhooks(first.deps, t0);
    expect(report).toEqual({ attempted: 3, delivered: 1, retried: 2, failed: 0 });
    await first.close(); // the process "restarts" with two events still owed

    const clock = testClock(t0 + 29_000);
    const second = await startNodeIssuer({ port: 0, dataDir: dir, keys, logger: silentLogger, backgroundIntervalMs: 3_600_000, clock, config, idv: idv() });
    try {
      await second.jobs?.runNow();
      expect(receiver.received.filter((r) => r.status === 204)).toHaveLength(1); // not due yet (30 s backoff)
      clock.advance(2);
      await second.jobs?.runNow();
      const ok = receiver.received.filter((r) => r.status === 204);
      expect(ok.map((r) => r.type).sort()).toEqual(['application.approved', 'application.submitted', 'credential.issued']);
      expect(new Set(ok.map((r) => r.id)).size).toBe(3);
      expect(receiver.received.every((r) => r.signatureOk)).toBe(true);
      expect(receiver.received.filter((r) => r.status === 500)).toHaveLength(2);

      // The delivery log: attempt 1 → 500, attempt 2 → 204, for the retried events.
      const retried = receiver.received.find((r) => r.status === 500)!.id;
      const log = await second.deps.store.outbox.deliveries(retried);
      expect(log.map((d) => [d.attempt, d.statusCode])).toEqual([
        [1, 500],
        [2, 204],
      ]);
      expect(await second.deps.store.outbox.pendingCount()).toBe(0);
      // Nothing more to send.
      clock.advance(3600);
      expect(await dispatchDueWebhooks(second.deps, clock())).toEqual({ attempted: 0, delivered: 0, retried: 0, failed: 0 });
    } finally {
      await second.close();
    }
  });

  it('enqueues an event id once, and gives up after the configured attempts', async () => {
    const clock = testClock(Date.now());
    const t = await makeTestIssuer({
      clock,
      config: { idv: { outboundWebhookUrl: receiver.url, outboundMaxAttempts: 2, outboundBackoffSeconds: 10 } },
      idv: { vendors: new Map(), outboundSecrets: ['pfi-secret'], outboundFetch: (u, i) => fetch(u, i) },
    });
    const id = await emitEvent(t.deps, 'application.submitted', 'app-1', { application_id: 'app-1' });
    expect(await emitEvent(t.deps, 'application.submitted', 'app-1', { application_id: 'app-1' })).toBe(id);
    expect((await t.deps.store.outbox.list()).length).toBe(1);
    receiver.failNext(5);
    expect((await dispatchDueWebhooks(t.deps, clock())).retried).toBe(1);
    clock.advance(10);
    expect((await dispatchDueWebhooks(t.deps, clock())).failed).toBe(1);
    const event = await t.deps.store.outbox.get(id);
    expect(event).toMatchObject({ attempts: 2, deliveredAt: null, lastError: 'HTTP 500' });
    expect(event?.failedAt).toBeTypeOf('number');
    receiver.failNext(0);
  });
});
