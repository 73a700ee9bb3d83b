import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/http/context';
import { dispatchDueWebhooks } from '../../src/issuance/webhookDelivery';
import { startNodeIssuer } from '../../src/runtime/node';
import { createSqliteStats } from '../../src/store/sqlite';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { makeIssuerKeys, makeTestIssuer } from '../helpers/issuer';
import { startD1 } from '../helpers/workerd';
import journal from '../../drizzle/meta/_journal.json';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const ADMIN = 'admin-token-0123456789abcdef012345';
/** Every migration of this build, oldest first (drizzle/meta/_journal.json). */
const MIGRATION_TAGS: string[] = journal.entries.map((e: { tag: string }) => e.tag);

/** One sample of the Prometheus text exposition: `name{a="b",…} value`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** A PFI webhook receiver on loopback that answers 204, or 500 for the next `failures` deliveries. */
async function startReceiver() {
  let failures = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const failing = failures > 0;
      if (failing) failures--;
      res.writeHead(failing ? 500 : 204);
      res.end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
    failNext: (n: number) => (failures = n),
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

describe('/metrics on Node behind METRICS_TOKEN', () => {
  let dir: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let issuer: Awaited<ReturnType<typeof startNodeIssuer>>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kcc-metrics-'));
    receiver = await startReceiver();
    issuer = await startNodeIssuer({
      port: 0,
      dataDir: dir,
      keys: await makeIssuerKeys(),
      logger: silentLogger,
      backgroundIntervalMs: 0,
      metrics: { token: METRICS_TOKEN },
      config: { adminToken: ADMIN, idv: { outboundWebhookUrl: receiver.url } },
      idv: { vendors: new Map(), outboundSecrets: ['pfi-secret'], outboundFetch: (u: string, i?: RequestInit) => fetch(u, i) },
    });
  });
  afterAll(async () => {
    await issuer.close();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const scrape = async (token = METRICS_TOKEN) => {
    const res = await fetch(`${issuer.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    return res.text();
  };
  const admin = (path: string, body?: object) =>
    fetch(`${issuer.url}${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  it('answers 401 without the bearer token or with a wrong one, and never caches', async () => {
    expect((await fetch(`${issuer.url}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${issuer.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'unauthorized' });
    const ok = await fetch(`${issuer.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.headers.get('cache-control')).toBe('no-store');
  });

  it('counts requests per route pattern and the business figures move with a flow', async () => {
    const before = await scrape();
    expect(sample(before, 'kcc_database_up')).toBe(1);
    expect(sample(before, 'kcc_credentials_issued')).toBe(0);
    expect(sample(before, 'kcc_applications', { status: 'approved' })).toBe(0);
    expect(before).toContain('process_cpu_user_seconds_total');

    const approved = await applyForKcc(await holderClient(), { issuer: issuer.url, identity: SAMPLE_IDENTITY, pollAttempts: 0 });
    expect(approved.credential).toBeTypeOf('string');
    const second = await applyForKcc(await holderClient(), { issuer: issuer.url, identity: SAMPLE_IDENTITY, pollAttempts: 0 });
    const review = await applyForKcc(await holderClient(), { issuer: issuer.url, identity: { ...SAMPLE_IDENTITY, family_name: 'Review' }, pollAttempts: 0 });
    expect(review.credential).toBeUndefined();
    await expect(
      applyForKcc(await holderClient(), { issuer: issuer.url, identity: { ...SAMPLE_IDENTITY, family_name: 'Declined' }, pollAttempts: 0 }),
    ).rejects.toThrow();

    // Operator actions: revoke the first credential, suspend the second.
    const ids = [];
    for (const flow of [approved, second]) {
      const sub = JSON.parse(Buffer.from(flow.credential!.split('.')[1], 'base64url').toString()).sub as string;
      const list = (await (await admin(`/admin/credentials?subject=${encodeURIComponent(sub)}`)).json()) as { credentials: { id: string }[] };
      ids.push(list.credentials[0].id);
    }
    expect((await admin(`/admin/credentials/${encodeURIComponent(ids[0])}/status`, { action: 'revoke', reason: 'test' })).status).toBe(200);
    expect((await admin(`/admin/credentials/${encodeURIComponent(ids[1])}/status`, { action: 'suspend', reason: 'test' })).status).toBe(200);

    const queued = await scrape();
    expect(sample(queued, 'kcc_outbox_backlog')).toBeGreaterThan(0);
    // Webhooks: the first two deliveries fail (retried later), the rest succeed.
    receiver.failNext(2);
    const report = await dispatchDueWebhooks(issuer.deps, Date.now());
    expect(report.retried).toBe(2);

    const after = await scrape();
    expect(sample(after, 'kcc_applications', { status: 'approved' })).toBe(2);
    expect(sample(after, 'kcc_applications', { status: 'review' })).toBe(1);
    expect(sample(after, 'kcc_applications', { status: 'rejected' })).toBe(1);
    expect(sample(after, 'kcc_manual_review_queue')).toBe(1);
    expect(sample(after, 'kcc_idv_decisions', { provider: 'hosted', outcome: 'approved' })).toBe(2);
    expect(sample(after, 'kcc_idv_decisions', { provider: 'hosted', outcome: 'needs_review' })).toBe(1);
    expect(sample(after, 'kcc_idv_decisions', { provider: 'hosted', outcome: 'declined' })).toBe(1);
    expect(sample(after, 'kcc_credentials_issued')).toBe(2);
    expect(sample(after, 'kcc_credentials_revoked')).toBe(1);
    expect(sample(after, 'kcc_credentials_suspended')).toBe(1);
    expect(sample(after, 'kcc_webhook_deliveries', { result: 'failed' })).toBe(2);
    expect(sample(after, 'kcc_webhook_deliveries', { result: 'succeeded' })).toBe(report.delivered);
    expect(sample(after, 'kcc_outbox_backlog')).toBe(2);
    expect(sample(after, 'kcc_webhook_events_failed')).toBe(0);

    // Requests, by route pattern.
    expect(sample(after, 'kcc_http_requests_total', { method: 'POST', route: '/idv/form/:token', status: '303' })).toBe(4);
    expect(sample(after, 'kcc_http_requests_total', { method: 'POST', route: '/oid4vci/credential', status: '200' })).toBe(2);
    expect(sample(after, 'kcc_http_requests_total', { method: 'GET', route: '/.well-known/did.json', status: '200' })).toBe(4);
    expect(sample(after, 'kcc_http_request_duration_seconds_count', { method: 'POST', route: '/oauth2/token' })).toBe(4);
    expect(sample(after, 'kcc_http_request_duration_seconds_bucket', { method: 'POST', route: '/oauth2/token', le: '+Inf' })).toBe(4);
    expect(sample(after, 'kcc_http_requests_total', { method: 'GET', route: '/metrics', status: '401' })).toBe(2);

    // No form token (nor any other secret of the flow) in a label.
    for (const flow of [approved, second, review]) {
      const token = new URL(flow.idvRequest.url).pathname.split('/').pop()!;
      expect(token.length).toBeGreaterThan(30);
      expect(after).not.toContain(token);
      expect(after).not.toContain(flow.idvRequest.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code']);
    }
    const routes = new Set([...after.matchAll(/route="([^"]*)"/g)].map((m) => m[1]));
    for (const r of routes) expect(r === '*' || r === '/*' || !/[A-Za-z0-9_-]{30,}/.test(r)).toBe(true);
  });

  it('an unknown path is counted under the catch-all pattern, not its raw path', async () => {
    const secretish = `zz${'q'.repeat(40)}`;
    expect((await fetch(`${issuer.url}/nowhere/${secretish}`)).status).toBe(404);
    expect(await scrape()).not.toContain(secretish);
  });

  async function holderClient() {
    return new WalletClient(await Holder.create(), (u, i) => fetch(u, i));
  }
});

describe('/metrics on a separate METRICS_PORT', () => {
  it('serves the exposition without auth on a loopback listener, and not on the main port', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-metrics-port-'));
    const issuer = await startNodeIssuer({
      port: 0,
      dataDir: dir,
      keys: await makeIssuerKeys(),
      logger: silentLogger,
      backgroundIntervalMs: 0,
      metrics: { port: 0 },
    });
    try {
      expect(issuer.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      await fetch(`${issuer.url}/.well-known/did.json`);
      const res = await fetch(issuer.metricsUrl!);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(sample(text, 'kcc_http_requests_total', { method: 'GET', route: '/.well-known/did.json', status: '200' })).toBe(1);
      expect(sample(text, 'kcc_applications', { status: 'pending' })).toBe(0);
      expect((await fetch(`${issuer.url}/metrics`)).status).toBe(404);
      expect((await fetch(issuer.metricsUrl!.replace('/metrics', '/other'))).status).toBe(404);
    } finally {
      await issuer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is off by default: no /metrics and no registry', async () => {
    const t = await makeTestIssuer();
    expect(t.deps.metrics).toBeUndefined();
    expect((await t.app.request('http://issuer.test/metrics')).status).toBe(404);
  });

  it('two issuers in one process keep separate registries', async () => {
    const dirs = [mkdtempSync(join(tmpdir(), 'kcc-m1-')), mkdtempSync(join(tmpdir(), 'kcc-m2-'))];
    const [a, b] = await Promise.all(
      dirs.map(async (dataDir) =>
        startNodeIssuer({ port: 0, dataDir, keys: await makeIssuerKeys(), logger: silentLogger, backgroundIntervalMs: 0, metrics: { token: METRICS_TOKEN } }),
      ),
    );
    try {
      await fetch(`${a.url}/healthz`);
      const text = await (await fetch(`${b.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
      expect(sample(text, 'kcc_http_requests_total', { route: '/healthz' })).toBeUndefined();
    } finally {
      await Promise.all([a.close(), b.close()]);
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('/readyz', () => {
  it('is 200 on a migrated database and 503 JSON when a migration is missing or the database is gone', async () => {
    const t = await makeTestIssuer();
    const sqlite = t.sqlite;
    const ok = await t.app.request('http://issuer.test/readyz');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ready', checks: { database: 'ok', migrations: 'ok' } });
    expect((await t.app.request('http://issuer.test/healthz')).status).toBe(200);

    // As if this build were newer than the database: its last migration is not recorded.
    sqlite.exec('DELETE FROM __drizzle_migrations WHERE created_at = (SELECT max(created_at) FROM __drizzle_migrations)');
    const pending = await t.app.request('http://issuer.test/readyz');
    expect(pending.status).toBe(503);
    expect(await pending.json()).toMatchObject({
      error: 'not_ready',
      checks: { database: 'ok', migrations: 'pending' },
      pending_migrations: [MIGRATION_TAGS[MIGRATION_TAGS.length - 1]],
    });

    sqlite.close();
    const gone = await t.app.request('http://issuer.test/readyz');
    expect(gone.status).toBe(503);
    const body = await gone.json();
    expect(body).toMatchObject({ error: 'not_ready', error_description: 'the database is unreachable', checks: { database: 'unreachable' } });
    expect(JSON.stringify(body)).not.toMatch(/stack|sqlite|at /i);
  });

  it('reads wrangler’s d1_migrations on D1, and the counting queries run there unchanged', async () => {
    const { mf, d1, db } = await startD1();
    try {
      const stats = createSqliteStats(db);
      // The test helper migrates without wrangler's bookkeeping table: nothing is recorded as applied.
      expect((await stats.readiness()).pendingMigrations).toEqual(MIGRATION_TAGS);
      await d1.batch([
        d1.prepare(
          'CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)',
        ),
      ]);
      await d1.batch([d1.prepare("INSERT INTO d1_migrations (name) VALUES ('0000_init.sql'), ('0001_oid4vci_v1_and_idv.sql')")]);
      expect(await stats.readiness()).toEqual({ ready: false, database: 'ok', pendingMigrations: MIGRATION_TAGS.slice(2) });
      await d1.batch([
        d1.prepare(
          `INSERT INTO d1_migrations (name) VALUES ${MIGRATION_TAGS.slice(2)
            .map((t) => `('${t}.sql')`)
            .join(', ')}`,
        ),
      ]);
      expect((await stats.readiness()).ready).toBe(true);
      const s = await stats.snapshot();
      expect(s).toMatchObject({
        applicationsByStatus: { pending: 0, review: 0, approved: 0, rejected: 0 },
        credentialsIssued: 0,
        outboxBacklog: 0,
        webhookDeliveries: { succeeded: 0, failed: 0 },
      });
    } finally {
      await mf.dispose();
    }
  }, 60_000);
});
