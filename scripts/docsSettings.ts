import { readFileSync, writeFileSync } from 'node:fs';
import { readmeWithSettingsTable, settingsReference } from '../src/config/docs';

/**
 * `npm run docs:settings`: writes the README's configuration table and docs/settings.md from the
 * settings table (src/config/settings.ts). `--check` only reports whether they are current.
 */
const root = new URL('..', import.meta.url);
const files = [
  { file: new URL('README.md', root), next: (text: string) => readmeWithSettingsTable(text) },
  { file: new URL('docs/settings.md', root), next: () => settingsReference() },
];
const check = process.argv.includes('--check');
let stale = 0;
for (const { file, next } of files) {
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = '';
  }
  const wanted = next(current);
  if (wanted === current) continue;
  stale++;
  if (check) console.error(`${file.pathname} is not current: run npm run docs:settings`);
  else writeFileSync(file, wanted);
}
process.exit(check && stale > 0 ? 1 : 0);
