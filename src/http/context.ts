import type { Context } from 'hono';
import type { IssuanceDeps } from '../issuance/deps';
import type { RateLimiter } from './rateLimiter';

export type { Logger } from '../ports/logger';
export type { IssuerIdentity } from '../ports/issuerIdentity';
export { jsonLogger, silentLogger } from '../ports/logger';
export { nowSeconds } from '../ports/clock';

/** What a request handler needs: the lifecycle's ports plus what only HTTP uses. */
export interface AppDeps extends IssuanceDeps {
  rateLimiter: RateLimiter;
  /** The client's IP address as the runtime sees it (socket, or a trusted proxy header). */
  clientAddress?: (c: Context) => string | undefined;
  /**
   * Reads the request body (at most `limit` bytes, else throws `tooLarge()`) more cheaply than
   * the web Request can; returns undefined to fall back to `c.req.raw.body`. Node sets it.
   */
  readRequestBody?: (c: Context, limit: number, tooLarge: () => Error) => Promise<Uint8Array> | undefined;
}

/** Read variables with `c.get('deps')`: Hono's `c.var` copies every variable into a new object on each access. */
export type AppEnv = {
  Variables: {
    deps: AppDeps;
    requestId: string;
  };
};
