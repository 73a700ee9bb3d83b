import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Browser, chromium, type Page } from 'playwright-core';

/**
 * Debian's Chromium driven by playwright-core, for the tests of pages (.ci/run installs the
 * `chromium` package; playwright's own browser download does not work here).
 */
export const CHROMIUM = '/usr/bin/chromium';

/** Whether the browser is here; in CI its absence is an install step missing, not a reason to skip. */
export function chromiumPresent(): boolean {
  const present = existsSync(CHROMIUM);
  if (!present && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
  return present;
}

/** A describe title that says why the block is skipped when the browser is absent. */
export function browserSuiteTitle(title: string): string {
  return existsSync(CHROMIUM) ? title : `${title} — SKIPPED: ${CHROMIUM} is not installed (apt-get install chromium)`;
}

/** Headless, without the background networking this machine's closed network refuses. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

let axeSource: string | undefined;

/** Runs axe-core (WCAG 2.x A/AA rules and best practices) on the page; returns the serious and critical violations. */
export async function seriousViolations(page: Page): Promise<string[]> {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    type Violation = { id: string; impact: string; help: string; nodes: Array<{ target: unknown }> };
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: Violation[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => JSON.stringify(n.target)) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.targets.join(', ')}`);
}
