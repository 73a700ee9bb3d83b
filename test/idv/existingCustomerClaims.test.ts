import { describe, expect, it } from 'vitest';
import { createPortableDigests } from '../../src/crypto/portableDigests';
import { mapClaimsToKcc, readClaimPath } from '../../src/idv/existingCustomer/claims';
import { deriveExistingCustomerKeys, digestBankSubject, openLoginTransaction, sealLoginTransaction } from '../../src/idv/existingCustomer/loginTransaction';
import { readSettings } from '../../src/config';
import { ClaimMappingSchema, existingCustomerSettingsFromTable, parseExistingCustomerSettings } from '../../src/idv/existingCustomer/settings';

const KEY = 'A'.repeat(43);
/** The settings table's reading of an environment, then the sign-in's check as a whole. */
const existingCustomerSettingsFromEnv = (env: Record<string, string>, tiers: typeof TIERS) =>
  existingCustomerSettingsFromTable(readSettings(env).existingCustomer, tiers)?.settings;
import { TIERS } from '../helpers/tiers';

/** The claim mapping and the settings parser of the existing-customer sign-in (pure functions, no provider). */

const NOW = Date.parse('2026-12-07T12:00:00Z');
const mapping = ClaimMappingSchema.parse({
  tier: { claim: 'kyc.level', values: { '1': 'kcc-basic', '2': 'kcc-enhanced' }, whenAbsent: 'lowest' },
  checks: { claim: 'kyc.checks', values: { doc: 'document_verification', aml: 'sanction_screening' } },
  verifiedAt: { claim: 'kyc.at' },
});
const map = (claims: Record<string, unknown>, m = mapping, fallback: 'regular_verification' | 'review' = 'regular_verification') =>
  mapClaimsToKcc(claims, m, TIERS, NOW, fallback);

describe('mapClaimsToKcc', () => {
  it('reads dot paths only through own object members', () => {
    expect(readClaimPath({ address: { country: 'FR' } }, 'address.country')).toBe('FR');
    expect(readClaimPath({ address: 'FR' }, 'address.country')).toBeUndefined();
    expect(readClaimPath({}, 'constructor.name')).toBeUndefined();
    expect(readClaimPath({ a: [{ b: 1 }] }, 'a.0.b')).toBeUndefined();
    expect(readClaimPath({ 'https://bank.example/kyc': { level: 2 } }, ['https://bank.example/kyc', 'level'])).toBe(2);
  });

  it('grants the claimed tier when the reported, fresh checks cover it; evidence only of that tier', () => {
    const r = map({ address: { country: 'se' }, kyc: { level: 2, checks: ['doc', 'aml', 'unknown-check'], at: (NOW - 30 * 86_400_000) / 1000 } });
    expect(r).toMatchObject({ status: 'verified', countryOfResidence: 'SE', tierId: 'kcc-enhanced', notes: ['check_value_unmapped'] });
    expect(r.evidence.map((e) => e.kind)).toEqual(['existing_customer', 'document_verification', 'sanction_screening']);
    expect(r.evidence.every((e) => e.type[0] === 'ExistingCustomer' && e.verifiedAt === '2026-11-07T12:00:00.000Z')).toBe(true);
    // A bank value the mapping does not name never becomes a check.
    expect(JSON.stringify(r.evidence)).not.toContain('unknown-check');
  });

  it('a lower claimed tier keeps the KCC at that tier even when more checks were reported', () => {
    const r = map({ address: { country: 'SE' }, kyc: { level: '1', checks: ['doc', 'aml'] } });
    expect(r).toMatchObject({ status: 'verified', tierId: 'kcc-basic' });
    expect(r.evidence.map((e) => e.kind)).toEqual(['existing_customer', 'document_verification']);
  });

  it('a tier only as far as its evidence goes: stale screening lowers Enhanced to Basic; no checks at all is a fallback', () => {
    const stale = map({ address: { country: 'SE' }, kyc: { level: 2, checks: ['doc', 'aml'], at: '2026-06-01' } });
    expect(stale).toMatchObject({ status: 'verified', tierId: 'kcc-basic', notes: expect.arrayContaining(['tier_limited_by_evidence']) });
    const none = map({ address: { country: 'SE' }, kyc: { level: 2 } });
    expect(none).toMatchObject({ status: 'fallback', next: 'regular_verification', reasons: ['evidence_insufficient'] });
    expect(none).not.toHaveProperty('tierId');
    expect(none.evidence).toEqual([{ type: ['ExistingCustomer'], kind: 'existing_customer', checks: [] }]);
    // A KYC date in the future is not evidence of freshness.
    expect(map({ address: { country: 'SE' }, kyc: { level: 1, checks: ['doc'], at: '2027-06-01' } }).notes).toContain('verified_at_unusable');
  });

  it('missing or invalid country, unmapped or missing tier: a fallback with reasons, never a KCC', () => {
    expect(map({ kyc: { level: 1, checks: ['doc'] } })).toMatchObject({
      status: 'fallback',
      next: 'regular_verification',
      reasons: ['country_missing'],
      tierId: 'kcc-basic',
    });
    expect(map({ address: { country: 'XX' }, kyc: { level: 1, checks: ['doc'] } }, mapping, 'review')).toMatchObject({
      status: 'fallback',
      next: 'review',
      reasons: ['country_invalid'],
    });
    expect(map({ address: { country: 'Germany' }, kyc: { level: 1, checks: ['doc'] } }).status).toBe('fallback');
    expect(map({ address: { country: 'DE' }, kyc: { level: 9, checks: ['doc'] } })).toMatchObject({
      status: 'fallback',
      next: 'review',
      reasons: ['tier_claim_unmapped'],
    });
    const review = ClaimMappingSchema.parse({ ...mapping, tier: { ...mapping.tier, whenAbsent: 'review' } });
    expect(map({ address: { country: 'DE' }, kyc: { checks: ['doc'] } }, review)).toMatchObject({
      status: 'fallback',
      next: 'review',
      reasons: ['tier_claim_missing'],
      countryOfResidence: 'DE',
    });
  });

  it('without a tier claim, "lowest" is the tier with the fewest required checks the mapping allows', () => {
    expect(map({ address: { country: 'DE' }, kyc: { checks: ['doc', 'aml'] } })).toMatchObject({
      status: 'verified',
      tierId: 'kcc-basic',
      notes: expect.arrayContaining(['tier_claim_missing_lowest_used']),
    });
    const onlyEnhanced = ClaimMappingSchema.parse({ ...mapping, tier: { claim: 'kyc.level', values: { '2': 'kcc-enhanced' }, whenAbsent: 'lowest' } });
    expect(map({ address: { country: 'DE' }, kyc: { checks: ['doc', 'aml'] } }, onlyEnhanced)).toMatchObject({ status: 'verified', tierId: 'kcc-enhanced' });
    expect(map({ address: { country: 'DE' }, kyc: { checks: ['doc'] } }, onlyEnhanced)).toMatchObject({
      status: 'fallback',
      reasons: ['evidence_insufficient'],
    });
  });
});

