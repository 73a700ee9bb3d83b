/**
 * Crash safety: the issuer runs as a child process (`node --import tsx src/runtime/node.ts`)
 * on a temp DATA_DIR (file SQLite, WAL, synchronous=NORMAL as src/runtime/sqlite.ts documents),
 * under load from several wallets (immediate flows, deferred flows through family_name
 * "Review" and operator approval over /admin, declined flows). It is killed with SIGKILL at
 * random points, CYCLES times, and restarted on the same DATA_DIR and port; the wallets carry
 * on as real wallets would (retrying on connection errors, taking the fresh c_nonce of an
 * invalid_proof, starting a new application when a code's token response was lost).
 *
 * Invariants checked on the database after a final SIGKILL:
 * 1. every credential a wallet received is recorded in issued_credentials (id = the KCC's
 *    jti, same JWT digest, same subject);
 * 2. no transaction has more than one credential;
 * 3. every used transaction has its credential record (and every credential that names a
 *    transaction is the one that transaction was used for);
 * 4. no application is stuck (see STUCK below);
 * 5. `PRAGMA integrity_check` is ok.
 *
 * STUCK — an application is stuck when it is in a state nobody can move it out of:
 * - `pending` with its form already recorded (form_submitted_at set: the submission and the
 *   decision are one UPDATE, so they must never be split), or without its pre-authorized
 *   code (a half-created application whose offer can never be redeemed);
 * - `review` that the operator cannot decide: after the last restart the operator lists every
 *   application in review through GET /admin/applications and approves it, and none may remain;
 * - `approved` / `rejected` without decided_at (a decision half-written);
 * - and from the wallet's side: every flow a wallet started ends, after the last restart,
 *   with a credential or credential_request_denied, by retrying as a wallet does.
 * Not stuck: a `pending` application whose IDV link was never delivered (the crash ate the
 * SIOP response) or has expired — the applicant starts a new application, and the link
 * expires (ttl.idvForm); likewise an `approved` application whose code was redeemed but whose
 * token response was lost (a code is single-use, RFC 6749 §4.1.2: the wallet starts over).
 */
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { base64urlEncode, utf8 } from '../../src/crypto/base64url';
import { decodeJwt } from '../../src/crypto/jwt';
import { makeTestIssuer } from '../helpers/issuer';
import { WalletClient, WalletError, type IdvRequest, type SiopRequest } from '../../src/wallet/client';
import { SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';

/** SIGKILLs under load, and SIGKILLs while the issuer starts (the first on an empty DATA_DIR). */
const CYCLES = 6;
const STARTUP_KILLS = 2;
const WALLETS = 8;
const ADMIN_TOKEN = 'crash-test-admin-token-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  await new Promise((ok) => server.close(ok));
  return port;
}

/** Spawns the issuer as a child process; `ready` resolves once it has printed issuer_started. */
function spawnIssuer(port: number, dataDir: string): { child: ChildProcess; ready: Promise<ChildProcess> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/runtime/node.ts'], {
    cwd: join(__dirname, '..', '..'),
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent', RATE_LIMITS: 'off', ADMIN_TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = new Promise<ChildProcess>((ok, fail) => {
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
  ready.catch(() => {}); // a child killed while starting is expected by the caller
  return { child, ready };
}

function startIssuer(port: number, dataDir: string): Promise<ChildProcess> {
  return spawnIssuer(port, dataDir).ready;
}

async function kill(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGKILL');
  await exited;
}

type Outcome = 'credential' | 'denied';
interface Flow {
  holder: Holder;
  family: string;
  outcome?: Outcome;
  credentials: string[];
  restarts: number;
}

/** Connection refused/reset, or the runtime's 503 while starting: retry. A 500 is a bug, never transient. */
function isTransient(e: unknown): boolean {
  if (e instanceof WalletError) return e.status === 503 || e.status === undefined;
  return true; // fetch failed, socket hang up, body read aborted…
}

