import type { AppDeps } from '../http/context';
import { dispatchDueWebhooks } from '../issuance/webhookDelivery';
import { markAbandonedApplications, purgeExpiredPii } from '../issuance/identityVerification';

/**
 * Node's background jobs: deliver due outbound webhooks, purge PII past retention and close
 * applications whose IDV link expired unused, every
 * `intervalMs`. The work itself is runtime-agnostic (Workers will call the same functions
 * from a Cron Trigger). Runs never overlap; `stop()` waits for the run in flight.
 */
export function startBackgroundJobs(deps: AppDeps, options: { intervalMs: number }) {
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = (async () => {
      try {
        await dispatchDueWebhooks(deps, deps.clock());
        await purgeExpiredPii(deps);
        await markAbandonedApplications(deps);
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
