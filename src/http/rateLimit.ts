import type { Context, MiddlewareHandler } from 'hono';
import { digestSecret } from '../crypto/hash';
import { TooManyRequests } from '../protocol/errors';
import { nowSeconds, type AppDeps, type AppEnv } from './context';

export { createRateLimiter, type RateLimiter } from './rateLimiter';

export type RateLimitGroup = 'initiate' | 'siop' | 'token' | 'credential' | 'idv' | 'nonce' | 'kya' | 'console-sso';

/** Throws 429 (with Retry-After) when `key` is over its limit in `group`. */
export function enforceRateLimit(deps: AppDeps, group: RateLimitGroup, kind: 'ip' | 'client', key: string | undefined): void {
  const limits = deps.config.rateLimits;
  if (!limits.enabled || !key) return;
  const limit = kind === 'ip' ? limits.perIp : limits.perClient;
  // Client keys come from requests (a client_id may be kilobytes): bound the memory per key.
  const bounded = key.length > 64 ? digestSecret(deps.crypto, key) : key;
  const wait = deps.rateLimiter.hit(`${group}:${kind}:${bounded}`, limit, limits.windowSeconds, nowSeconds(deps));
  if (wait > 0) {
    const err = new TooManyRequests(`too many requests; retry in ${wait} s`);
    err.headers = { 'Retry-After': String(wait) };
    throw err;
  }
}

/** Per-IP limit for a group of endpoints. The address comes from the runtime (deps.clientAddress). */
export function rateLimitByIp(group: RateLimitGroup): MiddlewareHandler<AppEnv> {
  return async (c: Context<AppEnv>, next) => {
    const deps = c.get('deps');
    if (deps.config.rateLimits.enabled) enforceRateLimit(deps, group, 'ip', deps.clientAddress?.(c));
    await next();
  };
}
