import type { IdvOutcome } from '../store/store';
import type { IdentityFields } from './fields';

/**
 * The sandbox IDV provider (the default): deterministic decisions on test values, like a
 * payment provider's test cards. Documented in the README:
 *   family_name "Declined" → rejected; "Review" → manual review; anything else → approved.
 * It performs no real checks; its evidence says so honestly (document_verification only).
 */
export const SANDBOX_PROVIDER = 'sandbox';

export function sandboxDecision(fields: IdentityFields, defaultTier: string): IdvOutcome {
  const evidence = [{ kind: 'document_verification', checks: [fields.document_type] }];
  const base = { provider: SANDBOX_PROVIDER, countryOfResidence: fields.country_of_residence, evidence };
  const family = fields.family_name.trim().toLowerCase();
  if (family === 'declined') return { ...base, status: 'rejected', reason: 'sandbox: declined test value' };
  if (family === 'review') return { ...base, status: 'review', reason: 'sandbox: manual review test value' };
  return { ...base, status: 'approved', tier: defaultTier };
}
