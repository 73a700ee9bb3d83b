/**
 * did:web resolver (W3C did:web Method Specification, §3.2 "Read (Resolve)").
 * Web APIs only (runs on Node and Workers); fetch is injected so the Node
 * runtime can supply an SSRF-safe fetch (src/runtime/safeFetch.ts).
 */
import { readStreamCapped } from '../readCapped';
import type { DIDDocument, DIDResolutionResult, DIDResolver } from 'did-resolver';
import { looksLikeIpLiteral, parseIpLiteral } from './addressPolicy.js';

export type DidResolutionError = 'notFound' | 'invalidDid' | 'invalidDidDocument' | 'unsupportedDidMethod';

export function resolutionError(error: DidResolutionError, message: string): DIDResolutionResult {
  return { didResolutionMetadata: { error, message }, didDocument: null, didDocumentMetadata: {} };
}

export class DidWebError extends Error {
  readonly code: DidResolutionError;
  constructor(code: DidResolutionError, message: string) {
    super(message);
    this.name = 'DidWebError';
    this.code = code;
  }
}

const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const PCT = /%(?![0-9a-fA-F]{2})/;
// did:web method-specific-id characters (DID Core §3.1 idchar): ALPHA / DIGIT / "." / "-" / "_" / pct-encoded
const SEGMENT = /^(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+$/;

function pctDecode(s: string): string {
  if (PCT.test(s)) throw new DidWebError('invalidDid', 'invalid percent-encoding');
  try {
    return decodeURIComponent(s);
  } catch {
    throw new DidWebError('invalidDid', 'invalid percent-encoding');
  }
}

/** A host the WHATWG URL parser would treat as an IP address (incl. `2130706433`, `0x7f.1`, `a.b.0x7f`). */
function isIpHost(host: string): boolean {
  if (host.startsWith('[') || parseIpLiteral(host) || looksLikeIpLiteral(host)) return true;
  const labels = host.replace(/\.$/, '').split('.');
  return /^(0x[0-9a-f]*|[0-9]+)$/i.test(labels[labels.length - 1] ?? '');
}

function validateHost(hostPort: string, allowIpHosts: boolean): string {
  if (/[@/\\?#\s]/.test(hostPort)) throw new DidWebError('invalidDid', 'host must not contain userinfo, path or query characters');
  let host: string;
  let port: string | undefined;
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    if (end < 0) throw new DidWebError('invalidDid', 'unterminated IPv6 literal');
    host = hostPort.slice(0, end + 1);
    const rest = hostPort.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new DidWebError('invalidDid', 'invalid host');
      port = rest.slice(1);
    }
    if (!/^\[[0-9a-fA-F:.]+\]$/.test(host)) throw new DidWebError('invalidDid', 'invalid IPv6 literal');
    if (!allowIpHosts) throw new DidWebError('invalidDid', 'did:web identifiers must not be IP addresses');
  } else {
    const parts = hostPort.split(':');
    if (parts.length > 2) throw new DidWebError('invalidDid', 'invalid host');
    host = parts[0]!.toLowerCase();
    port = parts[1];
    const labels = (host.endsWith('.') ? host.slice(0, -1) : host).split('.');
    if (!allowIpHosts && isIpHost(host)) throw new DidWebError('invalidDid', 'did:web identifiers must not be IP addresses');
    if (host === '' || host.length > 253 || !labels.every((l) => HOST_LABEL.test(l))) {
      throw new DidWebError('invalidDid', 'invalid domain name');
    }
  }
  if (port !== undefined) {
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      throw new DidWebError('invalidDid', 'invalid port');
    }
    return `${host}:${Number(port)}`;
  }
  return host;
}

/**
 * Map a did:web DID to the URL of its DID document (did:web spec §3.2 steps 1-6):
 * `did:web:example.com` → `https://example.com/.well-known/did.json`,
 * `did:web:example.com:user:alice` → `https://example.com/user/alice/did.json`,
 * `did:web:localhost%3A8443` → `https://localhost:8443/.well-known/did.json`.
 * Throws DidWebError('invalidDid') for malformed identifiers. IP-address hosts are
 * refused (did:web spec §3.1: the identifier "MUST NOT include IP addresses")
 * unless `allowIpHosts` is set (dev/tests).
 */
