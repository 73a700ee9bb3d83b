import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** The README's configuration table renders as one table: contiguous rows, three cells each. */
describe('README configuration table', () => {
  it('is one table with a header, a delimiter row and three cells per row', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.split(/^## /m).find((s) => s.startsWith('Configuration'));
    expect(section).toBeDefined();
    const lines = section!.split('\n');
    const first = lines.findIndex((l) => l.startsWith('|'));
    let last = first;
    while (last + 1 < lines.length && lines[last + 1].startsWith('|')) last++;
    const rows = lines.slice(first, last + 1);
    // No table row after the first block ends: a blank line would start a second table (or a paragraph).
    expect(lines.slice(last + 1).filter((l) => l.startsWith('|'))).toEqual([]);
    expect(rows[0]).toBe('| variable | default | meaning |');
    expect(rows[1]).toMatch(/^\| -+ \| -+ \| -+ \|$/);
    // Cells split on pipes outside backticks.
    const cells = (row: string) => row.replace(/`[^`]*`/g, 'x').split('|').length - 2;
    for (const row of rows) expect({ row, cells: cells(row) }).toEqual({ row, cells: 3 });
    expect(rows.some((r) => r.startsWith('| `TRUST_PROXY`'))).toBe(true);
    expect(rows.length).toBeGreaterThan(20);
  });
});

/** The README is the front page: what it is, the two commands, the flow, the settings, links; the rest is in docs/. */
describe('README layout', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const sections = readme.split(/^## /m).slice(1);

  it('has the two commands (really two, after npm ci), the flow, the configuration and the documentation links, nothing else', () => {
    expect(sections.map((s) => s.split('\n')[0])).toEqual([
      'The two commands',
      'The flow',
      'Configuration (environment on Node, vars and secrets on Workers)',
      'Documentation',
      'More',
    ]);
    const block = /```sh\n([\s\S]*?)```/.exec(sections[0])?.[1] ?? '';
    const commands = block
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim())
      .filter((l) => l !== '' && l !== 'npm ci');
    expect(commands).toEqual(['npm run demo', 'npm test']);
  });

  it('links only to files that exist, and docs/guide.md holds what moved out', () => {
    for (const [, target] of readme.matchAll(/\]\(((?:docs\/)?[\w./-]+\.md|LICENSE)(?:#[^)]*)?\)/g)) {
      expect(() => readFileSync(new URL(`../${target}`, import.meta.url)), target).not.toThrow();
    }
    const guide = readFileSync(new URL('../docs/guide.md', import.meta.url), 'utf8');
    for (const heading of ['## Operator API', '## KYC status API', '## Health, readiness and metrics', '## Going to production', '## Benchmark'])
      expect(guide).toContain(heading);
  });
});
