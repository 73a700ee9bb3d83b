import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSharedConfiguration, configuredKeys } from '../../src/runtime/node';
import { parsePoolSize } from '../../src/runtime/postgres';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { makeIssuerKeys } from '../helpers/issuer';

/** What DATABASE_URL requires of the configuration, checked before any connection is made. */
describe('configuration with DATABASE_URL', () => {
  it('refuses to start without ISSUER_PRIVATE_JWK or PII_DATA_KEY, naming the variable', async () => {
    expect(() => checkSharedConfiguration({ idvEnv: { PII_DATA_KEY: 'x' } })).toThrow(/DATABASE_URL is set: ISSUER_PRIVATE_JWK is required/);
    const keys = await makeIssuerKeys();
    expect(() => checkSharedConfiguration({ keys, idvEnv: {} })).toThrow(/DATABASE_URL is set: PII_DATA_KEY is required/);
    expect(() => checkSharedConfiguration({ keys, idvEnv: { PII_DATA_KEY: 'x' } })).not.toThrow();
  });

  it('npm start exits with that message (and no key file written)', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kcc-pg-config-'));
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/runtime/node.ts'], {
      cwd: join(__dirname, '..', '..'),
      // A port nothing listens on: the check comes before any connection.
      env: {
        ...process.env,
        DATABASE_URL: 'postgres://kcc:secret-password@127.0.0.1:1/kcc',
        PORT: '0',
        DATA_DIR: dataDir,
        ISSUER_PRIVATE_JWK: '',
        PII_DATA_KEY: '',
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('ISSUER_PRIVATE_JWK is required');
    expect(r.stderr).not.toContain('secret-password');
    expect(readdirSync(dataDir)).toEqual([]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('DATABASE_POOL_SIZE: a positive integer, 10 by default', () => {
    expect(parsePoolSize(undefined)).toBe(10);
    expect(parsePoolSize('25')).toBe(25);
    for (const bad of ['0', '-1', '2.5', 'ten', '100000']) expect(() => parsePoolSize(bad)).toThrow(/DATABASE_POOL_SIZE/);
  });

  it('ISSUER_PRIVATE_JWK: one private JWK, or an array of them (the first signs) for a rolling rotation', async () => {
    const crypto = createNodeCryptoProvider();
    const [a, b] = [await crypto.generateKeyPair('EdDSA'), await crypto.generateKeyPair('ES256K')];
    expect(configuredKeys(JSON.stringify(a)).map((k) => [k.id, k.alg])).toEqual([['key-1', 'EdDSA']]);
    const both = configuredKeys(
      JSON.stringify([
        { ...b, kid: 'key-2' },
        { ...a, kid: 'key-1' },
      ]),
    );
    expect(both.map((k) => [k.id, k.alg])).toEqual([
      ['key-2', 'ES256K'],
      ['key-1', 'EdDSA'],
    ]);
    expect(both[0].createdAt > both[1].createdAt).toBe(true); // the first is the newest: it signs
    expect(() => configuredKeys('[{"kty":"OKP"}]')).toThrow(/ISSUER_PRIVATE_JWK\[0\]/);
  });
});
