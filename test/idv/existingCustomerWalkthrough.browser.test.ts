import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { decodeJwt } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WalletClient } from '../../src/wallet/client';
import { Holder } from '../../src/wallet/holder';
import { startTestBank, type TestBank } from '../helpers/bankProvider';
import { browserSuiteTitle, chromiumPresent, launchChromium, seriousViolations } from '../helpers/browser';
import { openApplication, requestCredential } from '../helpers/idvFlow';
import { makeTestIssuer } from '../helpers/issuer';
import { TIERS } from '../helpers/tiers';

/**
 * The applicant's walk through "I already bank with <PFI> — sign in" in Chromium as the
 * wallet's webview, on the issuer's real routes over HTTP (http://localhost:<port>) with the bank
 * (panva's oidc-provider) on http://127.0.0.1:<port>, another site: the IDV page offers the
 * sign-in beside the regular verification; the applicant clicks it, signs in and consents at the
 * bank, comes back and lands on the finish page; the wallet then gets a KCC whose tier and
 * country come from the bank's claims. Cancelling at the bank returns to the choice page.
 * Screenshots at 390 px (the webview's width) for docs/existing-customers.md; KCC_SCREENSHOTS=
 * docs/screenshots rewrites the committed ones, otherwise they go to a temp dir.
 */
const CLIENT_ID = 'kcc-issuer';
const CLIENT_SECRET = 'bank-client-secret-0123456789abcdef';
const CUSTOMERS = {
  alice: { address: { country: 'ie' }, kyc_tier: 'full', kyc_checks: ['id_document', 'sanctions'] },
  bob: { address: { locality: 'Springfield' }, kyc_tier: 'full', kyc_checks: ['id_document', 'sanctions'] },
};

