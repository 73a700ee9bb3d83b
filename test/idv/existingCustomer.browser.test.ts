import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPortableDigests } from '../../src/crypto/portableDigests';
import { deriveExistingCustomerKeys } from '../../src/idv/existingCustomer/loginTransaction';
import { beginBankLogin, BankLoginRejected, completeBankLogin, createBankLogin, type BankLogin } from '../../src/idv/existingCustomer/relyingParty';
import { parseExistingCustomerSettings } from '../../src/idv/existingCustomer/settings';
import { browserSuiteTitle, chromiumPresent, launchChromium } from '../helpers/browser';
import { startTestBank, type TestBank } from '../helpers/bankProvider';
import { TIERS } from '../helpers/tiers';

/**
 * The login transaction cookie as docs/existing-customers.md proposes it (HttpOnly; Secure;
 * SameSite=Lax; Path=the callback), in a real browser (Debian's chromium, playwright-core):
 * a stand-in for the phase-2 routes on `localhost` starts the login, the bank (oidc-provider)
 * on `127.0.0.1` is another site, and the cookie must survive the bank's cross-site redirect
 * back. A browser that did not start the login (a victim lured to the attacker's
 * authorization URL) brings no cookie and is refused.
 */
const COOKIE = 'kcc_bank_login';
const CALLBACK_PATH = '/idv/existing-customer/callback';

