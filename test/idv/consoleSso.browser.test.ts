import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSuiteTitle, chromiumPresent, launchChromium, seriousViolations } from '../helpers/browser';
import { startTestBank, type TestBank } from '../helpers/bankProvider';
import { makeTestIssuer } from '../helpers/issuer';

/**
 * The console's "Sign in with …" button in Chromium: the issuer on http://localhost:<port>, the
 * workforce IdP (oidc-provider) on http://127.0.0.1:<port> — two sites, so the browser comes back
 * to the callback at the end of a cross-site redirect chain, where it withholds SameSite=Strict
 * cookies: the test shows the session still reaches the queue, and a user in no mapped group
 * sees a clear refusal.
 */

describe.skipIf(!chromiumPresent())(browserSuiteTitle('review console sign-in through the workforce login in a real browser'), () => {
  let browser: Browser;
  let idp: TestBank;
  let server: ServerType | undefined;
  let url: string;

  beforeAll(async () => {
    let appFetch: (req: Request) => Response | Promise<Response> = () => new Response('starting', { status: 503 });
    const port = await new Promise<number>((ok) => {
      server = serve({ fetch: (req) => appFetch(req), port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => ok(info.port));
    });
    url = `http://localhost:${port}`;
    idp = await startTestBank({
      customers: { rita: { name: 'Rita Reviewer', groups: ['kcc-reviewers'] }, mallory: { name: 'Mallory', groups: ['marketing'] } },
      clients: [
        {
          client_id: 'kcc-console',
          client_secret: 'workforce-client-secret-0123456789',
          token_endpoint_auth_method: 'client_secret_basic',
          redirect_uris: [`${url}/console/sso/callback`],
        },
      ],
      scopeClaims: { groups: ['groups'] },
    });
    const issuer = await makeTestIssuer({
      config: { publicUrl: url },
      operatorSso: {
        issuer: idp.issuer,
        clientId: 'kcc-console',
        clientSecret: 'workforce-client-secret-0123456789',
        privateKeyJwk: undefined,
        scopes: 'openid profile groups',
        rolesClaim: 'groups',
        roleMap: { 'kcc-reviewers': 'reviewer' },
        displayName: 'PFI staff login',
        idTokenAlg: undefined,
        maxAuthAgeSeconds: undefined,
        keySecret: new Uint8Array(32).fill(3),
      },
    });
    appFetch = (req) => issuer.app.fetch(req);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await idp?.close();
    await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
  });

  async function signInAtIdp(page: Awaited<ReturnType<Browser['newPage']>>, login: string) {
    await page.goto(`${url}/console`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    await page.getByRole('link', { name: 'Sign in with PFI staff login' }).click();
    await page.waitForURL((u) => u.origin === idp.issuer);
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('any');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
  }

  it('the button signs a reviewer in and lands on the queue; a user in no mapped group is refused with a clear page', async () => {
    // The sign-in page with the button passes axe (in its own context: axe needs the CSP bypassed).
    const audit = await browser.newContext({ bypassCSP: true });
    const login = await audit.newPage();
    await login.goto(`${url}/console/login`);
    expect(await seriousViolations(login)).toEqual([]);
    await audit.close();

    // The sign-in itself under the console's real CSP.
    const context = await browser.newContext();
    const page = await context.newPage();

    await signInAtIdp(page, 'rita');
    await page.waitForURL(/\/console\?status=review$/);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Applications');
    expect(await page.locator('header').textContent()).toContain('Rita Reviewer');
    const cookies = await context.cookies(`${url}/console/sso/callback`);
    expect(cookies.find((c) => c.name === 'kcc_console')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console' });
    // The transaction went with the callback.
    expect(cookies.find((c) => c.name === 'kcc_console_sso')).toBeUndefined();
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/console\/login$/);
    await context.close();

    const other = await browser.newContext();
    const refused = await other.newPage();
    await signInAtIdp(refused, 'mallory');
    await refused.waitForURL(/\/console\/sso\/callback/);
    await expect.poll(() => refused.getByRole('alert').textContent()).toContain('in no group that grants a console role');
    expect((await other.cookies(`${url}/console`)).find((c) => c.name === 'kcc_console')).toBeUndefined();
    await other.close();
  });
});
