/**
 * SSRF-safe fetch for Node: a fetch-compatible function built on node:http /
 * node:https whose socket `lookup` refuses non-public addresses at connect
 * time (so DNS rebinding between check and use is impossible), which refuses
 * non-public IP-literal hosts, re-checks every redirect hop, and enforces a
 * timeout and a response size cap. The body is buffered (≤ maxBytes) before
 * the Response is returned.
 */
import http from 'node:http';
import https from 'node:https';
import dns from 'node:dns';
import type net from 'node:net';
import { formatIp, isPublicAddress, looksLikeIpLiteral, parseIpLiteral } from '../did/addressPolicy.js';

export type SafeFetchErrorCode = 'ERR_SSRF_BLOCKED' | 'ERR_TIMEOUT' | 'ERR_TOO_LARGE' | 'ERR_SCHEME' | 'ERR_TOO_MANY_REDIRECTS' | 'ERR_ABORTED' | 'ERR_NETWORK';

export class SafeFetchError extends Error {
  readonly code: SafeFetchErrorCode;
  constructor(code: SafeFetchErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'SafeFetchError';
    this.code = code;
  }
}

export interface LookupResult {
  address: string;
  family: 4 | 6;
}

export interface SafeFetchOptions {
  /** Allow private/loopback/link-local destinations (dev and tests only). */
  allowPrivate?: boolean;
  /** Allow plain http:// (dev and tests only). */
  allowHttp?: boolean;
  /** Overall deadline per call, including redirects and body. Default 10 000 ms. */
  timeoutMs?: number;
  /** Response body cap. Default 1 MiB. */
  maxBytes?: number;
  /** Default 3. */
  maxRedirects?: number;
  /**
   * Address policy, consulted for IP-literal hosts and for every address a
   * name resolves to, at connect time. Defaults to `isPublicAddress`, or
   * allow-all when `allowPrivate` is set. Injectable for tests.
   */
  isAllowedAddress?: (ip: string) => boolean;
  /** Name resolution, injectable for tests. Defaults to `dns.promises.lookup(host, { all: true })`. */
  lookup?: (hostname: string) => Promise<LookupResult[]>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 1024 * 1024;

async function defaultLookup(hostname: string): Promise<LookupResult[]> {
  const res = await dns.promises.lookup(hostname, { all: true, verbatim: true });
  return res.map((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }));
}

type Body = Uint8Array | undefined;

async function normalizeBody(body: unknown): Promise<Body> {
  if (body == null) return undefined;
  if (typeof body === 'string') return new TextEncoder().encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof URLSearchParams) return new TextEncoder().encode(body.toString());
  if (body instanceof Blob) return new Uint8Array(await body.arrayBuffer());
  throw new TypeError('safeFetch: unsupported body type');
}

