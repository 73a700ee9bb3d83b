import { verifyCredential } from 'did-jwt-vc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import type { JwsAlgorithm } from '../../src/crypto/keys';
import { createDidJwkResolver } from '../../src/did/jwk';
import { createDidKeyResolver } from '../../src/did/key';
import { createDidDhtResolver } from '../../src/did/dht';
import { publishPfiDidDht } from '../../src/did/pfi';
import { createDidResolver } from '../../src/did/resolver';
import { createDidWebResolver } from '../../src/did/web';
import { didDhtIdentityKey } from '../../src/issuer';
import { nodeDidMethods } from '../../src/runtime/node';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { WalletClient, WalletError } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import type { HolderDidMethod } from '../../src/wallet/holder';
import { verifyKccJwt } from '../../src/wallet/verifyCredential';
import { independentResolver, startDidNetwork, walletResolver, type DidNetwork } from '../helpers/didNetwork';
import { makeIssuerKeys, makeTestIssuer, PUBLIC_URL } from '../helpers/issuer';

/**
 * The whole flow for every applicant DID method × key type, against the issuer as
 * did:web, did:dht and did:jwk with EdDSA and ES256K. Every KCC is checked by our verifier
 * and by did-jwt-vc (an independent implementation) fed the same DID documents.
 */
const ISSUERS: Array<['web' | 'dht' | 'jwk', JwsAlgorithm]> = [
  ['web', 'EdDSA'],
  ['web', 'ES256K'],
  ['dht', 'EdDSA'],
  ['dht', 'ES256K'],
  ['jwk', 'EdDSA'],
  ['jwk', 'ES256K'],
];
const APPLICANTS: Array<[HolderDidMethod, JwsAlgorithm]> = [
  ['jwk', 'EdDSA'],
  ['jwk', 'ES256K'],
  ['key', 'EdDSA'],
  ['key', 'ES256K'],
  ['web', 'EdDSA'],
  ['web', 'ES256K'],
  ['dht', 'EdDSA'],
  ['dht', 'ES256K'],
];

let net: DidNetwork;
beforeAll(async () => {
  net = await startDidNetwork();
});
afterAll(async () => {
  await net.close();
});

const crypto = createNodeCryptoProvider();

