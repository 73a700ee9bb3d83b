import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import publishedSchema from '../../schemas/kcc.schema.json';
import { decodeJwt, verifyJwtSignature } from '../../src/crypto/jwt';
import { parsePublicJwk } from '../../src/crypto/keys';
import { createWebCryptoProvider } from '../../src/crypto/webCrypto';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { configFromSettings } from '../../src/config';
import { PUBLIC_URL, makeTestIssuer } from '../helpers/issuer';
import { admin, applicationIdOf, credentialRequest, deferredRequest, openApplication, proofBody, redeem, submitIdentity } from '../helpers/steps';

const exampleKcc = JSON.parse(readFileSync(new URL('../fixtures/kcc-example-credential.decoded.json', import.meta.url), 'utf8'));
/** The default tier, and a second one an operator may decide on. */
const STANDARD_TIER = { id: 'KnownCustomerCredential', name: 'Standard', requiredChecks: ['document_verification'], validityDays: 365 };

/** The published schema's DID pattern has `.-_` (a range that excludes `-`); this copy fixes it. */
function correctedSchema() {
  const text = JSON.stringify(publishedSchema).replaceAll('a-zA-Z0-9.-_:', 'a-zA-Z0-9._:-');
  return JSON.parse(text);
}

function ajv() {
  const a = new Ajv({ allErrors: true, strict: false });
  addFormats(a);
  return a;
}

/** Verifies a KCC against the PFI DID document served by the issuer, as a relying party would. */
async function verifyAgainstDidDocument(fetch: (u: string) => Promise<Response>, jwt: string) {
  const decoded = decodeJwt(jwt);
  const iss = decoded.payload.iss as string;
  const docUrl = `${PUBLIC_URL}/.well-known/did.json`;
  const doc = (await (await fetch(docUrl)).json()) as any;
  expect(doc.id).toBe(iss);
  const vm = doc.verificationMethod.find((v: any) => v.id === decoded.header.kid);
  expect(vm, 'kid is a verification method of the PFI DID').toBeTruthy();
  expect(doc.assertionMethod).toContain(decoded.header.kid);
  await verifyJwtSignature(decoded, parsePublicJwk(vm.publicKeyJwk)!, createWebCryptoProvider());
  return decoded;
}

