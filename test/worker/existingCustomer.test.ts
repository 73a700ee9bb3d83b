import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInAtBank, startTestBank, type TestBank } from '../helpers/bankProvider';
import { ROOT, wranglerToml } from '../helpers/workerd';

/**
 * The existing-customer relying party in workerd: bundled by esbuild with the Workers
 * conditions wrangler uses (workerd, worker, browser), without nodejs_compat, so openid-client,
 * jose and our code must get by with fetch and Web Crypto. The bank (oidc-provider) runs on
 * loopback; the worker discovers it, starts a login, and finishes it from the callback.
 */
const REDIRECT_URI = 'https://issuer.example/idv/existing-customer/callback';

describe('existing-customer sign-in in workerd', () => {
  let bank: TestBank;
  let mf: Miniflare;
  let dir: string;
  let bundle: string;

  beforeAll(async () => {
    bank = await startTestBank({
      customers: { alice: { address: { country: 'PT' }, kyc_tier: 'basic', kyc_checks: ['id_document'] } },
      clients: [
        {
          client_id: 'kcc-issuer',
          client_secret: 'bank-client-secret-0123456789abcdef',
          token_endpoint_auth_method: 'client_secret_basic',
          redirect_uris: [REDIRECT_URI],
        },
      ],
    });
    dir = mkdtempSync(join(tmpdir(), 'kcc-bank-worker-'));
    await build({
      entryPoints: [join(ROOT, 'test/worker/existingCustomerWorker.ts')],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      conditions: ['workerd', 'worker', 'browser'],
      mainFields: ['browser', 'module', 'main'],
      target: 'es2022',
      outfile: join(dir, 'worker.js'),
      logLevel: 'silent',
    });
    bundle = readFileSync(join(dir, 'worker.js'), 'utf8');
    mf = new Miniflare({
      modules: true,
      scriptPath: join(dir, 'worker.js'),
      modulesRoot: dir,
      compatibilityDate: wranglerToml().compatibilityDate,
      bindings: {
        SETTINGS: JSON.stringify({
          displayName: 'Example Bank',
          issuer: bank.issuer,
          clientId: 'kcc-issuer',
          clientAuth: { method: 'client_secret_basic', clientSecret: 'bank-client-secret-0123456789abcdef' },
          scopes: ['openid', 'address', 'kyc'],
          claimMapping: {
            tier: { claim: 'kyc_tier', values: { basic: 'kcc-basic' } },
            checks: { claim: 'kyc_checks', values: { id_document: 'document_verification' } },
          },
        }),
        KEY_SECRET_HEX: '42'.repeat(32),
        REDIRECT_URI,
      },
      cf: false,
    });
    await mf.ready;
  }, 60_000);
  afterAll(async () => {
    await mf?.dispose();
    await bank?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const call = async (path: string, body: unknown) => {
    const res = await mf.dispatchFetch(`http://worker${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it('bundles without node: imports and completes a login with fetch and Web Crypto only', async () => {
    expect(bundle).not.toMatch(/from\s*["']node:|require\(["'](node:)?(crypto|http|https|buffer|util)["']\)/);
    const begun = await call('/begin', { formTokenDigest: 'ftd-worker' });
    expect(begun.status).toBe(200);
    const callbackUrl = await signInAtBank(begun.json.authorizationUrl as string, REDIRECT_URI, 'alice');
    const done = await call('/complete', { callbackUrl, transaction: begun.json.transaction });
    expect(done).toMatchObject({ status: 200, json: { status: 'verified', countryOfResidence: 'PT', tierId: 'kcc-basic', formTokenDigest: 'ftd-worker' } });
    // The replayed callback is refused in workerd too.
    expect(await call('/complete', { callbackUrl, transaction: begun.json.transaction })).toMatchObject({ status: 400, json: { rejected: 'invalid_grant' } });
  }, 60_000);
});
