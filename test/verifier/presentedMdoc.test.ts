import { randomBytes } from 'node:crypto';
import { DateOnly } from '@owf/mdoc';
import { beforeAll, describe, expect, it } from 'vitest';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { verifyMdocPresentation } from '../../src/verifier/presented/mdoc';
import { PresentedCredentialError, type PresentationContext } from '../../src/verifier/presented/result';
import { parsePresentedCredentialTrust, type PresentedCredentialTrust } from '../../src/verifier/presented/trust';
import { CertificateChainError, verifyCertificateChain } from '../../src/verifier/presented/x509';
import { issueMdl, makeCa, makeHolderKey, makeLeaf, presentMdl, type Ca, type Leaf } from '../helpers/presentedCredentials';

/**
 * The mDL (ISO/IEC 18013-5, doctype org.iso.18013.5.1.mDL) issued in the test by @owf/mdoc 0.6.0's
 * Issuer under a test IACA root (@peculiar/x509 1.14.3), presented with the library's
 * DeviceResponse over the OID4VP session transcript (OpenID4VPHandover of client_id, nonce and
 * response_uri), verified by src/verifier/presented/mdoc.ts.
 */
const CLIENT_ID = 'did:web:pfi.example';
const RESPONSE_URI = 'https://pfi.example/siop/response';
let iaca: Ca;
let otherIaca: Ca;
let ds: Leaf;
let device: Awaited<ReturnType<typeof makeHolderKey>>;
let trust: PresentedCredentialTrust;
const deps = { clock: () => Date.now(), crypto: createNodeCryptoProvider() };
const ELEMENTS = {
  family_name: 'Doe',
  given_name: 'Jane',
  birth_date: new DateOnly('1990-04-01'),
  issue_date: new DateOnly('2024-01-01'),
  expiry_date: new DateOnly('2034-01-01'),
  issuing_country: 'US',
  issuing_authority: 'Test DMV',
  document_number: 'D1234567',
  nationality: 'US',
  resident_country: 'US',
  portrait: new Uint8Array([1, 2, 3]),
  driving_privileges: [],
  un_distinguishing_sign: 'USA',
};

const entry = () => trust.mdoc[0];
const context = (nonce: string): PresentationContext => ({ applicantDid: 'did:jwk:applicant', nonce, clientId: CLIENT_ID, responseUri: RESPONSE_URI, trust });

async function refused(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PresentedCredentialError) return e.reasons;
    throw e;
  }
  throw new Error('the credential was accepted');
}

beforeAll(async () => {
  iaca = await makeCa('CN=Test IACA, O=Test DMV, C=US');
  otherIaca = await makeCa('CN=Other IACA, C=US');
  ds = await makeLeaf(iaca, 'CN=Test Document Signer, O=Test DMV, C=US');
  device = await makeHolderKey();
  trust = parsePresentedCredentialTrust({
    trustAnchors: { 'us-iaca': iaca.pem },
    mdoc: [{ id: 'mdl', name: 'Mobile driving licence', docType: 'org.iso.18013.5.1.mDL', iacaRoots: ['us-iaca'], satisfies: ['document_verification'] }],
  });
});

