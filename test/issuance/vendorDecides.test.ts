import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acmeVendor } from '../helpers/acmeVendor';
import { createIncodeProvider } from '../../src/idv/incode';
import { createPersonaProvider } from '../../src/idv/persona';
import { signBodyHmac } from '../../src/idv/webhookSignature';
import { decodeStatusList, getBit } from '../../src/protocol/statusList';
import { runCli } from '../../src/verifier/cli';
import { WalletClient } from '../../src/wallet/client';
import { SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { startFakeIncode } from '../helpers/fakeIncode';
import { startFakePersona } from '../helpers/fakePersona';
import { openApplication, requestCredential } from '../helpers/idvFlow';
import { ADMIN_TOKEN, makeTestIssuer, PUBLIC_URL, testClock } from '../helpers/issuer';

/**
 * With a vendor configured, the IDV Request's `url` only leads to the vendor: a sandbox-shaped
 * POST to it (JSON or a form) decides nothing and issues nothing, and an approval without the
 * country a KCC needs goes to review. Only the vendor's verified webhook, or an operator, decides.
 */
const sessions = new Map<string, { status: string; country: string }>();
let vendorServer: Server;
let vendorBase: string;

beforeAll(async () => {
  vendorServer = createServer((req, res) => {
    const send = (s: number, b: unknown) => {
      res.writeHead(s, { 'content-type': 'application/json' });
      res.end(JSON.stringify(b));
    };
    if (req.method === 'POST' && req.url === '/v1/sessions') {
      const id = `ses_${sessions.size + 1}`;
      sessions.set(id, { status: 'started', country: 'FR' });
      return send(201, { verification: { id, url: `https://vendor.example/v/${id}` } });
    }
    const m = /^\/v1\/sessions\/(ses_\d+)\/decision$/.exec(req.url ?? '');
    if (req.method === 'GET' && m && sessions.has(m[1])) {
      const s = sessions.get(m[1]) as { status: string; country: string };
      return send(200, { verification: { status: s.status, document: { country: s.country }, checks: [{ kind: 'document', result: 'passed' }] } });
    }
    send(404, {});
  });
  await new Promise<void>((ok) => vendorServer.listen(0, '127.0.0.1', ok));
  vendorBase = `http://127.0.0.1:${(vendorServer.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((ok) => vendorServer.close(() => ok())));

type Issuer = Awaited<ReturnType<typeof makeTestIssuer>>;

/** `kcc verify` (the relying party's CLI) with the network wired into the app. */
async function verify(t: Issuer, jwt: string, nowMs: number) {
  const out: string[] = [];
  const code = await runCli(['verify', jwt, '--allow-http', '--trusted-issuer', t.deps.issuer.did, '--now', new Date(nowMs).toISOString()], {
    out: (l) => out.push(l),
    err: (l) => out.push(l),
    fetch: ((input: RequestInfo | URL, init?: RequestInit) => t.app.request(String(input), init)) as typeof fetch,
  });
  return { code, out: out.join('\n') };
}

/** Sandbox-approvable fields, posted as JSON and as a form: each must be refused without effect. */
async function postSandboxFields(t: Issuer, url: string) {
  const json = await t.app.request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(SAMPLE_IDENTITY) });
  const form = await t.app.request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'idv_csrf=abc' },
    body: new URLSearchParams({ ...SAMPLE_IDENTITY, csrf_token: 'abc' } as Record<string, string>).toString(),
  });
  return { json, form };
}

async function applicationOf(t: Issuer, did: string) {
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
  for (const status of ['pending', 'review', 'approved', 'rejected']) {
    const list = (await (await t.app.request(`${PUBLIC_URL}/admin/applications?status=${status}`, { headers })).json()) as {
      applications: { id: string; applicant_did: string; status: string }[];
    };
    const found = list.applications.find((a) => a.applicant_did === did);
    if (found) return found;
  }
  throw new Error('no application');
}

describe('a configured vendor decides, the form does not', () => {
  it.each([['generic (acme)'], ['persona'], ['incode']])('%s: a sandbox-shaped POST to the form URL is refused and changes nothing', async (which) => {
    const persona = which === 'persona' ? await startFakePersona({ apiKey: 'k', secrets: ['s'] }) : undefined;
    const incode = which === 'incode' ? await startFakeIncode({ clientId: 'c', clientSecret: 's' }) : undefined;
    try {
      const vendor = persona
        ? createPersonaProvider({ apiKey: 'k', templateId: 'itmpl_x', webhookSecrets: ['s'], apiBase: persona.apiBase, fetch: (u, i) => fetch(u, i) })
        : incode
          ? createIncodeProvider({ clientId: 'c', clientSecret: 's', issuer: incode.issuer, fetch: (u, i) => fetch(u, i) })
          : acmeVendor(vendorBase);
      const t = await makeTestIssuer({ config: { idv: { provider: vendor.name } }, idv: { vendors: new Map([[vendor.name, vendor]]), outboundSecrets: [] } });
      const holder = await Holder.create();
      const client = new WalletClient(holder, t.fetch);
      const { pfi, idvRequest } = await openApplication(client, PUBLIC_URL);
      // Before and after the webview opened the vendor session.
      for (const round of [0, 1]) {
        if (round === 1) expect((await t.app.request(idvRequest.url, { redirect: 'manual' })).status).toBe(303);
        const { json, form } = await postSandboxFields(t, idvRequest.url);
        expect(json.status).toBe(405);
        expect(json.headers.get('allow')).toBe('GET');
        expect(await json.json()).toMatchObject({ error: 'invalid_request' });
        expect(form.status).toBe(405);
        expect(form.headers.get('content-type')).toMatch(/^text\/html/);
      }
      expect((await applicationOf(t, holder.did)).status).toBe('pending');
      const { first, deferred } = await requestCredential(client, pfi.did, idvRequest);
      expect(first.status).toBe(202);
      expect(await deferred()).toEqual({ pending: true });
      expect(await t.deps.store.issuedCredentials.count()).toBe(0);
    } finally {
      await persona?.close();
      await incode?.close();
    }
  });

  it('only the verified webhook decides: a forged one changes nothing, a signed approval issues the KCC', async () => {
    const clock = testClock();
    const vendor = acmeVendor(vendorBase);
    const t = await makeTestIssuer({ clock, config: { idv: { provider: 'acme' } }, idv: { vendors: new Map([['acme', vendor]]), outboundSecrets: [] } });
    const client = new WalletClient(await Holder.create(), t.fetch);
    const { pfi, idvRequest } = await openApplication(client, PUBLIC_URL);
    const go = await t.app.request(idvRequest.url, { redirect: 'manual' });
    const ref = /ses_\d+/.exec(go.headers.get('location') ?? '')?.[0] as string;
    const { deferred } = await requestCredential(client, pfi.did, idvRequest);
    const deliver = async (body: object, secret = 'acme-secret') => {
      const raw = JSON.stringify(body);
      const signature = await signBodyHmac(secret, new TextEncoder().encode(raw), 'hex');
      return t.app.request(`${PUBLIC_URL}/idv/webhooks/acme`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hmac-signature': signature },
        body: raw,
      });
    };
    sessions.get(ref)!.status = 'approved';
    expect(
      (await deliver({ id: 'evt_forged', action: 'decided', timestamp: new Date(clock()).toISOString(), verification: { id: ref } }, 'not-the-secret')).status,
    ).toBe(401);
    expect(await deferred()).toEqual({ pending: true });
    expect((await deliver({ id: 'evt_1', action: 'decided', timestamp: new Date(clock()).toISOString(), verification: { id: ref } })).status).toBe(200);
    const issued = await deferred();
    expect(issued.credential).toBeTypeOf('string');
    expect(await t.deps.store.issuedCredentials.count()).toBe(1);

    // The vendor re-decides approved → declined: the KCC already issued is revoked.
    const kcc = issued.credential as string;
    expect((await verify(t, kcc, clock())).code).toBe(0);
    clock.advance(60);
    sessions.get(ref)!.status = 'declined';
    const redecided = await deliver({ id: 'evt_2', action: 'decided', timestamp: new Date(clock()).toISOString(), verification: { id: ref } });
    expect(await redecided.json()).toMatchObject({ disposition: 'redecision' });
    const vc = JSON.parse(Buffer.from(kcc.split('.')[1], 'base64url').toString()).vc;
    const entry = vc.credentialStatus.find((e: { statusPurpose: string }) => e.statusPurpose === 'revocation');
    const list = JSON.parse(Buffer.from((await (await t.app.request(entry.statusListCredential)).text()).split('.')[1], 'base64url').toString()).vc;
    expect(getBit(await decodeStatusList(list.credentialSubject.encodedList), Number(entry.statusListIndex))).toBe(true);
    const verdict = await verify(t, kcc, clock());
    expect(verdict.code).not.toBe(0);
    expect(verdict.out).toMatch(/revoked/);
  });

  it('a vendor approval without a country goes to review; an operator must supply one to approve', async () => {
    const clock = testClock();
    const vendor = acmeVendor(vendorBase);
    const t = await makeTestIssuer({ clock, config: { idv: { provider: 'acme' } }, idv: { vendors: new Map([['acme', vendor]]), outboundSecrets: [] } });
    const holder = await Holder.create();
    const client = new WalletClient(holder, t.fetch);
    const { pfi, idvRequest } = await openApplication(client, PUBLIC_URL);
    const go = await t.app.request(idvRequest.url, { redirect: 'manual' });
    const ref = /ses_\d+/.exec(go.headers.get('location') ?? '')?.[0] as string;
    const { deferred } = await requestCredential(client, pfi.did, idvRequest);
    Object.assign(sessions.get(ref)!, { status: 'approved', country: '' });
    const raw = JSON.stringify({ id: 'evt_nocountry', action: 'decided', timestamp: new Date(clock()).toISOString(), verification: { id: ref } });
    const signature = await signBodyHmac('acme-secret', new TextEncoder().encode(raw), 'hex');
    expect(
      (
        await t.app.request(`${PUBLIC_URL}/idv/webhooks/acme`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-hmac-signature': signature },
          body: raw,
        })
      ).status,
    ).toBe(200);
    const application = await applicationOf(t, holder.did);
    expect(application.status).toBe('review');
    expect(await deferred()).toEqual({ pending: true });
    expect(await t.deps.store.issuedCredentials.count()).toBe(0);

    const decide = (body: object) =>
      t.app.request(`${PUBLIC_URL}/admin/applications/${application.id}/decision`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const refused = await decide({ decision: 'approve' });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error_description: string }).error_description).toMatch(/country/);
    expect((await decide({ decision: 'approve', country_of_residence: 'XX' })).status).toBe(400);
    expect((await decide({ decision: 'approve', country_of_residence: 'FR' })).status).toBe(200);
    const issued = await deferred();
    expect(JSON.parse(Buffer.from((issued.credential as string).split('.')[1], 'base64url').toString()).vc.credentialSubject.countryOfResidence).toBe('FR');
  });

  it('an approved application without a valid country is sent to review by the credential endpoint, not signed', async () => {
    const t = await makeTestIssuer();
    const holder = await Holder.create();
    const client = new WalletClient(holder, t.fetch);
    const { pfi, idvRequest } = await openApplication(client, PUBLIC_URL);
    await client.submitIdvForm(idvRequest.url, SAMPLE_IDENTITY);
    // A row approved before this rule existed (or written by another system) with an empty country.
    t.sqlite.prepare("UPDATE applications SET country_of_residence = '' WHERE applicant_did = ?").run(holder.did);
    const { first, deferred } = await requestCredential(client, pfi.did, idvRequest);
    expect(first.status).toBe(202);
    expect((await applicationOf(t, holder.did)).status).toBe('review');
    expect(await deferred()).toEqual({ pending: true });
    expect(await t.deps.store.issuedCredentials.count()).toBe(0);
  });
});
