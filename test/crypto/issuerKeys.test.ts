import { describe, expect, it } from 'vitest';
import { parseIssuerKeys } from '../../src/crypto/issuerKeys';
import { createWebCryptoProvider } from '../../src/crypto/webCrypto';
import { createIssuerIdentity } from '../../src/issuer';

const crypto = createWebCryptoProvider();

describe('parseIssuerKeys (ISSUER_PRIVATE_JWK)', () => {
  it('accepts one private JWK as key-1', async () => {
    const jwk = await crypto.generateKeyPair('EdDSA');
    expect(parseIssuerKeys(JSON.stringify(jwk))).toEqual([{ id: 'key-1', alg: 'EdDSA', privateJwk: jwk, createdAt: expect.any(String) }]);
  });

  it('accepts an array for rotation: the first signs, all are published, kids become fragments', async () => {
    const next = { ...(await crypto.generateKeyPair('ES256K')), kid: 'k2026' };
    const old = await crypto.generateKeyPair('EdDSA');
    const keys = parseIssuerKeys(JSON.stringify([next, old]));
    expect(keys.map((k) => [k.id, k.alg])).toEqual([
      ['k2026', 'ES256K'],
      ['key-2', 'EdDSA'],
    ]);
    const identity = await createIssuerIdentity('https://pfi.example', keys, crypto);
    expect(identity.signer.kid).toBe('did:web:pfi.example#k2026');
    expect(identity.signer.alg).toBe('ES256K');
    expect(identity.publishedKeys.map((k) => k.kid)).toEqual(['did:web:pfi.example#k2026', 'did:web:pfi.example#key-2']);
  });

  it('accepts the Node key file, newest createdAt signing', async () => {
    const a = await crypto.generateKeyPair('EdDSA');
    const b = await crypto.generateKeyPair('EdDSA');
    const file = {
      keys: [
        { id: 'key-1', alg: 'EdDSA', privateJwk: a, createdAt: '2026-01-01T00:00:00Z' },
        { id: 'key-2', alg: 'EdDSA', privateJwk: b, createdAt: '2026-06-01T00:00:00Z' },
      ],
    };
    const keys = parseIssuerKeys(JSON.stringify(file));
    expect(keys).toHaveLength(2);
    expect((await createIssuerIdentity('https://pfi.example', keys, crypto)).signer.kid).toBe('did:web:pfi.example#key-2');
  });

  it('refuses what is not a supported private key, without echoing key material', async () => {
    const jwk = await crypto.generateKeyPair('EdDSA');
    const bad = [
      'not json',
      '[]',
      JSON.stringify({ ...jwk, d: undefined }),
      JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: jwk.d }),
      JSON.stringify([jwk, { ...jwk }]), // ids key-1 and key-2: accepted
      JSON.stringify([
        { ...jwk, kid: 'same' },
        { ...jwk, kid: 'same' },
      ]),
      JSON.stringify({ keys: [{ id: 'bad id!', alg: 'EdDSA', privateJwk: jwk, createdAt: 'x' }] }),
    ];
    const messages: string[] = [];
    for (const text of bad) {
      try {
        parseIssuerKeys(text);
        messages.push('accepted');
      } catch (e) {
        messages.push((e as Error).message);
      }
    }
    expect(messages[4]).toBe('accepted'); // two different ids are fine
    for (const [i, m] of messages.entries()) {
      if (i === 4) continue;
      expect(m).toMatch(/^ISSUER_PRIVATE_JWK/);
      expect(m).not.toContain(jwk.d);
    }
  });
});
