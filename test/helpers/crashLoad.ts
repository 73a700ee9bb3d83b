import { sha256 } from '@noble/hashes/sha2.js';
import { expect } from 'vitest';
import { base64urlEncode, utf8 } from '../../src/crypto/base64url';
import { decodeJwt } from '../../src/crypto/jwt';
import { WalletClient, WalletError, type Fetch, type IdvRequest } from '../../src/wallet/client';
import { SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { signKycStatusAuthorization } from '../../src/wallet/kycAuthorization';

/**
 * The load and the checks the two crash suites share (test/security/crash.test.ts on SQLite,
 * test/postgres/crash.test.ts on PostgreSQL): wallets that behave as real wallets do across
 * SIGKILLs, an operator approving reviews, and, once the issuer has recovered, the "no stranded
 * wallet, no ghost" checks over HTTP (admin API, KYC status API, console) and the database.
 *
 * A wallet: retries a step while the issuer is down (connection refused or reset, 503); takes the
 * fresh c_nonce of an invalid_proof; opens a new SIOPv2 request when its answer was lost (the
 * nonce is spent); resubmits its form (409: recorded before the crash); and when its token answer
 * was lost (the code is spent: invalid_grant) starts again at SIOPv2 with the same DID, where the
 * issuer resumes its application (src/issuance/applications.ts `resumeApplication`): the IDV
 * Request's url is then a finish page and the offer's code is fresh. A credential request retried
 * after a lost answer gets the same KCC (same jti). An approved application answered
 * credential_request_denied is a stranded wallet: the suite fails.
 */
export const PRE_AUTH = 'urn:ietf:params:oauth:grant-type:pre-authorized_code';
export const KYC_TENANT = 'crash';
export const KYC_KEY = 'crash-suite-kyc-tenant-key-0123456789abcdef';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Outcome = 'credential' | 'denied';
export interface Flow {
  holder: Holder;
  family: string;
  outcome?: Outcome;
  /** Every credential answer received (a retry after a lost answer may hand the same one again). */
  credentials: string[];
  /** The last access token the wallet holds. */
  accessToken?: string;
}

export interface CrashStats {
  lostSiopResponses: number;
  lostTokenResponses: number;
  resumedAtSiop: number;
  freshNonces: number;
  formResubmits: number;
  retriedRequests: number;
  recoveredDeferred: number;
}

/** Connection refused/reset, or a 503 while starting or while the database is away: retry. A 500 is a bug, never transient. */
export function isTransient(e: unknown): boolean {
  if (e instanceof WalletError) return e.status === 503 || e.status === undefined;
  return true; // fetch failed, socket hang up, body read aborted…
}

/**
 * Wallets and an operator against one issuer URL (`publicUrl`, reached through `fetch`). `start`
 * runs `wallets` wallets, each starting flows while `accepting`, and the operator.
 */
export function crashLoad(options: { publicUrl: string; fetch: Fetch; adminToken: string; wallets: number; families?: string[] }) {
  const { publicUrl: base, adminToken } = options;
  /** Answers the issuer gave (anything but a connection failure or a 5xx): how far the load got. */
  const progress = { answered: 0 };
  const fetch: Fetch = async (input, init) => {
    const res = await options.fetch(input, init);
    if (res.status < 500) progress.answered++;
    return res;
  };
  const families = options.families ?? ['Doe', 'Review', 'Doe', 'Review', 'Declined', 'Doe'];
  const flows: Flow[] = [];
  const serverErrors: string[] = [];
  const stranded: string[] = [];
  const stats: CrashStats = {
    lostSiopResponses: 0,
    lostTokenResponses: 0,
    resumedAtSiop: 0,
    freshNonces: 0,
    formResubmits: 0,
    retriedRequests: 0,
    recoveredDeferred: 0,
  };
  const state = { accepting: true, running: true, failed: undefined as unknown };

  async function retry<T>(step: () => Promise<T>): Promise<T> {
    for (;;) {
      if (!state.running) throw new Error('stopped');
      try {
        return await step();
      } catch (e) {
        if (e instanceof WalletError && e.status !== undefined && e.status >= 500 && e.status !== 503)
          serverErrors.push(`${e.message} ${e.status} ${JSON.stringify(e.body)}`);
        if (!isTransient(e)) throw e;
        stats.retriedRequests++;
        await sleep(30);
      }
    }
  }

  const errorOf = (e: unknown) => ((e as WalletError)?.body as { error?: string; c_nonce?: string } | undefined) ?? {};

  /** One applicant's flow from SIOPv2 to its credential or refusal, resumable at each step after a crash. */
  async function runFlow(flow: Flow, expectResumed = false): Promise<void> {
    const client = new WalletClient(flow.holder, fetch);
    const identity = { ...SAMPLE_IDENTITY, family_name: flow.family };
    let resumed = expectResumed;
    for (;;) {
      const pfi = await retry(() => client.discover(base));
      const request = await retry(() => client.initiate(pfi.idvEndpoint, pfi));
      let idvRequest: IdvRequest;
      try {
        idvRequest = await retry(() => client.respond(request));
      } catch (e) {
        if (e instanceof WalletError && e.status === 400) {
          stats.lostSiopResponses++; // the nonce was spent by a request whose answer was lost
          continue;
        }
        throw e;
      }
      if (new URL(idvRequest.url).pathname.endsWith('finish.html')) {
        // Resumed: identity verification is done, nothing to fill in.
        stats.resumedAtSiop++;
      } else {
        if (resumed) stranded.push(`${flow.holder.did}: SIOPv2 again opened a new application instead of resuming`);
        const form = await retry(async () => {
          const r = await client.submitIdvForm(idvRequest.url, identity);
          if (r.status >= 500) throw new WalletError('form failed', r.status, r.body.slice(0, 200));
          return r;
        });
        if (form.status === 409) stats.formResubmits++;
        else expect(form.status, form.body.slice(0, 200)).toBe(200);
      }
      const code = idvRequest.credential_offer.grants[PRE_AUTH]['pre-authorized_code'];
      let token: Awaited<ReturnType<typeof client.token>>;
      try {
        token = await retry(() => client.token(`${base}/oauth2/token`, code));
      } catch (e) {
        if (errorOf(e).error === 'invalid_grant') {
          // The code was redeemed but its answer lost: SIOPv2 again with the same DID resumes the application.
          stats.lostTokenResponses++;
          resumed = flow.family !== 'Declined';
          continue;
        }
        throw e;
      }
      flow.accessToken = token.access_token;
      let cNonce = token.c_nonce;
      for (;;) {
        let first: { status: number; credential?: string; transaction_id?: string };
        try {
          first = await retry(() => client.credential(`${base}/oid4vci/credential`, token.access_token, pfi.did, cNonce));
        } catch (e) {
          const body = errorOf(e);
          if (body.error === 'invalid_proof' && body.c_nonce) {
            stats.freshNonces++;
            cNonce = body.c_nonce; // our nonce was used by a request whose answer we lost
            continue;
          }
          if (body.error === 'credential_request_denied' && flow.family === 'Declined') {
            flow.outcome = 'denied';
            return;
          }
          if (body.error === 'credential_request_denied') stranded.push(`${flow.holder.did}: ${JSON.stringify(body)}`);
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
            const error = errorOf(e).error;
            if (error === 'credential_request_denied' && flow.family === 'Declined') {
              flow.outcome = 'denied';
              return;
            }
            if (error === 'invalid_transaction_id') {
              stats.recoveredDeferred++;
              cNonce = 'stale'; // answered invalid_proof with a fresh c_nonce
              break; // ask the Credential Endpoint again: the same KCC
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
    let n = 0;
    while (state.accepting) {
      const flow: Flow = { holder: await Holder.create(), family: families[(i + n++) % families.length], credentials: [] };
      flows.push(flow);
      try {
        await runFlow(flow);
      } catch (e) {
        if (!state.running) return;
        throw e;
      }
    }
  }

  /** The operator: approves every application the API lists as awaiting review; returns how many. */
  async function operatorPass(): Promise<number> {
    const res = await fetch(`${base}/admin/applications?status=review`, { headers: { authorization: `Bearer ${adminToken}` } });
    if (res.status >= 500 && res.status !== 503) serverErrors.push(`admin list ${res.status}`);
    const body = res.ok ? ((await res.json()) as { applications: Array<{ id: string }> }) : { applications: [] };
    for (const a of body.applications) {
      const d = await fetch(`${base}/admin/applications/${a.id}/decision`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'approve' }),
      });
      if (d.status >= 500 && d.status !== 503) serverErrors.push(`admin decision ${d.status}`);
      await d.body?.cancel();
    }
    return body.applications.length;
  }

  let walletsDone: Promise<void> = Promise.resolve();
  let operatorDone: Promise<void> = Promise.resolve();
  return {
    flows,
    stats,
    progress,
    /** Resolves once the issuer answered `answers` more requests, or after `maxMs`; the time it took. */
    async until(answers: number, maxMs: number): Promise<number> {
      const from = progress.answered;
      const started = Date.now();
      while (progress.answered - from < answers && Date.now() - started < maxMs && !state.failed) await sleep(10);
      return Date.now() - started;
    },
    serverErrors,
    stranded,
    state,
    operatorPass,
    runFlow,
    start() {
      operatorDone = (async () => {
        while (state.running) {
          await operatorPass().catch(() => 0); // the issuer is down
          await sleep(100);
        }
      })();
      walletsDone = Promise.all(Array.from({ length: options.wallets }, (_, i) => wallet(i))).then(() => undefined);
      walletsDone.catch((e) => (state.failed ??= e));
    },
    /** No new flows; resolves true once every started flow finished, false after `timeoutMs`. */
    async drain(timeoutMs: number): Promise<boolean> {
      state.accepting = false;
      return Promise.race([walletsDone.then(() => true), sleep(timeoutMs).then(() => false)]);
    },
    async stop() {
      state.accepting = false;
      state.running = false;
      await operatorDone;
      // Whatever is still in review (e.g. a review whose wallet's flow finished meanwhile) is decided.
      for (let pass = 0; pass < 5 && (await operatorPass().catch(() => 0)) > 0; pass++);
    },
  };
}

export type CrashLoad = ReturnType<typeof crashLoad>;

/** A database read by the checks: SQL without parameters, rows as objects (SQLite's better-sqlite3 or postgres.js). */
export type Query = (sql: string) => Promise<Record<string, unknown>[]>;

const jtiOf = (jwt: string) => decodeJwt(jwt).payload.jti as string;

/**
 * "No stranded wallet, no ghost", after the issuer recovered and the wallets drained:
 * - stranded: every approved application has a credential its wallet received; one that has not
 *   is collected now by its wallet starting again at SIOPv2 with its DID (and must be resumed),
 *   and every wallet that holds a grant retries a credential request with it and gets the same
 *   KCC (same jti) or, its grant replaced by a resume, invalid_token;
 * - ghost: the admin API, the KYC status API and the console show as live exactly the
 *   credentials wallets received; a recorded, unrevoked credential no wallet received fails;
 * - nothing doubled: one credential per application and per flow, no code redeemed twice (one
 *   access token per code), no transaction with two credentials.
 * Returns figures for the suite's log line.
 */
export async function checkNoStrandedNoGhost(input: { load: CrashLoad; publicUrl: string; fetch: Fetch; adminToken: string; query: Query }) {
  const { load, publicUrl: base, fetch, adminToken, query } = input;
  const { flows } = load;
  const flowByDid = new Map(flows.map((f) => [f.holder.did, f]));
  const admin = { authorization: `Bearer ${adminToken}` };
  load.state.running = true; // the wallets' retries run again for the collection below

  // Stranded: approved applications whose credential no wallet received are collected now, at SIOPv2.
  const received = () => new Set(flows.flatMap((f) => f.credentials.map(jtiOf)));
  const approvedUncollected = async () => {
    const have = received();
    const rows = await query(
      `SELECT a.id, a.applicant_did, c.credential_id FROM applications a LEFT JOIN issuance_claims c ON c.application_id = a.id WHERE a.status = 'approved'`,
    );
    return rows.filter((r) => r.credential_id == null || !have.has(String(r.credential_id)));
  };
  let recoveredAtSiop = 0;
  for (const row of await approvedUncollected()) {
    const flow = flowByDid.get(String(row.applicant_did));
    expect(flow, `approved application ${row.id} belongs to a wallet of the suite`).toBeDefined();
    const before = flow!.credentials.length;
    await load.runFlow(flow!, true);
    expect(flow!.credentials.length).toBe(before + 1);
    recoveredAtSiop++;
  }
  expect(await approvedUncollected(), 'every approved application has a credential its wallet received').toEqual([]);
  expect(load.stranded, 'no wallet was refused or sent back to IDV for an approved application').toEqual([]);

  // Retry with the grant the wallet holds: the same KCC again, never a second.
  let retriedWithGrant = 0;
  for (const f of flows) {
    if (f.outcome !== 'credential' || !f.accessToken) continue;
    const client = new WalletClient(f.holder, fetch);
    const pfiDid = (await client.discover(base)).did;
    const nonce = ((await (await fetch(`${base}/oid4vci/nonce`, { method: 'POST' })).json()) as { c_nonce: string }).c_nonce;
    try {
      const again = await client.credential(`${base}/oid4vci/credential`, f.accessToken, pfiDid, nonce);
      expect(again.credential && jtiOf(again.credential)).toBe(jtiOf(f.credentials[0]));
      retriedWithGrant++;
    } catch (e) {
      // A grant replaced by a resume (its wallet had lost it): revoked.
      expect(errorOfWallet(e)).toBe('invalid_token');
    }
  }

  // Nothing doubled.
  for (const f of flows) {
    expect({ family: f.family, outcome: f.outcome }).toEqual({ family: f.family, outcome: f.family === 'Declined' ? 'denied' : 'credential' });
    expect(new Set(f.credentials.map(jtiOf)).size, `one credential for ${f.holder.did}`).toBe(f.family === 'Declined' ? 0 : 1);
  }
  expect(await query('SELECT application_id FROM issued_credentials GROUP BY application_id HAVING count(*) > 1')).toEqual([]);
  expect(await query('SELECT code_hash FROM access_tokens GROUP BY code_hash HAVING count(*) > 1'), 'no code redeemed twice').toEqual([]);
  expect(await query('SELECT transaction_id FROM issued_credentials WHERE transaction_id IS NOT NULL GROUP BY transaction_id HAVING count(*) > 1')).toEqual([]);
  expect(
    await query(`SELECT t.id FROM transactions t LEFT JOIN issued_credentials c ON c.id = t.credential_id AND c.transaction_id = t.id
                 WHERE t.consumed_at IS NOT NULL AND c.id IS NULL`),
  ).toEqual([]);

  // No answer without its decision, no decision without its record: every application whose form
  // link was answered has its IDV session, and every one the form decided has the consent entry
  // and the decision's entry (the link's answer rides in the result's commit).
  expect(
    await query(`SELECT a.id FROM applications a LEFT JOIN idv_sessions s ON s.application_id = a.id
                 WHERE a.form_submitted_at IS NOT NULL AND a.status <> 'withdrawn' AND s.application_id IS NULL`),
    'no answered form link without its IDV session',
  ).toEqual([]);
  expect(
    await query(`SELECT a.id FROM applications a WHERE a.status IN ('approved', 'rejected', 'review') AND a.idv_provider = 'hosted' AND (
                   NOT EXISTS (SELECT 1 FROM audit_log l WHERE l.application_id = a.id AND l.action = 'consent.given')
                   OR NOT EXISTS (SELECT 1 FROM audit_log l WHERE l.application_id = a.id AND l.action IN ('idv.state_changed', 'idv.redecision')))`),
    'no decided application without its consent and decision entries',
  ).toEqual([]);

  // No credential lost: every one a wallet received is recorded, as issued. No ghost: every
  // recorded, unrevoked credential was received by its wallet.
  const recorded = new Map(
    (
      await query('SELECT c.id, c.subject_did, c.jwt_sha256, s.revoked_at FROM issued_credentials c LEFT JOIN credential_status s ON s.credential_id = c.id')
    ).map((r) => [String(r.id), r]),
  );
  for (const f of flows) {
    for (const jwt of f.credentials) {
      const row = recorded.get(jtiOf(jwt));
      expect(row, `credential ${jtiOf(jwt)} is recorded`).toBeDefined();
      expect(row!.subject_did).toBe(f.holder.did);
      expect(row!.jwt_sha256).toBe(base64urlEncode(sha256(utf8.encode(jwt))));
    }
  }
  const have = received();
  const ghosts = [...recorded.values()].filter((r) => r.revoked_at == null && !have.has(String(r.id)));
  expect(ghosts, 'no recorded live credential that no wallet holds').toEqual([]);
  const orphanEntries = await query(
    'SELECT s.credential_id FROM credential_status s LEFT JOIN issued_credentials c ON c.id = s.credential_id WHERE c.id IS NULL',
  );

  // Live in the admin API, the KYC status API and the console: exactly what wallets hold.
  const consoleCookie = await consoleSession(base, fetch, adminToken);
  const now = Math.floor(Date.now() / 1000);
  const applicationsOf = new Map<string, string[]>();
  for (const r of await query('SELECT id, applicant_did FROM applications')) {
    const did = String(r.applicant_did);
    applicationsOf.set(did, [...(applicationsOf.get(did) ?? []), String(r.id)]);
  }
  for (const f of flows) {
    const holds = [...new Set(f.credentials.map(jtiOf))];
    const listed = (await (await fetch(`${base}/admin/credentials?subject=${encodeURIComponent(f.holder.did)}`, { headers: admin })).json()) as {
      credentials: { id: string; status: string }[];
    };
    expect(
      listed.credentials.filter((c) => c.status === 'active').map((c) => c.id),
      `admin API: the live credentials of ${f.holder.did}`,
    ).toEqual(holds);
    const kyc = await fetch(`${base}/api/v1/kyc/${encodeURIComponent(f.holder.did)}/status`, {
      headers: {
        authorization: `Bearer ${KYC_KEY}`,
        'kyc-subject-authorization': await signKycStatusAuthorization(f.holder.signer, { subject: f.holder.did, tenant: KYC_TENANT, audience: base, now }),
      },
    });
    expect(kyc.status).toBe(200);
    expect(((await kyc.json()) as { kyc_status: string }).kyc_status, `KYC status API for ${f.holder.did}`).toBe(
      f.family === 'Declined' ? 'rejected' : 'verified',
    );
    const shown = new Set<string>();
    for (const id of applicationsOf.get(f.holder.did) ?? []) {
      const page = await (await fetch(`${base}/console/applications/${encodeURIComponent(id)}`, { headers: { cookie: consoleCookie } })).text();
      for (const m of page.matchAll(/urn:uuid:[0-9a-f-]{36}/g)) shown.add(m[0]);
    }
    expect([...shown].sort(), `console: the credentials of ${f.holder.did}`).toEqual([...holds].sort());
  }
  return { recoveredAtSiop, retriedWithGrant, orphanStatusEntries: orphanEntries.length, credentials: have.size };
}

function errorOfWallet(e: unknown): string | undefined {
  return ((e as WalletError)?.body as { error?: string } | undefined)?.error;
}

/** A first-start console session (no operator account exists): ADMIN_TOKEN signs in. */
async function consoleSession(base: string, fetch: Fetch, adminToken: string): Promise<string> {
  const login = await fetch(`${base}/console/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ operator: 'crash-suite', token: adminToken }).toString(),
    redirect: 'manual',
  });
  expect(login.status).toBe(303);
  return (login.headers.get('set-cookie') ?? '').split(';')[0];
}