describe.each(ISSUERS)('issuer as did:%s signing with %s', (method, alg) => {
  let t: Awaited<ReturnType<typeof makeTestIssuer>>;

  beforeAll(async () => {
    const keys = await makeIssuerKeys(alg, { didDhtIdentity: method === 'dht' });
    t = await makeTestIssuer({
      config: { didMethod: method },
      keys,
      // Applicants' did:web documents and did:dht packets live on loopback: the insecure dev setting.
      didMethods: nodeDidMethods({ didWebAllowInsecure: true, didDhtGateway: net.relayUrl }),
    });
    if (method === 'dht') {
      await publishPfiDidDht({
        document: t.deps.issuer.didDocument,
        identityPrivateJwk: didDhtIdentityKey(keys)!.privateJwk,
        crypto,
        gatewayUrl: net.relayUrl,
        fetch: globalThis.fetch,
        now: Date.now(),
      });
    }
  });

  /** Our own verifier's view of the PFI DID: did:web through the app, did:dht through the relay. */
  const ourResolver = () =>
    createDidResolver({
      registry: {
        ...createDidJwkResolver(),
        ...createDidKeyResolver(),
        ...createDidWebResolver({ fetch: t.fetch as typeof fetch }),
        ...createDidDhtResolver({ gatewayUrl: net.relayUrl, fetch: globalThis.fetch }),
      },
      cacheTtlMs: 0,
    });

  it('publishes a DID document whose kids are DID URLs of its methods, and advertises its alg', async () => {
    const issuer = t.deps.issuer;
    expect(issuer.did.startsWith(`did:${method}:`)).toBe(true);
    expect(issuer.signer.alg).toBe(alg);
    const vmIds = (issuer.didDocument.verificationMethod ?? []).map((v) => v.id);
    expect(vmIds).toContain(issuer.signer.kid);
    for (const k of issuer.publishedKeys) expect(vmIds).toContain(k.kid);
    expect(issuer.didDocument.assertionMethod).toContain(issuer.signer.kid);
    const idv = issuer.didDocument.service?.find((s) => s.type === 'IDV');
    if (method === 'jwk') expect(idv).toBeUndefined();
    else expect(idv).toEqual({ id: `${issuer.did}#idv`, type: 'IDV', serviceEndpoint: `${PUBLIC_URL}/idv/siopv2/initiate` });

    const meta = await (await t.fetch(`${PUBLIC_URL}/.well-known/openid-credential-issuer`)).json();
    const config = meta.credential_configurations_supported.KnownCustomerCredential;
    expect(config.credential_signing_alg_values_supported).toEqual([alg]);
    expect(config.cryptographic_binding_methods_supported).toEqual(['did:web', 'did:jwk', 'did:dht']);

    // The signed SIOP request object (JAR) is signed with the same alg and a kid of the PFI DID.
    const initiate = await (await t.fetch(`${PUBLIC_URL}/idv/siopv2/initiate`, { headers: { accept: 'application/json' } })).json();
    const request = decodeJwt(initiate.request);
    expect(request.header).toMatchObject({ alg, kid: issuer.signer.kid, typ: 'oauth-authz-req+jwt' });
    expect(initiate.client_metadata.request_object_signing_alg).toBe(alg);
    expect(initiate.client_metadata.subject_syntax_types_supported).toEqual(expect.arrayContaining(['did:jwk', 'did:key', 'did:web', 'did:dht']));
  });

  if (method === 'dht') {
    it('the did:dht packet on the relay resolves to the document, #idv service included', async () => {
      const r = await walletResolver(net.relayUrl).resolve(t.deps.issuer.did);
      expect(r.didResolutionMetadata.error).toBeUndefined();
      expect(r.didDocument).toEqual(t.deps.issuer.didDocument);
      expect(r.didDocument?.verificationMethod?.[0]?.id).toBe(`${t.deps.issuer.did}#0`);
      // The identity key (#0) is not the JWT signer; the signing key is an extra method.
      expect(t.deps.issuer.signer.kid).toBe(`${t.deps.issuer.did}#key-1`);
    });

    it('the wallet discovers the PFI from its did:dht DID directly', async () => {
      const holder = await net.holder('jwk', 'EdDSA');
      const client = new WalletClient(holder, t.fetch, { resolver: walletResolver(net.relayUrl) });
      const pfi = await client.discover(t.deps.issuer.did);
      expect(pfi.idvEndpoint).toBe(`${PUBLIC_URL}/idv/siopv2/initiate`);
    });
  }

  if (method === 'jwk') {
    it('did:jwk has no service: discovery from the DID fails with a hint, the IDV endpoint URL works', async () => {
      const holder = await net.holder('jwk', 'EdDSA');
      const client = new WalletClient(holder, t.fetch, { resolver: walletResolver(net.relayUrl) });
      await expect(client.discover(PUBLIC_URL)).rejects.toThrow(/did:jwk has no services/);
      const request = await client.initiate(`${PUBLIC_URL}/idv/siopv2/initiate`);
      expect(request.client_id).toBe(t.deps.issuer.did);
    });
  }

  it.each(APPLICANTS)('full flow for an applicant with did:%s (%s)', async (holderMethod, holderAlg) => {
    const holder = await net.holder(holderMethod, holderAlg);
    expect(holder.did.startsWith(`did:${holderMethod}:`)).toBe(true);
    expect(holder.signer.alg).toBe(holderAlg);
    const client = new WalletClient(holder, t.fetch, { resolver: walletResolver(net.relayUrl) });
    const result = await applyForKcc(
      client,
      method === 'jwk' ? { idvEndpoint: `${PUBLIC_URL}/idv/siopv2/initiate`, identity: SAMPLE_IDENTITY } : { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY },
    );
    expect(result.credential).toBeTypeOf('string');
    const issuer = t.deps.issuer;

    // Access token: our alg, a kid of the PFI DID.
    expect(decodeJwt(result.accessToken).header).toMatchObject({ alg, kid: issuer.signer.kid, typ: 'at+jwt' });

    // Our verifier: kid resolved through the PFI DID (assertionMethod), signature, claims.
    const now = Math.floor(Date.now() / 1000);
    const ours = await verifyKccJwt({
      jwt: result.credential!,
      resolver: ourResolver(),
      verifier: crypto,
      now,
      expectedIssuer: issuer.did,
      expectedSubject: holder.did,
    });
    expect(ours.alg).toBe(alg);
    expect(ours.kid).toBe(issuer.signer.kid);

    // did-jwt-vc, with did-resolver, fed the same documents.
    const independent = await verifyCredential(result.credential!, independentResolver(t.fetch, net.relayUrl), {
      proofPurpose: 'assertionMethod',
      policies: { now },
    });
    expect(independent.verified).toBe(true);
    expect(independent.issuer).toBe(issuer.did);
    expect(independent.signer.id).toBe(issuer.signer.kid);
    expect(independent.verifiableCredential.credentialSubject.id).toBe(holder.did);
    expect(independent.verifiableCredential.type).toContain('KnownCustomerCredential');
  });

  it('a tampered credential fails both verifiers', async () => {
    const holder = await net.holder('key', 'EdDSA');
    const client = new WalletClient(holder, t.fetch, { resolver: walletResolver(net.relayUrl) });
    const r = await applyForKcc(
      client,
      method === 'jwk' ? { idvEndpoint: `${PUBLIC_URL}/idv/siopv2/initiate`, identity: SAMPLE_IDENTITY } : { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY },
    );
    const [h, p, s] = r.credential!.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    payload.vc.credentialSubject.tier = 'Premium';
    const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    const now = Math.floor(Date.now() / 1000);
    await expect(verifyKccJwt({ jwt: forged, resolver: ourResolver(), verifier: crypto, now })).rejects.toThrow(/signature/);
    await expect(verifyCredential(forged, independentResolver(t.fetch, net.relayUrl), { policies: { now } })).rejects.toThrow(/signature/i);
  });
});

describe('wallet errors', () => {
  it('a PFI DID that does not resolve is reported', async () => {
    const t = await makeTestIssuer();
    const holder = await net.holder('jwk', 'EdDSA');
    const client = new WalletClient(holder, t.fetch, { resolver: walletResolver(net.relayUrl) });
    await expect(client.discover(`did:dht:${'y'.repeat(52)}`)).rejects.toBeInstanceOf(WalletError);
  });
});
