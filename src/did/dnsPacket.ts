/**
 * Minimal RFC 1035 DNS message encoder/decoder, enough for did:dht / Pkarr
 * packets (TXT answers). Decoding follows name compression pointers
 * (RFC 1035 §4.1.4) with loop protection; encoding writes uncompressed names.
 */

export const DNS_TYPE_TXT = 16;
export const DNS_CLASS_IN = 1;
/** QR (response) + AA (authoritative answer), as Pkarr packets use. */
export const DNS_FLAGS_AUTHORITATIVE_RESPONSE = 0x8400;

export interface DnsRecord {
  /** Fully-qualified name without the trailing dot, e.g. `_did.abc`. */
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** Raw RDATA. */
  data: Uint8Array;
  /** For TXT records: the character-strings (RFC 1035 §3.3.14). */
  txt?: Uint8Array[];
}

export interface DnsPacket {
  id: number;
  flags: number;
  questions: Array<{ name: string; type: number; class: number }>;
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

export class DnsDecodeError extends Error {
  constructor(message: string) {
    super(`malformed DNS packet: ${message}`);
    this.name = 'DnsDecodeError';
  }
}

class Reader {
  constructor(
    readonly buf: Uint8Array,
    public off = 0,
  ) {}
  need(n: number): void {
    if (this.off + n > this.buf.byteLength) throw new DnsDecodeError('truncated');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.off++]!;
  }
  u16(): number {
    this.need(2);
    const v = (this.buf[this.off]! << 8) | this.buf[this.off + 1]!;
    this.off += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.off, 4).getUint32(0, false);
    this.off += 4;
    return v;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.buf.slice(this.off, this.off + n);
    this.off += n;
    return v;
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** RFC 1035 §4.1.4: labels, possibly ending in a pointer to an earlier name. */
function readName(r: Reader): string {
  const labels: string[] = [];
  let off = r.off;
  let jumped = false;
  let jumps = 0;
  let total = 0;
  for (;;) {
    if (off >= r.buf.byteLength) throw new DnsDecodeError('name runs past end');
    const len = r.buf[off]!;
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= r.buf.byteLength) throw new DnsDecodeError('truncated pointer');
      const ptr = ((len & 0x3f) << 8) | r.buf[off + 1]!;
      if (!jumped) r.off = off + 2;
      jumped = true;
      // Pointers must go strictly backwards; bound the number of jumps.
      if (ptr >= off || ++jumps > 32) throw new DnsDecodeError('compression loop');
      off = ptr;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsDecodeError('unsupported label type');
    if (len === 0) {
      if (!jumped) r.off = off + 1;
      break;
    }
    if (off + 1 + len > r.buf.byteLength) throw new DnsDecodeError('label runs past end');
    total += len + 1;
    if (total > 255) throw new DnsDecodeError('name too long'); // RFC 1035 §2.3.4
    let label: string;
    try {
      label = utf8Decoder.decode(r.buf.subarray(off + 1, off + 1 + len));
    } catch {
      throw new DnsDecodeError('label is not UTF-8');
    }
    labels.push(label);
    off += 1 + len;
  }
  return labels.join('.');
}

function readRecord(r: Reader): DnsRecord {
  const name = readName(r);
  const type = r.u16();
  const klass = r.u16();
  const ttl = r.u32();
  const rdlen = r.u16();
  const data = r.bytes(rdlen);
  const rec: DnsRecord = { name, type, class: klass, ttl, data };
  if (type === DNS_TYPE_TXT) {
    // RFC 1035 §3.3.14: one or more <character-string>s (length byte + bytes).
    const txt: Uint8Array[] = [];
    let o = 0;
    while (o < data.byteLength) {
      const l = data[o]!;
      if (o + 1 + l > data.byteLength) throw new DnsDecodeError('TXT string runs past RDATA');
      txt.push(data.slice(o + 1, o + 1 + l));
      o += 1 + l;
    }
    rec.txt = txt;
  }
  return rec;
}

