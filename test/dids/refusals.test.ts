import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signJwt } from '../../src/crypto/jwt';
import { didDhtFromPublicKey, createDidDhtDocument, encodeDidDhtPacket, signBep44 } from '../../src/did/dht';
import { base64urlDecode } from '../../src/crypto/base64url';
import { nodeDidMethods } from '../../src/runtime/node';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { startDidNetwork, walletResolver, type DidNetwork } from '../helpers/didNetwork';
import { makeTestIssuer, PUBLIC_URL } from '../helpers/issuer';

/**
 * Flow level: applicant DIDs that must be refused at the SIOP response endpoint
 * with `invalid_request` (never a 500): did:web SSRF attempts with the default (secure)
 * resolver settings, and did:dht packets with a bad signature or another identifier.
 */
const crypto = createNodeCryptoProvider();
let net: DidNetwork;
beforeAll(async () => {
  net = await startDidNetwork();
});
afterAll(async () => {
  await net.close();
});

type TestIssuer = Awaited<ReturnType<typeof makeTestIssuer>>;

/** GET the SIOP request, then POST an ID token for `did` (kid `kid`) signed with `privateJwk`. */
async function respondAs(t: TestIssuer, did: string, kid: string, holder: Holder) {
  const initiate = await (await t.fetch(`${PUBLIC_URL}/idv/siopv2/initiate`, { headers: { accept: 'application/json' } })).json();
  const signer = await crypto.createSigner(holder.privateJwk, kid);
  const now = Math.floor(Date.now() / 1000);
  const idToken = await signJwt(signer, { iss: did, sub: did, aud: initiate.client_id, nonce: initiate.nonce, iat: now, exp: now + 300 }, { typ: 'JWT' });
  const res = await t.fetch(`${PUBLIC_URL}/idv/siopv2/response`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id_token: idToken }),
  });
  return { status: res.status, body: await res.json(), nonce: initiate.nonce as string };
}

describe('did:web SSRF attempts are refused at the SIOP endpoint by default', () => {
  let t: TestIssuer;
  beforeAll(async () => {
    // The production default: https only, public addresses only (DID_WEB_ALLOW_INSECURE unset).
    t = await makeTestIssuer({ didMethods: nodeDidMethods({ didDhtGateway: net.relayUrl }) });
  });

  const port = () => net.port;
  const cases: Array<[string, () => string]> = [
    ['127.0.0.1 with the loopback server port', () => `did:web:127.0.0.1%3A${port()}:holders:ssrf`],
    ['10.0.0.1', () => 'did:web:10.0.0.1'],
    ['169.254.169.254 (cloud metadata)', () => 'did:web:169.254.169.254:latest:meta-data'],
    ['[::1]', () => 'did:web:%5B%3A%3A1%5D'],
    ['[::ffff:127.0.0.1]', () => 'did:web:%5B%3A%3Affff%3A127.0.0.1%5D'],
    ['decimal 2130706433', () => 'did:web:2130706433'],
    ['localhost (a name that resolves to loopback)', () => `did:web:localhost%3A${port()}:holders:ssrf`],
  ];

  it.each(cases)('%s → 400 invalid_request, nothing fetched', async (_label, didOf) => {
    const did = didOf();
    const holder = await Holder.create({ alg: 'EdDSA' });
    // Serve a valid document at the loopback location anyway: it must never be fetched.
    net.webDocs.set('/holders/ssrf/did.json', { id: did, verificationMethod: [], authentication: [] });
    const before = net.hits.length;
    const r = await respondAs(t, did, `${did}#key-1`, holder);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_request');
    expect(r.body.error_description).toMatch(/could not be resolved|not a valid DID|invalid/);
    expect(net.hits.slice(before)).toEqual([]);
  });

  it('the same applicant did:web on loopback passes with the insecure dev setting', async () => {
    const dev = await makeTestIssuer({ didMethods: nodeDidMethods({ didWebAllowInsecure: true, didDhtGateway: net.relayUrl }) });
    const holder = await net.holder('web', 'EdDSA', { host: 'localhost' });
    expect(holder.did).toMatch(/^did:web:localhost%3A\d+:holders:h\d+$/);
    const client = new WalletClient(holder, dev.fetch);
    const r = await applyForKcc(client, { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY });
    expect(r.credential).toBeTypeOf('string');
    // ... and is refused by the default issuer.
    const refused = await respondAs(t, holder.did, holder.kid, holder);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_request');
  });

  it('a did:web whose key is not an authentication method is refused', async () => {
    const dev = await makeTestIssuer({ didMethods: nodeDidMethods({ didWebAllowInsecure: true, didDhtGateway: net.relayUrl }) });
    const holder = await net.holder('web', 'ES256K');
    const path = `${new URL(`http://x/${holder.did.split(':').slice(3).join('/')}`).pathname}/did.json`;
    net.webDocs.set(path, { ...holder.didDocument, authentication: [] });
    const r = await respondAs(dev, holder.did, holder.kid, holder);
    expect(r.status).toBe(400);
    expect(r.body.error_description).toMatch(/not an authentication method/);
  });
});

