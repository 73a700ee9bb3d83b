import type { IdvOutcome } from '../store/types';
import type { IdentityFields } from './fields';
import type { IdvResult } from './provider';

/**
 * The sandbox IDV provider (the default): deterministic decisions on test values, like a
 * payment provider's test cards. Documented in the README:
 *   family_name "Declined" → rejected; "Review" → manual review; anything else → approved.
 * It performs no real checks; its evidence says so honestly (document_verification only).
 */
export const SANDBOX_PROVIDER = 'sandbox';

export function sandboxDecision(fields: IdentityFields): IdvOutcome {
  const evidence = [{ kind: 'document_verification', checks: [fields.document_type] }];
  const base = { provider: SANDBOX_PROVIDER, countryOfResidence: fields.country_of_residence, evidence };
  const family = fields.family_name.trim().toLowerCase();
  if (family === 'declined') return { ...base, status: 'rejected', reason: 'sandbox: declined test value' };
  if (family === 'review') return { ...base, status: 'review', reason: 'sandbox: manual review test value' };
  // The sandbox assigns no tier: the KCC carries the applied-for tier's name (signKnownCustomerCredential, src/issuance/issueCredential.ts).
  return { ...base, status: 'approved' };
}

/** The same sandbox decision as a normalised provider result (src/idv/provider.ts). */
export function sandboxResult(fields: IdentityFields, applicationId: string, now: number): IdvResult {
  const decision = sandboxDecision(fields);
  const state = decision.status === 'approved' ? 'approved' : decision.status === 'rejected' ? 'declined' : 'needs_review';
  return {
    state,
    reasonCodes: decision.reason ? [`sandbox:${state}`] : [],
    final: state !== 'needs_review',
    checks: [{ kind: 'document', result: 'passed', detail: [fields.document_type] }],
    countryOfResidence: fields.country_of_residence,
    tier: decision.tier,
    verifiedAt: now,
    vendorReference: applicationId,
  };
}
