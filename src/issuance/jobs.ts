import { STATUS_PURPOSES } from '../protocol/statusList';
import { purgeExpired } from '../store/purge';
import { errorLogFields, storageFailureOf } from '../ports/failures';
import { statusListCredential, statusOf } from './credentialStatus';
import type { IssuanceDeps } from './deps';
import { emitEvent } from './events';
import { markAbandonedApplications } from './identityVerification';
import { purgeOperatorSessions } from './operatorSessions';
import { purgeExpiredPii } from './personalData';
import { dispatchDueWebhooks } from './webhookDelivery';

/**
 * The one list of periodic jobs, runtime-agnostic: Node runs it from a timer
 * (src/runtime/dispatcher.ts), Workers from the Cron Trigger (src/runtime/worker.ts). Each job
 * returns counts for the log line; one failing does not stop the others. `nowMs` is the
 * run's time (the injected clock on Node, the trigger's scheduled time on Workers).
 */
export type Job = (deps: IssuanceDeps, nowMs: number) => Promise<object | undefined>;

export const JOBS: ReadonlyArray<readonly [name: string, job: Job]> = [
  // Single-use values past use: SIOP requests, c_nonces, Nonce Endpoint nonces, and codes once
  // a replay could no longer revoke a live access token (src/store/purge.ts).
  ['purge_expired', (deps, nowMs) => purgeExpired(deps.store, Math.floor(nowMs / 1000), { codeRetentionSeconds: deps.config.ttl.accessToken })],
  ['dispatch_webhooks', (deps, nowMs) => dispatchDueWebhooks(deps, nowMs)],
  ['purge_expired_pii', async (deps) => ({ purged: await purgeExpiredPii(deps) })],
  ['mark_abandoned_applications', async (deps) => ({ abandoned: await markAbandonedApplications(deps) })],
  ['purge_operator_sessions', (deps) => purgeOperatorSessions(deps)],
  ['refresh_status_lists', async (deps) => ({ lists: await refreshStatusLists(deps) })],
  ['announce_expired_credentials', async (deps, nowMs) => ({ announced: await announceExpiredCredentials(deps, Math.floor(nowMs / 1000)) })],
];

/**
 * `credential.expired` once per credential past its `exp`: the event is enqueued first (its id
 * derives from the credential id, so a crash between the two writes re-enqueues the same event,
 * which the outbox ignores), then the expiry is stamped as announced. Revoked credentials are
 * skipped: `credential.revoked` was their last word.
 */
export async function announceExpiredCredentials(deps: Pick<IssuanceDeps, 'store' | 'clock' | 'crypto'>, now: number, batch = 100): Promise<number> {
  let announced = 0;
  for (;;) {
    const due = await deps.store.credentialStatus.expiredUnannounced(now, batch);
    for (const record of due) {
      await emitEvent(deps, 'credential.expired', record.credentialId, {
        credential_id: record.credentialId,
        subject_did: record.subjectDid,
        tier_id: record.tierId,
        status: statusOf(record),
        expired_at: new Date(record.expiresAt * 1000).toISOString(),
      });
      if (await deps.store.credentialStatus.markExpiryAnnounced(record.credentialId, now)) announced++;
    }
    if (due.length < batch) return announced;
  }
}

/**
 * Re-signs status list credentials before they go stale (statusListCredential rebuilds one
 * whose cached JWT has under a quarter of its validity left, or whose list changed), so no
 * relying party's request waits for a signature and gzip. Lists are numbered from 1.
 */
async function refreshStatusLists(deps: IssuanceDeps): Promise<number> {
  let id = 1;
  for (; await deps.store.statusLists.get(id); id++) {
    for (const purpose of STATUS_PURPOSES) await statusListCredential(deps, id, purpose);
  }
  return id - 1;
}

/**
 * Runs each job once, in order. With many instances on one database `exclusive` runs a job only
 * where no other instance runs it at that moment (PostgreSQL: an advisory lock per job name,
 * src/store/postgres/jobLock.ts); a job skipped that way reports nothing.
 */
export type ExclusiveRunner = (job: string, run: () => Promise<unknown>) => Promise<unknown>;

export async function runJobs(
  deps: IssuanceDeps,
  nowMs: number,
  options: { jobs?: typeof JOBS; exclusive?: ExclusiveRunner } = {},
): Promise<{ failed: number; results: Record<string, object | undefined> }> {
  const exclusive: ExclusiveRunner = options.exclusive ?? ((_name, run) => run());
  let failed = 0;
  const results: Record<string, object | undefined> = {};
  for (const [name, job] of options.jobs ?? JOBS) {
    const started = Date.now();
    try {
      let result: object | undefined;
      await exclusive(name, async () => {
        result = await job(deps, nowMs);
      });
      results[name] = result;
      deps.logger.debug?.('scheduled_job', { job: name, ms: Date.now() - started, ...(results[name] ?? {}) });
    } catch (e) {
      failed++;
      // Never the failing statement's parameters (src/ports/failures.ts).
      deps.logger.error('scheduled_job_failed', {
        job: name,
        ...errorLogFields(e),
        ...(storageFailureOf(e) ? { condition: storageFailureOf(e)!.condition } : {}),
      });
    }
  }
  return { failed, results };
}
