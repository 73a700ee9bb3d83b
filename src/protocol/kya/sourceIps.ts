import { isPublicIp, isPublicRange, parseIpv6, prefixBounds, type IpLiteral } from '../../did/addressPolicy';

/**
 * `aid.source_ips` of a KYA token (seed 002, "Agent Identity (aid) Sub-Claims"): public IPv4 or
 * IPv6 addresses, ranges of them in CIDR notation or as start-and-end pairs, or DNS names
 * resolvable to an address. Each entry is checked on its own so that a refusal can name every bad
 * one. "Public" is the issuer's one notion of it (src/did/addressPolicy.ts, the IANA
 * special-purpose registries): a merchant never sees a request from a private, loopback or
 * documentation address, so such an entry could only mislead. DNS names are checked for syntax
 * only: resolving them here would make the issuer fetch what the holder chose, and the merchant
 * resolves them when a request arrives anyway.
 */

/** At most this many entries (after splitting comma-separated strings). */
export const MAX_SOURCE_IPS = 32;
const MAX_ENTRY_LENGTH = 253;

/** One refused entry and why, for the 400 that names each of them. */
export interface SourceIpProblem {
  entry: string;
  reason: string;
}

export type SourceIpsResult = { ok: true; entries: string[] } | { ok: false; problems: SourceIpProblem[] };

// Strict dotted decimal: no octal or hex parts (0177.0.0.1), no leading zeros, exactly four parts.
const DOTTED_QUAD = /^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/;
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
// RFC 2606 / RFC 6761 special-use and private-use names never resolve on the public internet.
const NON_PUBLIC_TLDS = new Set([
  'localhost',
  'local',
  'localdomain',
  'test',
  'invalid',
  'example',
  'internal',
  'lan',
  'home',
  'corp',
  'intranet',
  'private',
  'onion',
  'arpa',
  'alt',
]);

function parseV4Strict(text: string): Uint8Array | undefined {
  if (!DOTTED_QUAD.test(text)) return undefined;
  const parts = text.split('.').map(Number);
  return parts.every((n) => n <= 255) ? Uint8Array.from(parts) : undefined;
}

function parseAddress(text: string): IpLiteral | undefined {
  if (text.includes(':')) {
    const bytes = parseIpv6(text);
    return bytes ? { version: 6, bytes } : undefined;
  }
  const bytes = parseV4Strict(text);
  return bytes ? { version: 4, bytes } : undefined;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** Why a single address is refused, or undefined when it is a public address. */
function addressProblem(text: string): string | undefined {
  const address = parseAddress(text);
  if (!address) return text.includes(':') ? 'not a valid IPv6 address' : 'not a valid IPv4 address (dotted decimal, no leading zeros)';
  return isPublicIp(address) ? undefined : 'not a public address (private, loopback, link-local, documentation or other special-purpose range)';
}

function cidrProblem(text: string): string | undefined {
  const [base, prefixText, extra] = text.split('/');
  if (extra !== undefined) return 'a CIDR range has one "/"';
  const address = parseAddress(base);
  if (!address) return `${base} is not a valid IP address`;
  const bits = address.version === 4 ? 32 : 128;
  if (!/^(0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > bits) return `prefix length must be 0 to ${bits}`;
  const [first, last] = prefixBounds(address.bytes, address.bytes.length, Number(prefixText));
  // A set host bit usually means a typo (203.0.114.7/24 for 203.0.114.0/24): refuse rather than widen silently.
  if (compare(first, address.bytes) !== 0) return 'host bits are set: give the network address of the range';
  return isPublicRange(address.version, first, last)
    ? undefined
    : 'the range is not entirely public (it includes private, loopback, documentation or other special-purpose addresses)';
}

function pairProblem(text: string): string | undefined {
  const parts = text.split('-').map((p) => p.trim());
  if (parts.length !== 2) return 'a start-end pair has exactly one "-"';
  const [start, end] = parts.map(parseAddress);
  if (!start) return `start ${parts[0]} is not a valid IP address`;
  if (!end) return `end ${parts[1]} is not a valid IP address`;
  if (start.version !== end.version) return 'start and end are not both IPv4 or both IPv6';
  if (compare(start.bytes, end.bytes) > 0) return 'start is after end';
  return isPublicRange(start.version, start.bytes, end.bytes)
    ? undefined
    : 'the range is not entirely public (it includes private, loopback, documentation or other special-purpose addresses)';
}

function dnsNameProblem(text: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[^\x21-\x7e]/.test(text)) return 'not an IP address or DNS name (internationalised names must be given as A-labels, xn--…)';
  const name = (text.endsWith('.') ? text.slice(0, -1) : text).toLowerCase();
  const labels = name.split('.');
  if (labels.length < 2) return 'a DNS name needs at least two labels (a single label never resolves publicly)';
  const bad = labels.find((l) => !LABEL.test(l));
  if (bad !== undefined)
    return bad === '' ? 'a DNS name has no empty labels' : `label "${bad.slice(0, 63)}" is not a DNS label (letters, digits and inner hyphens, at most 63)`;
  const tld = labels[labels.length - 1];
  if (/^\d+$/.test(tld)) return 'not a valid IPv4 address (dotted decimal) nor a DNS name';
  if (NON_PUBLIC_TLDS.has(tld)) return `.${tld} names do not resolve on the public internet`;
  return undefined;
}

/** Why one entry is refused, or undefined when it is acceptable. */
export function sourceIpProblem(entry: string): string | undefined {
  if (entry.length === 0) return 'empty entry';
  if (entry.length > MAX_ENTRY_LENGTH) return `longer than ${MAX_ENTRY_LENGTH} characters`;
  if (entry.includes('://')) return 'a URL: give the host name or address only';
  if (entry.includes('/')) return cidrProblem(entry);
  if (entry.includes(':')) return entry.includes('-') ? pairProblem(entry) : addressProblem(entry);
  if (/^[\d.\s]+(-[\d.\s]+)+$/.test(entry)) return pairProblem(entry);
  if (/^[\d.]+$/.test(entry)) return addressProblem(entry);
  return dnsNameProblem(entry);
}

/**
 * Validates `source_ips` as the holder sent it: an array of entries, or one comma-separated
 * string ("Array of comma-separated …" in the seed reads both ways), entries trimmed. Returns the
 * entries to put in the token, or every problem.
 */
export function validateSourceIps(value: unknown): SourceIpsResult {
  const raw = typeof value === 'string' ? [value] : Array.isArray(value) ? value : undefined;
  if (!raw)
    return { ok: false, problems: [{ entry: String(value).slice(0, 80), reason: 'source_ips must be an array of strings or a comma-separated string' }] };
  const problems: SourceIpProblem[] = [];
  const entries: string[] = [];
  for (const item of raw) {
    if (typeof item !== 'string') {
      problems.push({ entry: JSON.stringify(item)?.slice(0, 80) ?? String(item), reason: 'not a string' });
      continue;
    }
    for (const part of item.split(',')) {
      const entry = part.trim();
      const reason = sourceIpProblem(entry);
      if (reason) problems.push({ entry: entry.slice(0, 80), reason });
      else entries.push(entry);
    }
  }
  if (entries.length + problems.length > MAX_SOURCE_IPS) problems.unshift({ entry: '(source_ips)', reason: `at most ${MAX_SOURCE_IPS} entries` });
  return problems.length ? { ok: false, problems } : { ok: true, entries };
}
