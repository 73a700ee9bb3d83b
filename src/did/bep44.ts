/**
 * BEP44 mutable items as carried by Pkarr relays (BEP44 "Mutable items";
 * Pkarr relay spec): relay body = sig(64) || seq(8, big-endian) || v (≤ 1000 bytes).
 * The Ed25519 signature covers the bencoded `3:seqi<seq>e1:v<len>:<v>` (no salt).
 */
import { ed25519 } from '@noble/curves/ed25519.js';

/** BEP44: "v" must be at most 1000 bytes. */
export const BEP44_MAX_V = 1000;
const SIG_LEN = 64;
const SEQ_LEN = 8;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/** The bencoded message that is signed (BEP44, no salt). */
export function bep44SignableMessage(seq: bigint | number, v: Uint8Array): Uint8Array {
  const s = BigInt(seq);
  if (s < 0n || s >= 1n << 63n) throw new RangeError('seq out of range');
  const prefix = new TextEncoder().encode(`3:seqi${s.toString()}e1:v${v.byteLength}:`);
  return concat(prefix, v);
}

export interface SignBep44Input {
  v: Uint8Array;
  /** Sequence number; Pkarr uses the current time in microseconds. */
  seq: bigint | number;
  sign: (msg: Uint8Array) => Promise<Uint8Array>;
}

/** Produce the Pkarr relay body sig || seq || v. */
export async function signBep44(input: SignBep44Input): Promise<Uint8Array> {
  if (input.v.byteLength > BEP44_MAX_V) throw new RangeError(`BEP44 v exceeds ${BEP44_MAX_V} bytes`);
  const seq = BigInt(input.seq);
  const sig = await input.sign(bep44SignableMessage(seq, input.v));
  if (sig.byteLength !== SIG_LEN) throw new Error('signature must be 64 bytes');
  const seqBytes = new Uint8Array(SEQ_LEN);
  new DataView(seqBytes.buffer).setBigUint64(0, seq, false);
  return concat(sig, seqBytes, input.v);
}

export interface Bep44Item {
  sig: Uint8Array;
  seq: bigint;
  v: Uint8Array;
}

/** Split a relay body; throws on a malformed or oversize body. */
export function parseBep44Body(body: Uint8Array): Bep44Item {
  if (body.byteLength < SIG_LEN + SEQ_LEN) throw new Error('relay body too short');
  const v = body.slice(SIG_LEN + SEQ_LEN);
  if (v.byteLength > BEP44_MAX_V) throw new Error(`BEP44 v exceeds ${BEP44_MAX_V} bytes`);
  const seq = new DataView(body.buffer, body.byteOffset + SIG_LEN, SEQ_LEN).getBigUint64(0, false);
  return { sig: body.slice(0, SIG_LEN), seq, v };
}

/** Verify the BEP44 signature with the Ed25519 public key `k`. */
export function verifyBep44(item: Bep44Item, publicKey: Uint8Array): boolean {
  try {
    return ed25519.verify(item.sig, bep44SignableMessage(item.seq, item.v), publicKey);
  } catch {
    return false;
  }
}