describe.skipIf(!chromiumPresent())(browserSuiteTitle('existing-customer sign-in in a real browser'), () => {
  let browser: Browser;
  let bank: TestBank;
  let rpServer: Server;
  let rpUrl: string;
  let login: BankLogin;
  /** The attacker's authorization URL, kept by /start?keep=1 instead of redirecting. */
  const kept: string[] = [];

  beforeAll(async () => {
    rpServer = createServer((req, res) => {
      void (async () => {
        const url = new URL(req.url ?? '/', rpUrl);
        if (url.pathname === '/start') {
          const begun = await beginBankLogin(login, { formTokenDigest: 'ftd-browser' });
          const sameSite = url.searchParams.get('samesite') ?? 'Lax';
          res.setHeader('set-cookie', `${COOKIE}=${begun.transaction}; HttpOnly; Secure; SameSite=${sameSite}; Path=${CALLBACK_PATH}; Max-Age=600`);
          if (url.searchParams.has('keep')) {
            kept.push(begun.authorizationUrl);
            res.writeHead(200, { 'content-type': 'text/plain' }).end('kept');
            return;
          }
          res.writeHead(303, { location: begun.authorizationUrl }).end();
          return;
        }
        if (url.pathname === CALLBACK_PATH) {
          const cookie = /(?:^|;\s*)kcc_bank_login=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
          let text: string;
          try {
            const outcome = await completeBankLogin(login, { callbackUrl: url, transaction: cookie });
            text = outcome.status === 'verified' ? `verified ${outcome.countryOfResidence} ${outcome.tierId}` : outcome.status;
          } catch (e) {
            text = e instanceof BankLoginRejected ? `refused ${e.reason}` : 'error';
          }
          res.setHeader('set-cookie', `${COOKIE}=; HttpOnly; Secure; SameSite=Lax; Path=${CALLBACK_PATH}; Max-Age=0`);
          res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>back</title><p id="result">${text}</p>`);
          return;
        }
        res.writeHead(404).end();
      })();
    });
    await new Promise<void>((resolve) => rpServer.listen(0, '127.0.0.1', resolve));
    // localhost and 127.0.0.1 are different sites: the bank's redirect back is cross-site.
    rpUrl = `http://localhost:${(rpServer.address() as AddressInfo).port}`;
    const redirectUri = `${rpUrl}${CALLBACK_PATH}`;
    bank = await startTestBank({
      customers: { alice: { address: { country: 'IE' }, kyc_tier: 'full', kyc_checks: ['id_document', 'sanctions'] } },
      clients: [
        {
          client_id: 'kcc-issuer',
          client_secret: 'bank-client-secret-0123456789abcdef',
          token_endpoint_auth_method: 'client_secret_basic',
          redirect_uris: [redirectUri],
        },
      ],
    });
    const settings = parseExistingCustomerSettings(
      {
        displayName: 'Example Bank',
        issuer: bank.issuer,
        clientId: 'kcc-issuer',
        clientAuth: { method: 'client_secret_basic', clientSecret: 'bank-client-secret-0123456789abcdef' },
        scopes: ['openid', 'address', 'kyc'],
        claimMapping: {
          tier: { claim: 'kyc_tier', values: { full: 'kcc-enhanced' } },
          checks: { claim: 'kyc_checks', values: { id_document: 'document_verification', sanctions: 'sanction_screening' } },
        },
      },
      TIERS,
    );
    login = createBankLogin(
      settings,
      {
        clock: () => Date.now(),
        fetch: (u, i) => fetch(u, i),
        random: createPortableDigests(),
        keys: await deriveExistingCustomerKeys(new Uint8Array(32).fill(5)),
      },
      { redirectUri, tiers: TIERS },
    );
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await bank?.close();
    await new Promise<void>((resolve) => (rpServer ? rpServer.close(() => resolve()) : resolve()));
  });

  async function newPage() {
    const context = await browser.newContext();
    // The development login page imports a web font; the tests stay offline.
    await context.route(/^https?:\/\/(?!localhost|127\.0\.0\.1)/, (route) => route.abort());
    return { context, page: await context.newPage() };
  }

  async function signIn(page: Awaited<ReturnType<typeof newPage>>['page']) {
    await page.fill('input[name="login"]', 'alice');
    await page.fill('input[name="password"]', 'any');
    await page.click('button[type="submit"]');
    await page.waitForURL(/\/interaction\//);
    await page.click('button[type="submit"]'); // consent
    await page.waitForURL(new RegExp(CALLBACK_PATH));
  }

  it('the applicant signs in and consents at the bank; the cookie comes back on the cross-site redirect', async () => {
    const { context, page } = await newPage();
    await page.goto(`${rpUrl}/start`);
    expect(new URL(page.url()).origin).toBe(bank.issuer);
    // HttpOnly: the pages never see the transaction.
    expect(await page.evaluate(() => document.cookie)).toBe('');
    await signIn(page);
    expect(await page.textContent('#result')).toBe('verified IE kcc-enhanced');
    // Cleared after use.
    expect((await context.cookies(rpUrl + CALLBACK_PATH)).filter((c) => c.name === COOKIE)).toEqual([]);
    await context.close();
  });

  it("why Lax: a SameSite=Strict cookie is not sent on the bank's cross-site redirect back", async () => {
    const { context, page } = await newPage();
    await page.goto(`${rpUrl}/start?samesite=Strict`);
    await signIn(page);
    expect(await page.textContent('#result')).toBe('refused invalid_transaction');
    await context.close();
  });

  it('cancel at the bank returns a "cancelled" result', async () => {
    const { context, page } = await newPage();
    await page.goto(`${rpUrl}/start`);
    await page.click('text=[ Cancel ]');
    await page.waitForURL(new RegExp(CALLBACK_PATH));
    expect(await page.textContent('#result')).toBe('cancelled');
    await context.close();
  });

  it("a victim signing in on the attacker's authorization URL has no transaction: refused", async () => {
    const attacker = await newPage();
    await attacker.page.goto(`${rpUrl}/start?keep=1`);
    const authorizationUrl = kept.at(-1) as string;
    const victim = await newPage();
    await victim.page.goto(authorizationUrl);
    await signIn(victim.page);
    expect(await victim.page.textContent('#result')).toBe('refused invalid_transaction');
    await attacker.context.close();
    await victim.context.close();
  });
});
