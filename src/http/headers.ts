import type { Context } from 'hono';
import type { AppEnv } from './context';

/**
 * A request header by its lower-case name, through the runtime's own request when it has one
 * (`AppDeps.exchange`: on Node the IncomingMessage's parsed headers), else the web Request's.
 * `c.req.header()` on @hono/node-server first builds a web Headers object of every header the
 * request carries; six of a flow's ten requests read one or two headers.
 */
export function requestHeader(c: Context<AppEnv>, name: string): string | undefined {
  // deps is set by the first middleware; an error page may be rendered without it.
  const exchange = c.get('deps')?.exchange;
  return exchange ? exchange.header(c, name) : c.req.header(name);
}
