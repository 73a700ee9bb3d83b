/**
 * Concurrency: hundreds of parallel redemptions of one single-use value, each exactly-once,
 * in process (app.request, interleaved at every await) and over real HTTP against the Node
 * runtime (file SQLite in WAL, requests arriving on sockets). And many applicants at once
 * never see each other's data.
 */
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import { digestSecret } from '../../src/crypto/hash';
import { silentLogger } from '../../src/http/context';
import { startNodeIssuer } from '../../src/runtime/node';
import type { Store } from '../../src/store/types';
import { WalletClient, type Fetch } from '../../src/wallet/client';
import { SAMPLE_IDENTITY, applyForKcc } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { ADMIN_TOKEN, PUBLIC_URL, makeTestIssuer } from '../helpers/issuer';

const PRE_AUTH = 'urn:ietf:params:oauth:grant-type:pre-authorized_code';
/** Parallel requests per race. */
const N = 250;
let races = 0;

interface Target {
  name: string;
  base: string;
  fetch: Fetch;
  store: Store;
  pfiDid: string;
  close: () => Promise<void>;
}

async function inProcess(): Promise<Target> {
  const t = await makeTestIssuer();
  const close = async () => {
    t.sqlite.close();
  };
  return { name: 'in-process', base: PUBLIC_URL, fetch: t.fetch, store: t.deps.store, pfiDid: t.deps.issuer.did, close };
}