describe('the whole flow, in-process (wallet fetch wired into app.request)', () => {
  it('immediate issuance: discovery → SIOPv2 → IDV form → token → credential', async () => {
    const t = await makeTestIssuer();
    const holder = await Holder.create();
    const steps: string[] = [];
    const result = await applyForKcc(new WalletClient(holder, t.fetch), { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY, onStep: (s) => steps.push(s.step) });
    expect(steps).toEqual(['discovered', 'siop_request_verified', 'idv_request', 'idv_submitted', 'metadata', 'token', 'credential']);
    expect(result.deferred).toBe(false);
    const kcc = await verifyAgainstDidDocument(t.fetch, result.credential!);
    const { header, payload } = kcc;
    expect(header.alg).toBe('EdDSA');
    expect(payload.iss).toBe('did:web:issuer.test');
    expect(payload.sub).toBe(holder.did);
    const vc = payload.vc as any;
    expect(vc.type).toEqual(['VerifiableCredential', 'KnownCustomerCredential']);
    expect(vc.id).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    expect(payload.jti).toBe(vc.id);
    expect(vc.issuer).toBe(payload.iss);
    expect(vc.credentialSubject).toEqual({ id: holder.did, countryOfResidence: 'US', tier: 'Standard', jurisdiction: { country: 'US' } });
    // The published schema's id, as the spec's example KCC carries it (test/fixtures).
    expect(vc.credentialSchema).toEqual(exampleKcc.payload.vc.credentialSchema);
    expect(vc.credentialSchema).toEqual([{ id: 'https://vc.schemas.host/kcc.schema.json', type: 'JsonSchema' }]);
    expect(vc.evidence).toEqual([{ type: ['DocumentVerification'], kind: 'document_verification', checks: ['passport'] }]);
    expect(payload.nbf).toBe(payload.iat);
    expect(Date.parse(vc.issuanceDate) / 1000).toBe(payload.nbf);
    expect(Date.parse(vc.expirationDate) / 1000).toBe(payload.exp);
    expect((payload.exp as number) - (payload.nbf as number)).toBe(365 * 86400);
    // The issued record exists (digest only).
    expect(await t.deps.store.issuedCredentials.count()).toBe(1);
  });

  it('the KCC validates against the KCC schema (corrected copy; the published one rejects DIDs containing "-")', async () => {
    const validateCorrected = ajv().compile(correctedSchema());
    const validatePublished = ajv().compile(publishedSchema);
    // A did:web with a hyphenated host shows the published schema's bug: `.-_` is a range without '-'.
    for (const publicUrl of ['http://issuer.test', 'http://kcc-issuer.test']) {
      const t = await makeTestIssuer({ config: { publicUrl } });
      const r = await applyForKcc(new WalletClient(await Holder.create(), t.fetch), { issuer: publicUrl, identity: SAMPLE_IDENTITY });
      const vc = decodeJwt(r.credential!).payload.vc as any;
      expect(validateCorrected(vc), JSON.stringify(validateCorrected.errors)).toBe(true);
      expect(validatePublished(vc)).toBe(!vc.issuer.includes('-'));
    }
    // The schema we serve is the published one, unchanged.
    const t = await makeTestIssuer();
    const served = await (await t.fetch(`${PUBLIC_URL}/schemas/kcc.schema.json`)).json();
    expect(served).toEqual(JSON.parse(readFileSync(new URL('../fixtures/kcc.schema.json', import.meta.url), 'utf8')));
  });

  it('KCC_SCHEMA_ID (the settings mapping Node and Workers share) sets credentialSchema.id; a relative id is refused', async () => {
    const own = `${PUBLIC_URL}/schemas/kcc.schema.json`;
    const t = await makeTestIssuer({ config: configFromSettings({ KCC_SCHEMA_ID: own }) });
    const r = await applyForKcc(new WalletClient(await Holder.create(), t.fetch), { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY });
    expect((decodeJwt(r.credential!).payload.vc as any).credentialSchema).toEqual([{ id: own, type: 'JsonSchema' }]);
    expect(configFromSettings({}).credential?.schemaId).toBeUndefined();
    expect(() => configFromSettings({ KCC_SCHEMA_ID: '/schemas/kcc.schema.json' })).toThrow(/KCC_SCHEMA_ID/);
  });

  it('deferred issuance: "Review" → 202 transaction_id → issuance_pending → operator approves → credential once', async () => {
    const t = await makeTestIssuer({ config: { tiers: [STANDARD_TIER, { ...STANDARD_TIER, id: 'Gold', name: 'Gold' }] } });
    const { holder, client, idvRequest, code } = await openApplication(t);
    const form = await submitIdentity(t, client, idvRequest, { ...SAMPLE_IDENTITY, family_name: 'Review' });
    expect(form.status).toBe(200);
    expect(form.location).toMatch(/finish\.html$/);
    const token = await redeem(t, holder, code);
    const first = await credentialRequest(t, token.access_token, await proofBody(holder, token.c_nonce));
    expect(first.status).toBe(202);
    expect(first.body.transaction_id).toEqual(expect.any(String));
    expect(first.body.credential).toBeUndefined();
    const txId = first.body.transaction_id;

    const pending = await deferredRequest(t, token.access_token, txId);
    expect(pending.status).toBe(400);
    expect(pending.body.error).toBe('issuance_pending');

    const queue = await admin(t, 'GET', '/applications?status=review');
    expect(queue.status).toBe(200);
    const applicationId = await applicationIdOf(t, token.access_token);
    expect(queue.body.applications).toEqual([
      expect.objectContaining({ id: applicationId, applicant_did: holder.did, status: 'review', created_at: expect.any(String) }),
    ]);
    const decision = await admin(t, 'POST', `/applications/${applicationId}/decision`, { decision: 'approve', tier: 'Gold' });
    expect(decision.status).toBe(200);
    expect(decision.body.status).toBe('approved');

    const issued = await deferredRequest(t, token.access_token, txId);
    expect(issued.status).toBe(200);
    const vc = (await verifyAgainstDidDocument(t.fetch, issued.body.credential)).payload.vc as any;
    expect(vc.credentialSubject.tier).toBe('Gold');
    expect(vc.credentialSubject.id).toBe(holder.did);

    // A collection whose answer was lost: the same credential again, never a second one.
    const replay = await deferredRequest(t, token.access_token, txId);
    expect(replay.status).toBe(200);
    expect(replay.body.credential).toBe(issued.body.credential);
    expect(await t.deps.store.issuedCredentials.count()).toBe(1);
    expect((await admin(t, 'GET', '/applications?status=review')).body.applications).toEqual([]);
  });

  it('deferred issuance before the form is submitted: the transaction completes once IDV approves', async () => {
    const t = await makeTestIssuer();
    const { holder, client, idvRequest, code } = await openApplication(t);
    const token = await redeem(t, holder, code);
    const first = await credentialRequest(t, token.access_token, await proofBody(holder, token.c_nonce));
    expect(first.status).toBe(202);
    expect((await deferredRequest(t, token.access_token, first.body.transaction_id)).body.error).toBe('issuance_pending');
    await submitIdentity(t, client, idvRequest);
    const issued = await deferredRequest(t, token.access_token, first.body.transaction_id);
    expect(issued.status).toBe(200);
    expect(decodeJwt(issued.body.credential).payload.sub).toBe(holder.did);
  });

  it('rejection: "Declined" → credential_request_denied at the credential endpoint', async () => {
    const t = await makeTestIssuer();
    const { holder, client, idvRequest, code } = await openApplication(t);
    await submitIdentity(t, client, idvRequest, { ...SAMPLE_IDENTITY, family_name: 'Declined' });
    const token = await redeem(t, holder, code);
    const r = await credentialRequest(t, token.access_token, await proofBody(holder, token.c_nonce));
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('credential_request_denied');
    expect(await t.deps.store.issuedCredentials.count()).toBe(0);
  });

  it('rejection after review: the operator rejects and the deferred request is denied', async () => {
    const t = await makeTestIssuer();
    const { holder, client, idvRequest, code } = await openApplication(t);
    await submitIdentity(t, client, idvRequest, { ...SAMPLE_IDENTITY, family_name: 'Review' });
    const token = await redeem(t, holder, code);
    const first = await credentialRequest(t, token.access_token, await proofBody(holder, token.c_nonce));
    const id = await applicationIdOf(t, token.access_token);
    expect((await admin(t, 'POST', `/applications/${id}/decision`, { decision: 'reject', reason: 'document mismatch' })).status).toBe(200);
    const r = await deferredRequest(t, token.access_token, first.body.transaction_id);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('credential_request_denied');
  });

  it('issues ES256K credentials when the issuer key is secp256k1, and accepts secp256k1 applicants', async () => {
    const t = await makeTestIssuer({ alg: 'ES256K' });
    const holder = await Holder.create({ alg: 'ES256K' });
    const r = await applyForKcc(new WalletClient(holder, t.fetch), { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY });
    const kcc = await verifyAgainstDidDocument(t.fetch, r.credential!);
    expect(kcc.header.alg).toBe('ES256K');
    expect(kcc.signature.length).toBe(64);
    const meta = (await (await t.fetch(`${PUBLIC_URL}/.well-known/openid-credential-issuer`)).json()) as any;
    expect(meta.credential_configurations_supported.KnownCustomerCredential.credential_signing_alg_values_supported).toEqual(['ES256K']);
  });
});
