import { acmeVendor } from '../helpers/acmeVendor';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdvProvider } from '../../src/idv/provider';
import { decodeJwt } from 'jose';
import { WalletClient } from '../../src/wallet/client';
import { Holder } from '../../src/wallet/holder';
import { signKycStatusAuthorization } from '../../src/wallet/kycAuthorization';
import { signInAtBank, startTestBank, type TestBank } from '../helpers/bankProvider';
import { Jar } from '../helpers/bankWebview';
import { openApplication, requestCredential } from '../helpers/idvFlow';
import { ADMIN_TOKEN, makeTestIssuer, PUBLIC_URL, testClock } from '../helpers/issuer';
import { TIERS } from '../helpers/tiers';

/**
 * "I already bank with <PFI> — sign in" end to end over the issuer's routes: the wallet opens an
 * application, the applicant's webview (driven over HTTP with its cookies) chooses the bank
 * sign-in on the IDV page, signs in and consents at the bank (oidc-provider on loopback), comes
 * back to the callback and lands on the finish page; the wallet then gets its KCC at once, with
 * the tier and country from the bank's claims. Cancellation, fallback and refusals issue nothing.
 */

const CALLBACK = `${PUBLIC_URL}/idv/existing-customer/callback`;
const CLIENT_ID = 'kcc-issuer';
const KYC_KEY = 'tenant-key-0123456789abcdef0123456789';
const CLIENT_SECRET = 'bank-client-secret-0123456789abcdef';

const CUSTOMERS = {
  alice: { address: { country: 'de' }, kyc_tier: 'full', kyc_checks: ['id_document', 'sanctions'] },
  bob: { address: { locality: 'Springfield' }, kyc_tier: 'full', kyc_checks: ['id_document', 'sanctions'] },
};

const MAPPING = {
  country: { claim: 'address.country' },
  tier: { claim: 'kyc_tier', values: { basic: 'kcc-basic', full: 'kcc-enhanced' }, whenAbsent: 'lowest' },
  checks: { claim: 'kyc_checks', values: { id_document: 'document_verification', sanctions: 'sanction_screening' } },
};

