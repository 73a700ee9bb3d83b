import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import type { AppDeps } from '../http/context';

/**
 * AppDeps.exchange on Node: what @hono/node-server passes as `c.env` (the IncomingMessage and the
 * ServerResponse) used directly for what every request needs. Reading a request header through
 * the web Request builds a Headers object from all of the request's headers; adding a header to
 * the web Response builds one for the response's. Node has both parsed already, and merges
 * headers set with `setHeader` into those the handler's response brings (the handler's win).
 * Without a Node exchange (`app.request` in tests) both fall back to the web objects.
 */
export const nodeExchange: NonNullable<AppDeps['exchange']> = {
  header(c: Context, name: string): string | undefined {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    if (!incoming?.headers) return c.req.header(name);
    const value = incoming.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  },
  setHeaders(c: Context, headers: Record<string, string>): boolean {
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
    if (!outgoing || typeof outgoing.setHeader !== 'function' || outgoing.headersSent) return false;
    for (const name in headers) outgoing.setHeader(name, headers[name]);
    return true;
  },
};