describe('mdoc / mDL as IDV input', () => {
  it('verifies an mDL: issuer chain to the IACA root, digests, validity, device signature over this request', async () => {
    const nonce = randomBytes(16).toString('base64url');
    const vp = await presentMdl(await issueMdl(ds, device.publicJwk, ELEMENTS), device.privateJwk, { clientId: CLIENT_ID, nonce, responseUri: RESPONSE_URI });
    const r = await verifyMdocPresentation(vp, entry(), context(nonce), deps);
    expect(r.evidence).toMatchObject({ kind: 'verified_credential', format: 'mso_mdoc', credential_type: 'org.iso.18013.5.1.mDL', accepted_as: 'mdl' });
    expect(r.evidence.issuer).toContain('CN=Test Document Signer');
    expect(r.claims).toEqual({ givenName: 'Jane', familyName: 'Doe', birthDate: '1990-04-01', nationality: 'US', countryOfResidence: 'US' });
    expect(r.satisfies).toEqual(['document_verification']);
    expect(r.recheck.expiresAt).toBeGreaterThan(Date.now() / 1000 + 300 * 86400);
  });

  it('refuses a device signature over another transcript: another nonce, another verifier, another response URI', async () => {
    const nonce = 'mdoc-n1';
    const issued = await issueMdl(ds, device.publicJwk, ELEMENTS);
    const expected = ["the device signature does not verify over this request's session transcript"];
    for (const handover of [
      { clientId: CLIENT_ID, nonce: 'another nonce', responseUri: RESPONSE_URI },
      { clientId: 'did:web:other-verifier.example', nonce, responseUri: RESPONSE_URI },
      { clientId: CLIENT_ID, nonce, responseUri: 'https://other.example/response' },
    ]) {
      const vp = await presentMdl(issued, device.privateJwk, handover);
      expect(await refused(verifyMdocPresentation(vp, entry(), context(nonce), deps))).toEqual(expected);
    }
  });

  it('refuses an mDL bound to another device (signed by a key that is not the MSO device key)', async () => {
    const nonce = 'mdoc-n2';
    const thief = await makeHolderKey();
    const vp = await presentMdl(await issueMdl(ds, device.publicJwk, ELEMENTS), thief.privateJwk, { clientId: CLIENT_ID, nonce, responseUri: RESPONSE_URI });
    expect(await refused(verifyMdocPresentation(vp, entry(), context(nonce), deps))).toEqual([
      "the device signature does not verify over this request's session transcript",
    ]);
  });

  it('refuses a document signer under another IACA, and an expired mDL', async () => {
    const nonce = 'mdoc-n3';
    const strangerDs = await makeLeaf(otherIaca, 'CN=Stranger DS, C=US');
    const vp = await presentMdl(await issueMdl(strangerDs, device.publicJwk, ELEMENTS), device.privateJwk, {
      clientId: CLIENT_ID,
      nonce,
      responseUri: RESPONSE_URI,
    });
    expect(await refused(verifyMdocPresentation(vp, entry(), context(nonce), deps))).toEqual([
      'the document signer is not trusted: the chain does not end at a trusted anchor',
    ]);
    const oldDs = await makeLeaf(iaca, 'CN=Test Document Signer 2020, C=US', { notBefore: new Date(Date.now() - 30 * 86400_000) });
    const old = await issueMdl(oldDs, device.publicJwk, ELEMENTS, {
      signed: new Date(Date.now() - 3 * 86400_000),
      validFrom: new Date(Date.now() - 3 * 86400_000),
      validUntil: new Date(Date.now() - 86400_000),
    });
    const expired = await presentMdl(old, device.privateJwk, { clientId: CLIENT_ID, nonce, responseUri: RESPONSE_URI });
    expect(await refused(verifyMdocPresentation(expired, entry(), context(nonce), deps))).toEqual(['the mdoc is expired or not yet valid']);
  });

  it('refuses a broken issuer signature and an element whose value does not match its digest', async () => {
    const nonce = 'mdoc-n4';
    const issued = await issueMdl(ds, device.publicJwk, ELEMENTS);
    // Another DS key signs, the certificate in x5chain stays: the COSE signature does not verify.
    const impostor = await makeLeaf(iaca, 'CN=Impostor, C=US');
    const forged = await issueMdl({ ...impostor, der: ds.der, cert: ds.cert }, device.publicJwk, ELEMENTS);
    const vp = await presentMdl(forged, device.privateJwk, { clientId: CLIENT_ID, nonce, responseUri: RESPONSE_URI });
    expect(await refused(verifyMdocPresentation(vp, entry(), context(nonce), deps))).toContain('the issuer signature (issuerAuth) is invalid');
    // A disclosed element swapped for one from another mDL (same digest id, its own random):
    // its digest is not the MSO's.
    const other = await issueMdl(ds, device.publicJwk, { ...ELEMENTS, family_name: 'Mallory' });
    const mine = issued.getIssuerNamespace('org.iso.18013.5.1')!;
    const theirs = other.getIssuerNamespace('org.iso.18013.5.1')!;
    const iMine = mine.findIndex((i) => i.elementIdentifier === 'family_name');
    const iTheirs = theirs.findIndex((i) => i.elementIdentifier === 'family_name');
    mine[iMine] = theirs[iTheirs];
    const tampered = await presentMdl(issued, device.privateJwk, { clientId: CLIENT_ID, nonce, responseUri: RESPONSE_URI });
    const reasons = await refused(verifyMdocPresentation(tampered, entry(), context(nonce), deps));
    expect(reasons.some((r) => /family_name/.test(r) && /digest/.test(r))).toBe(true);
    expect(reasons.join(' ')).not.toContain('Mallory');
  });

  it('refuses another doctype and garbage', async () => {
    const nonce = 'mdoc-n5';
    const vp = await presentMdl(await issueMdl(ds, device.publicJwk, ELEMENTS), device.privateJwk, { clientId: CLIENT_ID, nonce, responseUri: RESPONSE_URI });
    expect(await refused(verifyMdocPresentation(vp, { ...entry(), docType: 'eu.europa.ec.eudi.pid.1' }, context(nonce), deps))).toEqual([
      'the DeviceResponse has 0 documents of doctype eu.europa.ec.eudi.pid.1, not one',
    ]);
    expect(await refused(verifyMdocPresentation('not-cbor', entry(), context(nonce), deps))).toEqual(['not an mdoc DeviceResponse']);
  });
});

