import type { Context } from 'hono';
import { InvalidRequest, PayloadTooLarge, UnsupportedMediaType } from '../protocol/errors';
import { readStreamCapped } from '../readCapped';
import type { AppEnv } from './context';
import { requestHeader } from './headers';

/** The body size limit of a request: IDV vendor webhooks carry whole verification objects. */
export function bodyLimitFor(c: Context<AppEnv>): number {
  const config = c.get('deps').config;
  return c.req.method === 'POST' && c.req.path.includes('/idv/webhooks/') ? config.idv.webhookMaxBodyBytes : config.maxBodyBytes;
}

const tooLarge = () => new PayloadTooLarge('request body is too large');

/**
 * The request body as bytes, at most `bodyLimitFor(c)` of them (413 beyond, also for chunked
 * bodies that declare no length). The runtime may read it more cheaply than through the web
 * Request (`deps.readRequestBody`: Node reads the socket stream directly, see src/runtime/node.ts).
 */
export async function readRequestBody(c: Context<AppEnv>): Promise<Uint8Array> {
  // A declared Content-Length over the limit was refused before routing (src/http/app.ts).
  const limit = bodyLimitFor(c);
  const direct = c.get('deps').readRequestBody?.(c, limit, tooLarge);
  if (direct) return direct;
  const body = c.req.raw.body;
  return body ? readStreamCapped(body, limit, tooLarge) : new Uint8Array();
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a request body as form (`application/x-www-form-urlencoded`, as direct_post and
 * RFC 6749 specify) or JSON (which wallets in the wild send). A repeated form parameter is
 * refused (RFC 6749 §3.2). The size limit is enforced as the body is read.
 */
export async function readFormOrJson(c: Context<AppEnv>): Promise<{ kind: 'form' | 'json'; body: Record<string, unknown> }> {
  const type = (requestHeader(c, 'content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') return { kind: 'json', body: await readJsonObject(c) };
  // Read (and size-check) first: an oversized body is 413 whatever its type.
  const bytes = await readRequestBody(c);
  if (type === 'application/x-www-form-urlencoded') {
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      throw new InvalidRequest('body is not valid UTF-8');
    }
    const params = new URLSearchParams(text);
    const body: Record<string, unknown> = {};
    for (const [name, value] of params) {
      if (name in body) throw new InvalidRequest(`parameter ${name.slice(0, 40)} is repeated`);
      body[name] = value;
    }
    return { kind: 'form', body };
  }
  throw new UnsupportedMediaType('Content-Type must be application/x-www-form-urlencoded or application/json');
}

export async function readJsonObject(c: Context<AppEnv>): Promise<Record<string, unknown>> {
  const bytes = await readRequestBody(c); // first: an oversized body is 413 whatever its type
  const type = (requestHeader(c, 'content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new UnsupportedMediaType('Content-Type must be application/json');
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    throw new InvalidRequest('body is not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new InvalidRequest('body must be a JSON object');
  return value as Record<string, unknown>;
}

export function wantsJson(c: Context): boolean {
  const accept = requestHeader(c, 'accept') ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}