describe('existing customers sign in at their bank, end to end', () => {
  let bank: TestBank;
  beforeAll(async () => {
    bank = await startTestBank({
      customers: CUSTOMERS,
      clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [CALLBACK] }],
    });
  });
  afterAll(async () => bank?.close());

  async function issuer(options: { vendor?: IdvProvider } = {}) {
    const clock = testClock(Date.now());
    const t = await makeTestIssuer({
      clock,
      config: { tiers: TIERS, kycApiKeys: [`rp-one:${KYC_KEY}`], ...(options.vendor ? { idv: { provider: options.vendor.name } } : {}) },
      ...(options.vendor ? { idv: { vendors: new Map([[options.vendor.name, options.vendor]]), outboundSecrets: [] } } : {}),
      existingCustomer: {
        issuer: bank.issuer,
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        scopes: 'openid address kyc',
        claimMapping: MAPPING,
        displayName: 'Example Bank',
        secondDidPolicy: 'review',
        fallback: 'regular_verification',
        loginTtlSeconds: 600,
        keySecret: new Uint8Array(32).fill(7),
      },
    });
    const holder = await Holder.create();
    const client = new WalletClient(holder, t.fetch);
    const { pfi, idvRequest } = await openApplication(client, PUBLIC_URL);
    const jar = new Jar();
    return { t, client, holder, clock, pfi, idvRequest, jar };
  }

  /** The webview on the IDV page: the bank option is offered beside the regular verification. */
  async function choicePage(t: Awaited<ReturnType<typeof issuer>>['t'], jar: Jar, url: string) {
    const res = await t.app.request(url, { headers: { cookie: jar.header() } });
    jar.keep(res);
    const html = await res.text();
    return { status: res.status, html };
  }

  async function chooseBank(t: Awaited<ReturnType<typeof issuer>>['t'], jar: Jar, formUrl: string, html: string) {
    const action = /<form method="post" action="([^"]+existing-customer)">/.exec(html)?.[1];
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(html)?.[1];
    expect(action).toBe(`${formUrl}/existing-customer`);
    const res = await t.app.request(action as string, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header(['idv_csrf']), origin: PUBLIC_URL },
      body: new URLSearchParams({ csrf_token: csrf as string }),
      redirect: 'manual',
    });
    jar.keep(res);
    return res;
  }

  async function callback(t: Awaited<ReturnType<typeof issuer>>['t'], jar: Jar, url: string) {
    const res = await t.app.request(url, { headers: { cookie: jar.header(['kcc_bank_login']) }, redirect: 'manual' });
    jar.keep(res);
    return res;
  }

  it('choose sign-in, log in and consent at the bank, return to the finish page; the KCC comes at once with the country from the bank and the tier its checks cover', async () => {
    const { t, client, holder, clock, pfi, idvRequest, jar } = await issuer();
    const page = await choicePage(t, jar, idvRequest.url);
    expect(page.status).toBe(200);
    expect(page.html).toContain('I already bank with Example Bank — sign in');
    // Browsers apply form-action to the redirect after the form's POST: the bank's origin must be allowed.
    const csp = (await t.app.request(idvRequest.url, { headers: { cookie: jar.header() } })).headers.get('content-security-policy') ?? '';
    expect(csp).toContain(`form-action 'self' ${new URL(bank.issuer).origin}`);
    // The regular verification stays on the page beside it.
    expect(page.html).toContain('name="consent" value="accept"');

    const start = await chooseBank(t, jar, idvRequest.url, page.html);
    expect(start.status).toBe(303);
    const authorizationUrl = start.headers.get('location') as string;
    expect(authorizationUrl.startsWith(`${bank.issuer}/`)).toBe(true);
    const setCookie = start.headers.getSetCookie().find((c) => c.startsWith('kcc_bank_login='));
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).toMatch(/Path=\/idv\/existing-customer\/callback/);

    const back = await signInAtBank(authorizationUrl, CALLBACK, 'alice');
    const done = await callback(t, jar, back);
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`${PUBLIC_URL}/idv/approved/finish.html`);
    // The transaction cookie is gone after the round trip.
    expect(jar.cookies.has('kcc_bank_login')).toBe(false);

    const { first } = await requestCredential(client, pfi.did, idvRequest);
    expect(typeof first.credential).toBe('string');
    const vc = decodeJwt(first.credential as string).vc as {
      credentialSubject: Record<string, unknown>;
      evidence: { type: string[]; kind: string; checks: string[] }[];
    };
    expect(vc.credentialSubject.countryOfResidence).toBe('DE');
    expect(vc.credentialSubject.tier).toBe('Basic');
    expect(vc.evidence.map((e) => e.kind)).toEqual(expect.arrayContaining(['existing_customer', 'document_verification', 'sanction_screening']));
    // Typed evidence (VC Data Model 1.1 §5.6): the sign-in itself, and each check the bank reported.
    expect(vc.evidence.find((e) => e.kind === 'existing_customer')?.type).toEqual(['ExistingCustomer']);
    expect(vc.evidence.find((e) => e.kind === 'sanction_screening')?.type).toEqual(['SanctionScreening']);

    // The KYC record and the audit agree; the bank's sub is never stored in clear.
    const row = t.sqlite.prepare('select status, tier, country_of_residence as country, idv_provider as provider from applications').get() as Record<
      string,
      unknown
    >;
    expect(row).toMatchObject({ status: 'approved', tier: 'Basic', country: 'DE', provider: 'existing_customer' });
    const audit = JSON.stringify(t.sqlite.prepare('select action, detail from audit_log').all());
    expect(audit).toContain('existing_customer.verified');
    expect(audit).toContain('subject_digest');
    expect(audit).not.toContain('"alice"');

    // The relying party reads the status with the subject's authorisation (docs/kyc-status.md).
    const authorisation = await signKycStatusAuthorization(holder.signer, {
      subject: holder.did,
      tenant: 'rp-one',
      audience: PUBLIC_URL,
      now: Math.floor(clock() / 1000),
    });
    const kyc = await t.app.request(`${PUBLIC_URL}/api/v1/kyc/${encodeURIComponent(String(decodeJwt(first.credential as string).sub))}/status`, {
      headers: { authorization: `Bearer ${KYC_KEY}`, 'kyc-subject-authorization': authorisation },
    });
    // The KCC, the application record and the KYC status API agree on the tier (the applied-for one, which the bank's checks cover).
    expect(await kyc.json()).toEqual({ kyc_status: 'verified', kyc_tier: 'kcc-basic', aml_clear: true });

    // A replay of the same callback (cookie and code) issues nothing more: refused.
    jar.cookies.set('kcc_bank_login', setCookie?.split(';')[0].split('=')[1] as string);
    const replay = await callback(t, jar, back);
    expect(replay.status).toBe(400);
  });

  /** Choose the bank on the IDV page, sign in as `account`, come back: the callback's answer. */
  async function signIn(t: Awaited<ReturnType<typeof issuer>>['t'], formUrl: string, account: string) {
    const jar = new Jar();
    const page = await choicePage(t, jar, formUrl);
    const start = await chooseBank(t, jar, formUrl, page.html);
    return callback(t, jar, await signInAtBank(start.headers.get('location') as string, CALLBACK, account));
  }

  it('a second DID of the same bank customer goes to manual review (policy review); the link is audited as a digest', async () => {
    const { t, client, pfi, idvRequest } = await issuer();
    expect((await signIn(t, idvRequest.url, 'alice')).headers.get('location')).toBe(`${PUBLIC_URL}/idv/approved/finish.html`);
    expect(typeof (await requestCredential(client, pfi.did, idvRequest)).first.credential).toBe('string');

    const second = new WalletClient(await Holder.create(), t.fetch);
    const app2 = await openApplication(second, PUBLIC_URL);
    expect((await signIn(t, app2.idvRequest.url, 'alice')).headers.get('location')).toBe(`${PUBLIC_URL}/idv/review/finish.html`);
    const { first } = await requestCredential(second, app2.pfi.did, app2.idvRequest);
    expect(first.credential).toBeUndefined();
    const rows = t.sqlite.prepare('select subject_digest as digest, applicant_did as did from existing_customer_links order by created_at').all() as {
      digest: string;
      did: string;
    }[];
    expect(rows).toHaveLength(2);
    expect(rows[0].did).not.toBe(rows[1].did);
    expect(new Set(rows.map((r) => r.digest)).size).toBe(1);
    expect(rows[0].digest).not.toContain('alice');
    const review = t.sqlite.prepare("select status, decision_reason as reason from applications where status = 'review'").get() as Record<string, unknown>;
    expect(review).toMatchObject({ status: 'review', reason: 'existing_customer:second_did' });
  });

  it("a result that does not commit answers nothing: the form link stays open, the customer's link is kept, and signing in again decides once", async () => {
    const { t, client, pfi, idvRequest } = await issuer();
    // The outbox refuses rows: the result's commit, which would take the link's answer, fails whole.
    t.sqlite.exec(`CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox_events BEGIN SELECT RAISE(ABORT, 'outbox unavailable'); END`);
    const failed = await signIn(t, idvRequest.url, 'alice');
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(await failed.text()).not.toMatch(/outbox unavailable|SQLITE/);
    const row = () => t.sqlite.prepare('select status, form_submitted_at as submitted, decided_by as decidedBy from applications').get();
    expect(row()).toEqual({ status: 'pending', submitted: null, decidedBy: null });
    expect((await requestCredential(client, pfi.did, idvRequest)).first.credential).toBeUndefined();
    // The bank customer behind this DID is known, whatever happens next (the second-DID policy's input).
    expect(t.sqlite.prepare('select count(*) as n from existing_customer_links').get()).toEqual({ n: 1 });

    t.sqlite.exec('DROP TRIGGER refuse_outbox');
    expect((await signIn(t, idvRequest.url, 'alice')).headers.get('location')).toBe(`${PUBLIC_URL}/idv/approved/finish.html`);
    expect(row()).toMatchObject({ status: 'approved', decidedBy: 'idv:existing_customer' });
    const actions = (t.sqlite.prepare("select action from audit_log where action = 'idv.state_changed'").all() as { action: string }[]).map((a) => a.action);
    expect(actions).toEqual(['idv.state_changed']);
    expect(t.sqlite.prepare('select count(*) as n from existing_customer_links').get()).toEqual({ n: 1 });
    // Answered once: the link's page no longer offers the sign-in.
    const again = await choicePage(t, new Jar(), idvRequest.url);
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(again.html).not.toContain('existing-customer">');
  });

  it('cancelled at the bank: back to the choice page; nothing decided', async () => {
    const { t, client, pfi, idvRequest, jar } = await issuer();
    const page = await choicePage(t, jar, idvRequest.url);
    const start = await chooseBank(t, jar, idvRequest.url, page.html);
    const back = await signInAtBank(start.headers.get('location') as string, CALLBACK, 'alice', { cancel: true });
    const res = await callback(t, jar, back);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(idvRequest.url);
    const again = await choicePage(t, jar, idvRequest.url);
    expect(again.html).toContain('I already bank with Example Bank — sign in');
    expect(await requestCredential(client, pfi.did, idvRequest).then((r) => r.first.credential)).toBeUndefined();
  });

  it('no country from the bank: the regular verification with the reason; nothing issued', async () => {
    const { t, client, pfi, idvRequest, jar } = await issuer();
    const page = await choicePage(t, jar, idvRequest.url);
    const start = await chooseBank(t, jar, idvRequest.url, page.html);
    const back = await signInAtBank(start.headers.get('location') as string, CALLBACK, 'bob');
    const res = await callback(t, jar, back);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${idvRequest.url}?bank=fallback`);
    const form = await choicePage(t, jar, res.headers.get('location') as string);
    expect(form.html).toContain('Your bank could not confirm everything');
    expect(form.html).not.toContain('I already bank with');
    expect(await requestCredential(client, pfi.did, idvRequest).then((r) => r.first.credential)).toBeUndefined();
  });

  it('with an IDV vendor configured: the choice between the bank and the vendor first; the bank signs in, the vendor link and a fallback go to the vendor', async () => {
    // The vendor's session endpoint on loopback (generic HMAC vendor, docs/idv.md).
    const sessions = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ verification: { id: 'ses_1', url: 'https://vendor.example/verify/ses_1' } }));
      });
    });
    await new Promise<void>((ok) => sessions.listen(0, '127.0.0.1', ok));
    const vendorBase = `http://127.0.0.1:${(sessions.address() as AddressInfo).port}`;
    const vendor = acmeVendor(vendorBase);
    try {
      const { t, client, pfi, idvRequest, jar } = await issuer({ vendor });
      const page = await choicePage(t, jar, idvRequest.url);
      expect(page.status).toBe(200);
      expect(page.html).toContain('I already bank with Example Bank — sign in');
      expect(page.html).toContain(`href="${idvRequest.url}?via=vendor"`);
      // No hosted form on this page: the vendor verifies.
      expect(page.html).not.toContain('name="consent"');
      const toVendor = await t.app.request(`${idvRequest.url}?via=vendor`, { redirect: 'manual' });
      expect(toVendor.status).toBe(303);
      expect(toVendor.headers.get('location')).toBe('https://vendor.example/verify/ses_1');

      // The bank's sign-in from the same page: the KCC at once, as without a vendor.
      const start = await chooseBank(t, jar, idvRequest.url, page.html);
      const done = await callback(t, jar, await signInAtBank(start.headers.get('location') as string, CALLBACK, 'alice'));
      expect(done.headers.get('location')).toBe(`${PUBLIC_URL}/idv/approved/finish.html`);
      expect(typeof (await requestCredential(client, pfi.did, idvRequest)).first.credential).toBe('string');

      // A bank answer without what a KCC needs: on to the vendor, the regular verification here.
      const second = await issuer({ vendor });
      const secondPage = await choicePage(second.t, second.jar, second.idvRequest.url);
      const secondStart = await chooseBank(second.t, second.jar, second.idvRequest.url, secondPage.html);
      const fallback = await callback(second.t, second.jar, await signInAtBank(secondStart.headers.get('location') as string, CALLBACK, 'bob'));
      expect(fallback.headers.get('location')).toBe(`${second.idvRequest.url}?bank=fallback`);
      const onward = await second.t.app.request(fallback.headers.get('location') as string, { redirect: 'manual' });
      expect(onward.status).toBe(303);
      expect(onward.headers.get('location')).toBe('https://vendor.example/verify/ses_1');
    } finally {
      await new Promise((ok) => sessions.close(ok));
    }
  });

  it('refusals: no transaction cookie (a login finished in another browser), a forged state, a cross-site start: nothing issued', async () => {
    const { t, client, pfi, idvRequest, jar } = await issuer();
    const page = await choicePage(t, jar, idvRequest.url);
    // A cross-site POST to start is refused before anything happens.
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(page.html)?.[1] as string;
    const cross = await t.app.request(`${idvRequest.url}/existing-customer`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header(['idv_csrf']), origin: 'https://attacker.example' },
      body: new URLSearchParams({ csrf_token: csrf }),
      redirect: 'manual',
    });
    expect(cross.status).toBe(403);

    const start = await chooseBank(t, jar, idvRequest.url, page.html);
    const back = await signInAtBank(start.headers.get('location') as string, CALLBACK, 'alice');
    const forged = new URL(back);
    forged.searchParams.set('state', 'forged-state');
    const refusedState = await callback(t, jar, forged.href);
    expect(refusedState.status).toBe(400);
    expect(await refusedState.text()).toContain('nothing was issued');
    // The cookie went with the refused attempt: the genuine callback now has no transaction.
    const noCookie = await callback(t, jar, back);
    expect(noCookie.status).toBe(400);
    expect(await requestCredential(client, pfi.did, idvRequest).then((r) => r.first.credential)).toBeUndefined();
    // The application is still open: the form link answers the page.
    expect((await choicePage(t, jar, idvRequest.url)).status).toBe(200);
    // The operator API sees it pending.
    const res = await t.app.request(`${PUBLIC_URL}/admin/applications?status=pending`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
  });
});
