import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setGlobalConfig } from '@openid4vc/utils';
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { compactDecrypt, exportJWK, generateKeyPair } from 'jose';
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import type { PrivateJwk } from '../../src/crypto/keys';
import { createWebCryptoProvider } from '../../src/crypto/webCrypto';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { applyUntilOffer } from '../helpers/application';
import { libraryFor, owfClient, presentCountryOnly, proofs, startIssuance, tokenStatusOf, walletKey } from '../helpers/owfWallet';
import { applyMigrationsWithWrangler, bundleWorker, freePort, startWorker } from '../helpers/workerd';

/**
 * The SD-JWT VC KCC from the worker as it deploys (wrangler bundle, D1 migrated by wrangler, run
 * in workerd by miniflare) to an OID4VCI 1.0 wallet built on oid4vc-ts (@openid4vc/openid4vci):
 * a batch issued at once and one deferred until an operator decides through the admin API, each
 * copy verified by @sd-jwt/sd-jwt-vc; the worker's Token Status List decoded by
 * @sd-jwt/jwt-status-list before and after the decision is overruled; an encrypted credential
 * response decrypted with jose by the wallet's key. SDJWT_VC_SIGNING_ALG=ES256: a P-256 key in
 * ISSUER_PRIVATE_JWK signs the SD-JWT VCs and the Token Status List through Web Crypto, while the
 * jwt_vc_json KCC stays EdDSA. The same wallet drives Node in test/interop/owfSdJwtVc*.test.ts.
 */
const ADMIN_TOKEN = 'worker-admin-token-0123456789abcdef0';
const webCrypto = createWebCryptoProvider();

let dir: string;
let mf: Miniflare;
let url: string;
let signingKey: PrivateJwk;
let p256Key: PrivateJwk;

beforeAll(async () => {
  setGlobalConfig({ allowInsecureUrls: true });
  dir = mkdtempSync(join(tmpdir(), 'kcc-worker-sdjwt-'));
  const persistTo = join(dir, 'state');
  const [scriptPath] = await Promise.all([bundleWorker(join(dir, 'bundle')), applyMigrationsWithWrangler(persistTo)]);
  signingKey = { ...(await webCrypto.generateKeyPair('EdDSA')), kid: 'key-1' };
  p256Key = { ...(await webCrypto.generateKeyPair('ES256')), kid: 'es256-1' };
  const port = await freePort();
  ({ mf, url } = await startWorker({
    scriptPath,
    persistTo,
    port,
    // SDJWT_VC_OFFERED is left unset: the SD-JWT VC configurations are offered by default.
    bindings: {
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      ISSUER_NAME: 'Edge PFI',
      ISSUER_PRIVATE_JWK: JSON.stringify([signingKey, p256Key]),
      SDJWT_VC_SIGNING_ALG: 'ES256',
      ADMIN_TOKEN,
      PII_DATA_KEY: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8',
      LOG_LEVEL: 'silent',
    },
  }));
}, 400_000);

afterAll(async () => {
  await mf?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const didOf = (base: string) => `did:web:${encodeURIComponent(new URL(base).host)}`;

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${url}/admin${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...init.headers } });

async function applicationOf(applicantDid: string, status: string): Promise<string> {
  const list = (await (await admin(`/applications?status=${status}`)).json()) as { applications: { id: string; applicant_did: string }[] };
  const mine = list.applications.find((a) => a.applicant_did === applicantDid);
  expect(mine).toBeDefined();
  return mine!.id;
}

