import type { Sql } from 'postgres';

/**
 * Runs `job` only if no other instance is running the job of that name: a session-level
 * `pg_try_advisory_lock`, held for the run; returns whether it ran. A lock whose holder died is
 * released with its connection.
 *
 * `locks` is a client of its own with ONE connection, used for nothing else: lock and unlock run
 * on that session without pinning it with `reserve()`. (postgres.js 3.4.9 throws an uncaught
 * TypeError when a reserved or transaction connection whose backend died is written to again,
 * porsager/postgres#1208; an unpinned query goes to a fresh connection instead, where the unlock
 * finds nothing to release.) Background jobs of one instance never overlap
 * (src/runtime/dispatcher.ts), so the one session never holds two runs of one job.
 */
export async function runExclusive(locks: Sql, name: string, job: () => Promise<unknown>): Promise<boolean> {
  const key = `kcc-issuer:job:${name}`;
  const [row] = await locks<{ locked: boolean }[]>`SELECT pg_try_advisory_lock(hashtext(${key})) AS locked`;
  if (!row?.locked) return false;
  try {
    await job();
  } finally {
    await locks`SELECT pg_advisory_unlock(hashtext(${key}))`.catch(() => undefined);
  }
  return true;
}
