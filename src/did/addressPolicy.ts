/**
 * Pure IP address policy used to refuse server-side requests to non-public
 * destinations (SSRF). Runs on Node and Workers: no Node APIs.
 *
 * Ranges follow the IANA IPv4/IPv6 Special-Purpose Address Registries
 * (RFC 6890 and updates). Anything not clearly globally routable is refused.
 */

export type IpLiteral = { version: 4; bytes: Uint8Array } | { version: 6; bytes: Uint8Array };

/**
 * Parse one IPv4 part as the WHATWG URL host parser does (decimal, octal with
 * a leading 0, hex with 0x), so forms like `0177.0.0.1` or `0x7f000001` are
 * recognised as the address a URL/socket library would connect to.
 */
function parseV4Part(part: string): number | null {
  if (part === '') return null;
  let radix = 10;
  let digits = part;
  if (/^0x/i.test(part)) {
    radix = 16;
    digits = part.slice(2);
    if (digits === '') return 0; // "0x" alone is 0 per WHATWG
  } else if (part.length > 1 && part.startsWith('0')) {
    radix = 8;
    digits = part.slice(1);
  }
  const re = radix === 16 ? /^[0-9a-f]+$/i : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!re.test(digits)) return null;
  const n = parseInt(digits, radix);
  return Number.isSafeInteger(n) ? n : null;
}

/** Parse an IPv4 literal in any inet_aton/WHATWG form (1 to 4 parts). */
export function parseIpv4(host: string): Uint8Array | null {
  let h = host;
  if (h.endsWith('.')) h = h.slice(0, -1); // WHATWG allows one trailing dot
  const parts = h.split('.');
  if (parts.length < 1 || parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    const n = parseV4Part(p);
    if (n === null) return null;
    nums.push(n);
  }
  const last = nums.pop() as number;
  for (const n of nums) if (n > 255) return null;
  const lastMax = 256 ** (4 - nums.length);
  if (last >= lastMax) return null;
  const out = new Uint8Array(4);
  nums.forEach((n, i) => {
    out[i] = n;
  });
  let rest = last;
  for (let i = 3; i >= nums.length; i--) {
    out[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  return out;
}

/** Parse an IPv6 literal (RFC 4291 §2.2 text forms, incl. embedded dotted IPv4). Zone ids are refused. */
export function parseIpv6(input: string): Uint8Array | null {
  let s = input;
  if (s.includes('%')) return null; // zone identifiers (fe80::1%eth0) are never allowed
  if (!/^[0-9a-f:.]+$/i.test(s)) return null;
  const out = new Uint8Array(16);
  // Embedded IPv4 in the last 32 bits.
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = s.slice(lastColon + 1);
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(v4)) return null; // strict dotted-decimal here
    const b = v4.split('.').map(Number);
    if (b.some((x) => x > 255)) return null;
    tail = b;
    // Drop the IPv4 (it fills the last two groups); keep a trailing "::" intact.
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const groupsNeeded = tail.length ? 6 : 8;
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return null;
  let head: string[];
  let back: string[];
  if (dbl >= 0) {
    const a = s.slice(0, dbl);
    const b = s.slice(dbl + 2);
    head = a === '' ? [] : a.split(':');
    back = b === '' ? [] : b.split(':');
    if (head.length + back.length > groupsNeeded - 1) return null;
  } else {
    head = s === '' ? [] : s.split(':');
    back = [];
    if (head.length !== groupsNeeded) return null;
  }
  const groups: number[] = [];
  for (const g of head) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    groups.push(parseInt(g, 16));
  }
  const fill = groupsNeeded - head.length - back.length;
  for (let i = 0; i < fill; i++) groups.push(0);
  for (const g of back) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    groups.push(parseInt(g, 16));
  }
  if (groups.length !== groupsNeeded) return null;
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (tail.length) out.set(tail, 12);
  return out;
}

/**
 * Recognise an IP literal host: `[v6]`, bare v6, or any IPv4 form. Returns
 * null for domain names.
 */
