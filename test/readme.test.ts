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
