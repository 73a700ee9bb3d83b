import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyCredential } from 'did-jwt-vc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import { createDidDhtResolver } from '../../src/did/dht';
import { createDidJwkResolver } from '../../src/did/jwk';
import { createDidKeyResolver } from '../../src/did/key';
import { publishPfiDidDht } from '../../src/did/pfi';
import { createDidResolver } from '../../src/did/resolver';
import { createDidWebResolver } from '../../src/did/web';
import { silentLogger } from '../../src/http/context';
import { createIssuerIdentity, didDhtIdentityKey, type IssuerKey } from '../../src/issuer';
import { retireKey, rotateKeys } from '../../src/runtime/keyFile';
import { runKeysCli } from '../../src/runtime/keysCli';
import { startNodeIssuer } from '../../src/runtime/node';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { WalletClient, type Fetch } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { verifyKccJwt } from '../../src/wallet/verifyCredential';
import { independentResolver, startDidNetwork, walletResolver, type DidNetwork } from '../helpers/didNetwork';
import { makeIssuerKeys, makeTestIssuer, PUBLIC_URL } from '../helpers/issuer';

/**
 * Key rotation: several keys in the DID document, the newest signs, and access
 * tokens and KCCs signed by a previous key keep verifying while that key is published.
 */
const crypto = createNodeCryptoProvider();
let net: DidNetwork;
beforeAll(async () => {
  net = await startDidNetwork();
});
afterAll(async () => {
  await net.close();
});

const now = () => Math.floor(Date.now() / 1000);

/** Runs the flow up to the token response; returns the access token and c_nonce, unspent. */
async function tokenOnly(client: WalletClient, fetch: Fetch) {
  const pfi = await client.discover(PUBLIC_URL);
  const request = await client.initiate(pfi.idvEndpoint, pfi);
  const idv = await client.respond(request);
  await client.submitIdvForm(idv.url, SAMPLE_IDENTITY);
  const { authorizationServer, credentialIssuer } = await client.metadata(idv.credential_offer.credential_issuer);
  const code = idv.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
  const token = await client.token(authorizationServer.token_endpoint, code);
  void fetch;
  return { token, credentialEndpoint: credentialIssuer.credential_endpoint as string, pfiDid: pfi.did };
}