export function parseIpLiteral(host: string): IpLiteral | null {
  let h = host.trim();
  if (h.startsWith('[') && h.endsWith(']')) {
    const b = parseIpv6(h.slice(1, -1));
    return b ? { version: 6, bytes: b } : null;
  }
  if (h.includes(':')) {
    const b = parseIpv6(h);
    return b ? { version: 6, bytes: b } : null;
  }
  h = h.toLowerCase();
  const b = parseIpv4(h);
  return b ? { version: 4, bytes: b } : null;
}

/** True when the host looks like an IP literal, even a malformed one (digits/hex/dots only, or brackets/colons). */
export function looksLikeIpLiteral(host: string): boolean {
  return host.includes(':') || host.startsWith('[') || /^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$/i.test(host);
}

function inV4(b: Uint8Array, net: [number, number, number, number], prefix: number): boolean {
  const a = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  const n = ((net[0] << 24) | (net[1] << 16) | (net[2] << 8) | net[3]) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return (a & mask) >>> 0 === (n & mask) >>> 0;
}

// IANA IPv4 Special-Purpose Address Registry + RFC 1918/6598/5771/1112.
const V4_BLOCKED: Array<[[number, number, number, number], number]> = [
  [[0, 0, 0, 0], 8], // "this network" incl. unspecified (RFC 791)
  [[10, 0, 0, 0], 8], // private (RFC 1918)
  [[100, 64, 0, 0], 10], // CGNAT shared address space (RFC 6598)
  [[127, 0, 0, 0], 8], // loopback (RFC 1122)
  [[169, 254, 0, 0], 16], // link-local incl. cloud metadata 169.254.169.254 (RFC 3927)
  [[172, 16, 0, 0], 12], // private (RFC 1918)
  [[192, 0, 0, 0], 24], // IETF protocol assignments (RFC 6890)
  [[192, 0, 2, 0], 24], // TEST-NET-1 (RFC 5737)
  [[192, 31, 196, 0], 24], // AS112-v4 (RFC 7535)
  [[192, 52, 193, 0], 24], // AMT (RFC 7450)
  [[192, 88, 99, 0], 24], // deprecated 6to4 relay anycast (RFC 7526)
  [[192, 168, 0, 0], 16], // private (RFC 1918)
  [[192, 175, 48, 0], 24], // direct delegation AS112 (RFC 7534)
  [[198, 18, 0, 0], 15], // benchmarking (RFC 2544)
  [[198, 51, 100, 0], 24], // TEST-NET-2 (RFC 5737)
  [[203, 0, 113, 0], 24], // TEST-NET-3 (RFC 5737)
  [[224, 0, 0, 0], 4], // multicast (RFC 5771)
  [[240, 0, 0, 0], 4], // reserved (RFC 1112) incl. broadcast 255.255.255.255
];

function isPublicV4(b: Uint8Array): boolean {
  return !V4_BLOCKED.some(([net, p]) => inV4(b, net, p));
}

function startsWith(b: Uint8Array, prefix: number[]): boolean {
  return prefix.every((x, i) => b[i] === x);
}

