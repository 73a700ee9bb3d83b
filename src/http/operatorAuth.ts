import type { Context } from 'hono';
import { digestSecret } from '../crypto/hash';
import { TooManyRequests } from '../protocol/errors';
import { nowSeconds, type AppEnv } from './context';

/**
 * Brute-force brake on operator credentials (console login, operator API bearer): failed
 * attempts are counted per client address and in total per window (config.operatorAuthLimits);
 * once either count is reached every attempt, right or wrong, is 429 with Retry-After until the
 * window ends, so guessing stays at a few per minute. Failures are logged without the value tried.
 */
export type OperatorAuthVia = 'api' | 'console';

function keys(c: Context<AppEnv>): { ip?: string; global: string } {
  const address = c.get('deps').clientAddress?.(c);
  return {
    ip: address ? `operator-auth:ip:${address.length > 64 ? digestSecret(c.get('deps').crypto, address) : address}` : undefined,
    global: 'operator-auth:global',
  };
}

/** Throws 429 while this client, or everyone, is over the failure limit. */
export function assertOperatorAuthAllowed(c: Context<AppEnv>, via: OperatorAuthVia): void {
  const deps = c.get('deps');
  const limits = deps.config.operatorAuthLimits;
  if (!limits.enabled) return;
  const now = nowSeconds(deps);
  const { ip, global } = keys(c);
  const over =
    (ip && deps.rateLimiter.count(ip, limits.windowSeconds, now) >= limits.failuresPerIp) ||
    deps.rateLimiter.count(global, limits.windowSeconds, now) >= limits.failuresGlobal;
  if (!over) return;
  const wait = limits.windowSeconds - (now % limits.windowSeconds);
  deps.logger.warn('operator_auth_throttled', { requestId: c.get('requestId'), via, retryAfter: wait });
  const err = new TooManyRequests(`too many failed sign-ins; retry in ${wait} s`);
  err.headers = { 'Retry-After': String(wait) };
  throw err;
}

/** Counts one failed attempt (and logs it, never with the credential tried). */
export function recordOperatorAuthFailure(c: Context<AppEnv>, via: OperatorAuthVia): void {
  const deps = c.get('deps');
  deps.logger.warn('operator_auth_failed', { requestId: c.get('requestId'), via });
  const limits = deps.config.operatorAuthLimits;
  if (!limits.enabled) return;
  const now = nowSeconds(deps);
  const { ip, global } = keys(c);
  // hit() with an unreachable limit only counts; the decision is assertOperatorAuthAllowed's.
  if (ip) deps.rateLimiter.hit(ip, Number.MAX_SAFE_INTEGER, limits.windowSeconds, now);
  deps.rateLimiter.hit(global, Number.MAX_SAFE_INTEGER, limits.windowSeconds, now);
}