describe.each(['web', 'dht'] as const)('rotation with the issuer as did:%s', (method) => {
  it('newest signs; a previous key keeps verifying while published, and stops once retired', async () => {
    let keys: IssuerKey[] = await makeIssuerKeys('EdDSA', { didDhtIdentity: method === 'dht' });
    const t = await makeTestIssuer({ config: { didMethod: method }, keys });
    const publish = async () => {
      if (method !== 'dht') return;
      await publishPfiDidDht({
        document: t.deps.issuer.didDocument,
        identityPrivateJwk: didDhtIdentityKey(keys)!.privateJwk,
        crypto,
        gatewayUrl: net.relayUrl,
        fetch: globalThis.fetch,
        now: Date.now(),
      });
    };
    /** What a running issuer does on reload (SIGHUP): swap the identity in deps, republish. */
    const reload = async (next: IssuerKey[]) => {
      keys = next;
      t.deps.issuer = await createIssuerIdentity(PUBLIC_URL, keys, crypto, { method });
      await publish();
    };
    await publish();
    const ourResolver = createDidResolver({
      registry: {
        ...createDidJwkResolver(),
        ...createDidKeyResolver(),
        ...createDidWebResolver({ fetch: t.fetch as typeof fetch }),
        ...createDidDhtResolver({ gatewayUrl: net.relayUrl, fetch: globalThis.fetch }),
      },
      cacheTtlMs: 0,
    });
    const verifyBoth = async (jwt: string) => {
      await verifyKccJwt({ jwt, resolver: ourResolver, verifier: crypto, now: now() });
      return verifyCredential(jwt, independentResolver(t.fetch, net.relayUrl), { proofPurpose: 'assertionMethod', policies: { now: now() } });
    };
    const did = t.deps.issuer.did;

    const holder = await Holder.create();
    const client = new WalletClient(holder, t.fetch, { resolver: walletResolver(net.relayUrl) });
    const first = await applyForKcc(client, { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY });
    expect(decodeJwt(first.credential!).header.kid).toBe(`${did}#key-1`);
    // Two access tokens signed by key-1, not yet used, of two applicants (one DID's second SIOPv2
    // would resume its approved, uncollected application and revoke its first token).
    const pendingA = await tokenOnly(client, t.fetch);
    const holderB = await Holder.create();
    const pendingB = await tokenOnly(new WalletClient(holderB, t.fetch, { resolver: walletResolver(net.relayUrl) }), t.fetch);
    expect(decodeJwt(pendingA.token.access_token).header.kid).toBe(`${did}#key-1`);

    // Rotate to a secp256k1 key: both keys published, newest first; the DID is unchanged.
    await reload((await rotateKeys(keys, crypto, 'ES256K')).keys);
    expect(t.deps.issuer.did).toBe(did);
    expect(t.deps.issuer.signer).toMatchObject({ alg: 'ES256K', kid: `${did}#key-2` });
    const served = await (await t.fetch(`${PUBLIC_URL}/.well-known/did.json`)).json();
    const methods = served.verificationMethod.map((v: { id: string }) => v.id);
    expect(methods).toEqual(method === 'dht' ? [`${did}#0`, `${did}#key-2`, `${did}#key-1`] : [`${did}#key-2`, `${did}#key-1`]);
    const meta = await (await t.fetch(`${PUBLIC_URL}/.well-known/openid-credential-issuer`)).json();
    expect(meta.credential_configurations_supported.KnownCustomerCredential.credential_signing_alg_values_supported).toEqual(['ES256K']);

    // The access token signed by key-1 is still accepted; the KCC it buys is signed by key-2.
    const c2 = await client.credential(pendingA.credentialEndpoint, pendingA.token.access_token, did, pendingA.token.c_nonce);
    expect(c2.status).toBe(200);
    expect(decodeJwt(c2.credential!).header).toMatchObject({ alg: 'ES256K', kid: `${did}#key-2` });
    expect((await verifyBoth(c2.credential!)).signer.id).toBe(`${did}#key-2`);
    // The KCC signed by key-1 before the rotation still verifies, with both verifiers.
    expect((await verifyBoth(first.credential!)).signer.id).toBe(`${did}#key-1`);

    // Retire key-1: no longer published, so what it signed no longer verifies.
    await reload(retireKey(keys, 'key-1'));
    expect(t.deps.issuer.publishedKeys.map((k) => k.kid)).toEqual([`${did}#key-2`]);
    await expect(verifyKccJwt({ jwt: first.credential!, resolver: ourResolver, verifier: crypto, now: now() })).rejects.toThrow(/not an assertionMethod/);
    await expect(verifyCredential(first.credential!, independentResolver(t.fetch, net.relayUrl), { policies: { now: now() } })).rejects.toThrow();
    const res = await t.fetch(pendingB.credentialEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${pendingB.token.access_token}` },
      body: JSON.stringify({
        format: 'jwt_vc_json',
        proof: { proof_type: 'jwt', jwt: await holderB.createProofJwt({ audience: did, nonce: pendingB.token.c_nonce }) },
      }),
    });
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe('invalid_token');
    // c2 (key-2) still verifies.
    await verifyBoth(c2.credential!);
  });
});

describe('rotation with the issuer as did:jwk', () => {
  it('changes the DID (did:jwk holds one key); KCCs under the old DID still verify', async () => {
    let keys = await makeIssuerKeys('EdDSA');
    const t = await makeTestIssuer({ config: { didMethod: 'jwk' }, keys });
    const oldDid = t.deps.issuer.did;
    const holder = await Holder.create({ alg: 'ES256K' });
    const client = new WalletClient(holder, t.fetch);
    const first = await applyForKcc(client, { idvEndpoint: `${PUBLIC_URL}/idv/siopv2/initiate`, identity: SAMPLE_IDENTITY });
    keys = (await rotateKeys(keys, crypto, 'ES256K')).keys;
    t.deps.issuer = await createIssuerIdentity(PUBLIC_URL, keys, crypto, { method: 'jwk' });
    expect(t.deps.issuer.did).not.toBe(oldDid);
    expect(t.deps.issuer.didDocument.verificationMethod).toHaveLength(1);
    const second = await applyForKcc(client, { idvEndpoint: `${PUBLIC_URL}/idv/siopv2/initiate`, identity: SAMPLE_IDENTITY });
    expect(decodeJwt(second.credential!).payload.iss).toBe(t.deps.issuer.did);
    const resolver = independentResolver(t.fetch, net.relayUrl);
    expect((await verifyCredential(first.credential!, resolver, { policies: { now: now() } })).issuer).toBe(oldDid);
    expect((await verifyCredential(second.credential!, resolver, { policies: { now: now() } })).issuer).toBe(t.deps.issuer.did);
  });
});

describe('node runtime + `npm run keys` CLI (did:dht on a loopback relay)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kcc-keys-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('publishes at start, rotates and republishes from the CLI, reloads, and issues with the new key', async () => {
    const issuer = await startNodeIssuer({
      port: 0,
      dataDir: dir,
      didMethod: 'dht',
      didDhtGateway: net.relayUrl,
      didDhtRepublishMs: 0,
      logger: silentLogger,
    });
    try {
      expect(issuer.didDhtPublished).toBe(true);
      const did = issuer.deps.issuer.did;
      expect(did).toMatch(/^did:dht:/);
      const resolver = walletResolver(net.relayUrl);
      expect((await resolver.resolve(did)).didDocument).toEqual(issuer.deps.issuer.didDocument);

      const env = { DATA_DIR: dir, ISSUER_DID_METHOD: 'dht', DID_DHT_GATEWAY: net.relayUrl, PUBLIC_URL: issuer.url };
      const out: string[] = [];
      const err: string[] = [];
      const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
      expect(await runKeysCli(['rotate', '--alg', 'ES256K'], env, io)).toBe(0);
      const rotated = JSON.parse(out.join('\n'));
      expect(rotated).toMatchObject({ did, method: 'dht', signingKid: `${did}#key-2`, signingAlg: 'ES256K', rotated: { id: 'key-2', alg: 'ES256K' } });
      expect(rotated.published).toMatchObject({ gateway: net.relayUrl });
      expect(out.join('\n')).not.toMatch(/"d"\s*:/); // never prints private keys
      expect(err.join('\n')).toMatch(/SIGHUP/);
      const file = JSON.parse(readFileSync(join(dir, 'issuer-keys.json'), 'utf8'));
      expect(file.keys.map((k: IssuerKey) => k.id).sort()).toEqual(['0', 'key-1', 'key-2']);
      // The relay now serves the rotated document.
      const republished = (await resolver.resolve(did)).didDocument!;
      expect(republished.verificationMethod!.map((v) => v.id)).toEqual([`${did}#0`, `${did}#key-2`, `${did}#key-1`]);
      expect(republished).toEqual(rotated.didDocument);

      // The running issuer still signs with key-1 until it reloads (SIGHUP).
      expect(issuer.deps.issuer.signer.kid).toBe(`${did}#key-1`);
      await issuer.reloadKeys();
      expect(issuer.deps.issuer.signer).toMatchObject({ alg: 'ES256K', kid: `${did}#key-2` });

      // A wallet over real HTTP: discovery from the issuer URL → did:dht via the relay → KCC by key-2.
      const client = new WalletClient(await Holder.create({ method: 'key' }), globalThis.fetch, { resolver });
      const r = await applyForKcc(client, { issuer: issuer.url, identity: SAMPLE_IDENTITY });
      expect(decodeJwt(r.credential!).header.kid).toBe(`${did}#key-2`);

      out.length = 0;
      expect(await runKeysCli(['show'], env, io)).toBe(0);
      expect(JSON.parse(out.join('\n')).keys).toHaveLength(3);
      out.length = 0;
      expect(await runKeysCli(['retire', 'key-1'], env, io)).toBe(0);
      expect((await resolver.resolve(did)).didDocument!.verificationMethod!.map((v) => v.id)).toEqual([`${did}#0`, `${did}#key-2`]);
      expect(await runKeysCli(['retire', '0'], env, io)).toBe(1);
      expect(await runKeysCli(['retire', 'key-2'], env, io)).toBe(1); // the only signing key left
      expect(await runKeysCli(['frobnicate'], env, io)).toBe(2);
      expect(await runKeysCli(['rotate'], { ...env, ISSUER_PRIVATE_JWK: '{}' }, io)).toBe(2);
    } finally {
      await issuer.close();
    }
  });

  it('did:web show on a fresh data dir creates the key file and prints the document', async () => {
    const d = mkdtempSync(join(tmpdir(), 'kcc-keys-web-'));
    try {
      const out: string[] = [];
      expect(await runKeysCli(['show'], { DATA_DIR: d, PUBLIC_URL: 'https://pfi.example' }, { out: (l) => out.push(l), err: () => {} })).toBe(0);
      const shown = JSON.parse(out.join('\n'));
      expect(shown.did).toBe('did:web:pfi.example');
      expect(shown.didDocument.service).toEqual([{ id: 'did:web:pfi.example#idv', type: 'IDV', serviceEndpoint: 'https://pfi.example/idv/siopv2/initiate' }]);
      expect(await runKeysCli(['publish'], { DATA_DIR: d }, { out: () => {}, err: () => {} })).toBe(2);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
