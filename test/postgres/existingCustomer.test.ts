import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/runtime/postgres';
import { WalletClient } from '../../src/wallet/client';
import { Holder } from '../../src/wallet/holder';
import { signKycStatusAuthorization } from '../../src/wallet/kycAuthorization';
import { startTestBank, type TestBank } from '../helpers/bankProvider';
import { signInThroughIssuer } from '../helpers/bankWebview';
import { openApplication, requestCredential } from '../helpers/idvFlow';
import { ADMIN_TOKEN, makeTestIssuer, PUBLIC_URL, testClock } from '../helpers/issuer';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres';
import { TIERS } from '../helpers/tiers';

/**
 * The bank sign-in end to end on PostgreSQL (the store of production deployments): the form
 * link consumed once, the DID ↔ bank-customer link and its second-DID policy, the KCC with the
 * bank's tier and country, and the KYC status API agreeing with it, all in PostgreSQL.
 */
const CLIENT_ID = 'kcc-issuer';
const CLIENT_SECRET = 'bank-client-secret-0123456789abcdef';
const KYC_KEY = 'tenant-key-0123456789abcdef0123456789';

let server: TestPostgres;
let bank: TestBank;
beforeAll(async () => {
  server = await startTestPostgres();
  bank = await startTestBank({
    customers: {
      alice: { address: { country: 'nl' }, kyc_tier: 'full', kyc_checks: ['id_document', 'sanctions'] },
      carol: { address: { country: 'NL' }, kyc_tier: 'basic', kyc_checks: ['id_document'] },
    },
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [`${PUBLIC_URL}/idv/existing-customer/callback`],
      },
    ],
  });
}, 60_000);
afterAll(async () => {
  await bank?.close();
  await server?.stop();
});

