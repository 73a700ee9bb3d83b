import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import { createWebCryptoProvider } from '../../src/crypto/webCrypto';
import { createPiiVault, parseDataKey } from '../../src/idv/piiVault';
import { WalletClient } from '../../src/wallet/client';
import { Holder } from '../../src/wallet/holder';
import { type Ca, type Leaf, issueMdl, makeCa, makeHolderKey, makeLeaf, presentMdl, presentSdJwtVc, sdJwtVcIssuer } from '../helpers/presentedCredentials';
import { applyMigrationsWithWrangler, bundleWorker, freePort, startWorker } from '../helpers/workerd';

/**
 * Credentials people already hold, through the worker as it deploys (`wrangler deploy --dry-run`
 * bundle, D1 migrated by wrangler, workerd via miniflare, no nodejs_compat): the SIOPv2 request
 * of a tier that accepts them, the wallet's direct_post with a PID (SD-JWT VC, x5c) or an mDL
 * (DeviceResponse over the OpenID4VP handover), the application approved (at once, or after the
 * form that shows the mDL's values read-only), the claims sealed in D1, and the KCC issued.
 */
const ADMIN_TOKEN = 'worker-admin-token-0123456789abcdef0';
const PII_DATA_KEY = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
const PID_ISS = 'https://pid.example.eu';

let dir: string;
let mf: Miniflare;
let url: string;
let pidCa: Ca;
let iaca: Ca;
let pidProvider: Leaf;
let ds: Leaf;
let wallet: Awaited<ReturnType<typeof makeHolderKey>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kcc-held-worker-'));
  const persistTo = join(dir, 'state');
  pidCa = await makeCa('CN=PID CA, C=DE');
  iaca = await makeCa('CN=IACA, C=US');
  pidProvider = await makeLeaf(pidCa, 'CN=PID Provider, C=DE', { sanUrl: PID_ISS });
  ds = await makeLeaf(iaca, 'CN=DS, C=US');
  wallet = await makeHolderKey();
  const [scriptPath] = await Promise.all([bundleWorker(join(dir, 'bundle')), applyMigrationsWithWrangler(persistTo)]);
  const port = await freePort();
  ({ mf, url } = await startWorker({
    scriptPath,
    persistTo,
    port,
    bindings: {
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      ISSUER_NAME: 'Edge PFI',
      ISSUER_PRIVATE_JWK: JSON.stringify([{ ...(await createWebCryptoProvider().generateKeyPair('EdDSA')), kid: 'key-1' }]),
      ADMIN_TOKEN,
      PII_DATA_KEY,
      LOG_LEVEL: 'silent',
      KCC_TIERS: JSON.stringify({
        tiers: [
          { id: 'kcc-held', name: 'Basic', requiredChecks: ['document_verification'], validityDays: 365, acceptsCredentials: ['eu-pid', 'mdl'] },
          {
            id: 'kcc-held-enhanced',
            name: 'Enhanced',
            requiredChecks: ['document_verification', 'sanction_screening'],
            validityDays: 180,
            acceptsCredentials: ['eu-pid', 'mdl'],
          },
        ],
      }),
      PRESENTED_CREDENTIAL_TRUST: JSON.stringify({
        trustAnchors: { 'pid-ca': pidCa.pem, iaca: iaca.pem },
        sdJwtVc: [{ id: 'eu-pid', name: 'EU PID', vct: 'urn:eudi:pid:1', x5cTrustAnchors: ['pid-ca'], satisfies: ['document_verification'] }],
        mdoc: [{ id: 'mdl', name: 'Mobile driving licence', docType: 'org.iso.18013.5.1.mDL', iacaRoots: ['iaca'], satisfies: ['document_verification'] }],
      }),
    },
  }));
}, 180_000);