describe('existing-customer settings', () => {
  const base = {
    displayName: 'Example Bank',
    issuer: 'https://login.bank.example/realms/customers',
    clientId: 'kcc-issuer',
    clientAuth: { method: 'client_secret_basic', clientSecret: 's'.repeat(32) },
    scopes: ['openid', 'address'],
    claimMapping: {},
  };

  it('parses with defaults: address.country, review for a missing tier, review of a second DID, regular verification as fallback', () => {
    const s = parseExistingCustomerSettings(base, TIERS);
    expect(s).toMatchObject({
      claimMapping: { country: { claim: 'address.country' }, tier: { whenAbsent: 'review' } },
      secondDidPolicy: 'review',
      fallback: 'regular_verification',
      loginTtlSeconds: 600,
    });
  });

  it('refuses what cannot work or is unsafe, naming the problem', () => {
    expect(() => parseExistingCustomerSettings({ ...base, issuer: 'http://login.bank.example' }, TIERS)).toThrow(/https/);
    expect(() => parseExistingCustomerSettings({ ...base, issuer: 'https://u:p@login.bank.example' }, TIERS)).toThrow(/credentials/);
    expect(() => parseExistingCustomerSettings({ ...base, scopes: ['address'] }, TIERS)).toThrow(/openid/);
    expect(() => parseExistingCustomerSettings({ ...base, clientAuth: { method: 'client_secret_basic', clientSecret: 'short' } }, TIERS)).toThrow(/16/);
    expect(() => parseExistingCustomerSettings({ ...base, claimMapping: { tier: { claim: 'lvl', values: { a: 'kcc-gold' } } } }, TIERS)).toThrow(/kcc-gold/);
    expect(() => parseExistingCustomerSettings({ ...base, claimMapping: { tier: { claim: 'lvl' } } }, TIERS)).toThrow(/values/);
    expect(() => parseExistingCustomerSettings({ ...base, claimMapping: { country: { claim: 'address..country' } } }, TIERS)).toThrow(/claim path/);
    expect(() => parseExistingCustomerSettings({ ...base, secondDidPolicy: 'deny' }, TIERS)).toThrow(/secondDidPolicy/);
    expect(() => parseExistingCustomerSettings({ ...base, idTokenAlg: 'HS256' }, TIERS)).toThrow(/idTokenAlg/);
    expect(parseExistingCustomerSettings({ ...base, issuer: 'http://127.0.0.1:8080' }, TIERS).issuer).toBe('http://127.0.0.1:8080');
  });

  it('reads the environment: absent without EXISTING_CUSTOMER_ISSUER, private_key_jwt with a JWK, JSON mapping', () => {
    expect(existingCustomerSettingsFromEnv({}, TIERS)).toBeUndefined();
    expect(() => existingCustomerSettingsFromEnv({ EXISTING_CUSTOMER_CLIENT_ID: 'x' }, TIERS)).toThrow(/without EXISTING_CUSTOMER_ISSUER/);
    expect(() => existingCustomerSettingsFromEnv({ EXISTING_CUSTOMER_ISSUER: 'https://b.example', EXISTING_CUSTOMER_CLIENT_ID: 'a' }, TIERS)).toThrow(
      /EXISTING_CUSTOMER_KEY_SECRET/,
    );
    expect(() => existingCustomerSettingsFromEnv({ EXISTING_CUSTOMER_KEY_SECRET: 'short' }, TIERS)).toThrow(/EXISTING_CUSTOMER_KEY_SECRET must be 32 bytes/);
    const jwk = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd', kid: 'k1' };
    const s = existingCustomerSettingsFromEnv(
      {
        EXISTING_CUSTOMER_ISSUER: 'https://bank.eu.auth0.com/',
        EXISTING_CUSTOMER_KEY_SECRET: KEY,
        EXISTING_CUSTOMER_CLIENT_ID: 'abc',
        EXISTING_CUSTOMER_PRIVATE_KEY_JWK: JSON.stringify(jwk),
        EXISTING_CUSTOMER_SCOPES: 'openid  address https://bank.example/kyc',
        EXISTING_CUSTOMER_CLAIM_MAPPING: JSON.stringify({ tier: { claim: ['https://bank.example/kyc_level'], values: { full: 'kcc-enhanced' } } }),
        EXISTING_CUSTOMER_SECOND_DID_POLICY: 'allow',
        EXISTING_CUSTOMER_DISPLAY_NAME: 'Example Bank',
      },
      TIERS,
    );
    expect(s).toMatchObject({
      clientAuth: { method: 'private_key_jwt', privateJwk: jwk },
      scopes: ['openid', 'address', 'https://bank.example/kyc'],
      secondDidPolicy: 'allow',
    });
    expect(() =>
      existingCustomerSettingsFromEnv(
        {
          EXISTING_CUSTOMER_ISSUER: 'https://b.example',
          EXISTING_CUSTOMER_CLIENT_ID: 'a',
          EXISTING_CUSTOMER_CLAIM_MAPPING: '{',
          EXISTING_CUSTOMER_KEY_SECRET: KEY,
        },
        TIERS,
      ),
    ).toThrow(/JSON/);
    expect(() =>
      existingCustomerSettingsFromEnv(
        {
          EXISTING_CUSTOMER_ISSUER: 'https://b.example',
          EXISTING_CUSTOMER_CLIENT_ID: 'a',
          EXISTING_CUSTOMER_KEY_SECRET: KEY,
          EXISTING_CUSTOMER_CLIENT_SECRET: 's'.repeat(20),
          EXISTING_CUSTOMER_PRIVATE_KEY_JWK: JSON.stringify(jwk),
        },
        TIERS,
      ),
    ).toThrow(/not both/);
  });
});

