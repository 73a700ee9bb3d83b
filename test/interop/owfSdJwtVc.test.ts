import { setGlobalConfig } from '@openid4vc/utils';
import { compactDecrypt, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUntilOffer, credentialOfferUri } from '../helpers/application';
import { approveReviewOverHttp, startHttpIssuer, type HttpIssuer } from '../helpers/httpIssuer';
import { ADMIN_TOKEN } from '../helpers/issuer';
import {
  libraryFor as libraryAt,
  owfClient,
  presentCountryOnly as presentAt,
  proofs,
  startIssuance,
  tokenStatusOf,
  walletKey,
  type WalletKey,
} from '../helpers/owfWallet';

/**
 * The SD-JWT VC KCC over real HTTP to an OID4VCI 1.0 wallet built on the OpenWallet
 * Foundation's oid4vc-ts (@openid4vc/openid4vci): the offer names the tier's `_sd_jwt`
 * configuration beside its jwt_vc_json one; the wallet proves ES256 keys (bare `jwk` proofs, as
 * most 1.0 wallets do) and gets one copy per proof, immediately or deferred. @sd-jwt/sd-jwt-vc
 * verifies each copy and presents only countryOfResidence with a Key Binding JWT, which our
 * verifier accepts seeing nothing else. Encrypted responses are decrypted with jose.
 */
let issuer: HttpIssuer;
const libraryFor = (key?: WalletKey) => libraryAt(issuer.url, { key });
const presentCountryOnly = (sdJwt: string, key: WalletKey) => presentAt(issuer.url, sdJwt, key);

beforeAll(async () => {
  setGlobalConfig({ allowInsecureUrls: true });
  issuer = await startHttpIssuer(); // SDJWT_VC_OFFERED is on by default
});
afterAll(async () => {
  await issuer?.close();
});

