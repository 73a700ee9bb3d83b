import type { AppDeps } from '../http/context';
import { dispatchDueWebhooks } from '../idv/outbox';
import { markAbandonedApplications, purgeExpiredPii } from '../idv/service';

/**
 * Node's background jobs: deliver due outbound webhooks, purge PII past retention and close
 * applications whose IDV link expired unused, every
 * `intervalMs`. The work itself is runtime-agnostic (Workers will call the same functions
 * from a Cron Trigger). Runs never overlap; `stop()` waits for the run in flight. With many
 * instances on one database, `exclusive` runs each job only where no other instance runs it at
 * that moment (PostgreSQL: an advisory lock per job, src/store/postgres/jobLock.ts).
 */
export type ExclusiveRunner = (job: string, run: () => Promise<unknown>) => Promise<unknown>;

export function startBackgroundJobs(deps: AppDeps, options: { intervalMs: number; exclusive?: ExclusiveRunner }) {
  const exclusive: ExclusiveRunner = options.exclusive ?? ((_job, run) => run());
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = (async () => {
      try {
        await exclusive('outbound_webhooks', () => dispatchDueWebhooks(deps, deps.clock()));
        await exclusive('pii_retention', () => purgeExpiredPii(deps));
        await exclusive('abandoned_applications', () => markAbandonedApplications(deps));
      } catch (e) {
        deps.logger.error('background_job_failed', { name: (e as Error).name, message: String((e as Error).message).slice(0, 200) });
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
