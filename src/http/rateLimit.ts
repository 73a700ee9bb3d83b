import type { Context, MiddlewareHandler } from 'hono';
import { digestSecret } from '../crypto/hash';
import { TooManyRequests } from '../protocol/errors';
import { nowSeconds, type AppDeps, type AppEnv } from './context';

/**
 * Fixed-window request counters per key (per IP, per client), in memory: per process on
 * Node, per isolate on Workers (so a limit there is per isolate, a best-effort brake; put
 * Cloudflare's rate limiting rules in front for a global one). Bounded: the oldest windows
 * are dropped first.
 */
export interface RateLimiter {
  /** Counts one hit; returns the seconds to wait when over `limit`, else 0. */
  hit(key: string, limit: number, windowSeconds: number, now: number): number;
}

export function createRateLimiter(maxKeys = 100_000): RateLimiter {
  const windows = new Map<string, { start: number; count: number }>();
  return {
    hit(key, limit, windowSeconds, now) {
      const start = now - (now % windowSeconds);
      let w = windows.get(key);
      if (!w || w.start !== start) {
        if (w) windows.delete(key);
        else if (windows.size >= maxKeys) windows.delete(windows.keys().next().value as string);
        w = { start, count: 0 };
        windows.set(key, w);
      }
      w.count++;
      return w.count > limit ? start + windowSeconds - now : 0;
    },
  };
}

export type RateLimitGroup = 'initiate' | 'siop' | 'token' | 'credential' | 'idv';

/** Throws 429 (with Retry-After) when `key` is over its limit in `group`. */
export function enforceRateLimit(deps: AppDeps, group: RateLimitGroup, kind: 'ip' | 'client', key: string | undefined): void {
  const limits = deps.config.rateLimits;
  if (!limits.enabled || !key) return;
  const limit = kind === 'ip' ? limits.perIp : limits.perClient;
  // Client keys come from requests (a client_id may be kilobytes): bound the memory per key.
  const bounded = key.length > 64 ? digestSecret(key) : key;
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
