import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';

/**
 * Minimal keep-alive HTTP/1.1 clients for the bench's load generator (plain http, loopback):
 * `send` returns `{ status, headers, body }` with redirects left as they are and no WHATWG
 * Request/Response/Headers objects.
 *
 * - `net` (default): one request per connection at a time over node:net sockets, the request
 *   written as one string, the response head parsed by hand (Content-Length or chunked bodies).
 *   On the 2-core bench VM it costs about 80 µs CPU per request against about 210 µs for node:http
 *   (llhttp, streams, agent bookkeeping), which is most of what the load generator spends.
 * - `node:http`: the same on node:http with a keep-alive Agent, for comparison (BENCH_HTTP=node:http).
 *
 * Both keep at most `maxSockets` connections per host:port; further requests wait for a free one.
 */

export type LeanHeaders = Record<string, string | string[] | undefined>;

export interface LeanResponse {
  status: number;
  /** Lower-case names; `set-cookie` is an array, other repeated headers are joined with ", ". */
  headers: LeanHeaders;
  body: Buffer;
}

export interface LeanHttp {
  /** `label` names the endpoint for latency statistics (default: method and path). */
  send(method: 'GET' | 'POST', url: string, headers?: Record<string, string>, body?: string, label?: string): Promise<LeanResponse>;
  close(): void;
}

/** Called once per completed request with its endpoint label and latency (ms). */
export type OnTiming = (label: string, ms: number) => void;

export type LeanTransport = 'net' | 'node:http';

export class LeanHttpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeanHttpError';
  }
}

/** `http://host:port/path?query` → parts, without a WHATWG URL; anything else is refused. */
export function splitHttpUrl(url: string): { authority: string; hostname: string; port: number; path: string } {
  if (!url.startsWith('http://')) throw new LeanHttpError(`not a plain http URL: ${url.slice(0, 100)}`);
  const slash = url.indexOf('/', 7);
  const authority = slash < 0 ? url.slice(7) : url.slice(7, slash);
  const path = slash < 0 ? '/' : url.slice(slash);
  const colon = authority.lastIndexOf(':');
  const bracketed = authority.startsWith('[');
  const hasPort = colon > 0 && (!bracketed || colon > authority.indexOf(']'));
  const host = hasPort ? authority.slice(0, colon) : authority;
  const port = hasPort ? Number(authority.slice(colon + 1)) : 80;
  if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) throw new LeanHttpError(`bad authority in ${url.slice(0, 100)}`);
  return { authority, hostname: bracketed ? host.slice(1, -1) : host, port, path };
}

export function createLeanHttp(options: { maxSockets: number; onTiming?: OnTiming; transport?: LeanTransport }): LeanHttp {
  return options.transport === 'node:http' ? createNodeHttp(options) : createNetHttp(options);
}

const labelOf = (method: string, path: string) => {
  const q = path.indexOf('?');
  return `${method} ${q < 0 ? path : path.slice(0, q)}`;
};

function createNodeHttp(options: { maxSockets: number; onTiming?: OnTiming }): LeanHttp {
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets });
  const onTiming = options.onTiming;
  return {
    send(method, url, headers = {}, body, label) {
      const { hostname, port, path } = splitHttpUrl(url);
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const started = onTiming ? performance.now() : 0;
      return new Promise<LeanResponse>((resolve, reject) => {
        const req = request({ agent, hostname, port, path, method, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            if (onTiming) onTiming(label ?? labelOf(method, path), performance.now() - started);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) });
          });
        });
        req.on('error', reject);
        req.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

const EMPTY = Buffer.alloc(0);
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const UNSAFE_HEADER_VALUE = /[\r\n\0]/;
const UNSAFE_PATH = /[\s\0]/;

const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*([^\r]*)/i;
const TRANSFER_ENCODING = /\r\ntransfer-encoding:[ \t]*([^\r]*)/i;
const CONNECTION = /\r\nconnection:[ \t]*([^\r]*)/i;

function headerValue(head: string, pattern: RegExp): string | undefined {
  return pattern.exec(head)?.[1].trimEnd();
}

/** Lower-case names; set-cookie an array; repeated others joined with ", " (RFC 9110 §5.3). */
function headerMap(head: string): LeanHeaders {
  const headers: LeanHeaders = {};
  const lines = head.split('\r\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    if (colon <= 0) throw new LeanHttpError('malformed response header');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prior = headers[name];
    if (name === 'set-cookie') {
      if (prior) (prior as string[]).push(value);
      else headers[name] = [value];
    } else headers[name] = prior === undefined ? value : `${prior as string}, ${value}`;
  }
  return headers;
}

