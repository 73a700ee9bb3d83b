import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from './base64url';
import type { DigestsAndRandom } from './keys';

const bytesOf = (input: Uint8Array | string) => (typeof input === 'string' ? utf8.encode(input) : input);

/** Hashes and randomness on any runtime: pure-JS SHA-256/HMAC (@noble/hashes) and Web Crypto's getRandomValues. */
export function createPortableDigests(): DigestsAndRandom {
  return {
    sha256: (data) => sha256(bytesOf(data)),
    hmacSha256: (key, data) => hmac(sha256, bytesOf(key), bytesOf(data)),
    randomBytes(length) {
      const out = new Uint8Array(length);
      crypto.getRandomValues(out);
      return out;
    },
  };
}
