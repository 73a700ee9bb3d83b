import type { Sql } from 'postgres';

/**
 * Runs `job` only if no other instance is running the job of that name (a session-level
 * `pg_try_advisory_lock` on a reserved connection, held for the run); returns whether it ran.
 * A lock whose holder died is released with its connection.
 */
export async function runExclusive(client: Sql, name: string, job: () => Promise<unknown>): Promise<boolean> {
  const lock = await client.reserve();
  try {
    const [row] = await lock<{ locked: boolean }[]>`SELECT pg_try_advisory_lock(hashtext(${'kcc-issuer:job:' + name})) AS locked`;
    if (!row?.locked) return false;
    try {
      await job();
    } finally {
      await lock`SELECT pg_advisory_unlock(hashtext(${'kcc-issuer:job:' + name}))`.catch(() => undefined);
    }
    return true;
  } finally {
    lock.release();
  }
}