function isPublicV6(b: Uint8Array): boolean {
  const zero10 = b.subarray(0, 10).every((x) => x === 0);
  // ::/128 unspecified, ::1/128 loopback, ::/96 IPv4-compatible (RFC 4291 §2.5.5.1), ::ffff:0:0/96 IPv4-mapped (§2.5.5.2)
  if (zero10 && b[10] === 0 && b[11] === 0) {
    if (b.subarray(12).every((x) => x === 0)) return false;
    if (b[12] === 0 && b[13] === 0 && b[14] === 0 && b[15] === 1) return false;
    return isPublicV4(b.subarray(12));
  }
  if (zero10 && b[10] === 0xff && b[11] === 0xff) return isPublicV4(b.subarray(12));
  // ::ffff:0:a.b.c.d IPv4-translated (RFC 2765 §2.1)
  if (startsWith(b, [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0])) return isPublicV4(b.subarray(12));
  // 64:ff9b::/96 NAT64 well-known prefix (RFC 6052): judge the embedded IPv4.
  if (startsWith(b, [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0])) return isPublicV4(b.subarray(12));
  // 2002::/16 6to4 (RFC 3056): judge the embedded IPv4 in bits 16..47.
  if (b[0] === 0x20 && b[1] === 0x02) return isPublicV4(b.subarray(2, 6));
  // Only global unicast 2000::/3 may be public (RFC 4291 §2.4); this excludes
  // fc00::/7 ULA, fe80::/10 link-local, fec0::/10 site-local, ff00::/8 multicast,
  // 64:ff9b:1::/48 local NAT64, 100::/64 discard.
  if ((b[0]! & 0xe0) !== 0x20) return false;
  // 2001::/23 IETF protocol assignments incl. Teredo 2001::/32 (RFC 2928, 4380)
  if (b[0] === 0x20 && b[1] === 0x01 && b[2]! < 0x02) return false;
  // 2001:db8::/32 documentation (RFC 3849)
  if (startsWith(b, [0x20, 0x01, 0x0d, 0xb8])) return false;
  // 3fff::/20 documentation (RFC 9637)
  if (b[0] === 0x3f && b[1] === 0xff && (b[2]! & 0xf0) === 0) return false;
  return true;
}

/** True only for a globally routable unicast address, given as parsed bytes. */
export function isPublicIp(lit: IpLiteral): boolean {
  return lit.version === 4 ? isPublicV4(lit.bytes) : isPublicV6(lit.bytes);
}

// Outside 2000::/3 nothing is global unicast; inside it, the IETF, documentation and 6to4 blocks.
// For a whole range, 6to4 (whose public-ness depends on the embedded IPv4) counts as non-public.
const V6_RANGES_BLOCKED: Array<[number[], number]> = [
  [[0x00, 0x00], 3],
  [[0x40, 0x00], 2],
  [[0x80, 0x00], 1],
  [[0x20, 0x01, 0x00, 0x00], 23],
  [[0x20, 0x01, 0x0d, 0xb8], 32],
  [[0x20, 0x02], 16],
  [[0x3f, 0xff], 20],
];

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** The first and last address of `prefix` bits of `net` (IPv4 or IPv6 bytes). */
export function prefixBounds(net: ArrayLike<number>, length: number, prefix: number): [Uint8Array, Uint8Array] {
  const first = new Uint8Array(length);
  const last = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    const mask = bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff;
    const byte = net[i] ?? 0;
    first[i] = byte & mask;
    last[i] = (byte & mask) | (~mask & 0xff);
  }
  return [first, last];
}

/**
 * True when every address from `start` to `end` (inclusive, same version, start <= end) is
 * globally routable: the range overlaps none of the special-purpose blocks refused above.
 */
export function isPublicRange(version: 4 | 6, start: Uint8Array, end: Uint8Array): boolean {
  const blocked = version === 4 ? V4_BLOCKED.map(([net, p]) => prefixBounds(net, 4, p)) : V6_RANGES_BLOCKED.map(([net, p]) => prefixBounds(net, 16, p));
  return blocked.every(([lo, hi]) => compareBytes(end, lo) < 0 || compareBytes(start, hi) > 0);
}

/**
 * True only for globally routable unicast addresses. Non-IP strings (domain
 * names, malformed literals) return false.
 */
export function isPublicAddress(ip: string): boolean {
  const lit = parseIpLiteral(ip);
  if (!lit) return false;
  return lit.version === 4 ? isPublicV4(lit.bytes) : isPublicV6(lit.bytes);
}

/** Canonical text form of an IP literal (dotted IPv4, uncompressed-lowercase IPv6). */
export function formatIp(lit: IpLiteral): string {
  if (lit.version === 4) return Array.from(lit.bytes).join('.');
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((lit.bytes[i]! << 8) | lit.bytes[i + 1]!).toString(16));
  return g.join(':');
}