export function decodeDnsPacket(buf: Uint8Array): DnsPacket {
  const r = new Reader(buf);
  const id = r.u16();
  const flags = r.u16();
  const qd = r.u16();
  const an = r.u16();
  const ns = r.u16();
  const ar = r.u16();
  const questions: DnsPacket['questions'] = [];
  for (let i = 0; i < qd; i++) questions.push({ name: readName(r), type: r.u16(), class: r.u16() });
  const read = (n: number) => Array.from({ length: n }, () => readRecord(r));
  const answers = read(an);
  const authorities = read(ns);
  const additionals = read(ar);
  if (r.off !== buf.byteLength) throw new DnsDecodeError('trailing bytes');
  return { id, flags, questions, answers, authorities, additionals };
}

const utf8 = new TextEncoder();

function encodeName(name: string): Uint8Array {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  const parts: number[] = [];
  if (n !== '') {
    for (const label of n.split('.')) {
      const b = utf8.encode(label);
      if (b.byteLength === 0 || b.byteLength > 63) throw new RangeError(`invalid DNS label in ${name}`); // RFC 1035 §2.3.4
      parts.push(b.byteLength, ...b);
    }
  }
  parts.push(0);
  if (parts.length > 255) throw new RangeError(`DNS name too long: ${name}`);
  return Uint8Array.from(parts);
}

/** TXT RDATA from strings; each string longer than 255 bytes is split into several character-strings. */
export function encodeTxtData(strings: string[]): Uint8Array {
  const out: number[] = [];
  for (const s of strings) {
    const b = utf8.encode(s);
    if (b.byteLength === 0) out.push(0);
    for (let o = 0; o < b.byteLength; o += 255) {
      const chunk = b.subarray(o, o + 255);
      out.push(chunk.byteLength, ...chunk);
    }
  }
  return Uint8Array.from(out);
}

/** Join a TXT record's character-strings into one UTF-8 string (did:dht: split strings are concatenated). */
export function joinTxt(rec: DnsRecord): string {
  const parts = rec.txt ?? [];
  const all = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.byteLength;
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(all);
}

export function txtRecord(name: string, value: string, ttl: number): DnsRecord {
  const data = encodeTxtData([value]);
  return { name, type: DNS_TYPE_TXT, class: DNS_CLASS_IN, ttl, data };
}

export function encodeDnsPacket(p: Partial<DnsPacket> & { answers: DnsRecord[] }): Uint8Array {
  const chunks: Uint8Array[] = [];
  const header = new Uint8Array(12);
  const dv = new DataView(header.buffer);
  const questions = p.questions ?? [];
  const authorities = p.authorities ?? [];
  const additionals = p.additionals ?? [];
  dv.setUint16(0, p.id ?? 0);
  dv.setUint16(2, p.flags ?? DNS_FLAGS_AUTHORITATIVE_RESPONSE);
  dv.setUint16(4, questions.length);
  dv.setUint16(6, p.answers.length);
  dv.setUint16(8, authorities.length);
  dv.setUint16(10, additionals.length);
  chunks.push(header);
  for (const q of questions) {
    chunks.push(encodeName(q.name));
    const t = new Uint8Array(4);
    new DataView(t.buffer).setUint16(0, q.type);
    new DataView(t.buffer).setUint16(2, q.class);
    chunks.push(t);
  }
  for (const rec of [...p.answers, ...authorities, ...additionals]) {
    if (rec.data.byteLength > 0xffff) throw new RangeError('RDATA too long');
    chunks.push(encodeName(rec.name));
    const f = new Uint8Array(10);
    const fv = new DataView(f.buffer);
    fv.setUint16(0, rec.type);
    fv.setUint16(2, rec.class);
    fv.setUint32(4, rec.ttl);
    fv.setUint16(8, rec.data.byteLength);
    chunks.push(f, rec.data);
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}