describe('login transaction and subject digest', () => {
  const random = createPortableDigests();
  const tx = {
    issuer: 'https://bank.example',
    state: 's'.repeat(43),
    nonce: 'n'.repeat(43),
    codeVerifier: 'v'.repeat(43),
    formTokenDigest: 'f'.repeat(43),
    expiresAt: 2_000,
  };

  it('opens only what the same key sealed, and only before it expires', async () => {
    const keys = await deriveExistingCustomerKeys(new Uint8Array(32).fill(1));
    const other = await deriveExistingCustomerKeys(new Uint8Array(32).fill(2));
    const sealed = await sealLoginTransaction({ keys, random }, tx);
    expect(sealed).not.toBe(await sealLoginTransaction({ keys, random }, tx));
    expect(await openLoginTransaction({ keys }, sealed, 1_999)).toEqual(tx);
    expect(await openLoginTransaction({ keys }, sealed, 2_000)).toBe('expired');
    expect(await openLoginTransaction({ keys: other }, sealed, 1_000)).toBeUndefined();
    for (let i = 0; i < sealed.length; i += 37) {
      const flipped = sealed.slice(0, i) + (sealed[i] === 'A' ? 'B' : 'A') + sealed.slice(i + 1);
      expect(await openLoginTransaction({ keys }, flipped, 1_000)).toBeUndefined();
    }
    for (const junk of ['', 'x', 'not base64!'.repeat(10), 'A'.repeat(5000), sealed.slice(0, -4)]) {
      expect(await openLoginTransaction({ keys }, junk, 1_000)).toBeUndefined();
    }
  });

  it('digests a bank customer per issuer and key, without revealing the sub', async () => {
    const keys = await deriveExistingCustomerKeys(new Uint8Array(32).fill(1));
    const other = await deriveExistingCustomerKeys(new Uint8Array(32).fill(2));
    const d = await digestBankSubject(keys, 'https://bank.example', 'customer-42');
    expect(d).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await digestBankSubject(keys, 'https://bank.example', 'customer-42')).toBe(d);
    expect(await digestBankSubject(keys, 'https://other.example', 'customer-42')).not.toBe(d);
    expect(await digestBankSubject(keys, 'https://bank.example', 'customer-43')).not.toBe(d);
    expect(await digestBankSubject(other, 'https://bank.example', 'customer-42')).not.toBe(d);
    await expect(deriveExistingCustomerKeys(new Uint8Array(16))).rejects.toThrow(/32 bytes/);
  });
});
