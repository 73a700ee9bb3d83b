import type { IssuanceDeps } from '../issuance/deps';
import { runJobs, type ExclusiveRunner } from '../issuance/jobs';
import { errorLogFields } from '../ports/failures';

export type { ExclusiveRunner } from '../issuance/jobs';

/**
 * Node's timer for the one job list (src/issuance/jobs.ts) that Workers run from their Cron
 * Trigger: expired rows purged, outbound webhooks delivered, PII past retention purged,
 * abandoned applications closed, status lists re-signed, every `intervalMs`. Runs never
 * overlap; `stop()` waits for the run in flight. With many instances on one database,
 * `exclusive` runs each job only where no other instance runs it at that moment.
 */
export function startBackgroundJobs(deps: IssuanceDeps, options: { intervalMs: number; exclusive?: ExclusiveRunner }) {
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = (async () => {
      try {
        await runJobs(deps, deps.clock(), { exclusive: options.exclusive });
      } catch (e) {
        deps.logger.error('background_job_failed', errorLogFields(e));
      } finally {
        running = undefined;
      }
    })();
  };
  const timer = setInterval(tick, options.intervalMs);
  timer.unref?.();
  tick();
  return {
    /** Runs the jobs now (tests, shutdown flush). */
    async runNow() {
      while (running) await running;
      tick();
      await running;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
