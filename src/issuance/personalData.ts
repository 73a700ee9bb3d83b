import { nowSeconds } from '../ports/clock';
import type { IssuanceDeps } from './deps';

/**
 * The applicant's personal data (sealed by the PII vault, src/idv/piiVault.ts: what the hosted
 * form collected, `idv_pii`, and what presented credentials vouched for, `presented_claims`) has
 * a life of its own: kept for the review and the retention period after a decision, then purged;
 * erased earlier on request. The audit trail stays either way.
 */
type Deps = Pick<IssuanceDeps, 'store' | 'clock' | 'config'>;

/** Erases one applicant's PII (form and presented credentials' claims) on request; true when there was something to erase. */
export async function eraseApplicantPii(deps: Deps, applicationId: string, actor: string, reason: string): Promise<boolean> {
  const now = nowSeconds(deps);
  const erasedForm = await deps.store.pii.erase(applicationId, 'operator_request', now);
  const erasedClaims = await deps.store.presentedClaims.erase(applicationId, 'operator_request', now);
  const erased = erasedForm || erasedClaims;
  await deps.store.audit.record({
    applicationId,
    actor,
    action: erased ? 'pii.erased' : 'pii.erase_noop',
    detail: { reason: reason.slice(0, 200) },
    at: nowSeconds(deps),
  });
  return erased;
}

/** Retention: purges PII of applications decided more than `retentionDays` ago. */
export async function purgeExpiredPii(deps: Deps): Promise<number> {
  const now = nowSeconds(deps);
  const ids = [...new Set([...(await deps.store.pii.purgeDue(now)), ...(await deps.store.presentedClaims.purgeDue(now))])];
  for (const id of ids)
    await deps.store.audit.record({
      applicationId: id,
      actor: 'system:retention',
      action: 'pii.purged',
      detail: { retention_days: deps.config.idv.retentionDays },
      at: now,
    });
  return ids.length;
}
