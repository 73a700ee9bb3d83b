import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/http/context';
import { startNodeIssuer } from '../../src/runtime/node';
import { WalletClient } from '../../src/wallet/client';
import { SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { openApplication, requestCredential } from '../helpers/idvFlow';
import { ADMIN_TOKEN, makeIssuerKeys } from '../helpers/issuer';

/**
 * The review console in a real browser (Debian's chromium driven by playwright-core):
 * sign in, filter the queue, approve one application with a tier, and the wallet's deferred
 * request then returns the credential. CI installs chromium (.ci/run: apt-get install chromium).
 */
const CHROMIUM = '/usr/bin/chromium';
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe-core (WCAG 2.x A/AA rules and best practices) on the page; returns the serious and critical violations. */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: AXE_SOURCE });
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: {
          run(ctx: unknown, opts: unknown): Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: unknown }> }> }>;
        };
      }
    ).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => JSON.stringify(n.target)) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.targets.join(', ')}`);
}
const hasChromium = existsSync(CHROMIUM);
const title = hasChromium
  ? 'review console in a real browser'
  : `review console in a real browser — SKIPPED: ${CHROMIUM} is not installed (apt-get install chromium)`;

describe.skipIf(!hasChromium)(title, () => {
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
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
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
    await page.getByLabel('Tier (when approving)').selectOption('Standard');
    await page.getByLabel('Reason', { exact: true }).fill('document checked by hand');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(/decided=1$/);
    expect(await page.getByRole('status').textContent()).toBe('Decision recorded.');
    const main = await page.locator('main').textContent();
    expect(main).toContain('approved');
    const audit = await page.locator('section', { has: page.getByRole('heading', { name: 'Audit trail' }) }).textContent();
    expect(audit).toContain('console:Alice Reviewer');
    expect(audit).toContain('idv.state_changed');
    expect(audit).toContain('pii.viewed');
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
    const declining = await openApplication(client, issuer.url);
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
});