export function didWebUrl(did: string, opts: { scheme?: 'https' | 'http'; allowIpHosts?: boolean } = {}): string {
  const scheme = opts.scheme ?? 'https';
  if (!did.startsWith('did:')) throw new DidWebError('invalidDid', 'not a DID');
  const rest = did.slice(4);
  const colon = rest.indexOf(':');
  if (colon < 0) throw new DidWebError('invalidDid', 'missing method-specific identifier');
  if (rest.slice(0, colon) !== 'web') throw new DidWebError('unsupportedDidMethod', 'not a did:web DID');
  const msid = rest.slice(colon + 1);
  // §3.2 step 1: ":" separates path segments; empty segments are malformed.
  const segments = msid.split(':');
  for (const s of segments) {
    if (s === '') throw new DidWebError('invalidDid', 'empty segment');
    if (!SEGMENT.test(s)) throw new DidWebError('invalidDid', 'invalid character in identifier');
  }
  // §3.2 step 2: percent-decode the host (port colon is %3A).
  const host = validateHost(pctDecode(segments[0]!), opts.allowIpHosts ?? false);
  const path = segments.slice(1).map((s) => {
    const d = pctDecode(s);
    if (d === '.' || d === '..') throw new DidWebError('invalidDid', 'path traversal segment');
    if (/[/\\?#\p{Cc}]/u.test(d)) throw new DidWebError('invalidDid', 'invalid character in path segment');
    return encodeURIComponent(d);
  });
  // §3.2 steps 4-5: no path → /.well-known; then append /did.json.
  const p = path.length ? `/${path.join('/')}` : '/.well-known';
  return `${scheme}://${host}${p}/did.json`;
}

const JSON_TYPES = new Set(['application/json', 'application/did+json', 'application/did+ld+json']);

export class BodyTooLargeError extends Error {
  readonly code = 'ERR_TOO_LARGE';
  constructor(max: number) {
    super(`ERR_TOO_LARGE: response exceeds ${max} bytes`);
  }
}

/** Read a Response body, aborting as soon as it exceeds maxBytes. */
export async function readBodyCapped(res: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new BodyTooLargeError(maxBytes);
  }
  if (!res.body) return new Uint8Array(0);
  return readStreamCapped(res.body, maxBytes, () => new BodyTooLargeError(maxBytes));
}

/** Run `fn` with an AbortSignal that fires after timeoutMs; rejects with an ERR_TIMEOUT error. */
export async function withTimeout<T>(timeoutMs: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctrl = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = Object.assign(new Error(`ERR_TIMEOUT: no response within ${timeoutMs} ms`), { code: 'ERR_TIMEOUT' });
      ctrl.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    return await Promise.race([fn(ctrl.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface DidWebResolverOptions {
  fetch: typeof fetch;
  /** Default 5000 ms. */
  timeoutMs?: number;
  /** Default 64 KiB. */
  maxBytes?: number;
  /** Use http:// instead of https:// (dev/tests only). */
  allowHttp?: boolean;
  /** Accept IP-address hosts, which did:web §3.1 forbids (dev/tests only). Defaults to `allowHttp`. */
  allowIpHosts?: boolean;
}

export function createDidWebResolver(opts: DidWebResolverOptions): { web: DIDResolver } {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const maxBytes = opts.maxBytes ?? 64 * 1024;
  const doFetch = opts.fetch;

  const web: DIDResolver = async (did, parsed) => {
    // Resolve the DID itself, never a DID URL's path/query/fragment.
    const baseDid = parsed?.did ?? did;
    let url: string;
    try {
      url = didWebUrl(baseDid, { scheme: opts.allowHttp ? 'http' : 'https', allowIpHosts: opts.allowIpHosts ?? opts.allowHttp ?? false });
    } catch (err) {
      return resolutionError(err instanceof DidWebError ? err.code : 'invalidDid', errMessage(err));
    }

    let bytes: Uint8Array;
    let contentType: string;
    try {
      ({ bytes, contentType } = await withTimeout(timeoutMs, async (signal) => {
        const res = await doFetch(url, { method: 'GET', headers: { accept: 'application/did+json, application/json' }, signal, redirect: 'follow' });
        if (!res.ok) {
          await res.body?.cancel().catch(() => {});
          throw new DidWebError('notFound', `HTTP ${res.status} from ${url}`);
        }
        // §3.2: the document is JSON; accept only JSON media types.
        const ct = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
        if (!JSON_TYPES.has(ct)) {
          await res.body?.cancel().catch(() => {});
          throw new DidWebError('invalidDidDocument', `unexpected content type "${ct}"`);
        }
        return { bytes: await readBodyCapped(res, maxBytes), contentType: ct };
      }));
    } catch (err) {
      if (err instanceof DidWebError) return resolutionError(err.code, err.message);
      return resolutionError('notFound', `fetching ${url} failed: ${errMessage(err)}`);
    }

    let doc: unknown;
    try {
      doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch (err) {
      return resolutionError('invalidDidDocument', `DID document is not valid JSON: ${errMessage(err)}`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      return resolutionError('invalidDidDocument', 'DID document is not a JSON object');
    }
    // §3.2: the resolved document's id must be the DID being resolved.
    const id = (doc as { id?: unknown }).id;
    if (id !== baseDid) {
      return resolutionError('invalidDidDocument', `DID document id ${JSON.stringify(id)} does not match ${baseDid}`);
    }
    return {
      didResolutionMetadata: { contentType: contentType === 'application/json' ? 'application/did+json' : contentType },
      didDocument: doc as DIDDocument,
      didDocumentMetadata: {},
    };
  };
  return { web };
}