describe('X.509 chains to a configured anchor', () => {
  it('accepts leaf → anchor, refuses expired, wrong anchor, a leaf that is the anchor, none configured', async () => {
    const now = new Date();
    expect((await verifyCertificateChain([ds.der], [iaca.der], now)).subject).toContain('Test Document Signer');
    await expect(verifyCertificateChain([ds.der], [otherIaca.der], now)).rejects.toThrow('the chain does not end at a trusted anchor');
    await expect(verifyCertificateChain([ds.der], [], now)).rejects.toThrow('no trust anchor is configured');
    await expect(verifyCertificateChain([iaca.der], [iaca.der], now)).rejects.toThrow('the leaf certificate is itself a trust anchor');
    await expect(verifyCertificateChain([ds.der], [iaca.der], new Date(Date.now() + 2 * 365 * 86400_000))).rejects.toThrow(/the leaf certificate expired on/);
    await expect(verifyCertificateChain([ds.der, ds.der], [iaca.der], now)).rejects.toThrow(CertificateChainError);
  });

  it('the trust configuration refuses a non-CA anchor, an unknown anchor name, duplicate ids', () => {
    expect(() => parsePresentedCredentialTrust({ trustAnchors: { leaf: ds.cert.toString('pem') } })).toThrow('trustAnchors.leaf is not a CA certificate');
    expect(() => parsePresentedCredentialTrust({ mdoc: [{ id: 'mdl', name: 'x', docType: 'org.iso.18013.5.1.mDL', iacaRoots: ['nope'] }] })).toThrow(
      'names trust anchor nope',
    );
    expect(() =>
      parsePresentedCredentialTrust({
        trustAnchors: { a: iaca.pem },
        mdoc: [{ id: 'x', name: 'x', docType: 'd', iacaRoots: ['a'] }],
        jwtVc: [{ id: 'x', name: 'y', type: 'T', issuers: ['did:jwk:abc'] }],
      }),
    ).toThrow('id x is used twice');
    expect(() => parsePresentedCredentialTrust({ sdJwtVc: [{ id: 'p', name: 'p', vct: 'v' }] })).toThrow('trusts no issuer');
    expect(() => parsePresentedCredentialTrust({ sdJwtVc: [{ id: 'p', name: 'p', vct: 'v', issuers: ['http://plain.example'] }] })).toThrow('an https URL');
  });
});
