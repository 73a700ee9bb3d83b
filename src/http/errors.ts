import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { FormLinkError, ProtocolError, StorageUnavailable } from '../protocol/errors';
import { errorLogFields, STORAGE_CONDITION_MESSAGES, STORAGE_CONDITION_RETRY_AFTER, storageFailureOf } from '../ports/failures';
import { issuerUrls } from '../paths';
import type { AppEnv } from './context';
import { htmlSecurityHeaders } from './htmlHeaders';
import { renderMessagePage } from './views/idvPages';
import { renderConsoleError } from './views/consolePages';
import { PATHS } from '../paths';
import { requestHeader } from './headers';

/**
 * A failure of the issuer's own storage (disk full, read-only, I/O error: src/ports/failures.ts)
 * becomes StorageUnavailable (503, Retry-After), logged with what the operator must do; anything
 * else is returned as it is.
 */
function storageUnavailable(err: Error, c: Context<AppEnv>): Error {
  if (err instanceof ProtocolError) return err;
  const failure = storageFailureOf(err);
  if (!failure) return err;
  c.get('deps')?.logger.error('storage_unavailable', {
    requestId: c.get('requestId'),
    condition: failure.condition,
    message: STORAGE_CONDITION_MESSAGES[failure.condition],
    ...errorLogFields(err),
  });
  return new StorageUnavailable(STORAGE_CONDITION_RETRY_AFTER[failure.condition]);
}

/**
 * The one error handler: a ProtocolError becomes `{ error, error_description, ...extra }`
 * with its status and headers; a storage failure a 503 (storageUnavailable); anything else is
 * logged (name, code, the statement's name for a database error: never its parameters, no
 * request data) and answered as a bare 500 server_error — never a stack trace.
 */
export function handleError(error: Error, c: Context<AppEnv>): Response {
  const err = storageUnavailable(error, c);
  if (err instanceof ProtocolError) {
    const res = c.json({ error: err.error, error_description: err.description, ...err.extra }, err.status as 400);
    for (const [name, value] of Object.entries(err.headers ?? {})) res.headers.set(name, value);
    return uncacheable(res);
  }
  if (err instanceof HTTPException) {
    const status = err.status;
    const error = status === 413 ? 'invalid_request' : status >= 500 ? 'server_error' : 'invalid_request';
    const description = status === 413 ? 'request body is too large' : 'bad request';
    return uncacheable(c.json({ error, error_description: description }, status));
  }
  c.get('deps')?.logger.error('unhandled_error', { requestId: c.get('requestId'), ...errorLogFields(err) });
  return uncacheable(c.json({ error: 'server_error', error_description: 'internal error' }, 500));
}

/**
 * Error answers are never cached: RFC 6749 §5.1/§5.2 asks token responses, errors included, for
 * `Cache-Control: no-store` and `Pragma: no-cache` (HTTP/1.0 caches), as the successes send.
 */
function uncacheable(res: Response): Response {
  res.headers.set('Cache-Control', 'no-store');
  res.headers.set('Pragma', 'no-cache');
  return res;
}

export function notFound(c: Context<AppEnv>): Response {
  return c.json({ error: 'not_found', error_description: 'no such endpoint' }, 404);
}

/** JSON clients of the form pages: a JSON body, or an Accept asking for JSON. */
export function wantsJsonResponse(c: Context<AppEnv>): boolean {
  return (requestHeader(c, 'content-type') ?? '').startsWith('application/json') || (requestHeader(c, 'accept') ?? '').startsWith('application/json');
}

/**
 * The form pages' handler: a refusal (unknown, expired or used link, unreadable body, wrong
 * content type, rate limit) reaches a browser as an HTML page with the same status and
 * headers, since a webview shows no JSON; JSON clients get the usual JSON error.
 */
export function formErrorHandler(error: Error, c: Context<AppEnv>): Response {
  const err = storageUnavailable(error, c);
  if (!(err instanceof ProtocolError) || wantsJsonResponse(c)) return handleError(err, c);
  htmlSecurityHeaders(c, 'no-referrer');
  const cssHref = issuerUrls(c.get('deps').config.publicUrl).idvCss;
  const page =
    err instanceof FormLinkError
      ? { title: err.title, message: err.pageMessage ?? err.description }
      : { title: 'Request not accepted', message: `${err.description}. Please go back and try again.` };
  const res = c.html(renderMessagePage({ ...page, cssHref }), err.status as 400);
  for (const [name, value] of Object.entries(err.headers ?? {})) res.headers.set(name, value);
  return res;
}

/**
 * The review console's handler: a refusal (no such application, a cross-site or CSRF-less POST,
 * a disabled console) is an HTML page in the console's style with the same status and headers;
 * JSON clients get the usual JSON error.
 */
export function consoleErrorHandler(error: Error, c: Context<AppEnv>): Response {
  const err = storageUnavailable(error, c);
  if (!(err instanceof ProtocolError) || wantsJsonResponse(c)) return handleError(err, c);
  htmlSecurityHeaders(c, 'same-origin');
  const base = `${new URL(c.get('deps').config.publicUrl).pathname.replace(/\/+$/, '')}${PATHS.console}`;
  const title = err.status === 404 ? 'Not found' : err.status === 403 ? 'Request refused' : err.status === 429 ? 'Too many attempts' : 'Request not accepted';
  const res = c.html(renderConsoleError({ title, message: `${err.description}.`, cssHref: `${base}/console.css`, backHref: base }), err.status as 400);
  for (const [name, value] of Object.entries(err.headers ?? {})) res.headers.set(name, value);
  return res;
}