afterAll(async () => {
  await mf?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const admin = async (path: string) => (await (await fetch(`${url}/admin${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as any;

async function start(tier: string) {
  const holder = await Holder.create();
  const client = new WalletClient(holder, (input, init) => fetch(input, init));
  const pfi = await client.discover(url);
  const request = await client.initiate(pfi.idvEndpoint, pfi, { presentationDefinitionId: tier });
  const idToken = await holder.createIdToken({ clientId: request.client_id, nonce: request.nonce, now: Math.floor(Date.now() / 1000) });
  const post = async (params: Record<string, unknown>) => {
    const res = await fetch(`${url}/idv/siopv2/response`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id_token: idToken, ...params }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const applicationOf = async () => {
    const list = (await admin('/applications?status=approved')).applications as { id: string; applicant_did: string }[];
    return list.find((a) => a.applicant_did === holder.did);
  };
  const redeem = async (offer: any) => {
    const code = offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
    const token = await client.token(`${url}/oauth2/token`, code);
    const credential = await client.credential(`${url}/oid4vci/credential`, token.access_token, url, token.c_nonce as string);
    return decodeJwt(credential.credential as string).payload.vc as any;
  };
  return { client, holder, request, post, applicationOf, redeem };
}

async function sealedClaims(applicationId: string) {
  const d1 = await mf.getD1Database('DB');
  const row = (await d1.prepare('SELECT key_id, ciphertext, purge_after FROM presented_claims WHERE application_id = ?').bind(applicationId).first()) as {
    key_id: string;
    ciphertext: string;
    purge_after: number | null;
  } | null;
  const vault = await createPiiVault(parseDataKey(PII_DATA_KEY));
  return { row, opened: row?.ciphertext ? await vault.open(applicationId, row.ciphertext, row.key_id) : undefined };
}

describe('credentials people already hold, in workerd', () => {
  it('a PID answering the SIOPv2 request approves the application at once; the KCC carries its evidence and country; the claims are sealed in D1', async () => {
    const s = await start('kcc-held');
    expect(s.request.response_type).toBe('id_token vp_token');
    expect(s.request.presentation_definition?.id).toBe('kcc-held-held');
    const now = Math.floor(Date.now() / 1000);
    const pid = await sdJwtVcIssuer(pidProvider.privateJwk, { typ: 'dc+sd-jwt', x5c: [Buffer.from(pidProvider.der).toString('base64')] }).issue({
      vct: 'urn:eudi:pid:1',
      iss: PID_ISS,
      iat: now - 60,
      exp: now + 86400,
      cnf: { jwk: wallet.publicJwk },
      given_name: 'Erika',
      family_name: 'Mustermann',
      birthdate: '1964-08-12',
      nationalities: ['DE'],
      address: { country: 'DE' },
    });
    const submission = { id: 's1', definition_id: 'kcc-held-held', descriptor_map: [{ id: 'eu-pid', format: 'vc+sd-jwt', path: '$' }] };
    // Bound to another nonce: refused, nothing opened.
    const refused = await s.post({
      vp_token: await presentSdJwtVc(pid, wallet.privateJwk, { aud: s.request.client_id, nonce: 'another-nonce' }),
      presentation_submission: submission,
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_request');
    expect(await s.applicationOf()).toBeUndefined();

    const res = await s.post({
      vp_token: await presentSdJwtVc(pid, wallet.privateJwk, { aud: s.request.client_id, nonce: s.request.nonce }),
      presentation_submission: submission,
    });
    expect(res.status).toBe(200);
    expect(res.body.url).toBe(`${url}/idv/finish.html`);
    const application = await s.applicationOf();
    expect(application).toBeDefined();
    const detail = await admin(`/applications/${application!.id}`);
    expect(detail.prefill.verified_evidence[0]).toMatchObject({ kind: 'document_verification', checks: ['verified_credential'], source: 'eu-pid' });
    const sealed = await sealedClaims(application!.id);
    expect(sealed.row?.purge_after).toBeGreaterThan(now);
    for (const value of ['Erika', 'Mustermann', '1964-08-12']) expect(sealed.row?.ciphertext).not.toContain(value);
    expect(sealed.opened).toEqual({
      fields: { given_name: 'Erika', family_name: 'Mustermann', birthdate: '1964-08-12', country_of_residence: 'DE' },
      nationality: 'DE',
      credentials: ['EU PID'],
    });

    const vc = await s.redeem(res.body.credential_offer);
    expect(vc.credentialSubject).toMatchObject({ id: s.holder.did, countryOfResidence: 'DE', tier: 'Basic' });
    expect(vc.evidence).toEqual([expect.objectContaining({ kind: 'document_verification', checks: ['verified_credential'] })]);
  });

  it('an mDL covers document verification of the enhanced tier: the form shows its values read-only, posted values do not override them, and the KCC is issued', async () => {
    const s = await start('kcc-held-enhanced');
    const mdl = await issueMdl(ds, wallet.publicJwk, { family_name: 'Doe', given_name: 'Jane', issuing_country: 'US', resident_country: 'US' });
    const res = await s.post({
      vp_token: await presentMdl(mdl, wallet.privateJwk, { clientId: s.request.client_id, nonce: s.request.nonce, responseUri: s.request.response_uri }, [
        'given_name',
        'family_name',
        'resident_country',
      ]),
      presentation_submission: {
        id: 's2',
        definition_id: 'kcc-held-enhanced-held',
        descriptor_map: [{ id: 'org.iso.18013.5.1.mDL', format: 'mso_mdoc', path: '$' }],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.url).toContain('/idv/form/');
    const page = await fetch(res.body.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ consent: 'accept', step: 'consent' }),
    });
    const html = await page.text();
    expect(html).toContain('<input type="text" id="given_name" readonly aria-describedby="vouched-note" value="Jane">');
    expect(html).toContain('<input type="text" id="country_of_residence" readonly aria-describedby="vouched-note" value="United States">');
    expect(html).not.toContain('name="document_number"');
    const form = await s.client.submitIdvForm(res.body.url, {
      given_name: 'Mallory',
      family_name: 'Evilson',
      birthdate: '1990-04-01',
      country_of_residence: 'FR',
    });
    expect(form.status).toBe(200);
    const application = await s.applicationOf();
    expect(application).toBeDefined();
    const detail = await admin(`/applications/${application!.id}`);
    expect(detail.country_of_residence).toBe('US');
    const d1 = await mf.getD1Database('DB');
    const pii = (await d1.prepare('SELECT key_id, ciphertext, purge_after FROM idv_pii WHERE application_id = ?').bind(application!.id).first()) as {
      key_id: string;
      ciphertext: string;
      purge_after: number;
    };
    const vault = await createPiiVault(parseDataKey(PII_DATA_KEY));
    expect(await vault.open(application!.id, pii.ciphertext, pii.key_id)).toEqual({
      given_name: 'Jane',
      family_name: 'Doe',
      birthdate: '1990-04-01',
      country_of_residence: 'US',
    });
    expect((await sealedClaims(application!.id)).row?.purge_after).toBe(pii.purge_after);

    const vc = await s.redeem(res.body.credential_offer);
    expect(vc.credentialSubject).toMatchObject({ countryOfResidence: 'US', tier: 'Enhanced' });
    expect(vc.evidence.map((e: any) => e.kind).sort()).toEqual(['document_verification', 'sanction_screening']);
  });
});
