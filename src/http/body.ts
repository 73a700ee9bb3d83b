import type { Context } from 'hono';
import { InvalidRequest, UnsupportedMediaType } from '../protocol/errors';

/**
 * Reads a request body as form (`application/x-www-form-urlencoded`, as direct_post and
 * RFC 6749 specify) or JSON (which wallets in the wild send). A repeated form parameter is
 * refused (RFC 6749 §3.2). The size limit is enforced by the bodyLimit middleware.
 */
export async function readFormOrJson(c: Context): Promise<{ kind: 'form' | 'json'; body: Record<string, unknown> }> {
  const type = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') return { kind: 'json', body: await readJsonObject(c) };
  if (type === 'application/x-www-form-urlencoded') {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(await c.req.arrayBuffer());
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

export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  const type = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new UnsupportedMediaType('Content-Type must be application/json');
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await c.req.arrayBuffer()));
  } catch {
    throw new InvalidRequest('body is not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new InvalidRequest('body must be a JSON object');
  return value as Record<string, unknown>;
}

export function wantsJson(c: Context): boolean {
  const accept = c.req.header('accept') ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}
