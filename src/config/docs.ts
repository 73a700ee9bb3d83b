import type { SettingSpec } from './setting';
import { listSettings } from './settings';

/**
 * The README's configuration table and docs/settings.md, generated from the settings table
 * (`npm run docs:settings`; test/config/settingsTable.test.ts fails when they differ).
 */

/** README order: how a deployment is set up (server, storage, keys), then the issuer, then the rest. */
const SECTION_ORDER = ['server', 'storage', 'keys', 'issuer', 'tiersDocument', 'did', 'idvVendors', 'jobs', 'metrics'];

function ordered() {
  const rank = (path: string) => {
    const i = SECTION_ORDER.indexOf(path.split('.')[0]);
    return i < 0 ? SECTION_ORDER.length : i;
  };
  return listSettings()
    .map((s, index) => ({ ...s, index }))
    .sort((a, b) => rank(a.path) - rank(b.path) || a.index - b.index);
}

/** A value as the README shows it. */
function shown(spec: SettingSpec<unknown>): string {
  if (spec.defaultText) return spec.defaultText;
  const value = spec.default;
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return 'unset';
  return `\`${Array.isArray(value) ? value.join(',') : String(value)}\``;
}

/** A pipe outside backticks would end the cell. */
function cell(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/\|/g, '\\|')))
    .join('');
}

function meaning(spec: SettingSpec<unknown>): string {
  const notes = [spec.only === 'node' ? 'Node only' : undefined, spec.secret ? 'a secret' : undefined].filter(Boolean);
  return cell(notes.length ? `${spec.doc} (${notes.join('; ')})` : spec.doc);
}

/** The README's table: every environment variable, its default and its meaning. */
export function settingsMarkdownTable(): string {
  const rows = ordered()
    .filter(({ spec }) => spec.env)
    .map(({ spec }) => `| \`${spec.env}\` | ${cell(shown(spec))} | ${meaning(spec)} |`);
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The descriptions' links are written from the repository root (the README); docs/settings.md is one level down. */
function fromDocs(text: string): string {
  return text.replace(
    /\]\((docs\/)?([^)#][^)]*|#[^)]*)\)/g,
    (_, inDocs: string | undefined, target: string) => `](${inDocs ? target : target.startsWith('#') ? `../README.md${target}` : `../${target}`})`,
  );
}

/** docs/settings.md: every option, with or without a variable, by its path in the table. */
export function settingsReference(): string {
  const rows = ordered().map(({ path, spec }) => fromDocs(`| \`${path}\` | ${spec.env ? `\`${spec.env}\`` : '—'} | ${cell(shown(spec))} | ${meaning(spec)} |`));
  return [
    '# Settings',
    '',
    '<!-- Generated from src/config/settings.ts by `npm run docs:settings`; do not edit by hand. -->',
    '',
    'Every option of the issuer, by its path in the settings table (`src/config/settings.ts`). Options',
    'with a variable are read from the environment (Node) or the vars and secrets (Workers); the others',
    'are set in code: `IssuerConfigInput` (`issuer.*`) or the Node options (`startNodeIssuer`).',
    '',
    '| option | variable | default | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

export const README_TABLE_START = '<!-- settings table: generated from src/config/settings.ts by `npm run docs:settings` -->';
export const README_TABLE_END = '<!-- end of settings table -->';

/** The README with its settings table replaced by the generated one. */
export function readmeWithSettingsTable(readme: string): string {
  const start = readme.indexOf(README_TABLE_START);
  const end = readme.indexOf(README_TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the settings table markers (${README_TABLE_START} … ${README_TABLE_END})`);
  return `${readme.slice(0, start + README_TABLE_START.length)}\n\n${settingsMarkdownTable()}\n\n${readme.slice(end)}`;
}
