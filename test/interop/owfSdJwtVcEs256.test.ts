import { setGlobalConfig } from '@openid4vc/utils';
import { ES256 } from '@sd-jwt/crypto-nodejs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import type { IssuerKey } from '../../src/issuer';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { applyUntilOffer } from '../helpers/application';
import { startHttpIssuer, type HttpIssuer } from '../helpers/httpIssuer';
import { libraryFor, owfClient, presentCountryOnly, proofs, startIssuance, walletKey } from '../helpers/owfWallet';

/**
 * SDJWT_VC_SIGNING_ALG=ES256 (what HAIP and EUDI wallets expect): a P-256 issuer key beside the
 * Ed25519 one signs the SD-JWT VC KCC and the Token Status List with node:crypto; the jwt_vc_json
 * KCC and every JWT of the spec's flow stay EdDSA. The P-256 key is published in the DID
 * document and in /.well-known/jwt-vc-issuer; @sd-jwt/sd-jwt-vc verifies the copy (and its
 * status) with ES256 and our verifier accepts a presentation of it.
 */
let issuer: HttpIssuer;
let keys: IssuerKey[];

beforeAll(async () => {
  setGlobalConfig({ allowInsecureUrls: true });
  const crypto = createNodeCryptoProvider();
  keys = [
    { id: 'key-1', alg: 'EdDSA', privateJwk: await crypto.generateKeyPair('EdDSA'), createdAt: '2026-01-01T00:00:00Z' },
    // Newer than the Ed25519 key, yet the spec's JWTs keep the Ed25519 one.
    { id: 'es256-1', alg: 'ES256', privateJwk: await crypto.generateKeyPair('ES256'), createdAt: '2026-06-01T00:00:00Z' },
  ];
  issuer = await startHttpIssuer({ keys, config: { sdJwtVc: { signingAlg: 'ES256' } } });
});
afterAll(async () => {
  await issuer?.close();
});

describe('SD-JWT VC KCC signed with ES256', () => {
  it('publishes the P-256 key (DID document, JWT VC Issuer Metadata) and names ES256 only for the SD-JWT VC configurations', async () => {
    const get = async (path: string) => (await fetch(`${issuer.url}${path}`)).json() as Promise<Record<string, any>>;
    const did = await get('/.well-known/did.json');
    expect(did.verificationMethod.map((v: any) => [v.id.split('#')[1], v.publicKeyJwk.crv])).toEqual([
      ['key-1', 'Ed25519'],
      ['es256-1', 'P-256'],
    ]);
    expect(did.assertionMethod).toContain(`${did.id}#es256-1`);
    const jwks = (await get('/.well-known/jwt-vc-issuer')).jwks.keys;
    expect(jwks.map((k: any) => [k.kid, k.alg])).toEqual([
      [`${did.id}#key-1`, 'EdDSA'],
      [`${did.id}#es256-1`, 'ES256'],
    ]);
    const metadata = await get('/.well-known/openid-credential-issuer');
    const algs = Object.fromEntries(
      Object.entries(metadata.credential_configurations_supported).map(([id, c]: [string, any]) => [id, c.credential_signing_alg_values_supported]),
    );
    expect(algs).toEqual({ KnownCustomerCredential: ['EdDSA'], KnownCustomerCredential_sd_jwt: ['ES256'] });
  });

  it('an oid4vc-ts wallet gets an ES256 copy: @sd-jwt/sd-jwt-vc verifies it and its ES256 Token Status List, our verifier accepts the presentation; the jwt_vc_json KCC stays EdDSA', async () => {
    const { idvRequest } = await applyUntilOffer(issuer.url, issuer.fetch);
    const key = await walletKey();
    const client = owfClient([key]);
    const { issuerMetadata, accessToken, configurationId } = await startIssuance(client, idvRequest.credential_offer);
    const jwts = await proofs(client, issuerMetadata, [key], configurationId);
    const { credentialResponse } = await client.retrieveCredentials({
      issuerMetadata,
      accessToken,
      credentialConfigurationId: configurationId,
      proofs: { jwt: jwts },
    });
    const copy = (credentialResponse.credentials as { credential: string }[])[0].credential;
    const header = decodeJwt(copy.split('~')[0], { algorithms: ['ES256'] }).header;
    expect(header).toMatchObject({ alg: 'ES256', typ: 'dc+sd-jwt' });
    expect(header.kid).toMatch(/#es256-1$/);

    // The library's verifier is the ES256 key of the JWT VC Issuer Metadata only: it checks the
    // credential and (status check on) the Token Status List it names.
    const library = await libraryFor(issuer.url, { alg: 'ES256' });
    const { payload } = await library.verify(copy);
    expect(payload).toMatchObject({ iss: issuer.url, cnf: { jwk: key.jwk } });
    const statusUri = (payload as { status: { status_list: { uri: string } } }).status.status_list.uri;
    const statusList = await (await fetch(statusUri)).text();
    expect(decodeJwt(statusList, { algorithms: ['ES256'] }).header).toMatchObject({ alg: 'ES256', kid: header.kid });
    // A wrong-key (Ed25519) verifier refuses it: the signature really is the P-256 key's.
    await expect((await libraryFor(issuer.url, { alg: 'EdDSA' })).verify(copy)).rejects.toThrow();
    // And an ES256 verifier of another key too.
    const other = await ES256.generateKeyPair();
    const [h, p, sig] = copy.split('~')[0].split('.');
    expect(await (await ES256.getVerifier(other.publicKey))(`${h}.${p}`, sig)).toBe(false);

    const verdict = await presentCountryOnly(issuer.url, copy, key, 'ES256');
    expect(verdict.reasons).toEqual([]);
    expect(verdict.alg).toBe('ES256');
    expect(verdict.disclosed).toEqual({ countryOfResidence: 'US' });

    const kcc = await applyForKcc(new WalletClient(await Holder.create(), issuer.fetch), { issuer: issuer.url, identity: SAMPLE_IDENTITY });
    expect(decodeJwt(kcc.credential).header).toMatchObject({ alg: 'EdDSA' });
    expect(decodeJwt(kcc.credential).header.kid).toMatch(/#key-1$/);
  });

  it('refuses to start with SDJWT_VC_SIGNING_ALG=ES256 and no P-256 key, or a P-256 key with did:jwk', async () => {
    await expect(startHttpIssuer({ keys: [keys[0]], config: { sdJwtVc: { signingAlg: 'ES256' } } })).rejects.toThrow(/no ES256 issuer key/);
    await expect(startHttpIssuer({ keys, config: { didMethod: 'jwk' } })).rejects.toThrow(/ISSUER_DID_METHOD=web/);
    await expect(startHttpIssuer({ keys: [keys[1]] })).rejects.toThrow(/EdDSA or ES256K issuer key is required/);
  });
});
