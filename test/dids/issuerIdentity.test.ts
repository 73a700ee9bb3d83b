import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import { decodeDidDhtPacket, encodeDidDhtPacket } from '../../src/did/dht';
import { signJwt, decodeJwt } from '../../src/crypto/jwt';
import { resolveConfig } from '../../src/config';
import { createIssuerIdentity, type IssuerKey } from '../../src/issuer';
import { loadOrCreateKeys, nextKeyId, readKeys, rotateKeys } from '../../src/runtime/keyFile';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { makeIssuerKeys } from '../helpers/issuer';

const crypto = createNodeCryptoProvider();
const URL_ = 'https://pfi.example';

describe('createIssuerIdentity per DID method', () => {
  it('did:web: kids are DID URLs of the did:web document, newest first', async () => {
    const keys = (await rotateKeys(await makeIssuerKeys('EdDSA'), crypto, 'ES256K')).keys;
    const id = await createIssuerIdentity(URL_, keys, crypto);
    expect(id.did).toBe('did:web:pfi.example');
    expect(id.publishedKeys.map((k) => k.kid)).toEqual(['did:web:pfi.example#key-2', 'did:web:pfi.example#key-1']);
    expect(id.signer.kid).toBe('did:web:pfi.example#key-2');
    expect([...id.keysByKid.keys()]).toEqual(id.publishedKeys.map((k) => k.kid));
  });

  it('did:dht: identity key #0 plus the signing keys; the packet round-trips with the #idv service', async () => {
    const keys = await makeIssuerKeys('ES256K', { didDhtIdentity: true });
    const id = await createIssuerIdentity(URL_, keys, crypto, { method: 'dht' });
    expect(id.did).toMatch(/^did:dht:[a-km-uw-z13-9]{52}$/);
    expect(id.signer).toMatchObject({ alg: 'ES256K', kid: `${id.did}#key-1` });
    // The identity key never signs JWTs and is not an access-token key.
    expect(id.keysByKid.has(`${id.did}#0`)).toBe(false);
    const decoded = decodeDidDhtPacket(id.did, encodeDidDhtPacket(id.didDocument));
    expect(decoded).toEqual(id.didDocument);
    expect(decoded.service).toEqual([{ id: `${id.did}#idv`, type: 'IDV', serviceEndpoint: `${URL_}/idv/siopv2/initiate` }]);
    expect(decoded.verificationMethod![1]).toMatchObject({ id: `${id.did}#key-1`, publicKeyJwk: { crv: 'secp256k1', alg: 'ES256K' } });
  });

  it('did:dht without an identity key, or with more keys than a 1000-byte packet holds, is refused at start', async () => {
    await expect(createIssuerIdentity(URL_, await makeIssuerKeys('EdDSA'), crypto, { method: 'dht' })).rejects.toThrow(/identity key/);
    let keys: IssuerKey[] = await makeIssuerKeys('ES256K', { didDhtIdentity: true });
    for (let i = 0; i < 14; i++) keys = (await rotateKeys(keys, crypto, 'ES256K')).keys;
    await expect(createIssuerIdentity(URL_, keys, crypto, { method: 'dht' })).rejects.toThrow(/1000/);
  });

  it('did:jwk: the DID of the newest key, one method #0, no service', async () => {
    const keys = (await rotateKeys(await makeIssuerKeys('EdDSA'), crypto, 'ES256K')).keys;
    const id = await createIssuerIdentity(URL_, keys, crypto, { method: 'jwk' });
    expect(id.did).toMatch(/^did:jwk:/);
    expect(id.signer).toMatchObject({ alg: 'ES256K', kid: `${id.did}#0` });
    expect(id.didDocument.service).toBeUndefined();
    expect(id.publishedKeys).toHaveLength(1);
  });

  it('config refuses an unknown method', () => {
    expect(() => resolveConfig({ publicUrl: URL_, didMethod: 'ion' as never })).toThrow(/ISSUER_DID_METHOD/);
    expect(resolveConfig({ publicUrl: URL_ }).didMethod).toBe('web');
  });
});

describe('ES256K signatures', () => {
  it('are JOSE 64-byte r||s, low-S', async () => {
    const [key] = await makeIssuerKeys('ES256K');
    const signer = await crypto.createSigner(key.privateJwk!, 'did:web:pfi.example#key-1');
    const half = secp256k1.Point.CURVE().n / 2n;
    for (let i = 0; i < 20; i++) {
      const jwt = decodeJwt(await signJwt(signer, { i }));
      expect(jwt.header.alg).toBe('ES256K');
      expect(jwt.signature).toHaveLength(64);
      const s = BigInt(`0x${Buffer.from(jwt.signature.subarray(32)).toString('hex')}`);
      expect(s <= half).toBe(true);
      expect(await crypto.verify('ES256K', signer.publicJwk, jwt.signingInput, jwt.signature)).toBe(true);
    }
  });
});

describe('key file', () => {
  it('creates 0600, adds a did:dht identity key once, and numbers rotated keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-kf-'));
    try {
      const file = join(dir, 'issuer-keys.json');
      const first = await loadOrCreateKeys(file, crypto, 'EdDSA');
      expect(first).toHaveLength(1);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const withIdentity = await loadOrCreateKeys(file, crypto, 'EdDSA', { didDhtIdentity: true });
      expect(withIdentity.map((k) => k.role ?? k.id)).toEqual(['key-1', 'did-dht-identity']);
      expect(await loadOrCreateKeys(file, crypto, 'EdDSA', { didDhtIdentity: true })).toEqual(withIdentity);
      expect(readKeys(file)).toEqual(withIdentity);
      expect(nextKeyId(withIdentity)).toBe('key-2');
      // A clock that steps back never makes the new key sort before the current one.
      const { added } = await rotateKeys(withIdentity, crypto, 'EdDSA', () => Date.parse('2000-01-01T00:00:00Z'));
      expect(added.createdAt > withIdentity[0].createdAt).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
