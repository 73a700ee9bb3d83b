/**
 * Fixed-window request counters per key (per IP, per client), in memory: per process on
 * Node, per isolate on Workers (so a limit there is per isolate, a best-effort brake; put
 * Cloudflare's rate limiting rules in front for a global one). Bounded: the oldest windows
 * are dropped first.
 */
export interface RateLimiter {
  /** Counts one hit; returns the seconds to wait when over `limit`, else 0. */
  hit(key: string, limit: number, windowSeconds: number, now: number): number;
  /** Hits counted for `key` in the current window, without counting one. */
  count(key: string, windowSeconds: number, now: number): number;
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
    count(key, windowSeconds, now) {
      const w = windows.get(key);
      return w && w.start === now - (now % windowSeconds) ? w.count : 0;
    },
  };
}