describe('SD-JWT VC KCC to an oid4vc-ts wallet over HTTP', () => {
  it('immediately: a batch of 5 copies, one per key; the library verifies them, presents only countryOfResidence, our verifier sees nothing else; one overruled decision revokes all five', async () => {
    const { idvRequest, holder } = await applyUntilOffer(issuer.url, issuer.fetch);
    const keys = await Promise.all([1, 2, 3, 4, 5].map(() => walletKey()));
    const client = owfClient(keys);
    const { issuerMetadata, accessToken, configurationId } = await startIssuance(client, idvRequest.credential_offer);
    expect(issuerMetadata.credentialIssuer.batch_credential_issuance).toEqual({ batch_size: 5 });
    const jwts = await proofs(client, issuerMetadata, keys, configurationId);
    const { credentialResponse } = await client.retrieveCredentials({
      issuerMetadata,
      accessToken,
      credentialConfigurationId: configurationId,
      proofs: { jwt: jwts },
    });
    const copies = (credentialResponse.credentials as { credential: string }[]).map((c) => c.credential);
    expect(copies).toHaveLength(5);
    expect(credentialResponse.notification_id).toBeTypeOf('string');

    const library = await libraryFor();
    const indices = new Set<number>();
    for (const [i, copy] of copies.entries()) {
      const verified = await library.verify(copy);
      expect(verified.payload).toMatchObject({ iss: issuer.url, vct: `${issuer.url}/vct/known-customer-credential`, cnf: { jwk: keys[i].jwk } });
      expect(verified.payload).not.toHaveProperty('sub');
      expect(verified.payload).not.toHaveProperty('jti');
      indices.add((verified.payload as { status: { status_list: { idx: number } } }).status.status_list.idx);
      expect(await tokenStatusOf(copy)).toBe(0);
    }
    expect(indices.size).toBe(5);
    const verdict = await presentCountryOnly(copies[2], keys[2]);
    expect(verdict.reasons).toEqual([]);
    expect(verdict.disclosed).toEqual({ countryOfResidence: expect.any(String) });

    // The one decision overruled: every copy is revoked (0x01) at once.
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const list = (await (await fetch(`${issuer.url}/admin/applications?status=approved`, { headers: auth })).json()) as {
      applications: { id: string; applicant_did: string }[];
    };
    const mine = list.applications.find((a) => a.applicant_did === holder.did);
    expect(mine).toBeDefined();
    const issued = await issuer.deps.store.issuedCredentials.listForApplication(mine!.id);
    // Five rows, one issuance: each copy recorded as a dc+sd-jwt credential of the application.
    expect(issued.map((c) => c.format)).toEqual(Array(5).fill('dc+sd-jwt'));
    const res = await fetch(`${issuer.url}/admin/applications/${mine!.id}/decision`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'reject', overrule: true, reason: 'document found forged' }),
    });
    expect(res.status).toBe(200);
    for (const copy of copies) expect(await tokenStatusOf(copy)).toBe(1);
    expect((await presentCountryOnly(copies[0], keys[0])).reasons.join()).toMatch(/revoked/);
  });

  it('deferred: 202 while in review, then the copies bound to the keys proven at the credential request', async () => {
    const { idvRequest, holder } = await applyUntilOffer(issuer.url, issuer.fetch, { familyName: 'Review' });
    const keys = await Promise.all([1, 2].map(() => walletKey()));
    const client = owfClient(keys);
    const { issuerMetadata, accessToken, configurationId } = await startIssuance(client, idvRequest.credential_offer);
    const jwts = await proofs(client, issuerMetadata, keys, configurationId);
    const first = await client.retrieveCredentials({ issuerMetadata, accessToken, credentialConfigurationId: configurationId, proofs: { jwt: jwts } });
    expect(first.response.status).toBe(202);
    const transactionId = first.credentialResponse.transaction_id as string;
    const pending = await client.retrieveDeferredCredentials({ issuerMetadata, accessToken, transactionId });
    expect(pending.response.status).toBe(202);
    await approveReviewOverHttp(issuer, holder.did);
    // The library's deferred schema refuses notification_id beside credentials (see owf-oid4vci.test.ts): read the wire.
    const res = await fetch(`${issuer.url}/oid4vci/deferred-credential`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ transaction_id: transactionId }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { credentials: { credential: string }[]; notification_id: string };
    expect(body.credentials).toHaveLength(2);
    const library = await libraryFor();
    for (const [i, { credential }] of body.credentials.entries()) {
      expect((await library.verify(credential)).payload).toMatchObject({ cnf: { jwk: keys[i].jwk } });
    }
    const verdict = await presentCountryOnly(body.credentials[1].credential, keys[1]);
    expect(verdict.reasons).toEqual([]);
    expect(Object.keys(verdict.disclosed ?? {})).toEqual(['countryOfResidence']);
  });

  it('encrypted responses: the credential and the deferred answers are JWEs (application/jwt) the wallet decrypts with jose', async () => {
    const encKeys = await generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
    const encryption = { jwk: { ...(await exportJWK(encKeys.publicKey)), alg: 'ECDH-ES', use: 'enc', kid: 'wallet-enc-1' }, enc: 'A256GCM' };
    const decrypt = async (res: Response) => {
      expect(res.headers.get('content-type')).toMatch(/^application\/jwt/);
      const jwe = await res.text();
      const { plaintext, protectedHeader } = await compactDecrypt(jwe, encKeys.privateKey);
      expect(protectedHeader).toMatchObject({ alg: 'ECDH-ES', enc: 'A256GCM', kid: 'wallet-enc-1' });
      return JSON.parse(new TextDecoder().decode(plaintext)) as Record<string, any>;
    };
    for (const deferred of [false, true]) {
      const { idvRequest, holder } = await applyUntilOffer(issuer.url, issuer.fetch, deferred ? { familyName: 'Review' } : {});
      const key = await walletKey();
      const client = owfClient([key]);
      const { issuerMetadata, accessToken, configurationId } = await startIssuance(client, idvRequest.credential_offer);
      const [jwt] = await proofs(client, issuerMetadata, [key], configurationId);
      const post = (path: string, body: unknown) =>
        fetch(`${issuer.url}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const res = await post('/oid4vci/credential', {
        credential_configuration_id: configurationId,
        proofs: { jwt: [jwt] },
        credential_response_encryption: encryption,
      });
      let answer = await decrypt(res);
      if (deferred) {
        expect(res.status).toBe(202);
        await approveReviewOverHttp(issuer, holder.did);
        const collected = await post('/oid4vci/deferred-credential', { transaction_id: answer.transaction_id, credential_response_encryption: encryption });
        expect(collected.status).toBe(200);
        answer = await decrypt(collected);
      } else {
        expect(res.status).toBe(200);
      }
      expect(answer.credentials).toHaveLength(1);
      expect((await (await libraryFor()).verify(answer.credentials[0].credential)).payload).toMatchObject({ cnf: { jwk: key.jwk } });
    }
    // A key the wallet could not decrypt with is refused before the nonce is spent.
    const { idvRequest } = await applyUntilOffer(issuer.url, issuer.fetch);
    const key = await walletKey();
    const client = owfClient([key]);
    const { issuerMetadata, accessToken, configurationId } = await startIssuance(client, idvRequest.credential_offer);
    const [jwt] = await proofs(client, issuerMetadata, [key], configurationId);
    const bad = await fetch(`${issuer.url}/oid4vci/credential`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        credential_configuration_id: configurationId,
        proofs: { jwt: [jwt] },
        credential_response_encryption: { ...encryption, enc: 'A128CBC-HS256' },
      }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe('invalid_encryption_parameters');
  });

  it('SDJWT_VC_ENCRYPTION_REQUIRED: the metadata says so and a request without credential_response_encryption is invalid_encryption_parameters', async () => {
    const strict = await startHttpIssuer({ config: { sdJwtVc: { offered: true, encryptionRequired: true } } });
    try {
      const { idvRequest } = await applyUntilOffer(strict.url, strict.fetch);
      const key = await walletKey();
      const client = owfClient([key]);
      const credentialOffer = await client.resolveCredentialOffer(credentialOfferUri(idvRequest.credential_offer));
      const issuerMetadata = await client.resolveIssuerMetadata(credentialOffer.credential_issuer);
      expect(issuerMetadata.credentialIssuer.credential_response_encryption).toMatchObject({ encryption_required: true });
      const { accessTokenResponse } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({ credentialOffer, issuerMetadata });
      const configurationId = credentialOffer.credential_configuration_ids[1];
      const [jwt] = await proofs(client, issuerMetadata, [key], configurationId);
      const res = await fetch(`${strict.url}/oid4vci/credential`, {
        method: 'POST',
        headers: { authorization: `Bearer ${accessTokenResponse.access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ credential_configuration_id: configurationId, proofs: { jwt: [jwt] } }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_encryption_parameters');
    } finally {
      await strict.close();
    }
  });
});
