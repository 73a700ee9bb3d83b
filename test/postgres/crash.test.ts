/**
 * Two issuer processes (`node --import tsx src/runtime/node.ts` with DATABASE_URL) on one
 * PostgreSQL database behind a load balancer (test/helpers/postgres.ts: round robin, an instance
 * that refuses connections is skipped), under load from several wallets (immediate, deferred
 * through family_name "Review" and operator approval, declined). One instance is SIGKILLed
 * mid-load; the other keeps serving and the wallets carry on as in test/security/crash.test.ts
 * (retrying, taking a fresh c_nonce, starting over when a code's token response was lost).
 * Outbound webhooks go to a loopback receiver.
 *
 * Checked afterwards on the database and the receiver:
 * - every flow ends as its IDV value says; no 5xx but the killed instance's lost connections;
 * - every credential a wallet received is recorded (same digest, same subject); no deferred
 *   transaction gave two credentials; an application has a second credential only if its wallet
 *   lost a credential response in the kill;
 * - every outbox event is delivered, each exactly once, except an event whose delivery was in
 *   flight on the killed instance (claimed, not yet marked delivered): that one is delivered again
 *   with the same event id (at-least-once; receivers deduplicate on KCC-Event-Id, docs/idv.md).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64urlEncode, utf8 } from '../../src/crypto/base64url';
import { decodeJwt } from '../../src/crypto/jwt';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { WalletClient, WalletError, type IdvRequest, type SiopRequest } from '../../src/wallet/client';
import { SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { balancedFetch, startTestPostgres, type TestPostgres } from '../helpers/postgres';

const PUBLIC_URL = 'http://kcc.lb.test';
const ADMIN_TOKEN = 'pg-crash-admin-token-0123456789-abcdefghij';
const WALLETS = 6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  await new Promise((ok) => server.close(ok));
  return port;
}

function spawnIssuer(port: number, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/runtime/node.ts'], {
    cwd: join(__dirname, '..', '..'),
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise<ChildProcess>((ok, fail) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(new Error(`issuer did not start: ${out} ${err}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('issuer_started')) {
        clearTimeout(timer);
        ok(child);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!out.includes('issuer_started')) fail(new Error(`issuer exited (${code ?? signal}) before starting: ${err.slice(0, 2000)}`));
    });
  });
}

async function kill(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGKILL');
  await exited;
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

type Outcome = 'credential' | 'denied';
interface Flow {
  holder: Holder;
  family: string;
  outcome?: Outcome;
  credentials: string[];
  /** A credential request whose answer was lost (the instance died under it). */
  lostCredentialResponse: boolean;
}

/** Connection refused/reset, or a 503 while starting: retry. A 500 is a bug, never transient. */
function isTransient(e: unknown): boolean {
  if (e instanceof WalletError) return e.status === 503 || e.status === undefined;
  return true;
}

