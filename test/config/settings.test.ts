import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configFromSettings, configWarnings, resolveConfig } from '../../src/config';
import { idvDepsFromSettings } from '../../src/idv/fromSettings';
import { parseDataKey } from '../../src/idv/piiVault';
import { makeTestIssuer, PUBLIC_URL } from '../helpers/issuer';

/** Settings a PFI sets without editing code (src/config.ts configFromSettings), validated at start. */
const resolve = (env: Record<string, string>, publicUrl = PUBLIC_URL) => resolveConfig({ publicUrl, ...configFromSettings(env) });

describe('settings from the environment', () => {
  it('maps jurisdiction, validity, every lifetime, client_metadata and Workers tiers', () => {
    const config = resolve({
      KCC_JURISDICTION: 'DE',
      KCC_VALIDITY_DAYS: '180',
      TTL_SIOP_REQUEST_SECONDS: '300',
      TTL_PRE_AUTHORIZED_CODE_SECONDS: '5400',
      TTL_IDV_FORM_SECONDS: '1800',
      TTL_ACCESS_TOKEN_SECONDS: '3600',
      TTL_C_NONCE_SECONDS: '120',
      ISSUER_LOGO_URI: 'https://pfi.example/logo.png',
      ISSUER_TOS_URI: 'https://pfi.example/tos',
      ISSUER_POLICY_URI: 'https://pfi.example/privacy',
      ISSUER_CONTACTS: 'kyc@pfi.example, dpo@pfi.example',
      KCC_TIERS: JSON.stringify({ tiers: [{ id: 'basic', name: 'Basic', requiredChecks: ['document_verification'], validityDays: 90 }] }),
    });
    expect(config.credential).toMatchObject({ jurisdictionCountry: 'DE', validityDays: 180 });
    expect(config.ttl).toEqual({ siopRequest: 300, preAuthorizedCode: 5400, idvForm: 1800, accessToken: 3600, cNonce: 120 });
    expect(config.clientMetadata).toEqual({
      logoUri: 'https://pfi.example/logo.png',
      tosUri: 'https://pfi.example/tos',
      policyUri: 'https://pfi.example/privacy',
      contacts: ['kyc@pfi.example', 'dpo@pfi.example'],
    });
    expect(config.tiers.map((t) => t.id)).toEqual(['basic']);
  });

  it('fails at start with a message naming the variable', () => {
    expect(() => resolve({}, 'notaurl')).toThrow(/PUBLIC_URL must be an absolute http\(s\) URL/);
    expect(() => resolve({ LOG_LEVEL: 'verbose' })).toThrow(/LOG_LEVEL must be one of debug, info, warn, error, silent/);
    expect(() => resolve({ KCC_JURISDICTION: 'Germany' })).toThrow(/KCC_JURISDICTION/);
    expect(() => resolve({ KCC_VALIDITY_DAYS: 'a year' })).toThrow(/KCC_VALIDITY_DAYS must be a positive number/);
    expect(() => resolve({ TTL_C_NONCE_SECONDS: '-1' })).toThrow(/TTL_C_NONCE_SECONDS/);
    expect(() => resolve({ TTL_PRE_AUTHORIZED_CODE_SECONDS: '600' })).toThrow(/must outlive ttl\.idvForm/);
    expect(() => resolve({ ISSUER_LOGO_URI: 'logo.png' })).toThrow(/ISSUER_LOGO_URI must be an https URL/);
    expect(() => resolve({ KCC_TIERS: '{nope' })).toThrow(/KCC_TIERS must be JSON/);
    expect(() => resolve({ KCC_TIERS: '{"tiers":[]}' })).toThrow(/KCC_TIERS: tiers configuration/);
    expect(() => resolve({ KYC_API_KEYS: 'short' })).toThrow(/KYC_API_KEYS/);
    expect(() => parseDataKey('c2hvcnQ')).toThrow(/PII_DATA_KEY must be 32 bytes/);
  });

  it('wires Incode from INCODE_* (Node env or Workers vars) and refuses bad values at start', async () => {
    const key = new Uint8Array(32).fill(3);
    const incode = {
      INCODE_CLIENT_ID: 'client',
      INCODE_CLIENT_SECRET: 'secret',
      INCODE_ISSUER: 'https://auth.demo.incode.com/',
      INCODE_TOKEN_AUTH_METHOD: 'client_secret_basic',
    };
    const deps = await idvDepsFromSettings(incode, key);
    const provider = deps.vendors.get('incode');
    expect(provider?.capabilities).toMatchObject({ collectsPii: 'vendor', webhooks: false, manualReview: true });
    const session = await provider!.createSession({
      applicationId: 'a',
      idempotencyKey: 'k',
      redirectUrl: 'https://kcc.example/idv/finish.html',
      entryUrl: 'https://kcc.example/idv/form/t',
      callbackUrl: 'https://kcc.example/idv/callback/incode',
    });
    expect(session.url).toMatch(/^https:\/\/auth\.demo\.incode\.com\/oauth2\/authorize\?client_id=client&/);
    expect((await idvDepsFromSettings({}, key)).vendors.has('incode')).toBe(false);
    await expect(idvDepsFromSettings({ INCODE_CLIENT_ID: 'client' }, key)).rejects.toThrow(/INCODE_CLIENT_SECRET/);
    await expect(idvDepsFromSettings({ ...incode, INCODE_ISSUER: 'http://auth.incode.com' }, key)).rejects.toThrow(/INCODE_ISSUER/);
    await expect(idvDepsFromSettings({ ...incode, INCODE_TOKEN_AUTH_METHOD: 'none' }, key)).rejects.toThrow(/INCODE_TOKEN_AUTH_METHOD/);
    await expect(idvDepsFromSettings({ ...incode, INCODE_SCOPE: 'profile' }, key)).rejects.toThrow(/INCODE_SCOPE/);
    expect(resolve({ IDV_PROVIDER: 'incode' }).idv.provider).toBe('incode');
  });

  it('warns loudly when an https PUBLIC_URL is served by the sandbox IDV', () => {
    expect(configWarnings(resolve({}, 'https://kcc.pfi.example'))).toEqual([expect.stringMatching(/sandbox IDV approves every applicant/)]);
    expect(configWarnings(resolve({}))).toEqual([]);
    expect(configWarnings(resolve({ IDV_PROVIDER: 'persona' }, 'https://kcc.pfi.example'))).toEqual([]);
  });

  it('client_metadata of the SIOPv2 request carries logo_uri, contacts, tos_uri and policy_uri', async () => {
    const t = await makeTestIssuer({
      config: {
        clientMetadata: {
          logoUri: 'https://pfi.example/logo.png',
          tosUri: 'https://pfi.example/tos',
          policyUri: 'https://pfi.example/privacy',
          contacts: ['kyc@pfi.example'],
        },
      },
    });
    const res = await t.app.request(`${PUBLIC_URL}/idv/siopv2/initiate`, { headers: { accept: 'application/json' } });
    const body = (await res.json()) as { client_metadata: Record<string, unknown> };
    expect(body.client_metadata).toMatchObject({
      logo_uri: 'https://pfi.example/logo.png',
      tos_uri: 'https://pfi.example/tos',
      policy_uri: 'https://pfi.example/privacy',
      contacts: ['kyc@pfi.example'],
    });
  });

  it('npm start runs the server in the foreground node process (kill -HUP reaches it), no wrapper', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe('node --import tsx src/runtime/node.ts');
  });
});
