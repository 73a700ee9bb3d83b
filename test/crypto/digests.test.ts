import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPortableDigests } from '../../src/crypto/portableDigests';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';

/** The runtimes' synchronous hashes and randomness (src/crypto/keys.ts DigestsAndRandom) agree with each other and never repeat bytes. */
describe('digests and random bytes', () => {
  const node = createNodeCryptoProvider();
  const portable = createPortableDigests();
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

  it('SHA-256 and HMAC-SHA256 are the same on Node and on the portable implementation', () => {
    for (const input of ['', 'abc', 'x'.repeat(1500), 'ünïcödé ✓', new Uint8Array([0, 1, 2, 255])]) {
      const expected = createHash('sha256').update(input).digest('hex');
      expect(hex(node.sha256(input))).toBe(expected);
      expect(hex(portable.sha256(input))).toBe(expected);
      const mac = createHmac('sha256', 'key ✓').update(input).digest('hex');
      expect(hex(node.hmacSha256('key ✓', input))).toBe(mac);
      expect(hex(portable.hmacSha256(new TextEncoder().encode('key ✓'), input))).toBe(mac);
    }
  });

  it('the pooled random bytes are fresh: no two draws share bytes, across refills, and a large draw works', () => {
    const seen = new Set<string>();
    // 4096-byte pool: 1000 draws of 32 bytes cross several refills.
    for (let i = 0; i < 1000; i++) {
      const b = node.randomBytes(32);
      expect(b).toHaveLength(32);
      seen.add(hex(b));
    }
    expect(seen.size).toBe(1000);
    // Odd sizes that do not divide the pool, and a draw larger than the pool.
    const sizes = [16, 7, 4095, 33, 10_000];
    const draws = sizes.map((n) => node.randomBytes(n));
    expect(draws.map((d) => d.length)).toEqual(sizes);
    // A draw is a copy: changing it changes no later draw, and later draws are not zero.
    draws[0].fill(0);
    expect(node.randomBytes(32).some((x) => x !== 0)).toBe(true);
    // Roughly uniform: every byte value appears in 10,000 random bytes.
    expect(new Set(draws[4]).size).toBe(256);
  });
});