/** A response whose header map is built on first use (most responses are read for status and body only). */
class NetResponse implements LeanResponse {
  private map?: LeanHeaders;
  constructor(
    readonly status: number,
    private readonly head: string,
    readonly body: Buffer,
  ) {}
  get headers(): LeanHeaders {
    this.map ??= headerMap(this.head);
    return this.map;
  }
}

interface Exchange {
  method: string;
  resolve: (r: LeanResponse) => void;
  reject: (e: Error) => void;
}

/** One keep-alive connection: at most one exchange in flight (no pipelining). */
class Connection {
  readonly socket: Socket;
  dead = false;
  private exchange?: Exchange;
  private buf: Buffer = EMPTY;
  private headLength = -1;
  private status = 0;
  private head = '';
  private contentLength = -1;
  private chunked = false;
  private closeAfter = false;

  constructor(
    hostname: string,
    port: number,
    private readonly onFree: (c: Connection) => void,
  ) {
    this.socket = connect({ host: hostname, port, noDelay: true });
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', (e) => this.fail(e));
    this.socket.on('close', () => this.onClose());
  }

  send(request: string, exchange: Exchange) {
    this.exchange = exchange;
    this.buf = EMPTY;
    this.headLength = -1;
    this.socket.write(request);
  }

  private onData(d: Buffer) {
    if (!this.exchange) {
      this.fail(new LeanHttpError('unsolicited data from the server'));
      return;
    }
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    try {
      if (this.headLength < 0 && !this.parseHead()) return;
      const body = this.parseBody();
      if (body) this.complete(body);
    } catch (e) {
      this.fail(e as Error);
    }
  }

  /**
   * Reads the status line and the framing headers (Content-Length, Transfer-Encoding,
   * Connection) once the head is all in; false while incomplete. The other headers are parsed
   * only if the caller looks at them (see headerMap).
   */
  private parseHead(): boolean {
    const end = this.buf.indexOf(HEAD_END);
    if (end < 0) {
      if (this.buf.length > 64 * 1024) throw new LeanHttpError('response head too large');
      return false;
    }
    const head = this.buf.toString('latin1', 0, end);
    if (!head.startsWith('HTTP/1.')) throw new LeanHttpError('not an HTTP/1.x response');
    this.status = Number(head.slice(9, 12));
    if (!(this.status >= 200 && this.status < 600)) throw new LeanHttpError(`unexpected status line ${head.slice(0, 40)}`);
    const te = headerValue(head, TRANSFER_ENCODING);
    const cl = headerValue(head, CONTENT_LENGTH);
    this.chunked = te?.toLowerCase().includes('chunked') ?? false;
    if (te !== undefined && !this.chunked) throw new LeanHttpError(`unsupported transfer-encoding ${te}`);
    if (cl !== undefined && !this.chunked && !/^\d+$/.test(cl)) throw new LeanHttpError('bad content-length');
    this.contentLength = this.chunked ? -1 : cl !== undefined ? Number(cl) : -1;
    this.closeAfter = headerValue(head, CONNECTION)?.toLowerCase() === 'close';
    this.head = head;
    this.headLength = end + 4;
    if (this.exchange!.method === 'HEAD' || this.status === 204 || this.status === 304) this.contentLength = 0;
    else if (this.contentLength < 0 && !this.chunked) this.closeAfter = true; // body ends when the server closes
    return true;
  }

  /** The complete body, or undefined while more bytes are due. */
  private parseBody(): Buffer | undefined {
    const start = this.headLength;
    if (this.contentLength >= 0) {
      const end = start + this.contentLength;
      if (this.buf.length < end) return undefined;
      if (this.buf.length > end) throw new LeanHttpError('more bytes than Content-Length (no pipelining here)');
      return this.buf.subarray(start, end);
    }
    if (!this.chunked) return undefined; // read until close
    // RFC 9112 §7.1: chunk-size [; ext] CRLF data CRLF … 0 CRLF [trailers] CRLF
    const parts: Buffer[] = [];
    let pos = start;
    for (;;) {
      const lineEnd = this.buf.indexOf(CRLF, pos);
      if (lineEnd < 0) return undefined;
      const sizeText = this.buf.toString('latin1', pos, lineEnd).split(';')[0].trim();
      if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new LeanHttpError('bad chunk size');
      const size = parseInt(sizeText, 16);
      pos = lineEnd + 2;
      if (size === 0) {
        let end: number;
        if (this.buf.length >= pos + 2 && this.buf[pos] === 13 && this.buf[pos + 1] === 10) end = pos + 2;
        else {
          const trailersEnd = this.buf.indexOf(HEAD_END, pos - 2);
          if (trailersEnd < 0) return undefined;
          end = trailersEnd + 4;
        }
        if (this.buf.length > end) throw new LeanHttpError('bytes after the last chunk (no pipelining here)');
        return parts.length === 1 ? parts[0] : Buffer.concat(parts);
      }
      if (this.buf.length < pos + size + 2) return undefined;
      parts.push(this.buf.subarray(pos, pos + size));
      pos += size + 2;
    }
  }