describe('existing customers on PostgreSQL', () => {
  it('sign in at the bank → KCC with the bank’s tier and country; a second DID goes to review; a replayed callback issues nothing; KCC, record and KYC status agree; a Basic bank customer cannot be approved beyond Basic', async () => {
    const pg = await openPostgres(await server.createDatabase(), { poolSize: 4 });
    try {
      const clock = testClock();
      const t = await makeTestIssuer({
        clock,
        store: pg.store,
        config: { tiers: TIERS, defaultTierId: 'kcc-enhanced', kycApiKeys: [`rp-one:${KYC_KEY}`] },
        existingCustomer: {
          issuer: bank.issuer,
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          scopes: 'openid address kyc',
          claimMapping: {
            tier: { claim: 'kyc_tier', values: { basic: 'kcc-basic', full: 'kcc-enhanced' } },
            checks: { claim: 'kyc_checks', values: { id_document: 'document_verification', sanctions: 'sanction_screening' } },
          },
          displayName: 'Example Bank',
          secondDidPolicy: 'review',
          fallback: 'review',
          loginTtlSeconds: 600,
          keySecret: new Uint8Array(32).fill(3),
        },
      });
      const fetchIssuer = (input: string, init?: RequestInit) => Promise.resolve(t.app.request(input, init));

      // Alice: Enhanced at her bank, applying for Enhanced.
      const holder = await Holder.create();
      const client = new WalletClient(holder, t.fetch);
      const { pfi, idvRequest } = await openApplication(client, PUBLIC_URL);
      const first = await signInThroughIssuer(fetchIssuer, { formUrl: idvRequest.url, publicUrl: PUBLIC_URL, account: 'alice' });
      expect(first.callback.status).toBe(303);
      expect(first.callback.headers.get('location')).toBe(`${PUBLIC_URL}/idv/approved/finish.html`);
      const { first: issued } = await requestCredential(client, pfi.did, idvRequest);
      const vc = decodeJwt(issued.credential as string).vc as { credentialSubject: Record<string, unknown>; evidence: { kind: string }[] };
      expect(vc.credentialSubject).toMatchObject({ countryOfResidence: 'NL', tier: 'Enhanced' });
      const record = await pg.store.applications.listForApplicant(holder.did, 5);
      expect(record[0]).toMatchObject({ status: 'approved', tier: 'Enhanced', countryOfResidence: 'NL', idvProvider: 'existing_customer' });
      const authorisation = await signKycStatusAuthorization(holder.signer, {
        subject: holder.did,
        tenant: 'rp-one',
        audience: PUBLIC_URL,
        now: Math.floor(clock() / 1000),
      });
      const status = await t.app.request(`${PUBLIC_URL}/api/v1/kyc/${encodeURIComponent(holder.did)}/status`, {
        headers: { authorization: `Bearer ${KYC_KEY}`, 'kyc-subject-authorization': authorisation },
      });
      expect(await status.json()).toEqual({ kyc_status: 'verified', kyc_tier: 'kcc-enhanced', aml_clear: true });

      // Alice again, with another DID: linked to the same bank customer, so review (the policy).
      const second = new WalletClient(await Holder.create(), t.fetch);
      const app2 = await openApplication(second, PUBLIC_URL);
      const again = await signInThroughIssuer(fetchIssuer, { formUrl: app2.idvRequest.url, publicUrl: PUBLIC_URL, account: 'alice' });
      expect(again.callback.headers.get('location')).toBe(`${PUBLIC_URL}/idv/review/finish.html`);
      expect((await requestCredential(second, app2.pfi.did, app2.idvRequest)).first.credential).toBeUndefined();
      const [secondApp] = await pg.store.applications.listForApplicant(second.holder.did, 1);
      expect(secondApp).toMatchObject({ status: 'review', decisionReason: 'existing_customer:second_did' });
      const digestOf = async (applicationId: string) =>
        (await pg.store.audit.listForApplication(applicationId)).find((a) => a.action === 'existing_customer.verified')?.detail?.subject_digest as string;
      const digest = await digestOf(record[0].id);
      expect(digest).toMatch(/^[\w-]{20,}$/);
      expect(await digestOf(secondApp.id)).toBe(digest);
      expect(await pg.store.existingCustomerLinks.otherDids(digest, second.holder.did)).toEqual([holder.did]);

      // A replay of Alice's first callback (cookie and code) is refused: nothing more is issued.
      const replay = await t.app.request(first.back, { headers: { cookie: `kcc_bank_login=${first.transaction}` }, redirect: 'manual' });
      expect(replay.status).toBe(400);
      expect(await replay.text()).toContain('nothing was issued');
      expect(await pg.store.issuedCredentials.listForApplication(record[0].id)).toHaveLength(1);

      // Carol's bank KYC is Basic: applying for Enhanced, her evidence does not cover it (review, as
      // configured). An operator cannot grant Enhanced on it either, only Basic.
      const carol = new WalletClient(await Holder.create(), t.fetch);
      const app3 = await openApplication(carol, PUBLIC_URL);
      const third = await signInThroughIssuer(fetchIssuer, { formUrl: app3.idvRequest.url, publicUrl: PUBLIC_URL, account: 'carol' });
      expect(third.callback.headers.get('location')).toBe(`${PUBLIC_URL}/idv/review/finish.html`);
      const [carolApp] = await pg.store.applications.listForApplicant(carol.holder.did, 1);
      expect(carolApp.decisionReason).toContain('existing_customer:evidence_insufficient');
      const decide = (body: object) =>
        t.app.request(`${PUBLIC_URL}/admin/applications/${carolApp.id}/decision`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const refused = await decide({ decision: 'approve', tier: 'Enhanced' });
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { error_description: string }).error_description).toContain('missing sanction_screening');
      expect((await decide({ decision: 'approve', tier: 'Basic' })).status).toBe(200);
      const carolKcc = (await requestCredential(carol, app3.pfi.did, app3.idvRequest)).first.credential as string;
      expect((decodeJwt(carolKcc).vc as { credentialSubject: { tier: string } }).credentialSubject.tier).toBe('Basic');
    } finally {
      await pg.close();
    }
  }, 90_000);
});