describe('two PostgreSQL-backed issuer processes, one SIGKILLed under load', () => {
  let pg: TestPostgres;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    [pg, receiver] = await Promise.all([startTestPostgres(), startReceiver()]);
  }, 60_000);
  afterAll(async () => {
    for (const c of children) await kill(c);
    await receiver?.close();
    await pg?.stop();
  });

  it('the other keeps serving; no credential lost or issued twice; every outbox event delivered', async () => {
    const databaseUrl = await pg.createDatabase();
    const crypto = createNodeCryptoProvider();
    const env = {
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: '5',
      PUBLIC_URL,
      ISSUER_PRIVATE_JWK: JSON.stringify(await crypto.generateKeyPair('EdDSA')),
      PII_DATA_KEY: base64urlEncode(globalThis.crypto.getRandomValues(new Uint8Array(32))),
      ADMIN_TOKEN,
      LOG_LEVEL: 'silent',
      RATE_LIMITS: 'off',
      PFI_WEBHOOK_URL: receiver.url,
      PFI_WEBHOOK_SECRETS: 'pfi-webhook-secret',
      WEBHOOK_DISPATCH_INTERVAL_MS: '100',
    };
    const ports = await Promise.all([freePort(), freePort()]);
    // Both start at the same moment on the empty database.
    children.push(...(await Promise.all(ports.map((port) => spawnIssuer(port, env)))));
    const urls = ports.map((p) => `http://127.0.0.1:${p}`);
    let alive = [...urls];
    const lb = balancedFetch(PUBLIC_URL, () => alive); // lb.hits[i]: the i-th of the instances alive
    const fetch = (input: string, init?: RequestInit) => lb.fetch(input, { ...init, signal: AbortSignal.timeout(10_000) });

    const flows: Flow[] = [];
    const serverErrors: string[] = [];
    let accepting = true;
    let killedAt = Infinity;
    const completedAt: number[] = [];

    async function retry<T>(step: () => Promise<T>): Promise<T> {
      for (;;) {
        try {
          return await step();
        } catch (e) {
          if (e instanceof WalletError && e.status !== undefined && e.status >= 500 && e.status !== 503)
            serverErrors.push(`${e.message} ${e.status} ${JSON.stringify(e.body)}`);
          if (!isTransient(e)) throw e;
          await sleep(30);
        }
      }
    }

    async function runFlow(flow: Flow) {
      const client = new WalletClient(flow.holder, fetch);
      const identity = { ...SAMPLE_IDENTITY, family_name: flow.family };
      application: for (;;) {
        const pfi = await retry(() => client.discover(PUBLIC_URL));
        const request: SiopRequest = await retry(() => client.initiate(pfi.idvEndpoint, pfi));
        let idvRequest: IdvRequest;
        try {
          idvRequest = await retry(() => client.respond(request));
        } catch (e) {
          if (e instanceof WalletError && e.status === 400) continue; // the nonce was used by a request whose answer was lost
          throw e;
        }
        const form = await retry(async () => {
          const r = await client.submitIdvForm(idvRequest.url, identity);
          if (r.status >= 500) throw new WalletError('form failed', r.status, r.body.slice(0, 200));
          return r;
        });
        if (form.status !== 409) expect(form.status, form.body.slice(0, 200)).toBe(200);
        const code = idvRequest.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
        let token: Awaited<ReturnType<typeof client.token>>;
        try {
          token = await retry(() => client.token(`${PUBLIC_URL}/oauth2/token`, code));
        } catch (e) {
          if (e instanceof WalletError && (e.body as { error?: string })?.error === 'invalid_grant') continue; // redeemed, response lost
          throw e;
        }
        let cNonce = token.c_nonce;
        for (;;) {
          let first: { status: number; credential?: string; transaction_id?: string };
          try {
            first = await retry(async () => {
              try {
                return await client.credential(`${PUBLIC_URL}/oid4vci/credential`, token.access_token, pfi.did, cNonce);
              } catch (e) {
                if (isTransient(e)) flow.lostCredentialResponse = true;
                throw e;
              }
            });
          } catch (e) {
            const body = (e as WalletError).body as { error?: string; c_nonce?: string };
            if (body?.error === 'invalid_proof' && body.c_nonce) {
              cNonce = body.c_nonce;
              continue;
            }
            if (body?.error === 'credential_request_denied') {
              // One decision, one credential (SECURITY.md): the KCC went to a request whose answer
              // was lost with the killed instance; the way on is a new application.
              if (flow.family !== 'Declined' && flow.lostCredentialResponse) continue application;
              flow.outcome = 'denied';
              return;
            }
            throw e;
          }
          if (first.credential) {
            flow.credentials.push(first.credential);
            flow.outcome = 'credential';
            return;
          }
          for (;;) {
            let r: { credential?: string; pending?: boolean };
            try {
              r = await retry(async () => {
                try {
                  return await client.deferred(`${PUBLIC_URL}/oid4vci/deferred-credential`, token.access_token, first.transaction_id!);
                } catch (e) {
                  // As for the credential request: the answer that carried the KCC may be the one lost.
                  if (isTransient(e)) flow.lostCredentialResponse = true;
                  throw e;
                }
              });
            } catch (e) {
              const error = ((e as WalletError).body as { error?: string })?.error;
              if (error === 'credential_request_denied') {
                if (flow.family !== 'Declined' && flow.lostCredentialResponse) continue application;
                flow.outcome = 'denied';
                return;
              }
              if (error === 'invalid_transaction_id') {
                flow.lostCredentialResponse = true;
                cNonce = 'stale';
                break;
              }
              throw e;
            }
            if (r.credential) {
              flow.credentials.push(r.credential);
              flow.outcome = 'credential';
              return;
            }
            await sleep(50);
          }
        }
      }
    }

    async function wallet(i: number) {
      const families = ['Doe', 'Review', 'Doe', 'Declined', 'Review', 'Doe'];
      let n = 0;
      while (accepting) {
        const flow: Flow = { holder: await Holder.create(), family: families[(i + n++) % families.length], credentials: [], lostCredentialResponse: false };
        flows.push(flow);
        await runFlow(flow);
        completedAt.push(Date.now());
      }
    }

    let running = true;
    async function operator() {
      while (running) {
        try {
          const res = await fetch(`${PUBLIC_URL}/admin/applications?status=review`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
          if (res.status >= 500) serverErrors.push(`admin list ${res.status}`);
          const body = res.ok ? ((await res.json()) as { applications: { id: string }[] }) : { applications: [] };
          for (const a of body.applications) {
            const d = await fetch(`${PUBLIC_URL}/admin/applications/${a.id}/decision`, {
              method: 'POST',
              headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
              body: JSON.stringify({ decision: 'approve' }),
            });
            if (d.status >= 500) serverErrors.push(`admin decision ${d.status}`);
            await d.body?.cancel();
          }
        } catch {
          // the instance died under the request: next pass
        }
        await sleep(100);
      }
    }

    const db = postgres(databaseUrl, { max: 2, onnotice: () => {} });
    try {
      const operatorDone = operator();
      const wallets = Promise.all(Array.from({ length: WALLETS }, (_, i) => wallet(i)));
      let failed: unknown;
      wallets.catch((e) => (failed = e));

      await sleep(2500);
      const hitsBeforeKill = [...lb.hits];
      expect(hitsBeforeKill[0], 'both instances served before the kill').toBeGreaterThan(0);
      expect(hitsBeforeKill[1]).toBeGreaterThan(0);
      await kill(children[0]);
      killedAt = Date.now();
      alive = [urls[1]];
      // Events the killed instance may have been delivering at that moment (claimed, not marked).
      const inFlight = new Set(
        (await db<{ id: string }[]>`SELECT id FROM outbox_events WHERE lease_until IS NOT NULL AND delivered_at IS NULL`).map((r) => r.id),
      );
      await sleep(2500);
      accepting = false;
      await Promise.race([wallets, sleep(60_000)]);
      if (failed) throw failed;
      running = false;
      await operatorDone;

      expect(completedAt.filter((t) => t > killedAt).length, 'flows completed on the survivor').toBeGreaterThan(0);
      for (const f of flows)
        expect({ family: f.family, outcome: f.outcome }).toEqual({ family: f.family, outcome: f.family === 'Declined' ? 'denied' : 'credential' });
      expect(serverErrors).toEqual([]);

      // No credential lost: every one a wallet received is recorded, as issued.
      const received = flows.flatMap((f) => f.credentials.map((jwt) => ({ jwt, did: f.holder.did })));
      expect(received.length).toBeGreaterThan(0);
      expect(new Set(received.map((r) => decodeJwt(r.jwt).payload.jti)).size).toBe(received.length);
      for (const { jwt, did } of received) {
        const jti = decodeJwt(jwt).payload.jti as string;
        const [row] = await db<{ subject_did: string; jwt_sha256: string }[]>`SELECT subject_did, jwt_sha256 FROM issued_credentials WHERE id = ${jti}`;
        expect(row, `credential ${jti} is recorded`).toBeDefined();
        expect(row.subject_did).toBe(did);
        expect(row.jwt_sha256).toBe(base64urlEncode(sha256(utf8.encode(jwt))));
      }
      // None issued twice: one per deferred transaction, and each used transaction has its credential.
      expect(await db`SELECT transaction_id FROM issued_credentials WHERE transaction_id IS NOT NULL GROUP BY transaction_id HAVING count(*) > 1`).toHaveLength(
        0,
      );
      expect(
        await db`SELECT t.id FROM transactions t LEFT JOIN issued_credentials c ON c.id = t.credential_id AND c.transaction_id = t.id WHERE t.consumed_at IS NOT NULL AND c.id IS NULL`,
      ).toHaveLength(0);
      const lostDids = new Set(flows.filter((f) => f.lostCredentialResponse).map((f) => f.holder.did));
      const twice = await db<{ subject_did: string }[]>`SELECT subject_did FROM issued_credentials GROUP BY application_id, subject_did HAVING count(*) > 1`;
      for (const t of twice) expect(lostDids.has(t.subject_did), `a second credential only after a lost response (${t.subject_did})`).toBe(true);
      expect(await db`SELECT id FROM applications WHERE status = 'review'`).toHaveLength(0);

      // Every outbox event delivered; exactly once but for those in flight on the killed instance.
      const deadline = Date.now() + 30_000;
      while ((await db`SELECT 1 FROM outbox_events WHERE delivered_at IS NULL LIMIT 1`).length > 0 && Date.now() < deadline) await sleep(200);
      const events = await db<{ id: string; delivered_at: string | null }[]>`SELECT id, delivered_at FROM outbox_events`;
      expect(events.length).toBeGreaterThan(flows.length);
      expect(events.filter((e) => e.delivered_at === null)).toEqual([]);
      const times = new Map<string, number>();
      for (const r of receiver.received) times.set(r.id, (times.get(r.id) ?? 0) + 1);
      expect([...times.keys()].sort()).toEqual(events.map((e) => e.id).sort());
      const again = [...times].filter(([, n]) => n > 1).map(([id]) => id);
      for (const id of again) expect(inFlight.has(id), `${id} delivered twice though not in flight at the kill`).toBe(true);
      console.log(
        `pg crash: ${flows.length} flows, ${received.length} credentials, ${events.length} outbox events (${again.length} re-delivered after the kill, ${inFlight.size} in flight), requests before the kill ${JSON.stringify(hitsBeforeKill)}`,
      );
    } finally {
      running = false;
      accepting = false;
      await db.end({ timeout: 2 });
    }
  }, 120_000);
});