  private complete(body: Buffer) {
    const exchange = this.exchange!;
    this.exchange = undefined;
    const response = new NetResponse(this.status, this.head, body);
    this.buf = EMPTY;
    if (this.closeAfter) {
      this.dead = true;
      this.socket.destroy();
    }
    exchange.resolve(response);
    this.onFree(this);
  }

  /** Always follows 'error'; the pool hears of every connection's end exactly here (or in complete). */
  private onClose() {
    this.dead = true;
    if (this.exchange && this.headLength >= 0 && this.contentLength < 0 && !this.chunked) {
      this.complete(this.buf.subarray(this.headLength)); // close-delimited body
      return;
    }
    this.fail(new LeanHttpError('connection closed before the response was complete'));
    this.onFree(this);
  }

  private fail(e: Error) {
    this.dead = true;
    const exchange = this.exchange;
    this.exchange = undefined;
    if (!this.socket.destroyed) this.socket.destroy();
    exchange?.reject(e);
  }
}

interface Pool {
  idle: Connection[];
  open: number;
  waiting: ((c: Connection) => void)[];
}

function createNetHttp(options: { maxSockets: number; onTiming?: OnTiming }): LeanHttp {
  const pools = new Map<string, Pool>();
  const onTiming = options.onTiming;
  const all = new Set<Connection>();

  function free(pool: Pool, hostname: string, port: number, c: Connection) {
    if (c.dead) {
      if (!all.delete(c)) return; // already accounted for
      pool.open--;
      const waiter = pool.waiting.shift();
      if (waiter) waiter(open(pool, hostname, port));
      return;
    }
    const waiter = pool.waiting.shift();
    if (waiter) waiter(c);
    else pool.idle.push(c);
  }

  function open(pool: Pool, hostname: string, port: number): Connection {
    pool.open++;
    const c: Connection = new Connection(hostname, port, (conn) => free(pool, hostname, port, conn));
    all.add(c);
    return c;
  }

  function acquire(hostname: string, port: number): Connection | Promise<Connection> {
    const key = `${hostname}:${port}`;
    let pool = pools.get(key);
    if (!pool) {
      pool = { idle: [], open: 0, waiting: [] };
      pools.set(key, pool);
    }
    for (let c = pool.idle.pop(); c; c = pool.idle.pop()) if (!c.dead) return c;
    if (pool.open < options.maxSockets) return open(pool, hostname, port);
    const p = pool;
    return new Promise((resolve) => p.waiting.push(resolve));
  }

  return {
    async send(method, url, headers = {}, body, label) {
      const { authority, hostname, port, path } = splitHttpUrl(url);
      if (UNSAFE_PATH.test(path)) throw new LeanHttpError('request path has whitespace or control characters');
      let head = `${method} ${path} HTTP/1.1\r\nhost: ${authority}\r\nconnection: keep-alive\r\n`;
      for (const name in headers) {
        const value = headers[name];
        if (UNSAFE_HEADER_VALUE.test(value)) throw new LeanHttpError(`header ${name} has control characters`);
        head += `${name}: ${value}\r\n`;
      }
      if (body !== undefined || method === 'POST') head += `content-length: ${body === undefined ? 0 : Buffer.byteLength(body)}\r\n`;
      const requestText = `${head}\r\n${body ?? ''}`;
      const started = onTiming ? performance.now() : 0;
      const acquired = acquire(hostname, port);
      const conn = acquired instanceof Connection ? acquired : await acquired;
      const response = await new Promise<LeanResponse>((resolve, reject) => conn.send(requestText, { method, resolve, reject }));
      if (onTiming) onTiming(label ?? labelOf(method, path), performance.now() - started);
      return response;
    },
    close() {
      for (const c of all) {
        c.dead = true;
        c.socket.destroy();
      }
      all.clear();
      pools.clear();
    },
  };
}
