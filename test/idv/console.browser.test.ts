import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/http/context';
import { startNodeIssuer } from '../../src/runtime/node';
import { WalletClient } from '../../src/wallet/client';
import { SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { browserSuiteTitle, chromiumPresent, launchChromium, seriousViolations } from '../helpers/browser';
import { openApplication, requestCredential } from '../helpers/idvFlow';
import { ADMIN_TOKEN, makeIssuerKeys } from '../helpers/issuer';

/**
 * The review console in a real browser (Debian's chromium driven by playwright-core):
 * sign in, filter the queue, approve one application with a tier, and the wallet's deferred
 * request then returns the credential. CI installs chromium (.ci/run: apt-get install chromium).
 */

describe.skipIf(!chromiumPresent())(browserSuiteTitle('review console in a real browser'), () => {
  let browser: Browser;
  let issuer: Awaited<ReturnType<typeof startNodeIssuer>>;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kcc-console-'));
    issuer = await startNodeIssuer({
      port: 0,
      dataDir: dir,
      keys: await makeIssuerKeys(),
      logger: silentLogger,
      backgroundIntervalMs: 0,
      config: { adminToken: ADMIN_TOKEN },
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await issuer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs in, approves one application with a tier, and the deferred request returns the credential', async () => {
    // A wallet whose application lands in manual review (sandbox family_name "Review").
    const client = new WalletClient(await Holder.create(), (u, i) => fetch(u, i));
    const { pfi, idvRequest } = await openApplication(client, issuer.url);
    const submitted = await client.submitIdvForm(idvRequest.url, { ...SAMPLE_IDENTITY, family_name: 'Review' });
    expect(submitted.location).toMatch(/finish\.html$/);
    const { first, deferred } = await requestCredential(client, pfi.did, idvRequest);
    expect(first.status).toBe(202);
    expect(await deferred()).toEqual({ pending: true });

    const page = await browser.newPage();
    const cspErrors: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/.test(m.text())) cspErrors.push(m.text());
    });
    await page.goto(`${issuer.url}/console`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    // A wrong token is refused.
    await page.getByLabel('Your name').fill('Alice Reviewer');
    await page.getByLabel('Operator token').fill('wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not accepted');
    await page.getByLabel('Your name').fill('Alice Reviewer');
    await page.getByLabel('Operator token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console\?status=review$/);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Applications');
    const rows = page.locator('tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('review');

    // Filters: nothing approved yet.
    await page.getByLabel('Status').selectOption('approved');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/status=approved/);
    expect(await page.locator('tbody').textContent()).toContain('No applications match.');
    await page.getByLabel('Status').selectOption('review');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/status=review/);

    await page.locator('tbody tr a').first().click();
    await page.waitForURL(/\/console\/applications\//);
    expect(await page.locator('main').textContent()).toContain('Alice'); // the reviewer sees the PII (viewing is audited)
    await page.getByLabel('Tier', { exact: true }).selectOption('Standard');
    await page.getByLabel('Reason', { exact: true }).fill('document checked by hand');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(/decided=1$/);
    expect(await page.getByRole('status').textContent()).toBe('Decision recorded.');
    const main = await page.locator('main').textContent();
    expect(main).toContain('approved');
    const audit = await page.locator('section', { has: page.getByRole('heading', { name: 'Audit trail' }) }).textContent();
    expect(audit).toContain('console:Alice Reviewer');
    expect(audit).toContain('Verification result (idv.state_changed)');
    expect(audit).toContain('Personal data viewed (pii.viewed)');
    expect(cspErrors, cspErrors.join('\n')).toEqual([]);

    // The wallet's next deferred request gets the credential.
    const issued = await deferred();
    expect(issued.credential).toBeTypeOf('string');

    // The decision is recorded with who, what and when.
    const app = (await (await fetch(`${issuer.url}/admin/applications?status=approved`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json())
      .applications[0];
    expect(app).toMatchObject({ decided_by: 'console:Alice Reviewer', decision_reason: 'document checked by hand', tier: 'Standard' });
    await page.close();
  });

  it('the hosted form works in the browser: CSRF token and cookie round-trip, CSP without violations, ends on finish.html', async () => {
    const client = new WalletClient(await Holder.create(), (u, i) => fetch(u, i));
    const { idvRequest } = await openApplication(client, issuer.url);
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/.test(m.text())) violations.push(m.text());
    });
    await page.goto(idvRequest.url);
    await page.getByRole('button', { name: 'I agree, continue' }).click();
    await page.getByLabel('Given name(s)').fill('Bob');
    await page.getByLabel('Family name').fill('Builder');
    await page.getByLabel('Day').fill('3');
    await page.getByLabel('Month').fill('2');
    await page.getByLabel('Year').fill('1985');
    await page.getByLabel('Country of residence').selectOption({ label: 'United Kingdom' });
    await page.getByLabel('Identity document').selectOption('passport');
    await page.getByLabel('Document number').fill('P1234567');
    await page.getByRole('button', { name: 'Submit' }).click();
    await page.waitForURL(/\/idv\/approved\/finish\.html$/);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('You are verified');
    expect(violations).toEqual([]);
    await page.close();
  });

  it('axe-core finds no serious or critical violations on the consent step, the form (also with errors), the finish and withdrawn pages, and the console', async () => {
    // axe is injected as an inline script, which the pages' CSP forbids: this context bypasses CSP
    // (the tests above check the CSP itself).
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    const found: Record<string, string[]> = {};
    const check = async (name: string) => {
      const v = await seriousViolations(page);
      if (v.length) found[name] = v;
    };
    // The check itself finds what it should: an unlabelled field and an image without text.
    await page.setContent('<!doctype html><html lang="en"><title>t</title><main><input type="text"><img src="data:,"></main></html>');
    expect((await seriousViolations(page)).map((v) => v.split(' ')[0]).sort()).toEqual(['image-alt', 'label']);
    const client = new WalletClient(await Holder.create(), (u, i) => fetch(u, i));
    const { idvRequest } = await openApplication(client, issuer.url);
    await page.goto(idvRequest.url);
    await check('consent step');
    await page.getByRole('button', { name: 'I agree, continue' }).click();
    await page.getByLabel('Given name(s)').waitFor();
    await check('form');
    // The 400 loop: the server's per-field errors (client-side constraints switched off to reach them).
    await page.evaluate(() => document.querySelector('form')?.setAttribute('novalidate', ''));
    await page.getByLabel('Given name(s)').fill('Bob');
    await page.getByRole('button', { name: 'Submit' }).click();
    await page.getByRole('alert').waitFor();
    await check('form with errors');
    await page.getByLabel('Family name').fill('Builder');
    await page.getByLabel('Day').fill('3');
    await page.getByLabel('Month').fill('2');
    await page.getByLabel('Year').fill('1985');
    await page.getByLabel('Country of residence').selectOption('GB');
    await page.getByLabel('Identity document').selectOption('passport');
    await page.getByLabel('Document number').fill('P1234567');
    await page.getByRole('button', { name: 'Submit' }).click();
    await page.waitForURL(/\/idv\/approved\/finish\.html$/);
    await check('finish page');
    // Another applicant: the same DID would resume its approved, uncollected application (src/issuance/applications.ts).
    const declining = await openApplication(new WalletClient(await Holder.create(), (u, i) => fetch(u, i)), issuer.url);
    await page.goto(declining.idvRequest.url);
    await page.getByRole('button', { name: 'I do not agree' }).click();
    await page.getByRole('heading', { name: 'Application withdrawn' }).waitFor();
    await check('withdrawn page');

    await page.goto(`${issuer.url}/console`);
    await check('console sign-in');
    await page.getByLabel('Your name').fill('Carol Reviewer');
    await page.getByLabel('Operator token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console\?status=review$/);
    await check('console queue');
    await page.getByLabel('Status').selectOption('');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('tbody tr a').first().waitFor();
    await page.locator('tbody tr a').first().click();
    await page.waitForURL(/\/console\/applications\//);
    await check('console application');
    expect(found).toEqual({});
    await context.close();
  });

  it('the queue pages by age with ageing and assign-to-me, Reject asks first, and nothing overflows at 390 px; screenshots at 1280 and 390 px', async () => {
    // 30 applications in review, opened 10 minutes to 5 days ago, with long DIDs.
    const now = Math.floor(Date.now() / 1000);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const createdAt = now - 600 - Math.round((i / 29) * (5 * 86400 - 600));
      const id = `app-${String(i).padStart(2, '0')}-${Math.random().toString(36).slice(2, 8)}`;
      ids.push(id);
      await issuer.deps.store.applications.create({
        id,
        applicantDid: `did:jwk:${Buffer.from(JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: `${id}${'x'.repeat(43)}`.slice(0, 43) })).toString('base64url')}`,
        credentialConfigurationId: 'KnownCustomerCredential',
        status: 'review',
        formTokenHash: `hash-${id}`,
        formExpiresAt: now + 3600,
        idvProvider: 'sandbox',
        countryOfResidence: i % 3 ? 'GB' : 'DE',
        tier: 'Standard',
        createdAt,
        updatedAt: createdAt,
      });
    }
    const oldest = ids[29];
    // KCC_SCREENSHOTS=docs/screenshots rewrites the committed screenshots; otherwise they go to a temp dir.
    const shots = process.env.KCC_SCREENSHOTS ? resolve(process.env.KCC_SCREENSHOTS) : mkdtempSync(join(tmpdir(), 'kcc-console-shots-'));
    mkdirSync(shots, { recursive: true });
    // axe is injected as an inline script: this context bypasses CSP (the first test checks the CSP).
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    await page.goto(`${issuer.url}/console`);
    await page.getByLabel('Your name').fill('Dana Reviewer');
    await page.getByLabel('Operator token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console\?status=review$/);

    // Oldest first by default, 25 a page, ageing shown (and overdue past REVIEW_EXPECTED_HOURS, 48 h).
    const rows = page.locator('table.queue tbody tr');
    expect(await rows.count()).toBe(25);
    expect(await rows.first().locator('td').first().textContent()).toBe(oldest);
    expect(await rows.first().locator('td[data-label="Age"]').textContent()).toBe('5 d (over 48 h)');
    // A DID is shortened in the cell, the full value in its title.
    const did = rows.first().locator('.did');
    expect((await did.textContent())?.length).toBeLessThan(30);
    expect(await did.getAttribute('title')).toMatch(/^did:jwk:[\w-]{60,}$/);
    await page.screenshot({ path: join(shots, 'console-queue-1280.png') });
    await page.getByRole('link', { name: 'Next page →' }).click();
    await page.waitForURL(/page=2/);
    expect(await rows.count()).toBe(5);
    expect(await rows.last().locator('td').first().textContent()).toBe(ids[0]);
    await page.getByRole('link', { name: '← Previous page' }).click();
    await page.waitForURL((u) => !u.search.includes('page='));
    await page.getByLabel('Order').selectOption('newest');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/sort=newest/);
    expect(await rows.first().locator('td').first().textContent()).toBe(ids[0]);
    expect(await rows.first().locator('td[data-label="Age"]').textContent()).toBe('10 min');

    // Assign to me: the case shows its assignee, and the "me" filter finds it.
    await page.goto(`${issuer.url}/console/applications/${oldest}`);
    expect(await page.locator('main').textContent()).toContain('Nobody works on this case yet.');
    // Human labels, not column names.
    expect(await page.locator('main').textContent()).toContain('Credential type');
    expect(await page.locator('main').textContent()).not.toContain('credential_configuration_id');
    await page.getByRole('button', { name: 'Assign to me' }).click();
    await page.getByRole('button', { name: 'Release' }).waitFor();
    expect(await page.locator('form.assign').textContent()).toContain('Assigned to Dana Reviewer');
    await page.screenshot({ path: join(shots, 'console-application-1280.png'), fullPage: true });
    expect(await seriousViolations(page)).toEqual([]);
    await page.goto(`${issuer.url}/console?status=review&assigned=me`);
    expect(await rows.count()).toBe(1);
    expect(await rows.first().locator('td[data-label="Assigned to"]').textContent()).toBe('Dana Reviewer');

    // Reject asks first; Cancel changes nothing; confirming rejects.
    await page.goto(`${issuer.url}/console/applications/${oldest}`);
    await page.getByLabel('Reason', { exact: true }).fill('document expired');
    await page.getByRole('button', { name: 'Reject…' }).click();
    await page.getByRole('heading', { name: 'Reject this application?' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('document expired');
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.waitForURL(new RegExp(`/console/applications/${oldest}$`));
    expect(
      await page
        .locator('.status, dd')
        .filter({ hasText: /^review$/ })
        .count(),
    ).toBeGreaterThan(0);
    await page.getByLabel('Reason', { exact: true }).fill('document expired');
    await page.getByRole('button', { name: 'Reject…' }).click();
    await page.getByRole('button', { name: 'Yes, reject' }).click();
    await page.waitForURL(/decided=1$/);
    expect(await page.getByRole('status').textContent()).toBe('Decision recorded.');
    // The audit trail reads as words and label/value pairs, not JSON.
    const audit = await page.locator('section', { has: page.getByRole('heading', { name: 'Audit trail' }) }).textContent();
    expect(audit).toContain('Verification result (idv.state_changed)');
    expect(audit).toContain('reason codesoperator:reject, operator_reason:document expired');
    expect(audit).not.toContain('{"');

    // 390 px: no horizontal scrolling on the queue, a case and the confirm step.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${issuer.url}/console?status=review`);
    expect(await overflow()).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);
    await page.screenshot({ path: join(shots, 'console-queue-390.png') });
    await page.goto(`${issuer.url}/console/applications/${ids[1]}`);
    expect(await overflow()).toBe(0);
    await page.screenshot({ path: join(shots, 'console-application-390.png'), fullPage: true });
    await page.getByRole('button', { name: 'Reject…' }).click();
    await page.getByRole('heading', { name: 'Reject this application?' }).waitFor();
    expect(await overflow()).toBe(0);
    await context.close();
  });
});
