/**
 * The injected clock: milliseconds since the epoch. Nothing reads `Date.now()` for a decision;
 * tests pass a clock they move. Protocol times (JWT claims, store columns) are seconds.
 */
export type Clock = () => number;

/** Seconds since the epoch, as JWT `iat`/`exp` and every store timestamp count. */
export function nowSeconds(deps: { clock: Clock }): number {
  return Math.floor(deps.clock() / 1000);
}
