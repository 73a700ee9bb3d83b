import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Resolver } from 'did-resolver';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { base64urlEncode } from '../../src/crypto/base64url';
import {
  createDidDhtDocument,
  createDidDhtResolver,
  decodeDidDhtPacket,
  didDhtFromPublicKey,
  didDhtIdentityKey,
  encodeDidDhtPacket,
  keyBytesToJwk,
  publishDidDht,
  signBep44,
} from '../../src/did/dht.js';
import { zbase32Decode, zbase32Encode } from '../../src/did/zbase32.js';
import { bep44SignableMessage, parseBep44Body, verifyBep44 } from '../../src/did/bep44.js';
import { decodeDnsPacket, encodeDnsPacket, joinTxt, txtRecord } from '../../src/did/dnsPacket.js';
import { createSafeFetch } from '../../src/runtime/safeFetch.js';

const NOW_MS = 1_760_000_000_000;
const now = () => NOW_MS;
const seqNow = BigInt(NOW_MS) * 1000n; // Pkarr seq: microseconds

function identity() {
  const secretKey = ed25519.utils.randomSecretKey();
  const publicKey = ed25519.getPublicKey(secretKey);
  return { secretKey, publicKey, did: didDhtFromPublicKey(publicKey), sign: async (m: Uint8Array) => ed25519.sign(m, secretKey) };
}

describe('z-base-32', () => {
  it('round trips and matches the reference alphabet', () => {
    // Vectors from the z-base-32 spec: 0xF0 0xBF 0xC7 → "6n9hq", 0xD4 0x7A 0x04 → "4t7ye"
    expect(zbase32Encode(Uint8Array.from([0xf0, 0xbf, 0xc7]))).toBe('6n9hq');
    expect(zbase32Encode(Uint8Array.from([0xd4, 0x7a, 0x04]))).toBe('4t7ye');
    const k = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    const z = zbase32Encode(k);
    expect(z).toHaveLength(52);
    expect(zbase32Decode(z)).toEqual(k);
    expect(() => zbase32Decode('0l')).toThrow();
  });
});

