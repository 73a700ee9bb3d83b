import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeOptionsFromSettings } from '../../src/runtime/nodeSettings';

/** `npm start`'s options from the environment, through the settings table (src/runtime/nodeSettings.ts). */
const dir = mkdtempSync(join(tmpdir(), 'kcc-node-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ed25519Jwk(): string {
  const { kty, crv, x, d } = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  return JSON.stringify({ kty, crv, x, d });
}

const tiers = (id: string) => JSON.stringify({ tiers: [{ id, name: id, requiredChecks: ['document_verification'], validityDays: 30 }] });

describe('Node options from the settings', () => {
  it('takes every default from the table', () => {
    const options = nodeOptionsFromSettings({});
    expect(options).toMatchObject({
      port: 3000,
      hostname: '0.0.0.0',
      dataDir: resolve('./data'),
      keys: undefined,
      keyAlg: 'EdDSA',
      didMethod: 'web',
      databaseUrl: undefined,
      synchronous: 'NORMAL',
      didWebAllowInsecure: false,
      didDhtGateway: 'https://diddht.tbddev.org',
      trustProxy: false,
      backgroundIntervalMs: 5000,
      httpTimeouts: { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 },
      metrics: { token: undefined, port: undefined, hostname: '127.0.0.1' },
    });
    // Unset options stay out of the config input, so resolveConfig's defaults apply.
    expect(options.config).toEqual({ publicUrl: undefined });
  });

  it('maps the variables, with the tiers file over KCC_TIERS and the keys parsed', () => {
    const file = join(dir, 'tiers.json');
    writeFileSync(file, tiers('from-file'));
    const jwk = ed25519Jwk();
    const options = nodeOptionsFromSettings({
      PORT: '8080',
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      TRUST_PROXY: 'true',
      SQLITE_SYNCHRONOUS: 'full',
      ISSUER_PRIVATE_JWK: jwk,
      ISSUER_DID_METHOD: 'dht',
      ISSUER_DID_DHT_IDENTITY_JWK: ed25519Jwk(),
      WEBHOOK_DISPATCH_INTERVAL_MS: '0',
      METRICS_PORT: '0',
      PUBLIC_URL: 'https://kcc.pfi.example',
      KCC_TIERS: tiers('from-var'),
      KCC_TIERS_FILE: file,
      TTL_C_NONCE_SECONDS: '120',
      RATE_LIMITS: 'off',
    });
    expect(options).toMatchObject({
      port: 8080,
      hostname: '127.0.0.1',
      dataDir: dir,
      trustProxy: true,
      synchronous: 'FULL',
      didMethod: 'dht',
      backgroundIntervalMs: 0,
      metrics: { port: 0 },
    });
    expect(options.keys?.map((k) => [k.alg, k.role])).toEqual([
      ['EdDSA', undefined],
      ['EdDSA', 'did-dht-identity'],
    ]);
    expect(options.config).toMatchObject({ publicUrl: 'https://kcc.pfi.example', didMethod: 'dht', ttl: { cNonce: 120 }, rateLimits: { enabled: false } });
    expect(options.config?.tiers?.map((t) => t.id)).toEqual(['from-file']);
    expect(nodeOptionsFromSettings({ KCC_TIERS: tiers('from-var') }).config?.tiers?.map((t) => t.id)).toEqual(['from-var']);
  });

  it('refuses at start, naming the setting', () => {
    expect(() => nodeOptionsFromSettings({ KCC_TIERS_FILE: join(dir, 'missing.json') })).toThrow(/KCC_TIERS_FILE: cannot read .*missing\.json \(ENOENT\)/);
    expect(() => nodeOptionsFromSettings({ SQLITE_SYNCHRONOUS: 'OFF' })).toThrow('SQLITE_SYNCHRONOUS must be NORMAL or FULL (got "OFF")');
    expect(() => nodeOptionsFromSettings({ ISSUER_PRIVATE_JWK: ed25519Jwk(), ISSUER_DID_METHOD: 'dht' })).toThrow(/needs ISSUER_DID_DHT_IDENTITY_JWK/);
    expect(() => nodeOptionsFromSettings({ DATABASE_URL: 'postgres://db/kcc' })).toThrow(/DATABASE_URL is set: ISSUER_PRIVATE_JWK is required/);
    expect(() => nodeOptionsFromSettings({ DATABASE_URL: 'postgres://db/kcc', ISSUER_PRIVATE_JWK: ed25519Jwk() })).toThrow(
      /DATABASE_URL is set: PII_DATA_KEY is required/,
    );
    expect(() => nodeOptionsFromSettings({ ISSUER_PRIVATE_JWK: '{"kty":"OKP"' })).toThrow('ISSUER_PRIVATE_JWK is not valid JSON');
  });
});

describe('the presented-credential trust setting on Node', () => {
  it('reads PRESENTED_CREDENTIAL_TRUST, and a PRESENTED_CREDENTIAL_TRUST_FILE takes precedence; a file that is not JSON names the setting', () => {
    const inline = { sdJwtVc: [], mdoc: [], jwtVc: [{ id: 'inline', name: 'x', type: 'X', issuers: ['did:example:a'], satisfies: [] }] };
    const fromFile = { ...inline, jwtVc: [{ ...inline.jwtVc[0], id: 'from-file' }] };
    const file = join(dir, 'trust.json');
    writeFileSync(file, JSON.stringify(fromFile));
    expect(nodeOptionsFromSettings({ PRESENTED_CREDENTIAL_TRUST: JSON.stringify(inline) }).presentedCredentialTrust).toEqual(inline);
    expect(
      nodeOptionsFromSettings({ PRESENTED_CREDENTIAL_TRUST: JSON.stringify(inline), PRESENTED_CREDENTIAL_TRUST_FILE: file }).presentedCredentialTrust,
    ).toEqual(fromFile);
    expect(nodeOptionsFromSettings({}).presentedCredentialTrust).toBeUndefined();
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ not json');
    expect(() => nodeOptionsFromSettings({ PRESENTED_CREDENTIAL_TRUST_FILE: broken })).toThrow(/PRESENTED_CREDENTIAL_TRUST_FILE .* is not valid JSON/);
    expect(() => nodeOptionsFromSettings({ PRESENTED_CREDENTIAL_TRUST_FILE: join(dir, 'missing.json') })).toThrow(
      /PRESENTED_CREDENTIAL_TRUST_FILE: cannot read/,
    );
  });
});
