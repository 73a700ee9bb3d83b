/**
 * Strict base64url (RFC 4648 §5, no padding) as JOSE uses it (RFC 7515 §2).
 * Decoding refuses padding, whitespace and the standard-alphabet `+` `/`,
 * so a token that differs only in its encoding never verifies.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Node's (and Workers' nodejs_compat) native Buffer codec when the runtime has one: several
 * times faster than the loops below, which remain for runtimes without it. Decoding still goes
 * through the strict checks first (Buffer's own decoder is lenient).
 */
interface NativeBuffer {
  from(input: string, encoding: 'utf8' | 'base64url'): Uint8Array & { toString(encoding: 'base64url'): string };
  from(buffer: ArrayBufferLike, offset: number, length: number): Uint8Array & { toString(encoding: 'base64url'): string };
}
const NativeBuffer = (globalThis as { Buffer?: NativeBuffer }).Buffer;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export function base64urlEncode(input: Uint8Array | string): string {
  if (NativeBuffer) {
    return (typeof input === 'string' ? NativeBuffer.from(input, 'utf8') : NativeBuffer.from(input.buffer, input.byteOffset, input.byteLength)).toString(
      'base64url',
    );
  }
  return portableBase64urlEncode(input);
}

/** The encoder for runtimes without Buffer (exported for tests). */
export function portableBase64urlEncode(input: Uint8Array | string): string {
  const bytes = typeof input === 'string' ? encoder.encode(input) : input;
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63];
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63];
  }
  return out;
}

/** Decodes strict base64url; throws `TypeError` on any character outside the alphabet or an impossible length. */
export function base64urlDecode(input: string): Uint8Array {
  const len = input.length;
  if (len % 4 === 1) throw new TypeError('invalid base64url length');
  if (NativeBuffer) {
    if (!BASE64URL.test(input)) throw new TypeError('invalid base64url character');
    // Non-zero leftover bits in the last character mean a non-canonical encoding (RFC 4648 §3.5).
    const leftoverBits = len % 4 === 2 ? 4 : len % 4 === 3 ? 2 : 0;
    if (leftoverBits && (LOOKUP[input.charCodeAt(len - 1)] & ((1 << leftoverBits) - 1)) !== 0) throw new TypeError('non-canonical base64url');
    const b = NativeBuffer.from(input, 'base64url');
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength); // a plain Uint8Array view, not a Buffer
  }
  return portableBase64urlDecode(input);
}

/** The decoder for runtimes without Buffer (exported for tests). */
export function portableBase64urlDecode(input: string): Uint8Array {
  const len = input.length;
  if (len % 4 === 1) throw new TypeError('invalid base64url length');
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  let buffer = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < len; i++) {
    const code = input.charCodeAt(i);
    const v = code < 128 ? LOOKUP[code] : -1;
    if (v < 0) throw new TypeError('invalid base64url character');
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >> bits) & 0xff;
    }
  }
  // Non-zero leftover bits mean a non-canonical encoding (RFC 4648 §3.5).
  if (bits > 0 && (buffer & ((1 << bits) - 1)) !== 0) throw new TypeError('non-canonical base64url');
  return out.subarray(0, o);
}

export function base64urlDecodeToString(input: string): string {
  return decoder.decode(base64urlDecode(input));
}

export const utf8 = {
  encode: (s: string) => encoder.encode(s),
  decode: (b: Uint8Array) => decoder.decode(b),
};