describe('DNS packet codec', () => {
  it('splits TXT strings over 255 bytes and joins them on read', () => {
    const long = 'a'.repeat(300) + 'é'.repeat(100);
    const pkt = encodeDnsPacket({ answers: [txtRecord('_s0._did.', long, 7200)] });
    const dec = decodeDnsPacket(pkt);
    expect(dec.answers[0]!.txt!.length).toBeGreaterThan(1);
    expect(joinTxt(dec.answers[0]!)).toBe(long);
    expect(dec.answers[0]!.name).toBe('_s0._did');
  });

  it('follows name compression pointers and rejects loops', () => {
    // header: 0 questions, 2 answers
    const hdr = [0, 0, 0x84, 0, 0, 0, 0, 2, 0, 0, 0, 0];
    const name1 = [4, ...new TextEncoder().encode('_did'), 3, ...new TextEncoder().encode('abc'), 0];
    const rr = (name: number[], txt: string) => {
      const t = new TextEncoder().encode(txt);
      return [...name, 0, 16, 0, 1, 0, 0, 0x1c, 0x20, 0, t.length + 1, t.length, ...t];
    };
    // second name: "_k0" + pointer to offset 12+4+1 ("abc")? Use pointer to "_did.abc" at offset 12.
    const name2 = [3, ...new TextEncoder().encode('_k0'), 0xc0, 12];
    const pkt = Uint8Array.from([...hdr, ...rr(name1, 'v=0'), ...rr(name2, 'id=0')]);
    const dec = decodeDnsPacket(pkt);
    expect(dec.answers.map((a) => a.name)).toEqual(['_did.abc', '_k0._did.abc']);

    const loop = Uint8Array.from([...hdr.slice(0, 7), 1, 0, 0, 0, 0, 0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(() => decodeDnsPacket(loop)).toThrow(/compression loop/);
    expect(() => decodeDnsPacket(pkt.subarray(0, pkt.length - 3))).toThrow(/malformed/);
  });
});

// Interop vector: a did:dht relay body published by web5-js (seq in seconds, older
// record names with the id suffix), from https://gist.github.com/frankhinek/0a9b639690c45f989cc3ffa3836532cf
const INTEROP_HEX = `19c356a57605e7be8d101e211137dec2bbb875f076a60866529eff68372380c63e435c852bf3
dbc6fa4bbda014c561af361cace90c91350477c010769a9910060000000065b035ce00008400
0000000300000000035f6b30045f646964343177696161616f61677a63656767736e77667a6d
78356377656f67356d736734753533366d627938737179336d6b703377796b6f000010000100
001c2000373669643d303b743d303b6b3d6c53754d5968673132494d6177714675742d325552
413231324e7165382d574542374f426c616d356f4255035f7330045f64696434317769616161
6f61677a63656767736e77667a6d78356377656f67356d736734753533366d62793873717933
6d6b703377796b6f000010000100001c2000393869643d64776e3b743d446563656e7472616c
697a65645765624e6f64653b73653d68747470733a2f2f6578616d706c652e636f6d2f64776e
045f646964343177696161616f61677a63656767736e77667a6d78356377656f67356d736734
753533366d627938737179336d6b703377796b6f000010000100001c20002e2d763d303b766d
3d6b303b617574683d6b303b61736d3d6b303b64656c3d6b303b696e763d6b303b7376633d73
30`.replace(/\s/g, '');

describe('did:dht interop vector', () => {
  it('verifies and decodes a web5-js packet', () => {
    const body = Uint8Array.from(INTEROP_HEX.match(/../g)!.map((h) => parseInt(h, 16)));
    const did = 'did:dht:1wiaaaoagzceggsnwfzmx5cweog5msg4u536mby8sqy3mkp3wyko';
    const item = parseBep44Body(body);
    expect(verifyBep44(item, didDhtIdentityKey(did))).toBe(true);
    const doc = decodeDidDhtPacket(did, item.v);
    expect(doc.verificationMethod?.[0]?.publicKeyJwk).toEqual({
      kty: 'OKP',
      crv: 'Ed25519',
      x: 'lSuMYhg12IMawqFut-2URA212Nqe8-WEB7OBlam5oBU',
      alg: 'EdDSA',
      kid: '0',
    });
    expect(doc.capabilityInvocation).toEqual([`${did}#0`]);
    expect(doc.service).toEqual([{ id: `${did}#dwn`, type: 'DecentralizedWebNode', serviceEndpoint: 'https://example.com/dwn' }]);
  });
});

describe('did:dht document ⇄ packet', () => {
  it('creates the document with the identity key as #0', () => {
    const id = identity();
    const doc = createDidDhtDocument({ identityPublicKey: id.publicKey });
    expect(doc.id).toBe(id.did);
    expect(doc.id).toHaveLength('did:dht:'.length + 52);
    expect(didDhtIdentityKey(doc.id)).toEqual(id.publicKey);
    expect(doc.verificationMethod).toEqual([
      {
        id: `${id.did}#0`,
        type: 'JsonWebKey',
        controller: id.did,
        publicKeyJwk: { kty: 'OKP', crv: 'Ed25519', x: base64urlEncode(id.publicKey), alg: 'EdDSA', kid: '0' },
      },
    ]);
    expect(doc.assertionMethod).toEqual([`${id.did}#0`]);
    expect(doc.capabilityDelegation).toEqual([`${id.did}#0`]);
  });

  it('writes spec-shaped TXT records', () => {
    const id = identity();
    const doc = createDidDhtDocument({
      identityPublicKey: id.publicKey,
      services: [{ id: 'idv', type: 'IDV', serviceEndpoint: 'https://idv.example/start' }],
    });
    const dec = decodeDnsPacket(encodeDidDhtPacket(doc));
    const byName = Object.fromEntries(dec.answers.map((a) => [a.name, joinTxt(a)]));
    expect(byName[`_did.${id.did.slice(8)}`]).toBe('v=0;vm=k0;auth=k0;asm=k0;inv=k0;del=k0;svc=s0');
    // The Identity Key's id (0) and a default alg are left out (spec §"Verification Methods").
    expect(byName['_k0._did']).toBe(`t=0;k=${base64urlEncode(id.publicKey)}`);
    expect(byName['_s0._did']).toBe('id=idv;t=IDV;se=https://idv.example/start');
    expect(dec.answers.every((a) => a.ttl === 7200)).toBe(true);
  });

  it('accepts record names carrying the id suffix (older packets)', () => {
    const id = identity();
    const z = id.did.slice(8);
    const pkt = encodeDnsPacket({
      answers: [txtRecord(`_did.${z}.`, 'v=0;vm=k0;auth=k0', 7200), txtRecord(`_k0._did.${z}.`, `id=0;t=0;k=${base64urlEncode(id.publicKey)}`, 7200)],
    });
    const doc = decodeDidDhtPacket(id.did, pkt);
    expect(doc.authentication).toEqual([`${id.did}#0`]);
  });
});

describe('did:dht resolution through a loopback Pkarr relay', () => {
  const store = new Map<string, Uint8Array>();
  let server: http.Server;
  let gatewayUrl: string;
  const fetchImpl = createSafeFetch({ allowPrivate: true, allowHttp: true });

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const key = (req.url ?? '').slice(1);
      if (req.method === 'PUT') {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          store.set(key, new Uint8Array(Buffer.concat(chunks)));
          res.writeHead(204).end();
        });
        return;
      }
      const body = store.get(key);
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    gatewayUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const resolver = () => new Resolver(createDidDhtResolver({ gatewayUrl, fetch: fetchImpl, now }));

  it('round trip: Ed25519 identity + secp256k1 key + IDV service', async () => {
    const id = identity();
    const k1 = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true);
    const k1Jwk = keyBytesToJwk('secp256k1', k1);
    expect(k1Jwk.y).toBeDefined();
    const doc = createDidDhtDocument({
      identityPublicKey: id.publicKey,
      verificationMethods: [{ id: 'sig', type: 'secp256k1', publicKeyJwk: { ...k1Jwk, alg: 'ES256K' } }],
      services: [{ id: 'idv', type: 'IDV', serviceEndpoint: 'https://issuer.example/idv' }],
    });
    const v = encodeDidDhtPacket(doc);
    const body = await signBep44({ v, seq: seqNow, sign: id.sign });
    await publishDidDht({ gatewayUrl, did: id.did, body, fetch: fetchImpl });

    const r = await resolver().resolve(id.did);
    expect(r.didResolutionMetadata.error).toBeUndefined();
    expect(r.didDocument).toEqual(doc);
    expect(r.didDocument?.verificationMethod?.[1]).toMatchObject({
      id: `${id.did}#sig`,
      publicKeyJwk: { kty: 'EC', crv: 'secp256k1', alg: 'ES256K', x: k1Jwk.x, y: k1Jwk.y },
    });
    expect(r.didDocument?.assertionMethod).toEqual([`${id.did}#0`, `${id.did}#sig`]);
    expect(r.didDocument?.service).toEqual([{ id: `${id.did}#idv`, type: 'IDV', serviceEndpoint: 'https://issuer.example/idv' }]);
    expect(r.didDocumentMetadata.versionId).toBe(seqNow.toString());
    // DID URLs resolve to the same document
    expect((await resolver().resolve(`${id.did}#sig`)).didDocument?.id).toBe(id.did);
  });

  it('round trips a long service endpoint split across TXT strings', async () => {
    const id = identity();
    const endpoint = `https://issuer.example/${'p'.repeat(400)}`;
    const doc = createDidDhtDocument({ identityPublicKey: id.publicKey, services: [{ id: 'idv', type: 'IDV', serviceEndpoint: endpoint }] });
    store.set(id.did.slice(8), await signBep44({ v: encodeDidDhtPacket(doc), seq: seqNow, sign: id.sign }));
    const r = await resolver().resolve(id.did);
    expect(r.didDocument?.service?.[0]?.serviceEndpoint).toBe(endpoint);
  });

  it('refuses a bad signature', async () => {
    const id = identity();
    const body = await signBep44({ v: encodeDidDhtPacket(createDidDhtDocument({ identityPublicKey: id.publicKey })), seq: seqNow, sign: id.sign });
    body[5] ^= 0xff;
    store.set(id.did.slice(8), body);
    const r = await resolver().resolve(id.did);
    expect(r.didDocument).toBeNull();
    expect(r.didResolutionMetadata.error).toBe('invalidDidDocument');
    expect(r.didResolutionMetadata.message).toMatch(/signature/);
  });

  it('refuses a tampered packet (seq or v changed after signing)', async () => {
    const id = identity();
    const body = await signBep44({ v: encodeDidDhtPacket(createDidDhtDocument({ identityPublicKey: id.publicKey })), seq: seqNow, sign: id.sign });
    body[71] ^= 1; // last seq byte
    store.set(id.did.slice(8), body);
    expect((await resolver().resolve(id.did)).didResolutionMetadata.error).toBe('invalidDidDocument');
  });

  it('refuses a packet signed by another key (served under the wrong identifier)', async () => {
    const a = identity();
    const b = identity();
    const bodyB = await signBep44({ v: encodeDidDhtPacket(createDidDhtDocument({ identityPublicKey: b.publicKey })), seq: seqNow, sign: b.sign });
    store.set(a.did.slice(8), bodyB);
    const r = await resolver().resolve(a.did);
    expect(r.didDocument).toBeNull();
    expect(r.didResolutionMetadata.message).toMatch(/signature/);
  });

  it('refuses a correctly signed packet whose records describe another identifier', async () => {
    const a = identity();
    const b = identity();
    const v = encodeDidDhtPacket(createDidDhtDocument({ identityPublicKey: b.publicKey }));
    store.set(a.did.slice(8), await signBep44({ v, seq: seqNow, sign: a.sign }));
    const r = await resolver().resolve(a.did);
    expect(r.didDocument).toBeNull();
    expect(r.didResolutionMetadata.error).toBe('invalidDidDocument');
    expect(r.didResolutionMetadata.message).toMatch(/different identifier/);
  });

  it('refuses a #0 that is not the identity key', async () => {
    const a = identity();
    const b = identity();
    const z = a.did.slice(8);
    const v = encodeDnsPacket({
      answers: [txtRecord(`_did.${z}.`, 'v=0;vm=k0;auth=k0', 7200), txtRecord('_k0._did.', `id=0;t=0;k=${base64urlEncode(b.publicKey)}`, 7200)],
    });
    store.set(z, await signBep44({ v, seq: seqNow, sign: a.sign }));
    const r = await resolver().resolve(a.did);
    expect(r.didResolutionMetadata.message).toMatch(/Identity Key/);
  });

  it('refuses truncated and garbage packets', async () => {
    const id = identity();
    const z = id.did.slice(8);
    const good = encodeDidDhtPacket(createDidDhtDocument({ identityPublicKey: id.publicKey }));
    // validly signed but truncated DNS packet
    store.set(z, await signBep44({ v: good.subarray(0, good.length - 10), seq: seqNow, sign: id.sign }));
    let r = await resolver().resolve(id.did);
    expect(r.didResolutionMetadata.error).toBe('invalidDidDocument');
    expect(r.didResolutionMetadata.message).toMatch(/malformed DNS packet/);
    // validly signed garbage
    store.set(z, await signBep44({ v: crypto.getRandomValues(new Uint8Array(200)), seq: seqNow, sign: id.sign }));
    r = await resolver().resolve(id.did);
    expect(r.didResolutionMetadata.error).toBe('invalidDidDocument');
    // relay body shorter than sig + seq
    store.set(z, new Uint8Array(40));
    r = await resolver().resolve(id.did);
    expect(r.didResolutionMetadata.error).toBe('invalidDidDocument');
  });

  it('refuses oversize bodies', async () => {
    const id = identity();
    const v = new Uint8Array(1001);
    await expect(signBep44({ v, seq: seqNow, sign: id.sign })).rejects.toThrow(/1000/);
    // a relay serving more than 64 + 8 + 1000 bytes
    const sig = ed25519.sign(bep44SignableMessage(seqNow, v), id.secretKey);
    const body = new Uint8Array(64 + 8 + v.length);
    body.set(sig, 0);
    new DataView(body.buffer).setBigUint64(64, seqNow);
    store.set(id.did.slice(8), body);
    const r = await resolver().resolve(id.did);
    expect(r.didDocument).toBeNull();
    expect(r.didResolutionMetadata.error).toBe('notFound');
    expect(() => parseBep44Body(body)).toThrow(/1000/);
  });

  it('refuses a seq far in the future', async () => {
    const id = identity();
    const v = encodeDidDhtPacket(createDidDhtDocument({ identityPublicKey: id.publicKey }));
    store.set(id.did.slice(8), await signBep44({ v, seq: seqNow + 3_600_000_000n, sign: id.sign }));
    const r = await resolver().resolve(id.did);
    expect(r.didResolutionMetadata.message).toMatch(/future/);
  });

  it('unknown identifier → notFound; malformed identifier → invalidDid', async () => {
    const id = identity();
    expect((await resolver().resolve(id.did)).didResolutionMetadata.error).toBe('notFound');
    expect((await resolver().resolve('did:dht:abc')).didResolutionMetadata.error).toBe('invalidDid');
    expect((await resolver().resolve(`did:dht:${'0'.repeat(52)}`)).didResolutionMetadata.error).toBe('invalidDid');
  });

  it('works with the platform fetch too', async () => {
    const id = identity();
    const doc = createDidDhtDocument({ identityPublicKey: id.publicKey });
    await publishDidDht({
      gatewayUrl,
      did: id.did,
      body: await signBep44({ v: encodeDidDhtPacket(doc), seq: seqNow, sign: id.sign }),
      fetch: globalThis.fetch,
    });
    const r = await new Resolver(createDidDhtResolver({ gatewayUrl, fetch: globalThis.fetch, now })).resolve(id.did);
    expect(r.didDocument).toEqual(doc);
  });
});
