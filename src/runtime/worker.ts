import type { ExecutionContext, ScheduledController } from '@cloudflare/workers-types';
import { buildWorkerIssuer, runScheduledJobs, type WorkerEnv, type WorkerIssuer } from './workerIssuer';

/**
 * The Cloudflare Workers entry (wrangler.toml `main`): `fetch` serves the issuer app, `scheduled`
 * runs the Cron Trigger jobs (SCHEDULED_JOBS in ./workerIssuer). Its `env` bindings are read
 * through the settings table (src/config/settings.ts) in ./workerIssuer. Only handlers are exported: workerd
 * rejects any other named export of the entry module.
 *
 * The one piece of module-level state, and deliberately so: the issuer built for an `env`,
 * reused by every request the isolate serves with that same `env` object. Building it imports
 * the signing key(s) and creates the key caches, which must not happen per request (the
 * project's "keys imported once" rule; Node builds once per process). Keyed by the env object
 * in a WeakMap, so nothing outlives its env, a different env (another binding set, or tests)
 * never sees another's deps, and no value is ever mutated: a failed build is dropped so the next
 * request retries it (and reports the misconfiguration again) rather than caching the failure.
 */
const issuers = new WeakMap<WorkerEnv, Promise<WorkerIssuer>>();

function issuerFor(env: WorkerEnv): Promise<WorkerIssuer> {
  let built = issuers.get(env);
  if (!built) {
    built = buildWorkerIssuer(env);
    issuers.set(env, built);
    built.catch(() => issuers.delete(env));
  }
  return built;
}

function misconfigured(e: unknown): Response {
  // The message names the binding at fault, never its value (parseIssuerKeys never echoes key material).
  console.error(JSON.stringify({ level: 'error', event: 'worker_misconfigured', message: e instanceof Error ? e.message : String(e) }));
  return Response.json({ error: 'server_error', error_description: 'the issuer is not configured correctly' }, { status: 500 });
}

export default {
  async fetch(request: Request, env: WorkerEnv): Promise<Response> {
    let issuer: WorkerIssuer;
    try {
      issuer = await issuerFor(env);
    } catch (e) {
      return misconfigured(e);
    }
    return issuer.app.fetch(request);
  },

  async scheduled(controller: ScheduledController, env: WorkerEnv, _ctx: ExecutionContext): Promise<void> {
    const { deps } = await issuerFor(env);
    const { failed } = await runScheduledJobs(deps, controller.scheduledTime || Date.now());
    // A failed job makes the invocation fail, so it shows as an error in the Cron Events log.
    if (failed) throw new Error(`${failed} scheduled job(s) failed`);
  },
};