async function overHttp(): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kcc-races-'));
  const issuer = await startNodeIssuer({ port: 0, dataDir, logger: silentLogger, config: { adminToken: ADMIN_TOKEN, rateLimits: { enabled: false } } });
  return {
    name: 'HTTP (Node runtime, file SQLite in WAL)',
    base: issuer.url,
    fetch: (input, init) => globalThis.fetch(input, init),
    store: issuer.deps.store,
    pfiDid: issuer.deps.issuer.did,
    close: async () => {
      await issuer.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const json = { 'content-type': 'application/json' };
const bearer = (token: string) => ({ ...json, authorization: `Bearer ${token}` });

/** The wallet steps, against any target. */
function steps(t: Target) {
  const post = async (path: string, headers: Record<string, string>, body: unknown) => {
    const res = await t.fetch(`${t.base}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    let parsed: any;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, location: res.headers.get('location') };
  };
  return {
    post,
    async siopRequest(client: WalletClient) {
      const pfi = await client.discover(t.base);
      return client.initiate(pfi.idvEndpoint, pfi);
    },
    async application(holder?: Holder) {
      const h = holder ?? (await Holder.create());
      const client = new WalletClient(h, t.fetch);
      const request = await this.siopRequest(client);
      const idvRequest = await client.respond(request);
      return { holder: h, client, idvRequest, code: idvRequest.credential_offer.grants[PRE_AUTH]['pre-authorized_code'] };
    },
    async submitted(identity: Record<string, string> = SAMPLE_IDENTITY) {
      const app = await this.application();
      const form = await app.client.submitIdvForm(app.idvRequest.url, identity);
      expect(form.status).toBe(200);
      return app;
    },
    token: (holder: Holder, code: string) => post('/oauth2/token', json, { grant_type: PRE_AUTH, 'pre-authorized_code': code, client_id: holder.did }),
    credential: (accessToken: string, body: unknown) => post('/oid4vci/credential', bearer(accessToken), body),
    deferred: (accessToken: string, transactionId: string) => post('/oid4vci/deferred-credential', bearer(accessToken), { transaction_id: transactionId }),
    async applicationIdOf(accessToken: string) {
      return (await t.store.accessTokens.get(decodeJwt(accessToken).payload.jti as string))!.applicationId;
    },
    decide: (applicationId: string, decision: 'approve' | 'reject') => post(`/admin/applications/${applicationId}/decision`, bearer(ADMIN_TOKEN), { decision }),
  };
}

function tally(results: Array<{ status: number; body: any }>) {
  const byOutcome: Record<string, number> = {};
  for (const r of results) {
    const key = `${r.status}${r.body?.error ? ` ${r.body.error}` : ''}`;
    byOutcome[key] = (byOutcome[key] ?? 0) + 1;
  }
  return byOutcome;
}

const parallel = <T>(n: number, f: (i: number) => Promise<T>) => Promise.all(Array.from({ length: n }, (_, i) => f(i)));

for (const make of [inProcess, overHttp]) {
  describe(`races (${make === inProcess ? 'in-process' : 'over HTTP, Node runtime, file SQLite in WAL'})`, () => {
    let t: Target;
    let s: ReturnType<typeof steps>;
    beforeAll(async () => {
      t = await make();
      s = steps(t);
    });
    afterAll(async () => t?.close());

    it(`${N} parallel redemptions of one pre-authorized code: exactly one access token`, async () => {
      const app = await s.submitted();
      const results = await parallel(N, () => s.token(app.holder, app.code));
      races++;
      expect(tally(results)).toEqual({ '200': 1, '400 invalid_grant': N - 1 });
    });

    it(`${N} parallel credential requests with one c_nonce (same proof): exactly one credential`, async () => {
      const app = await s.submitted();
      const token = (await s.token(app.holder, app.code)).body;
      const proof = await app.holder.createProofJwt({ audience: t.pfiDid, nonce: token.c_nonce });
      const body = { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: proof } };
      const results = await parallel(N, () => s.credential(token.access_token, body));
      races++;
      expect(tally(results)).toEqual({ '200': 1, '400 invalid_proof': N - 1 });
      const applicationId = await s.applicationIdOf(token.access_token);
      expect(await t.store.issuedCredentials.listForApplication(applicationId)).toHaveLength(1);
    });

    it(`${N} parallel ID token posts for one SIOP request (one nonce): exactly one application`, async () => {
      const holder = await Holder.create();
      const client = new WalletClient(holder, t.fetch);
      const request = await s.siopRequest(client);
      const idToken = await holder.createIdToken({ clientId: request.client_id, nonce: request.nonce });
      const results = await parallel(N, (i) =>
        i % 2 === 0
          ? s.post('/idv/siopv2/response', json, { id_token: idToken })
          : s.post('/idv/siopv2/response', { 'content-type': 'application/x-www-form-urlencoded' }, new URLSearchParams({ id_token: idToken }).toString()),
      );
      races++;
      expect(tally(results)).toEqual({ '200': 1, '400 invalid_request': N - 1 });
      const pending = await t.store.applications.listByStatus('pending', 100_000);
      expect(pending.filter((a) => a.applicantDid === holder.did)).toHaveLength(1);
    });

    it(`${N} parallel deferred requests for one approved transaction: exactly one credential`, async () => {
      const app = await s.submitted({ ...SAMPLE_IDENTITY, family_name: 'Review' });
      const token = (await s.token(app.holder, app.code)).body;
      const first = await s.credential(token.access_token, {
        format: 'jwt_vc_json',
        proof: { proof_type: 'jwt', jwt: await app.holder.createProofJwt({ audience: t.pfiDid, nonce: token.c_nonce }) },
      });
      expect(first.status).toBe(202);
      const applicationId = await s.applicationIdOf(token.access_token);
      expect((await s.decide(applicationId, 'approve')).status).toBe(200);
      const results = await parallel(N, () => s.deferred(token.access_token, first.body.transaction_id));
      races++;
      // Each answer is the one credential (a collection whose answer was lost can be repeated).
      expect(tally(results)).toEqual({ '200': N });
      expect(new Set(results.map((r) => JSON.stringify(r.body))).size).toBe(1);
      const issued = await t.store.issuedCredentials.listForApplication(applicationId);
      expect(issued).toHaveLength(1);
      expect(issued[0].transactionId).toBe(first.body.transaction_id);
      const winner = results.find((r) => r.status === 200)!;
      expect(decodeJwt(winner.body.credential).payload.jti).toBe(issued[0].id);
    });

    it(`${N} parallel submissions of one IDV form: exactly one is recorded`, async () => {
      const app = await s.application();
      const fields = { ...SAMPLE_IDENTITY, family_name: 'Review', consent: 'accept' };
      // As the webview: load the page once (its CSRF cookie and hidden token, where the form has them).
      const page = await t.fetch(app.idvRequest.url);
      const html = await page.text();
      const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0];
      const csrf = /name="csrf_token" value="([^"]+)"/.exec(html)?.[1];
      const results = await parallel(N, async (i) => {
        const res = await t.fetch(app.idvRequest.url, {
          method: 'POST',
          redirect: 'manual',
          ...(i % 2
            ? { headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(fields) }
            : {
                headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
                body: new URLSearchParams({ ...(csrf ? { csrf_token: csrf } : {}), ...fields }).toString(),
              }),
        });
        await res.text();
        return { status: res.status, body: {} };
      });
      races++;
      const outcomes = tally(results);
      expect((outcomes['303'] ?? 0) + (outcomes['200'] ?? 0), JSON.stringify(outcomes)).toBe(1);
      expect(outcomes['409'], JSON.stringify(outcomes)).toBe(N - 1);
      const application = await t.store.applications.findByFormToken(
        digestSecret(createNodeCryptoProvider(), new URL(app.idvRequest.url).pathname.split('/').pop()!),
      );
      expect(application?.status).toBe('review');
    });

    it(`${N} parallel operator decisions on one application: exactly one is applied`, async () => {
      const app = await s.submitted({ ...SAMPLE_IDENTITY, family_name: 'Review' });
      const token = (await s.token(app.holder, app.code)).body;
      const applicationId = await s.applicationIdOf(token.access_token);
      const results = await parallel(N, (i) => s.decide(applicationId, i % 2 ? 'approve' : 'reject'));
      races++;
      expect(tally(results)).toEqual({ '200': 1, '409 conflict': N - 1 });
      const winner = results.find((r) => r.status === 200)!;
      expect((await t.store.applications.get(applicationId))?.status).toBe(winner.body.status);
    });

    it("50 applicants at once (immediate and deferred) never see each other's data", async () => {
      const holders = await parallel(50, () => Holder.create());
      const results = await parallel(50, async (i) => {
        const holder = holders[i];
        const client = new WalletClient(holder, t.fetch);
        const review = i % 3 === 0;
        let transactionId: string | undefined;
        const result = await applyForKcc(client, {
          issuer: t.base,
          identity: { ...SAMPLE_IDENTITY, family_name: review ? 'Review' : 'Doe', given_name: `Applicant ${String.fromCharCode(65 + (i % 26))}` },
          pollIntervalMs: 20,
          pollAttempts: 200,
          onStep: (step) => {
            if (step.step === 'deferred') transactionId = step.detail?.transaction_id as string;
          },
          // The operator approves this applicant's own application (found from its transaction).
          whilePending: async () => {
            const transaction = await t.store.transactions.get(transactionId!);
            expect((await s.decide(transaction!.applicationId, 'approve')).status).toBe(200);
          },
        }).catch((e) => ({ error: e }));
        return { holder, review, result };
      });
      for (const { holder, review, result } of results) {
        if ('error' in result) throw result.error;
        expect(result.deferred).toBe(review);
        const kcc = decodeJwt(result.credential!).payload as any;
        // Each credential names its own applicant DID, and nobody else's.
        expect(kcc.sub).toBe(holder.did);
        expect(kcc.vc.credentialSubject.id).toBe(holder.did);
        // The form link and the access token belong to this applicant's own application.
        const formToken = new URL(result.idvRequest.url).pathname.split('/').pop()!;
        const application = await t.store.applications.findByFormToken(digestSecret(createNodeCryptoProvider(), formToken));
        expect(application?.applicantDid).toBe(holder.did);
        const grant = await t.store.accessTokens.get(decodeJwt(result.accessToken).payload.jti as string);
        expect(grant?.applicationId).toBe(application?.id);
        expect(grant?.applicantDid).toBe(holder.did);
        const issued = await t.store.issuedCredentials.listForApplication(application!.id);
        expect(issued.map((c) => c.id)).toEqual([kcc.jti]);
        expect(issued[0].subjectDid).toBe(holder.did);
        if (review) {
          const transaction = await t.store.transactions.get(result.transactionId!);
          expect(transaction?.applicationId).toBe(application?.id);
          expect(transaction?.holderDid).toBe(holder.did);
        }
      }
      races++;
    });

    it("A's access token cannot read B's deferred transaction, nor redeem B's code", async () => {
      const a = await s.submitted({ ...SAMPLE_IDENTITY, family_name: 'Review' });
      const b = await s.submitted({ ...SAMPLE_IDENTITY, family_name: 'Review' });
      // A cannot redeem B's code (bound to B's DID); B can afterwards.
      expect((await s.token(a.holder, b.code)).body.error).toBe('invalid_grant');
      const tokenA = (await s.token(a.holder, a.code)).body;
      const tokenB = (await s.token(b.holder, b.code)).body;
      expect(tokenB.access_token).toEqual(expect.any(String));
      const txB = await s.credential(tokenB.access_token, {
        format: 'jwt_vc_json',
        proof: { proof_type: 'jwt', jwt: await b.holder.createProofJwt({ audience: t.pfiDid, nonce: tokenB.c_nonce }) },
      });
      expect(txB.status).toBe(202);
      const appB = await s.applicationIdOf(tokenB.access_token);
      expect((await s.decide(appB, 'approve')).status).toBe(200);
      // A's token, B's transaction, in parallel: all refused, and B's transaction is untouched.
      const results = await parallel(50, () => s.deferred(tokenA.access_token, txB.body.transaction_id));
      expect(tally(results)).toEqual({ '400 invalid_transaction_id': 50 });
      const own = await s.deferred(tokenB.access_token, txB.body.transaction_id);
      expect(own.status).toBe(200);
      expect(decodeJwt(own.body.credential).payload.sub).toBe(b.holder.did);
    });
  });
}

afterAll(() => {
  console.log(`races: ${races} races of up to ${N} parallel requests`);
});