describe('SD-JWT VC KCC from the worker in workerd to an oid4vc-ts wallet', () => {
  it('publishes the P-256 key and names ES256 for the SD-JWT VC configurations only; the jwt_vc_json KCC stays EdDSA', async () => {
    const jwks = ((await (await fetch(`${url}/.well-known/jwt-vc-issuer`)).json()) as { jwks: { keys: { kid: string; alg: string; crv: string }[] } }).jwks
      .keys;
    expect(jwks.map((k) => [k.kid, k.alg, k.crv])).toEqual([
      [`${didOf(url)}#key-1`, 'EdDSA', 'Ed25519'],
      [`${didOf(url)}#es256-1`, 'ES256', 'P-256'],
    ]);
    const metadata = (await (await fetch(`${url}/.well-known/openid-credential-issuer`)).json()) as {
      credential_configurations_supported: Record<string, { credential_signing_alg_values_supported: string[] }>;
    };
    expect(Object.values(metadata.credential_configurations_supported).map((c) => c.credential_signing_alg_values_supported)).toEqual([['EdDSA'], ['ES256']]);
    const kcc = await applyForKcc(new WalletClient(await Holder.create(), fetch), { issuer: url, identity: SAMPLE_IDENTITY });
    expect(decodeJwt(kcc.credential).header).toMatchObject({ alg: 'EdDSA', kid: `${didOf(url)}#key-1` });
  });

  it('a batch of 3 at once: @sd-jwt/sd-jwt-vc verifies each copy; the Token Status List shows all valid, then all revoked once the decision is overruled', async () => {
    const { idvRequest, holder } = await applyUntilOffer(url, fetch);
    const keys = await Promise.all([1, 2, 3].map(() => walletKey()));
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
    expect(copies).toHaveLength(3);

    const library = await libraryFor(url, { alg: 'ES256' });
    const references: { idx: number; uri: string }[] = [];
    for (const [i, copy] of copies.entries()) {
      expect(decodeJwt(copy.split('~')[0], { algorithms: ['ES256'] }).header).toMatchObject({ alg: 'ES256', kid: `${didOf(url)}#es256-1` });
      const { payload } = await library.verify(copy);
      expect(payload).toMatchObject({ iss: url, vct: `${url}/vct/known-customer-credential`, cnf: { jwk: keys[i].jwk } });
      references.push((payload as { status: { status_list: { idx: number; uri: string } } }).status.status_list);
    }
    expect(new Set(references.map((r) => r.idx)).size).toBe(3);
    const uris = [...new Set(references.map((r) => r.uri))];
    // The Token Status List as the worker serves it, decoded by @sd-jwt/jwt-status-list.
    const statuses = async () => {
      const lists = new Map<string, ReturnType<typeof getListFromStatusListJWT>>();
      for (const uri of uris) {
        const res = await fetch(uri);
        expect(res.headers.get('content-type')).toBe('application/statuslist+jwt');
        const jwt = await res.text();
        const decoded = decodeJwt(jwt, { algorithms: ['ES256'] });
        expect(decoded.header.alg).toBe('ES256');
        expect(decoded.payload.sub).toBe(uri);
        lists.set(uri, getListFromStatusListJWT(jwt));
      }
      return references.map((r) => lists.get(r.uri)!.getStatus(r.idx));
    };
    expect(await statuses()).toEqual([0, 0, 0]);
    const verdict = await presentCountryOnly(url, copies[1], keys[1], 'ES256');
    expect(verdict.reasons).toEqual([]);
    expect(verdict.disclosed).toEqual({ countryOfResidence: 'US' });

    const applicationId = await applicationOf(holder.did, 'approved');
    const res = await admin(`/applications/${applicationId}/decision`, {
      method: 'POST',
      body: JSON.stringify({ decision: 'reject', overrule: true, reason: 'document found forged' }),
    });
    expect(res.status).toBe(200);
    expect(await statuses()).toEqual([1, 1, 1]);
    // @sd-jwt/sd-jwt-vc checks status itself (statusListFetcher) and refuses the revoked copy.
    await expect(library.verify(copies[0])).rejects.toThrow(/status/i);
    expect(await tokenStatusOf(copies[2])).toBe(1);
  });

  it('deferred and encrypted: 202 (a JWE) while in review, then the copy bound to the proven key, decrypted with jose', async () => {
    const { idvRequest, holder } = await applyUntilOffer(url, fetch, { familyName: 'Review' });
    const key = await walletKey();
    const client = owfClient([key]);
    const { issuerMetadata, accessToken, configurationId } = await startIssuance(client, idvRequest.credential_offer);
    const [jwt] = await proofs(client, issuerMetadata, [key], configurationId);
    const encKeys = await generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
    const encryption = { jwk: { ...(await exportJWK(encKeys.publicKey)), alg: 'ECDH-ES', use: 'enc', kid: 'wallet-enc-1' }, enc: 'A128GCM' };
    const post = (path: string, body: unknown) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const decrypt = async (res: Response) => {
      expect(res.headers.get('content-type')).toMatch(/^application\/jwt/);
      const { plaintext, protectedHeader } = await compactDecrypt(await res.text(), encKeys.privateKey);
      expect(protectedHeader).toMatchObject({ alg: 'ECDH-ES', enc: 'A128GCM', kid: 'wallet-enc-1' });
      return JSON.parse(new TextDecoder().decode(plaintext)) as Record<string, any>;
    };
    const first = await post('/oid4vci/credential', {
      credential_configuration_id: configurationId,
      proofs: { jwt: [jwt] },
      credential_response_encryption: encryption,
    });
    expect(first.status).toBe(202);
    const { transaction_id } = await decrypt(first);
    expect(transaction_id).toBeTypeOf('string');
    const pending = await post('/oid4vci/deferred-credential', { transaction_id, credential_response_encryption: encryption });
    expect(pending.status).toBe(202);
    expect(await decrypt(pending)).toMatchObject({ transaction_id });

    const applicationId = await applicationOf(holder.did, 'review');
    expect((await admin(`/applications/${applicationId}/decision`, { method: 'POST', body: JSON.stringify({ decision: 'approve' }) })).status).toBe(200);
    const done = await post('/oid4vci/deferred-credential', { transaction_id, credential_response_encryption: encryption });
    expect(done.status).toBe(200);
    const answer = await decrypt(done);
    expect(answer.credentials).toHaveLength(1);
    const credential = answer.credentials[0].credential as string;
    expect((await (await libraryFor(url, { alg: 'ES256' })).verify(credential)).payload).toMatchObject({ cnf: { jwk: key.jwk } });
    expect(await tokenStatusOf(credential)).toBe(0);
    const verdict = await presentCountryOnly(url, credential, key, 'ES256');
    expect(verdict.reasons).toEqual([]);
    expect(Object.keys(verdict.disclosed ?? {})).toEqual(['countryOfResidence']);
    // Unsupported encryption parameters are refused (invalid_encryption_parameters) before the proof is looked at.
    const refused = await post('/oid4vci/credential', {
      credential_configuration_id: configurationId,
      proofs: { jwt: [jwt] },
      credential_response_encryption: { ...encryption, enc: 'A128CBC-HS256' },
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_encryption_parameters');
  });
});
