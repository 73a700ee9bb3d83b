import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromSettings, listSettings, readSettings, resolveConfig, settingsGiven, SETTING_DEFAULTS, SETTINGS } from '../../src/config';
import { readmeWithSettingsTable, settingsReference } from '../../src/config/docs';
import { parseSetting, Setting } from '../../src/config/setting';
import { httpServerOptions } from '../../src/runtime/node';
import { parsePoolSize } from '../../src/runtime/postgres';

/** The one settings table (src/config/settings.ts): every option once, read only through it, documented from it. */
const ROOT = new URL('../../', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const envSettings = listSettings().filter((s) => s.spec.env);

describe('the settings table', () => {
  it('names each variable once, gives each a parser and a one-line description', () => {
    const names = envSettings.map((s) => s.spec.env);
    expect(names.length).toBeGreaterThan(60);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    for (const { path, spec } of listSettings()) {
      expect({ path, parser: spec.env ? Boolean(spec.parse) : true }).toEqual({ path, parser: true });
      expect({ path, doc: /^[^\n]{10,}$/.test(spec.doc) }).toEqual({ path, doc: true });
    }
  });

  it('has defaults its own parsers accept (a scalar default read back from its text is itself)', () => {
    for (const { path, spec } of envSettings) {
      if (spec.default === undefined || Array.isArray(spec.default)) continue;
      const entry = new Setting(spec);
      expect({ path, value: parseSetting(entry, String(spec.default)) }).toEqual({ path, value: spec.default });
    }
  });

  it('refuses a bad value naming the variable, and never echoes a secret', () => {
    let refused = 0;
    for (const { spec } of envSettings) {
      const value = 'not-a-valid-value-SECRET-4711';
      try {
        parseSetting(new Setting(spec), value);
      } catch (e) {
        refused++;
        const message = (e as Error).message;
        expect(message.startsWith(`${spec.env} `) || message.startsWith(`${spec.env}:`)).toBe(true);
        if (spec.secret) expect(message).not.toContain('SECRET-4711');
      }
    }
    expect(refused).toBeGreaterThan(25);
    expect(() => readSettings({ PORT: '70000' })).toThrow('PORT must be a port number');
    expect(() => readSettings({ HTTP_REQUEST_TIMEOUT_MS: '1.5' })).toThrow('HTTP_REQUEST_TIMEOUT_MS must be a positive number of milliseconds');
    expect(() => readSettings({ WEBHOOK_DISPATCH_INTERVAL_MS: 'soon' })).toThrow(/WEBHOOK_DISPATCH_INTERVAL_MS must be a whole number of milliseconds/);
    expect(() => readSettings({ ISSUER_DID_METHOD: 'key' })).toThrow(/ISSUER_DID_METHOD must be web, dht or jwk/);
    expect(() => readSettings({ ISSUER_KEY_ALG: 'RS256' })).toThrow(/ISSUER_KEY_ALG must be EdDSA or ES256K/);
    expect(() => readSettings({ IDV_GENERIC_CONFIG: '{' })).toThrow('IDV_GENERIC_CONFIG is not valid JSON');
    expect(() => parsePoolSize('0')).toThrow('DATABASE_POOL_SIZE must be an integer from 1 to 1000');
  });

  it('reads an empty variable as unset, and each runtime only its own variables', () => {
    expect(readSettings({ PORT: '', DATA_DIR: '', KCC_VALIDITY_DAYS: '' })).toEqual(SETTING_DEFAULTS);
    expect(readSettings({ PORT: '0' }).server.port).toBe(0);
    // ISSUER_DID_METHOD is Node's (Workers serve did:web): the shared mapping leaves it out.
    expect(readSettings({ ISSUER_DID_METHOD: 'dht' }, 'workers').issuer.didMethod).toBe('web');
    expect(readSettings({ ISSUER_DID_METHOD: 'dht' }, 'node').issuer.didMethod).toBe('dht');
    expect(configFromSettings({ ISSUER_DID_METHOD: 'dht', PORT: '1' })).toEqual({});
    expect(settingsGiven({ TTL_C_NONCE_SECONDS: '90' })).toEqual({ issuer: { ttl: { cNonce: 90 } } });
  });

  it('is where every default lives: the config, the Node server and the IDV adapters take theirs from it', () => {
    const config = resolveConfig({ publicUrl: 'https://kcc.example' });
    expect(config.ttl).toEqual(SETTING_DEFAULTS.issuer.ttl);
    expect(config.idv.retentionDays).toBe(SETTINGS.issuer.idv.retentionDays.spec.default);
    expect(httpServerOptions()).toMatchObject({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 });
    // One listen address for `npm start` and startNodeIssuer (they used to differ).
    expect(SETTING_DEFAULTS.server.host).toBe('0.0.0.0');
    const sources = [
      'src/runtime/nodeServer.ts',
      'src/runtime/workerIssuer.ts',
      'src/runtime/nodeDid.ts',
      'src/idv/incode.ts',
      'src/idv/fromSettings.ts',
      'src/idv/persona.ts',
      'src/idv/genericHmac.ts',
      'src/runtime/postgres.ts',
    ];
    for (const file of sources) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      // No literal default of a setting beside its use: the gateway, pool size, port, Incode's issuer and scope, the tolerance.
      expect({
        file,
        literals:
          text.match(/diddht\.tbddev\.org|auth\.incode\.com'|api\.withpersona\.com'|openid profile address|\?\? 3000|\?\? 300\b|\?\? 5000|60 \* 60 \* 1000/g) ??
          [],
      }).toEqual({ file, literals: [] });
    }
  });

  it('carries every issuer option of the table into the resolved config (a new option is one entry)', () => {
    const config = resolveConfig({ publicUrl: 'https://kcc.example' }) as unknown as Record<string, unknown>;
    const paths = listSettings()
      .filter((s) => s.path.startsWith('issuer.'))
      .map((s) => s.path.slice('issuer.'.length));
    const missing = paths.filter((path) => {
      const [head, member] = path.split('.');
      if (!(head in config)) return true;
      // client_metadata leaves its unset members out (they are omitted on the wire).
      if (member === undefined || head === 'clientMetadata') return false;
      return !(member in (config[head] as object));
    });
    expect(missing).toEqual([]);
    expect(resolveConfig({ publicUrl: 'https://kcc.example', statusList: { cacheSeconds: 60 }, operatorAuthLimits: { failuresPerIp: 3 } })).toMatchObject({
      statusList: { cacheSeconds: 60, size: 131_072 },
      operatorAuthLimits: { failuresPerIp: 3, failuresGlobal: 100 },
    });
  });

  it('is the only reader of the environment in src/', () => {
    const offenders: string[] = [];
    for (const file of sourceFiles(join(ROOT, 'src'))) {
      const path = relative(ROOT, file);
      if (path.startsWith('src/config/')) continue;
      const text = readFileSync(file, 'utf8');
      if (/process\.env/.test(text)) offenders.push(`${path}: process.env`);
      // Reading a variable off an env record (Node env, Workers bindings); DB is the D1 binding, not a setting.
      for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]+)|\benv\[['"`]([A-Z][A-Z0-9_]+)/g))
        if ((m[1] ?? m[2]) !== 'DB') offenders.push(`${path}: env.${m[1] ?? m[2]}`);
    }
    expect(offenders).toEqual([]);
  });

  it('is the README configuration table and docs/settings.md (npm run docs:settings)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readmeWithSettingsTable(readme)).toBe(readme);
    expect(readFileSync(join(ROOT, 'docs/settings.md'), 'utf8')).toBe(settingsReference());
    for (const { spec } of envSettings) expect(readme).toContain(`| \`${spec.env}\` |`);
  });
});
