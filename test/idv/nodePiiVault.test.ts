import { describe, expect, it } from 'vitest';
import { createPiiVault } from '../../src/idv/piiVault';
import { createNodePiiVault } from '../../src/runtime/nodePiiVault';

describe('PII vault: node:crypto and Web Crypto write the same records', () => {
  it('seals on one and opens on the other, with the same key id; refuses another row or key', async () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const node = createNodePiiVault(key);
    const web = await createPiiVault(key);
    expect(node.keyId).toBe(web.keyId);
    const value = { given_name: 'Zoë', birthdate: '1990-01-02' };
    expect(await web.open('app-1', await node.seal('app-1', value))).toEqual(value);
    expect(await node.open('app-1', await web.seal('app-1', value))).toEqual(value);
    const sealed = await node.seal('app-1', value);
    await expect(node.open('app-2', sealed)).rejects.toThrow();
    await expect(createNodePiiVault(crypto.getRandomValues(new Uint8Array(32))).open('app-1', sealed)).rejects.toThrow();
    const rotated = createNodePiiVault(crypto.getRandomValues(new Uint8Array(32)), [key]);
    expect(await rotated.open('app-1', sealed, node.keyId)).toEqual(value);
    // The stored bytes never carry the plaintext.
    const stored = Buffer.from(sealed, 'base64url').toString('latin1');
    expect(stored).not.toContain('1990-01-02');
  });
});