function headersToRecord(h: HeadersInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(h).forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

export function createSafeFetch(opts: SafeFetchOptions = {}): typeof fetch {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxRedirects = opts.maxRedirects ?? 3;
  const isAllowed = opts.isAllowedAddress ?? (opts.allowPrivate ? () => true : isPublicAddress);
  const resolveName = opts.lookup ?? defaultLookup;

  /** Socket lookup hook: resolve, then refuse if ANY address fails the policy. */
  const socketLookup: net.LookupFunction = (hostname, options, callback) => {
    resolveName(hostname).then(
      (addrs) => {
        const wanted = options.family === 4 || options.family === 6 ? addrs.filter((a) => a.family === options.family) : addrs;
        if (wanted.length === 0) {
          const e = Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
          callback(e, '', 0);
          return;
        }
        const bad = wanted.find((a) => !isAllowed(a.address));
        if (bad) {
          callback(new SafeFetchError('ERR_SSRF_BLOCKED', `${hostname} resolves to refused address ${bad.address}`), '', 0);
          return;
        }
        if (options.all) callback(null, wanted);
        else callback(null, wanted[0]!.address, wanted[0]!.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };

  function checkUrl(url: URL): void {
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && opts.allowHttp)) {
      throw new SafeFetchError('ERR_SCHEME', `scheme ${url.protocol} not allowed`);
    }
    if (url.username || url.password) throw new SafeFetchError('ERR_SSRF_BLOCKED', 'userinfo in URL refused');
    const host = url.hostname;
    const lit = parseIpLiteral(host);
    if (lit) {
      if (!isAllowed(formatIp(lit))) throw new SafeFetchError('ERR_SSRF_BLOCKED', `address ${host} refused`);
    } else if (looksLikeIpLiteral(host)) {
      throw new SafeFetchError('ERR_SSRF_BLOCKED', `unparseable IP literal ${host} refused`);
    }
  }

  function once(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: Body,
    signal: AbortSignal,
  ): Promise<{ status: number; statusText: string; headers: Headers; body: Uint8Array }> {
    return new Promise((resolve, reject) => {
      const lib = url.protocol === 'https:' ? https : http;
      const lit = parseIpLiteral(url.hostname);
      const req = lib.request(
        {
          protocol: url.protocol,
          hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'), // WHATWG URL already canonicalised IP literals
          port: url.port || undefined,
          path: url.pathname + url.search,
          method,
          headers: { ...headers, ...(body ? { 'content-length': String(body.byteLength) } : {}) },
          lookup: socketLookup,
          agent: false, // fresh socket per request: every connection goes through socketLookup
          ...(lit ? {} : { servername: url.hostname }),
        },
        (res) => {
          const declared = Number(res.headers['content-length']);
          if (Number.isFinite(declared) && declared > maxBytes) {
            req.destroy(new SafeFetchError('ERR_TOO_LARGE', `declared length ${declared} exceeds ${maxBytes}`));
            return;
          }
          const chunks: Uint8Array[] = [];
          let total = 0;
          res.on('data', (chunk: Uint8Array) => {
            total += chunk.byteLength;
            if (total > maxBytes) {
              req.destroy(new SafeFetchError('ERR_TOO_LARGE', `response exceeds ${maxBytes} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', reject);
          res.on('end', () => {
            const buf = new Uint8Array(total);
            let off = 0;
            for (const c of chunks) {
              buf.set(c, off);
              off += c.byteLength;
            }
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) {
              if (Array.isArray(v)) for (const x of v) h.append(k, x);
              else if (v !== undefined) h.set(k, v);
            }
            resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: h, body: buf });
          });
        },
      );
      const onAbort = () => req.destroy(signal.reason instanceof Error ? signal.reason : new SafeFetchError('ERR_ABORTED', 'aborted'));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      });
      req.on('close', () => signal.removeEventListener('abort', onAbort));
      req.end(body);
    });
  }

  const safeFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    let urlStr: string;
    let method = init?.method;
    let headers = headersToRecord(init?.headers);
    let body: Body = await normalizeBody(init?.body);
    const redirectMode = init?.redirect ?? 'follow';
    if (input instanceof Request) {
      urlStr = input.url;
      method ??= input.method;
      if (!init?.headers) headers = headersToRecord(input.headers);
      if (body === undefined && input.body) body = new Uint8Array(await input.arrayBuffer());
    } else {
      urlStr = String(input);
    }
    method = (method ?? 'GET').toUpperCase();
    delete headers.host; // always derived from the (re-checked) URL

    // One deadline for the whole call (all hops and the body).
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(new SafeFetchError('ERR_TIMEOUT', `no complete response within ${timeoutMs} ms`)), timeoutMs);
    const outer = init?.signal;
    const onOuter = () => ctrl.abort(outer?.reason instanceof Error ? outer.reason : new SafeFetchError('ERR_ABORTED', 'aborted'));
    if (outer) {
      if (outer.aborted) onOuter();
      else outer.addEventListener('abort', onOuter, { once: true });
    }
    try {
      let url = new URL(urlStr);
      for (let hop = 0; ; hop++) {
        checkUrl(url);
        let res: Awaited<ReturnType<typeof once>>;
        try {
          res = await once(url, method, headers, body, ctrl.signal);
        } catch (err) {
          if (err instanceof SafeFetchError) throw err;
          if (ctrl.signal.aborted) {
            const reason: unknown = ctrl.signal.reason;
            if (reason instanceof SafeFetchError) throw reason;
            const code = (reason as { code?: unknown })?.code === 'ERR_TIMEOUT' ? 'ERR_TIMEOUT' : 'ERR_ABORTED';
            throw new SafeFetchError(code, (reason as Error)?.message ?? 'aborted', { cause: reason });
          }
          throw new SafeFetchError('ERR_NETWORK', (err as Error)?.message ?? String(err), { cause: err });
        }
        const location = res.headers.get('location');
        if (res.status >= 300 && res.status < 400 && location && redirectMode !== 'manual') {
          if (redirectMode === 'error') throw new SafeFetchError('ERR_NETWORK', 'redirect refused (redirect: error)');
          if (hop >= maxRedirects) throw new SafeFetchError('ERR_TOO_MANY_REDIRECTS', `more than ${maxRedirects} redirects`);
          const next = new URL(location, url);
          // Fetch spec §4.4 HTTP-redirect fetch: 303 (and 301/302 for POST) switch to GET without body.
          if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
            if (method !== 'HEAD') method = 'GET';
            body = undefined;
            delete headers['content-type'];
          }
          if (next.origin !== url.origin) {
            delete headers.authorization;
            delete headers.cookie;
          }
          url = next; // re-checked by checkUrl and socketLookup on the next hop
          continue;
        }
        const nullBody = res.status === 204 || res.status === 304 || method === 'HEAD' || res.status < 200;
        const response = new Response(nullBody ? null : res.body.slice(), {
          status: res.status < 200 ? 502 : res.status,
          statusText: res.statusText,
          headers: res.headers,
        });
        Object.defineProperty(response, 'url', { value: url.toString() });
        Object.defineProperty(response, 'redirected', { value: hop > 0 });
        return response;
      }
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuter);
    }
  };
  return safeFetch as typeof fetch;
}
