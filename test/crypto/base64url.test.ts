import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { base64urlDecode, base64urlEncode, portableBase64urlDecode, portableBase64urlEncode } from '../../src/crypto/base64url';

/** Node uses the native Buffer codec; Workers (no nodejs_compat) the portable one: both must agree. */
describe('base64url: the native (Buffer) and the portable codec agree', () => {
  it('encode and decode the same bytes', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = new Uint8Array(randomBytes(n));
      const encoded = portableBase64urlEncode(bytes);
      expect(base64urlEncode(bytes)).toBe(encoded);
      expect(base64urlDecode(encoded)).toEqual(bytes);
      expect(portableBase64urlDecode(encoded)).toEqual(bytes);
    }
    expect(base64urlEncode('héllo ✓')).toBe(portableBase64urlEncode('héllo ✓'));
    expect(base64urlEncode(new Uint8Array([1, 2, 3, 4]).subarray(1, 3))).toBe('AgM');
  });

  it('refuse the same inputs: padding, standard alphabet, whitespace, impossible length, non-canonical bits', () => {
    const outcome = (decode: (s: string) => Uint8Array, input: string) => {
      try {
        return Array.from(decode(input));
      } catch (e) {
        expect(e).toBeInstanceOf(TypeError);
        return 'refused';
      }
    };
    for (const input of ['AA==', 'a+b/', 'ab c', 'A', 'AB', 'QR', 'AAB', 'AAA', 'AA', 'é', '']) {
      expect(outcome(base64urlDecode, input), input).toEqual(outcome(portableBase64urlDecode, input));
    }
    expect(outcome(base64urlDecode, 'AB')).toBe('refused');
    expect(outcome(base64urlDecode, 'AA==')).toBe('refused');
    expect(outcome(base64urlDecode, 'AA')).toEqual([0]);
  });
});