describe('did:dht packets that must not be trusted are refused at the SIOP endpoint', () => {
  let t: TestIssuer;
  beforeAll(async () => {
    t = await makeTestIssuer({ didMethods: nodeDidMethods({ didDhtGateway: net.relayUrl }) });
  });
  const idOf = (did: string) => did.slice('did:dht:'.length);

  it('a good packet passes (control)', async () => {
    const holder = await net.holder('dht', 'ES256K');
    const r = await respondAs(t, holder.did, holder.kid, holder);
    expect(r.status).toBe(200);
  });

  it('a packet whose BEP44 signature does not verify → invalid_request', async () => {
    const holder = await net.holder('dht', 'EdDSA');
    const body = net.relay.get(idOf(holder.did))!;
    const bad = body.slice();
    bad[10] ^= 0x01; // inside the 64-byte signature
    net.relay.set(idOf(holder.did), bad);
    const r = await respondAs(t, holder.did, holder.kid, holder);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_request');
  });

  it("another identity's packet served under this identifier → invalid_request", async () => {
    const victim = await net.holder('dht', 'EdDSA');
    const attacker = await net.holder('dht', 'EdDSA');
    // The relay answers for the victim's id with the attacker's (validly self-signed) packet.
    net.relay.set(idOf(victim.did), net.relay.get(idOf(attacker.did))!);
    const r = await respondAs(t, victim.did, `${victim.did}#0`, attacker);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_request');
  });

  it("a packet signed by the identifier's key but describing another identifier → invalid_request", async () => {
    const holder = await net.holder('dht', 'EdDSA');
    const other = await Holder.create({ method: 'dht', alg: 'EdDSA' });
    const identity = await crypto.createSigner(holder.privateJwk, `${holder.did}#0`);
    const otherDoc = createDidDhtDocument({ identityPublicKey: base64urlDecode(other.privateJwk.x) });
    expect(otherDoc.id).toBe(didDhtFromPublicKey(base64urlDecode(other.privateJwk.x)));
    const body = await signBep44({ v: encodeDidDhtPacket(otherDoc), seq: BigInt(Date.now()) * 1000n, sign: (m) => identity.sign(m) });
    net.relay.set(idOf(holder.did), body);
    const r = await respondAs(t, holder.did, holder.kid, holder);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_request');
  });

  it('an unpublished did:dht → invalid_request', async () => {
    const holder = await Holder.create({ method: 'dht', alg: 'ES256K' });
    const r = await respondAs(t, holder.did, holder.kid, holder);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_request');
  });

  it("at the credential endpoint, a proof whose kid is not in the applicant's did:dht document → invalid_proof", async () => {
    const holder = await net.holder('dht', 'ES256K');
    const client = new WalletClient(holder, t.fetch);
    const pfi = await client.discover(PUBLIC_URL);
    const idv = await client.respond(await client.initiate(pfi.idvEndpoint, pfi));
    await client.submitIdvForm(idv.url, SAMPLE_IDENTITY);
    const token = await client.token(
      `${PUBLIC_URL}/oauth2/token`,
      idv.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'],
    );
    const signer = await crypto.createSigner(holder.privateJwk, `${holder.did}#not-published`);
    const now = Math.floor(Date.now() / 1000);
    const proof = await signJwt(signer, { iss: holder.did, aud: pfi.did, iat: now, nonce: token.c_nonce }, { typ: 'openid4vci-proof+jwt' });
    const res = await t.fetch(`${PUBLIC_URL}/oid4vci/credential`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token.access_token}` },
      body: JSON.stringify({ format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: proof } }),
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error).toBe('invalid_proof');
    expect(body.error_description).toMatch(/not an authentication method/);
  });

  it('the wallet refuses a PFI did:dht whose packet is forged', async () => {
    const holder = await Holder.create();
    const pfiLike = await net.holder('dht', 'EdDSA');
    const body = net.relay.get(idOf(pfiLike.did))!.slice();
    body[70] ^= 0x01; // seq changed after signing
    net.relay.set(idOf(pfiLike.did), body);
    const client = new WalletClient(holder, t.fetch, { resolver: walletResolver(net.relayUrl) });
    await expect(client.discover(pfiLike.did)).rejects.toThrow(/could not be resolved/);
  });
});
