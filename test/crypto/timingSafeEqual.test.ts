import { describe, expect, it } from 'vitest';
import { timingSafeEqual } from '../../src/crypto/timingSafeEqual';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('timingSafeEqual', () => {
  it('is true only for equal bytes of equal length', () => {
    expect(timingSafeEqual(bytes('secret-value'), bytes('secret-value'))).toBe(true);
    expect(timingSafeEqual(bytes('secret-value'), bytes('secret-valuf'))).toBe(false);
    expect(timingSafeEqual(bytes('Secret-value'), bytes('secret-value'))).toBe(false);
    expect(timingSafeEqual(bytes('secret'), bytes('secret-value'))).toBe(false);
    expect(timingSafeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });
});
