import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WalletClient } from '../../src/wallet/client';
import { Holder } from '../../src/wallet/holder';
import { signKycStatusAuthorization } from '../../src/wallet/kycAuthorization';
import { startTestBank, type TestBank } from '../helpers/bankProvider';
import { signInThroughIssuer } from '../helpers/bankWebview';
import { openApplication, requestCredential } from '../helpers/idvFlow';
import { createWebCryptoProvider } from '../../src/crypto/webCrypto';
import { applyMigrationsWithWrangler, bundleWorker, freePort, startWorker } from '../helpers/workerd';

/**
 * The bank sign-in through the issuer's own routes in workerd: the worker as wrangler bundles
 * it, D1 migrated by wrangler, the EXISTING_CUSTOMER_* settings as Worker variables, the bank
 * (oidc-provider) on loopback. The IDV page offers the sign-in, the worker is the relying
 * party, the link and the decision land in D1, the wallet gets its KCC with the bank's tier and
 * country, and the KYC status API agrees. (test/worker/existingCustomer.test.ts runs the relying
 * party alone in workerd.)
 */
const ADMIN_TOKEN = 'worker-admin-token-0123456789abcdef0';
const CLIENT_ID = 'kcc-issuer';
const CLIENT_SECRET = 'bank-client-secret-0123456789abcdef';
const KYC_KEY = 'tenant-key-0123456789abcdef0123456789';
const TIERS = {
  defaultTierId: 'kcc-enhanced',
  tiers: [
    { id: 'kcc-basic', name: 'Basic', requiredChecks: ['document_verification'], validityDays: 365 },
    { id: 'kcc-enhanced', name: 'Enhanced', requiredChecks: ['document_verification', 'sanction_screening'], validityDays: 180 },
  ],
};

let dir: string;
let mf: Miniflare;
let url: string;
let bank: TestBank;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kcc-worker-bank-'));
  const persistTo = join(dir, 'state');
  const [scriptPath] = await Promise.all([bundleWorker(join(dir, 'bundle')), applyMigrationsWithWrangler(persistTo)]);
  const signingKey = { ...(await createWebCryptoProvider().generateKeyPair('EdDSA')), kid: 'key-1' };
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  bank = await startTestBank({
    customers: {
      alice: { address: { country: 'PT' }, kyc_tier: 'full', kyc_checks: ['id_document', 'sanctions'] },
      carol: { address: { country: 'PT' }, kyc_tier: 'basic', kyc_checks: ['id_document'] },
    },
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [`${publicUrl}/idv/existing-customer/callback`],
      },
    ],
  });
  ({ mf, url } = await startWorker({
    scriptPath,
    persistTo,
    port,
    bindings: {
      PUBLIC_URL: publicUrl,
      ISSUER_NAME: 'Edge PFI',
      ISSUER_PRIVATE_JWK: JSON.stringify([signingKey]),
      ADMIN_TOKEN,
      PII_DATA_KEY: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8',
      LOG_LEVEL: 'silent',
      KCC_TIERS: JSON.stringify(TIERS),
      KYC_API_KEYS: `rp-one:${KYC_KEY}`,
      EXISTING_CUSTOMER_ISSUER: bank.issuer,
      EXISTING_CUSTOMER_CLIENT_ID: CLIENT_ID,
      EXISTING_CUSTOMER_CLIENT_SECRET: CLIENT_SECRET,
      EXISTING_CUSTOMER_SCOPES: 'openid address kyc',
      EXISTING_CUSTOMER_CLAIM_MAPPING: JSON.stringify({
        tier: { claim: 'kyc_tier', values: { basic: 'kcc-basic', full: 'kcc-enhanced' } },
        checks: { claim: 'kyc_checks', values: { id_document: 'document_verification', sanctions: 'sanction_screening' } },
      }),
      EXISTING_CUSTOMER_DISPLAY_NAME: 'Example Bank',
      EXISTING_CUSTOMER_FALLBACK: 'regular_verification',
      EXISTING_CUSTOMER_KEY_SECRET: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8',
    },
  }));
}, 180_000);

afterAll(async () => {
  await mf?.dispose();
  await bank?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const workerFetch = (input: string, init?: RequestInit) => fetch(input, init);

describe('existing customers through the worker’s routes in workerd', () => {
  it('sign in at the bank → finish page → KCC with the bank’s tier and country; KYC status agrees; a replay issues nothing', async () => {
    const holder = await Holder.create();
    const client = new WalletClient(holder, workerFetch);
    const { pfi, idvRequest } = await openApplication(client, url);
    const signedIn = await signInThroughIssuer(workerFetch, { formUrl: idvRequest.url, publicUrl: url, account: 'alice' });
    expect(signedIn.page).toContain('I already bank with Example Bank — sign in');
    expect(signedIn.callback.status).toBe(303);
    expect(signedIn.callback.headers.get('location')).toBe(`${url}/idv/approved/finish.html`);

    const { first } = await requestCredential(client, pfi.did, idvRequest);
    const vc = decodeJwt(first.credential as string).vc as { credentialSubject: Record<string, unknown>; evidence: { kind: string; type: string[] }[] };
    expect(vc.credentialSubject).toMatchObject({ countryOfResidence: 'PT', tier: 'Enhanced' });
    expect(vc.evidence.find((e) => e.kind === 'existing_customer')?.type).toEqual(['ExistingCustomer']);

    const authorisation = await signKycStatusAuthorization(holder.signer, {
      subject: holder.did,
      tenant: 'rp-one',
      audience: url,
      now: Math.floor(Date.now() / 1000),
    });
    const status = await fetch(`${url}/api/v1/kyc/${encodeURIComponent(holder.did)}/status`, {
      headers: { authorization: `Bearer ${KYC_KEY}`, 'kyc-subject-authorization': authorisation },
    });
    expect(await status.json()).toEqual({ kyc_status: 'verified', kyc_tier: 'kcc-enhanced', aml_clear: true });

    const replay = await fetch(signedIn.back, { headers: { cookie: `kcc_bank_login=${signedIn.transaction}` }, redirect: 'manual' });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('nothing was issued');
  }, 60_000);

  it('cancel at the bank: back to the choice page; evidence short of the applied-for tier: the regular verification; nothing issued', async () => {
    const client = new WalletClient(await Holder.create(), workerFetch);
    const { pfi, idvRequest } = await openApplication(client, url);
    const cancelled = await signInThroughIssuer(workerFetch, { formUrl: idvRequest.url, publicUrl: url, account: 'alice', cancel: true });
    expect(cancelled.callback.status).toBe(303);
    expect(cancelled.callback.headers.get('location')).toBe(idvRequest.url);
    // Carol's bank KYC covers Basic, not the Enhanced she applied for: regular verification can cure that.
    const short = await signInThroughIssuer(workerFetch, { formUrl: idvRequest.url, publicUrl: url, account: 'carol', jar: cancelled.jar });
    expect(short.callback.headers.get('location')).toBe(`${idvRequest.url}?bank=fallback`);
    expect((await requestCredential(client, pfi.did, idvRequest)).first.credential).toBeUndefined();
  }, 60_000);
});
