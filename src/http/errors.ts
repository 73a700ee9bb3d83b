import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ProtocolError } from '../protocol/errors';
import type { AppEnv } from './context';

/**
 * The one error handler: a ProtocolError becomes `{ error, error_description, ...extra }`
 * with its status and headers; anything else is logged (name only, no request data) and
 * answered as a bare 500 server_error — never a stack trace.
 */
export function handleError(err: Error, c: Context<AppEnv>): Response {
  if (err instanceof ProtocolError) {
    const res = c.json({ error: err.error, error_description: err.description, ...err.extra }, err.status as 400);
    for (const [name, value] of Object.entries(err.headers ?? {})) res.headers.set(name, value);
    res.headers.set('Cache-Control', 'no-store');
    return res;
  }
  if (err instanceof HTTPException) {
    const status = err.status;
    const error = status === 413 ? 'invalid_request' : status >= 500 ? 'server_error' : 'invalid_request';
    const description = status === 413 ? 'request body is too large' : 'bad request';
    return c.json({ error, error_description: description }, status);
  }
  c.get('deps')?.logger.error('unhandled_error', { requestId: c.get('requestId'), name: err.name, message: err.message.slice(0, 200) });
  return c.json({ error: 'server_error', error_description: 'internal error' }, 500);
}

export function notFound(c: Context<AppEnv>): Response {
  return c.json({ error: 'not_found', error_description: 'no such endpoint' }, 404);
}
