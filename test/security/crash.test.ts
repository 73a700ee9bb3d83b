/**
 * Crash safety: the issuer runs as a child process (`node --import tsx src/runtime/node.ts`)
 * on a temp DATA_DIR (file SQLite, WAL, synchronous=NORMAL as src/runtime/sqlite.ts documents),
 * under load from several wallets (immediate flows, deferred flows through family_name
 * "Review" and operator approval over /admin, declined flows; test/helpers/crashLoad.ts). It is
 * killed with SIGKILL at random points, CYCLES times in short cycles, and restarted on the same
 * DATA_DIR and port; the wallets carry on as real wallets would (retrying on connection errors,
 * taking the fresh c_nonce of an invalid_proof, starting again at SIOPv2 with the same DID when
 * a token answer was lost, where the issuer resumes the application).
 *
 * After the last restart and the drain, "no stranded wallet, no ghost" (crashLoad.ts
 * `checkNoStrandedNoGhost`): every approved application has a credential its wallet received, or
 * its wallet gets one now at SIOPv2; every grant a wallet holds gives the same KCC again; the
 * admin API, the KYC status API and the console show as live exactly the credentials wallets
 * hold; one credential per application and per wallet, no code redeemed twice. Then, after a
 * final SIGKILL, the database:
 * 1. every used transaction has its credential record, and every credential naming a
 *    transaction is the one that transaction was used for;
 * 2. no application is stuck (see STUCK below);
 * 3. `PRAGMA integrity_check` is ok, and the journal is still WAL.
 *
 * STUCK — an application is stuck when it is in a state nobody can move it out of:
 * - `pending` with its form already recorded (form_submitted_at set: the submission and the
 *   decision are one UPDATE, so they must never be split), or without its pre-authorized
 *   code (a half-created application whose offer can never be redeemed);
 * - `review` that the operator cannot decide: after the last restart the operator lists every
 *   application in review through GET /admin/applications and approves it, and none may remain;
 * - `approved` / `rejected` without decided_at (a decision half-written).
 * Not stuck: a `pending` application whose IDV link was never delivered (the crash ate the
 * SIOP response) or has expired — the applicant starts a new application, and the link
 * expires (ttl.idvForm).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkNoStrandedNoGhost, crashLoad, KYC_KEY, KYC_TENANT } from '../helpers/crashLoad';
import { killHard, warmIssuers, type WarmIssuers } from '../helpers/warmIssuers';
import { makeTestIssuer } from '../helpers/issuer';

/** SIGKILLs under load, and SIGKILLs while the issuer starts (the first on an empty DATA_DIR). */
const CYCLES = Number(process.env.CRASH_CYCLES ?? 30); // CRASH_CYCLES: fewer for a quick local run, more for a longer one
const STARTUP_KILLS = 2;
const WALLETS = 8;
/**
 * Each cycle kills after the issuer answered a random number of requests in [ANSWERS_MIN,
 * ANSWERS_MAX) since its restart (at most LOAD_MS_MAX): short cycles, and every one of them under
 * load whatever the host's speed.
 */
const ANSWERS_MIN = 2;
const ANSWERS_MAX = 40;
const LOAD_MS_MAX = 3000;
const ADMIN_TOKEN = 'crash-test-admin-token-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  await new Promise((ok) => server.close(ok));
  return port;
}

