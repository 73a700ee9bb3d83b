/**
 * z-base-32 (human-oriented base-32, https://philzimmermann.com/docs/human-oriented-base-32-encoding.txt)
 * as used by Pkarr and did:dht (did:dht spec §"Format": the suffix is the
 * z-base-32 encoding of the 32-byte Ed25519 Identity Key).
 */
const ALPHABET = 'ybndrfg8ejkmcpqxot1uwisza345h769';
const LOOKUP: Readonly<Record<string, number>> = Object.fromEntries([...ALPHABET].map((c, i) => [c, i]));

export function zbase32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** Strict decode: unknown characters or non-zero padding bits throw. */
export function zbase32Decode(text: string): Uint8Array {
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of text) {
    const v = LOOKUP[ch];
    if (v === undefined) throw new Error(`invalid z-base-32 character ${JSON.stringify(ch)}`);
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits >= 5 || buffer !== 0) throw new Error('invalid z-base-32 padding');
  return Uint8Array.from(out);
}