describe('crash safety', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kcc-crash-'));
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child) await kill(child);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`survives ${CYCLES} SIGKILLs under load and ${STARTUP_KILLS} while starting, with every invariant intact`, async () => {
    const port = await freePort();
    const base = `http://localhost:${port}`;
    const fetch = (input: string, init?: RequestInit) => globalThis.fetch(input, { ...init, signal: AbortSignal.timeout(10_000) });
    const flows: Flow[] = [];
    const serverErrors: string[] = [];
    const stats = { lostSiopResponses: 0, lostTokenResponses: 0, recoveredDeferred: 0, freshNonces: 0, formResubmits: 0, lostCredentialResponses: 0 };
    let accepting = true; // new flows start while true
    let running = true;

    /** Retries `step` while the issuer is down; a non-transient error is returned to the caller. */
    async function retry<T>(step: () => Promise<T>): Promise<T> {
      for (;;) {
        if (!running) throw new Error('stopped');
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

    /** One applicant's whole flow, resumable at each step after a crash. */
    async function runFlow(flow: Flow) {
      const client = new WalletClient(flow.holder, fetch);
      const identity = { ...SAMPLE_IDENTITY, family_name: flow.family };
      application: for (;;) {
        // SIOPv2: a lost response may have consumed the nonce; a new request is the way on.
        const pfi = await retry(() => client.discover(base));
        const request: SiopRequest = await retry(() => client.initiate(pfi.idvEndpoint, pfi));
        let idvRequest: IdvRequest;
        try {
          idvRequest = await retry(() => client.respond(request));
        } catch (e) {
          if (e instanceof WalletError && e.status === 400) {
            stats.lostSiopResponses++;
            flow.restarts++;
            continue;
          }
          throw e;
        }
        // The form: 409 means our earlier submission was recorded before the crash.
        const form = await retry(async () => {
          const r = await client.submitIdvForm(idvRequest.url, identity);
          if (r.status >= 500) throw new WalletError('form failed', r.status, r.body.slice(0, 200));
          return r;
        });
        if (form.status === 409) stats.formResubmits++;
        else expect(form.status, form.body.slice(0, 200)).toBe(200);
        const code = idvRequest.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
        let token: Awaited<ReturnType<typeof client.token>>;
        try {
          token = await retry(() => client.token(`${base}/oauth2/token`, code));
        } catch (e) {
          if (e instanceof WalletError && (e.body as { error?: string })?.error === 'invalid_grant') {
            stats.lostTokenResponses++;
            flow.restarts++;
            continue; // the code was redeemed but its response lost: a new application
          }
          throw e;
        }
        let cNonce = token.c_nonce;
        for (;;) {
          let first: { status: number; credential?: string; transaction_id?: string };
          try {
            first = await retry(() => client.credential(`${base}/oid4vci/credential`, token.access_token, pfi.did, cNonce));
          } catch (e) {
            const body = (e as WalletError).body as { error?: string; c_nonce?: string };
            if (body?.error === 'invalid_proof' && body.c_nonce) {
              stats.freshNonces++;
              cNonce = body.c_nonce; // our nonce was used by a request whose answer we lost
              continue;
            }
            if (body?.error === 'credential_request_denied') {
              // One decision, one credential (SECURITY.md): an approved application whose KCC was
              // issued to a request whose answer we lost (or claimed when the issuer died) is done;
              // the way on is a new application.
              if (flow.family !== 'Declined') {
                stats.lostCredentialResponses++;
                flow.restarts++;
                continue application;
              }
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
          // Deferred: poll until the operator decides.
          for (;;) {
            let r: { credential?: string; pending?: boolean };
            try {
              r = await retry(() => client.deferred(`${base}/oid4vci/deferred-credential`, token.access_token, first.transaction_id!));
            } catch (e) {
              const error = ((e as WalletError).body as { error?: string })?.error;
              if (error === 'credential_request_denied') {
                flow.outcome = 'denied';
                return;
              }
              if (error === 'invalid_transaction_id') {
                stats.recoveredDeferred++;
                cNonce = 'stale'; // answered invalid_proof with a fresh c_nonce
                break; // our transaction was used by a request whose answer we lost: ask again
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
      const families = ['Doe', 'Review', 'Doe', 'Review', 'Declined', 'Doe'];
      let n = 0;
      while (accepting) {
        const flow: Flow = { holder: await Holder.create(), family: families[(i + n++) % families.length], credentials: [], restarts: 0 };
        flows.push(flow);
        try {
          await runFlow(flow);
        } catch (e) {
          if (!running) return;
          throw e;
        }
      }
    }

    /** The operator: approves every application the API lists as awaiting review. */
    async function operatorPass() {
      const res = await fetch(`${base}/admin/applications?status=review`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      if (res.status >= 500 && res.status !== 503) serverErrors.push(`admin list ${res.status}`);
      const body = res.ok ? ((await res.json()) as { applications: Array<{ id: string }> }) : { applications: [] };
      for (const a of body.applications) {
        const d = await fetch(`${base}/admin/applications/${a.id}/decision`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ decision: 'approve' }),
        });
        if (d.status >= 500 && d.status !== 503) serverErrors.push(`admin decision ${d.status}`);
        await d.body?.cancel();
      }
      return body.applications.length;
    }

    async function operator() {
      while (running) {
        await operatorPass().catch(() => 0); // the issuer is down
        await sleep(100);
      }
    }

    const startedAt = Date.now();
    // Kills while starting (the first on a fresh DATA_DIR: key file creation and migrations).
    const killedWhileStartingAfterMs: number[] = [];
    for (let i = 0; i < STARTUP_KILLS; i++) {
      const starting = spawnIssuer(port, dataDir);
      const ms = 100 + Math.floor(Math.random() * 1500);
      await Promise.race([sleep(ms), starting.ready.catch(() => undefined)]);
      killedWhileStartingAfterMs.push(ms);
      await kill(starting.child);
    }
    child = await startIssuer(port, dataDir);
    let failed: unknown;
    const operatorDone = operator().catch((e) => (failed = e));
    const workerFailure = Promise.all(Array.from({ length: WALLETS }, (_, i) => wallet(i))).then(() => undefined);
    workerFailure.catch((e) => (failed = e));

    // Kill at random points under load, then restart on the same data and port.
    const killedAfterMs: number[] = [];
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const ms = 300 + Math.floor(Math.random() * 1200);
      await sleep(ms);
      killedAfterMs.push(ms);
      await kill(child);
      if (failed) break;
      child = await startIssuer(port, dataDir);
    }
    if (failed) throw failed;

    // Drain: no new flows; every started flow must finish on the restarted issuer.
    accepting = false;
    const drained = await Promise.race([workerFailure.then(() => true), sleep(60_000).then(() => false)]);
    if (failed) throw failed;
    expect(drained, 'every wallet flow finished after the last restart').toBe(true);
    running = false;
    await operatorDone;
    // The operator decides whatever is still in review (e.g. applications whose wallet started
    // over after a lost token response): none may stay stuck there.
    for (let pass = 0; pass < 5 && (await operatorPass()) > 0; pass++);
    await kill(child); // a final crash before checking the data
    child = undefined;

    const db = new Database(join(dataDir, 'kcc-issuer.db'));
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');

      // 1. Every credential a wallet received is on record.
      const received = flows.flatMap((f) => f.credentials.map((jwt) => ({ jwt, did: f.holder.did })));
      const byId = db.prepare('SELECT id, subject_did, jwt_sha256, transaction_id FROM issued_credentials WHERE id = ?');
      for (const { jwt, did } of received) {
        const jti = decodeJwt(jwt).payload.jti as string;
        const row = byId.get(jti) as { subject_did: string; jwt_sha256: string } | undefined;
        expect(row, `credential ${jti} is recorded`).toBeDefined();
        expect(row!.subject_did).toBe(did);
        expect(row!.jwt_sha256).toBe(base64urlEncode(sha256(utf8.encode(jwt))));
      }
      // 2. No transaction has more than one credential.
      expect(
        db.prepare('SELECT transaction_id, count(*) AS n FROM issued_credentials WHERE transaction_id IS NOT NULL GROUP BY transaction_id HAVING n > 1').all(),
      ).toEqual([]);
      // 3. Every used transaction has its credential record, and vice versa.
      expect(
        db
          .prepare(`SELECT t.id FROM transactions t LEFT JOIN issued_credentials c ON c.id = t.credential_id AND c.transaction_id = t.id
                    WHERE t.consumed_at IS NOT NULL AND c.id IS NULL`)
          .all(),
      ).toEqual([]);
      expect(
        db
          .prepare(`SELECT c.id FROM issued_credentials c LEFT JOIN transactions t ON t.id = c.transaction_id
                    WHERE c.transaction_id IS NOT NULL AND (t.consumed_at IS NULL OR t.credential_id IS NOT c.id)`)
          .all(),
      ).toEqual([]);
      // 4. No application is stuck.
      expect(db.prepare("SELECT id FROM applications WHERE status = 'pending' AND form_submitted_at IS NOT NULL").all()).toEqual([]);
      expect(db.prepare('SELECT a.id FROM applications a LEFT JOIN pre_authorized_codes p ON p.application_id = a.id WHERE p.code_hash IS NULL').all()).toEqual(
        [],
      );
      expect(db.prepare("SELECT id FROM applications WHERE status = 'review'").all()).toEqual([]);
      expect(
        db.prepare("SELECT id FROM applications WHERE status IN ('approved', 'rejected') AND (decided_at IS NULL OR form_submitted_at IS NULL)").all(),
      ).toEqual([]);
      // Every wallet flow ended with a credential or a refusal, as its IDV value says.
      for (const f of flows) {
        expect({ family: f.family, outcome: f.outcome }).toEqual({ family: f.family, outcome: f.family === 'Declined' ? 'denied' : 'credential' });
      }
      expect(serverErrors).toEqual([]);

      const counts = db
        .prepare(
          'SELECT (SELECT count(*) FROM applications) AS applications, (SELECT count(*) FROM issued_credentials) AS credentials, (SELECT count(*) FROM transactions WHERE consumed_at IS NOT NULL) AS deferredIssued',
        )
        .get();
      console.log(
        `crash: ${CYCLES} SIGKILL cycles under load (after ${killedAfterMs.join(', ')} ms) + ${STARTUP_KILLS} while starting (after ${killedWhileStartingAfterMs.join(', ')} ms), ${Date.now() - startedAt} ms in all, ${flows.length} flows, ${received.length} credentials received`,
        JSON.stringify(counts),
        JSON.stringify(stats),
      );
      expect(received.length).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  }, 150_000);

  it('an application and its pre-authorized code are written together or not at all', async () => {
    const t = await makeTestIssuer();
    const store = t.deps.store;
    const row = (id: string) => ({
      id,
      applicantDid: 'did:jwk:x',
      credentialConfigurationId: 'KnownCustomerCredential',
      status: 'pending' as const,
      formTokenHash: `form-${id}`,
      formExpiresAt: 2e9,
      createdAt: 1,
      updatedAt: 1,
    });
    const code = (applicationId: string) => ({ codeHash: 'same-code-hash', applicationId, applicantDid: 'did:jwk:x', expiresAt: 2e9 });
    await store.applications.createWithCode(row('a'), code('a'));
    // The second code insert fails (same hash): the application it came with must not exist either.
    await expect(store.applications.createWithCode(row('b'), code('b'))).rejects.toThrow();
    expect(await store.applications.get('a')).toBeDefined();
    expect(await store.applications.get('b')).toBeUndefined();
    t.sqlite.close();
  });
});