describe('crash safety', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kcc-crash-'));
  let issuers: WarmIssuers | undefined;
  afterAll(async () => {
    await issuers?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`survives ${CYCLES} SIGKILLs under load and ${STARTUP_KILLS} while starting: no stranded wallet, no ghost, every invariant intact`, async () => {
    const port = await freePort();
    const base = `http://localhost:${port}`;
    const fetch = (input: string, init?: RequestInit) => globalThis.fetch(input, { ...init, signal: AbortSignal.timeout(10_000) });
    const load = crashLoad({ publicUrl: base, fetch, adminToken: ADMIN_TOKEN, wallets: WALLETS });
    // Processes loaded ahead (test/helpers/warmIssuers.ts): a restart costs `main`, not loading the modules.
    issuers = await warmIssuers({
      ahead: 4,
      env: { HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent', RATE_LIMITS: 'off', ADMIN_TOKEN, KYC_API_KEYS: `${KYC_TENANT}:${KYC_KEY}` },
    });
    const env = { PORT: String(port) };

    const startedAt = Date.now();
    // Kills while starting (the first on a fresh DATA_DIR: key file creation and migrations).
    const killedWhileStartingAfterMs: number[] = [];
    for (let i = 0; i < STARTUP_KILLS; i++) {
      const starting = issuers.start(env);
      const ms = 20 + Math.floor(Math.random() * 400);
      await Promise.race([sleep(ms), starting.ready.catch(() => undefined)]);
      killedWhileStartingAfterMs.push(ms);
      await killHard(starting.child);
    }
    let child = await issuers.start(env).ready;
    load.start();

    // Short cycles: kill at a random point under load, restart on the same data and port.
    const killedAfterMs: number[] = [];
    const restartMs: number[] = [];
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const answers = ANSWERS_MIN + Math.floor(Math.random() * (ANSWERS_MAX - ANSWERS_MIN));
      const ms = await load.until(answers, LOAD_MS_MAX);
      killedAfterMs.push(ms);
      await killHard(child);
      if (load.state.failed) break;
      const restarting = Date.now();
      child = await issuers.start(env).ready;
      restartMs.push(Date.now() - restarting);
      if (process.env.CRASH_PROGRESS)
        process.stderr.write(`cycle ${cycle} load ${ms} restart ${Date.now() - restarting} ms, ${load.flows.length} flows ${JSON.stringify(load.stats)}\n`);
    }
    if (load.state.failed) throw load.state.failed;

    // Drain: no new flows; every started flow must finish on the restarted issuer.
    const drained = await load.drain(60_000);
    if (load.state.failed) throw load.state.failed;
    expect(drained, 'every wallet flow finished after the last restart').toBe(true);
    await load.stop();
    const loadMs = Date.now() - startedAt;

    const db = new Database(join(dataDir, 'kcc-issuer.db'), { readonly: true });
    let figures: Awaited<ReturnType<typeof checkNoStrandedNoGhost>>;
    try {
      figures = await checkNoStrandedNoGhost({
        load,
        publicUrl: base,
        fetch,
        adminToken: ADMIN_TOKEN,
        query: async (sql) => db.prepare(sql).all() as Record<string, unknown>[],
      });
    } finally {
      db.close();
    }
    expect(load.serverErrors).toEqual([]);
    await killHard(child); // a final crash before checking the data

    const after = new Database(join(dataDir, 'kcc-issuer.db'));
    try {
      expect(after.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(after.pragma('journal_mode', { simple: true })).toBe('wal');
      // Every used transaction has its credential record, and vice versa.
      expect(
        after
          .prepare(`SELECT c.id FROM issued_credentials c LEFT JOIN transactions t ON t.id = c.transaction_id
                    WHERE c.transaction_id IS NOT NULL AND (t.consumed_at IS NULL OR t.credential_id IS NOT c.id)`)
          .all(),
      ).toEqual([]);
      // No application is stuck.
      expect(after.prepare("SELECT id FROM applications WHERE status = 'pending' AND form_submitted_at IS NOT NULL").all()).toEqual([]);
      expect(
        after.prepare('SELECT a.id FROM applications a LEFT JOIN pre_authorized_codes p ON p.application_id = a.id WHERE p.code_hash IS NULL').all(),
      ).toEqual([]);
      expect(after.prepare("SELECT id FROM applications WHERE status = 'review'").all()).toEqual([]);
      expect(
        after.prepare("SELECT id FROM applications WHERE status IN ('approved', 'rejected') AND (decided_at IS NULL OR form_submitted_at IS NULL)").all(),
      ).toEqual([]);
      const counts = after
        .prepare(
          'SELECT (SELECT count(*) FROM applications) AS applications, (SELECT count(*) FROM issued_credentials) AS credentials, (SELECT count(*) FROM transactions WHERE consumed_at IS NOT NULL) AS deferredIssued',
        )
        .get();
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
      console.log(
        `crash (SQLite): ${CYCLES} SIGKILL cycles under load (killed after ${ANSWERS_MIN}-${ANSWERS_MAX} answers, median ${median(killedAfterMs)} ms under load; restart median ${median(restartMs)} ms) + ${STARTUP_KILLS} while starting (after ${killedWhileStartingAfterMs.join(', ')} ms), ${loadMs} ms under load, ${Date.now() - startedAt} ms in all, ${load.flows.length} flows`,
        JSON.stringify(counts),
        JSON.stringify(load.stats),
        JSON.stringify(figures),
      );
      expect(figures.credentials).toBeGreaterThan(0);
    } finally {
      after.close();
    }
  }, 300_000);

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
