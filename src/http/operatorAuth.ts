import type { Context } from 'hono';
import { digestSecret } from '../crypto/hash';
import { TooManyRequests } from '../protocol/errors';
import { nowSeconds, type AppEnv } from './context';

/**
 * Brute-force brake on operator credentials (console login, operator API bearer), built so that
 * it never locks out the right credential (config.operatorAuthLimits):
 * - per client address: past `failuresPerIp` failures in a window, that address is 429 (before
 *   any check) until the window ends: a guesser is held at its own addresses;
 * - per console account name: past `failuresPerAccount`, the name is 429 from addresses that
 *   already failed in the window; an address with no failure is still checked, so a guesser
 *   spread over many addresses gets one guess per address while the operator still signs in;
 * - in total: past `failuresGlobal`, failures are answered `globalFailureDelayMs` later, alert
 *   once per window (`operator_auth_global_alert`, error level) and are counted in the metric
 *   `kcc_operator_auth_failures_total{over_global="true"}`; the global count refuses nothing.
 * Failures are logged without the value tried or the account name (it may be a mistyped secret).
 */
export type OperatorAuthVia = 'api' | 'console';

function keys(c: Context<AppEnv>, account: string | undefined): { ip?: string; account?: string; global: string } {
  const deps = c.get('deps');
  const address = deps.clientAddress?.(c);
  return {
    ip: address ? `operator-auth:ip:${address.length > 64 ? digestSecret(deps.crypto, address) : address}` : undefined,
    // Names are case-insensitive (accounts are stored lower-case); a digest bounds the memory per key.
    account: account !== undefined ? `operator-auth:account:${digestSecret(deps.crypto, account.toLowerCase())}` : undefined,
    global: 'operator-auth:global',
  };
}

/**
 * Throws 429 while this address, or (console) this account name from an address that already
 * failed, is over its failure limit. Call before checking the credential; the global count is
 * not consulted.
 */
export function assertOperatorAuthAllowed(c: Context<AppEnv>, via: OperatorAuthVia, account?: string): void {
  const deps = c.get('deps');
  const limits = deps.config.operatorAuthLimits;
  if (!limits.enabled) return;
  const now = nowSeconds(deps);
  const k = keys(c, account);
  const ipFailures = k.ip ? deps.rateLimiter.count(k.ip, limits.windowSeconds, now) : 0;
  let over: 'address' | 'account' | undefined;
  if (k.ip && ipFailures >= limits.failuresPerIp) over = 'address';
  else if (k.account && (ipFailures > 0 || !k.ip) && deps.rateLimiter.count(k.account, limits.windowSeconds, now) >= limits.failuresPerAccount)
    over = 'account';
  if (!over) return;
  const wait = limits.windowSeconds - (now % limits.windowSeconds);
  deps.logger.warn('operator_auth_throttled', { requestId: c.get('requestId'), via, by: over, retryAfter: wait });
  const err = new TooManyRequests(`too many failed sign-ins; retry in ${wait} s`);
  err.headers = { 'Retry-After': String(wait) };
  throw err;
}

/**
 * Counts one failed attempt (and logs it, never with the credential tried). Past the global
 * count it alerts and resolves only after `globalFailureDelayMs`: guessing slows down for
 * everyone, and a right credential, which never comes here, is not delayed.
 */
export async function recordOperatorAuthFailure(c: Context<AppEnv>, via: OperatorAuthVia, account?: string): Promise<void> {
  const deps = c.get('deps');
  deps.logger.warn('operator_auth_failed', { requestId: c.get('requestId'), via });
  const limits = deps.config.operatorAuthLimits;
  if (!limits.enabled) {
    deps.metrics?.operatorAuthFailure?.(via, false);
    return;
  }
  const now = nowSeconds(deps);
  const k = keys(c, account);
  // hit() with an unreachable limit only counts; the decisions are made above and below.
  if (k.ip) deps.rateLimiter.hit(k.ip, Number.MAX_SAFE_INTEGER, limits.windowSeconds, now);
  if (k.account) deps.rateLimiter.hit(k.account, Number.MAX_SAFE_INTEGER, limits.windowSeconds, now);
  deps.rateLimiter.hit(k.global, Number.MAX_SAFE_INTEGER, limits.windowSeconds, now);
  const total = deps.rateLimiter.count(k.global, limits.windowSeconds, now);
  const overGlobal = total > limits.failuresGlobal;
  deps.metrics?.operatorAuthFailure?.(via, overGlobal);
  if (!overGlobal) return;
  if (total === limits.failuresGlobal + 1) {
    deps.logger.error('operator_auth_global_alert', { requestId: c.get('requestId'), via, failures: total, windowSeconds: limits.windowSeconds });
  }
  if (limits.globalFailureDelayMs > 0) await new Promise((ok) => setTimeout(ok, limits.globalFailureDelayMs));
}
