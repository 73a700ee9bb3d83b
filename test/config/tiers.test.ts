import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseTiersConfig, resolveConfig } from '../../src/config';

describe('tier configuration', () => {
  it('parses the documented example file', () => {
    const tiers = parseTiersConfig(JSON.parse(readFileSync(new URL('../../docs/tiers.example.json', import.meta.url), 'utf8')));
    const config = resolveConfig({ publicUrl: 'https://pfi.example', ...tiers });
    expect(config.tiers.map((t) => t.id)).toEqual(['kcc-basic', 'kcc-enhanced']);
    expect(config.defaultTierId).toBe('kcc-basic');
    expect(config.statusList.size).toBe(131_072);
  });

  it('defaults to one tier built from the credential options', () => {
    const config = resolveConfig({ publicUrl: 'https://pfi.example', credential: { validityDays: 30, defaultTier: 'Gold' } });
    expect(config.tiers).toEqual([
      { id: 'KnownCustomerCredential', name: 'Gold', requiredChecks: ['document_verification'], validityDays: 30, acceptsPriorCredentialsFrom: [] },
    ]);
    expect(config.defaultTierId).toBe('KnownCustomerCredential');
  });

  it('refuses bad tiers and status list sizes with a clear message', () => {
    const tier = { id: 'a', name: 'A', requiredChecks: [], validityDays: 1 };
    expect(() => resolveConfig({ publicUrl: 'https://p.example', tiers: [tier, tier] })).toThrow(/declared twice/);
    expect(() => resolveConfig({ publicUrl: 'https://p.example', tiers: [{ ...tier, id: 'a b' }] })).toThrow(/must match/);
    expect(() => resolveConfig({ publicUrl: 'https://p.example', tiers: [tier], defaultTierId: 'b' })).toThrow(/not a declared tier/);
    expect(() => resolveConfig({ publicUrl: 'https://p.example', statusList: { size: 1024 } })).toThrow(/131072/);
    expect(() => parseTiersConfig({ tiers: [{ id: 'a' }] })).toThrow(/tiers configuration: tiers.0.name/);
    expect(() => parseTiersConfig({ tiers: [] })).toThrow(/tiers configuration/);
  });
});