describe.skipIf(!chromiumPresent())(browserSuiteTitle('existing customer walk-through in Chromium (the real routes)'), () => {
  let browser: Browser;
  let bank: TestBank;
  let server: ServerType | undefined;
  let url: string;
  let issuer: Awaited<ReturnType<typeof makeTestIssuer>>;
  const shots = process.env.KCC_SCREENSHOTS ? resolve(process.env.KCC_SCREENSHOTS) : mkdtempSync(join(tmpdir(), 'kcc-bank-shots-'));

  beforeAll(async () => {
    let appFetch: (req: Request) => Response | Promise<Response> = () => new Response('starting', { status: 503 });
    const port = await new Promise<number>((ok) => {
      server = serve({ fetch: (req) => appFetch(req), port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => ok(info.port));
    });
    // localhost and 127.0.0.1 are different sites: the bank's redirect back is cross-site, as in production.
    url = `http://localhost:${port}`;
    bank = await startTestBank({
      customers: CUSTOMERS,
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          token_endpoint_auth_method: 'client_secret_basic',
          redirect_uris: [`${url}/idv/existing-customer/callback`],
        },
      ],
    });
    issuer = await makeTestIssuer({
      config: { publicUrl: url, tiers: TIERS, defaultTierId: 'kcc-enhanced' },
      existingCustomer: {
        issuer: bank.issuer,
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        scopes: 'openid address kyc',
        claimMapping: {
          country: { claim: 'address.country' },
          tier: { claim: 'kyc_tier', values: { basic: 'kcc-basic', full: 'kcc-enhanced' } },
          checks: { claim: 'kyc_checks', values: { id_document: 'document_verification', sanctions: 'sanction_screening' } },
        },
        displayName: 'Example Bank',
        secondDidPolicy: 'review',
        fallback: 'regular_verification',
        loginTtlSeconds: 600,
        keySecret: new Uint8Array(32).fill(9),
      },
    });
    appFetch = (req) => issuer.app.fetch(req);
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await bank?.close();
    await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
  });

  /** The wallet (over HTTP) up to the IDV Request, and a 390 px webview. */
  async function start() {
    const client = new WalletClient(await Holder.create(), (input, init) => fetch(input, init));
    const { pfi, idvRequest } = await openApplication(client, url);
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
    // The bank's development pages import a web font; the test stays offline.
    await context.route(/^https?:\/\/(?!localhost|127\.0\.0\.1)/, (route) => route.abort());
    const page = await context.newPage();
    return { client, pfi, idvRequest, context, page };
  }

  /** Nothing wider than the webview: no sideways scrolling at 390 px. */
  async function fitsWidth(page: Page) {
    return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  }

  it('choose sign-in, log in and consent at the bank, land on the finish page; the wallet gets a KCC with the bank’s tier and country', async () => {
    const { client, pfi, idvRequest, context, page } = await start();
    await page.goto(idvRequest.url);
    const signIn = page.getByRole('button', { name: 'I already bank with Example Bank — sign in' });
    await expect(signIn.isVisible()).resolves.toBe(true);
    expect(await fitsWidth(page)).toBe(true);
    await page.screenshot({ path: join(shots, 'existing-customer-choice-390.png'), fullPage: true });
    // The choice page with the bank option passes axe-core (WCAG 2.x A/AA) like the other pages;
    // axe is injected as a script, so in a second context without the page's CSP (this one keeps
    // it: the CSP is what must let the sign-in through).
    const axeContext = await browser.newContext({ bypassCSP: true, viewport: { width: 390, height: 844 } });
    const axePage = await axeContext.newPage();
    await axePage.goto(idvRequest.url);
    expect(await seriousViolations(axePage)).toEqual([]);
    await axeContext.close();

    await signIn.click();
    await page.waitForURL(new RegExp(`^${bank.issuer}/interaction/`));
    await page.screenshot({ path: join(shots, 'existing-customer-bank-login-390.png'), fullPage: true });
    await page.fill('input[name="login"]', 'alice');
    await page.fill('input[name="password"]', 'any');
    await page.click('button[type="submit"]');
    await page.waitForURL(/\/interaction\//);
    await page.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached' });
    await page.screenshot({ path: join(shots, 'existing-customer-bank-consent-390.png'), fullPage: true });
    await page.click('button[type="submit"]');

    await page.waitForURL(`${url}/idv/approved/finish.html`);
    expect(await fitsWidth(page)).toBe(true);
    await page.screenshot({ path: join(shots, 'existing-customer-finish-390.png'), fullPage: true });
    // The login transaction cookie did its job and is gone.
    expect((await context.cookies(url)).map((c) => c.name)).not.toContain('kcc_bank_login');
    await context.close();

    const { first } = await requestCredential(client, pfi.did, idvRequest);
    expect(typeof first.credential).toBe('string');
    const vc = decodeJwt(first.credential as string).vc as { credentialSubject: Record<string, unknown>; evidence: { type: string[]; kind: string }[] };
    // From the bank's claims: address.country "ie", kyc_tier "full" → kcc-enhanced, its checks cover Enhanced.
    expect(vc.credentialSubject.countryOfResidence).toBe('IE');
    expect(vc.credentialSubject.tier).toBe('Enhanced');
    expect(vc.evidence.map((e) => e.kind).sort()).toEqual(['document_verification', 'existing_customer', 'sanction_screening']);
    expect(vc.evidence.every((e) => Array.isArray(e.type) && e.type.length > 0)).toBe(true);
  }, 60_000);

  it('cancel at the bank: back on the choice page, nothing decided', async () => {
    const { client, pfi, idvRequest, context, page } = await start();
    await page.goto(idvRequest.url);
    await page.getByRole('button', { name: 'I already bank with Example Bank — sign in' }).click();
    await page.waitForURL(new RegExp(`^${bank.issuer}/interaction/`));
    await page.click('text=[ Cancel ]');
    await page.waitForURL(idvRequest.url);
    await expect(page.getByRole('button', { name: 'I already bank with Example Bank — sign in' }).isVisible()).resolves.toBe(true);
    await context.close();
    const { first } = await requestCredential(client, pfi.did, idvRequest);
    expect(first.credential).toBeUndefined();
  }, 60_000);

  it('a customer without the country claim: back to the regular verification with the reason; nothing issued', async () => {
    const { client, pfi, idvRequest, context, page } = await start();
    await page.goto(idvRequest.url);
    await page.getByRole('button', { name: 'I already bank with Example Bank — sign in' }).click();
    await page.waitForURL(new RegExp(`^${bank.issuer}/interaction/`));
    await page.fill('input[name="login"]', 'bob');
    await page.fill('input[name="password"]', 'any');
    await page.click('button[type="submit"]');
    await page.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached' });
    await page.click('button[type="submit"]');
    await page.waitForURL(`${idvRequest.url}?bank=fallback`);
    expect(await page.textContent('#existing-customer-notice')).toContain('Your bank could not confirm everything');
    expect(await page.getByRole('button', { name: /I already bank with/ }).count()).toBe(0);
    expect(await fitsWidth(page)).toBe(true);
    await page.screenshot({ path: join(shots, 'existing-customer-fallback-390.png'), fullPage: true });
    await context.close();
    const { first } = await requestCredential(client, pfi.did, idvRequest);
    expect(first.credential).toBeUndefined();
  }, 60_000);
});
