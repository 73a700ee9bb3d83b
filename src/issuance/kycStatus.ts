import { nowSeconds } from '../ports/clock';
import type { Application, CredentialStatusRecord } from '../store/types';
import type { IssuanceDeps } from './deps';
import { grantedTierOf } from './tierRule';

/**
 * A KYCPort-style status read for relying parties (seed 000, "Read a user's verification
 * status"): `{ kyc_status, kyc_tier, aml_clear }` for an applicant DID, from its applications
 * and the statuses of its KCCs. In order:
 * - `verified`: a KCC that is neither revoked, suspended nor past `exp` (the newest such), or an
 *   approved application whose KCC the wallet has not collected yet;
 * - `pending`: verification under way: the newest application awaits its form (link still valid)
 *   or review, or a KCC is suspended (a re-decision in review);
 * - `expired`: a KCC ran out (past `exp`, not revoked) and nothing newer is live;
 * - `rejected`: the newest decided application was declined, or every KCC was revoked; a
 *   revocation stands until a KCC is issued or an application approved after it (a new
 *   application, pending or in review, does not lift it);
 * - `unverified`: nothing, or only abandoned applications.
 * `kyc_tier` is the tier id of the KCC (its status entry) or application the status is about (an
 * approved one: the tier its decision granted; otherwise the tier applied for; null when
 * unverified); `aml_clear` is true only for `verified` with a `sanction_screening` check in the
 * evidence.
 */
export type KycStatus = 'verified' | 'pending' | 'rejected' | 'unverified' | 'expired';
export interface KycStatusAnswer {
  kyc_status: KycStatus;
  kyc_tier: string | null;
  aml_clear: boolean;
}

const AML_CHECK = 'sanction_screening';

export async function kycStatusOf(deps: Pick<IssuanceDeps, 'store' | 'clock' | 'config'>, subjectDid: string): Promise<KycStatusAnswer> {
  const now = nowSeconds(deps);
  const credentials = await deps.store.credentialStatus.listForSubject(subjectDid); // newest first
  const applications = await deps.store.applications.listForApplicant(subjectDid, 20); // newest first
  const live = credentials.find((c) => c.revokedAt == null && c.suspendedAt == null && c.expiresAt > now);
  if (live) return { kyc_status: 'verified', kyc_tier: live.tierId, aml_clear: hasAmlCheck(live.evidence) };
  const newest = applications[0];
  const issuedFor = new Set(
    (await Promise.all(applications.map((a) => deps.store.issuedCredentials.listForApplication(a.id)))).flat().map((c) => c.applicationId),
  );
  if (newest?.status === 'approved' && !issuedFor.has(newest.id)) {
    // The tier its decision granted, as the KCC will say (src/issuance/tierRule.ts).
    return { kyc_status: 'verified', kyc_tier: grantedTierOf(deps, newest).id, aml_clear: hasAmlCheck(applicationEvidence(newest)) };
  }
  // A revocation stands until something newer than it: a KCC issued or an application approved
  // after it. An application the subject opens (or sends to review) is not that, so opening one
  // cannot turn `rejected` into `pending` and hide the revocation from a relying party.
  const lastRevokedAt = credentials.reduce((max, c) => (c.revokedAt != null && c.revokedAt > max ? c.revokedAt : max), -1);
  if (
    lastRevokedAt >= 0 &&
    !credentials.some((c) => c.issuedAt > lastRevokedAt) &&
    !applications.some((a) => a.status === 'approved' && (a.decidedAt ?? 0) > lastRevokedAt)
  ) {
    const revoked = credentials.find((c) => c.revokedAt === lastRevokedAt)!;
    return { kyc_status: 'rejected', kyc_tier: revoked.tierId, aml_clear: false };
  }
  const suspended = credentials.find((c) => c.revokedAt == null && c.suspendedAt != null && c.expiresAt > now);
  if (newest && (newest.status === 'review' || (newest.status === 'pending' && (newest.formSubmittedAt != null || newest.formExpiresAt > now)))) {
    return { kyc_status: 'pending', kyc_tier: newest.credentialConfigurationId, aml_clear: false };
  }
  if (suspended) return { kyc_status: 'pending', kyc_tier: suspended.tierId, aml_clear: false };
  // An application whose form was never submitted and that ended rejected was abandoned (the
  // link expired, src/issuance/identityVerification.ts markAbandonedApplications): no decision.
  const lastDecided = applications.find((a) => (a.status === 'approved' || a.status === 'rejected') && a.formSubmittedAt != null);
  const ranOut = credentials.find((c: CredentialStatusRecord) => c.revokedAt == null && c.expiresAt <= now);
  if (ranOut && !(lastDecided?.status === 'rejected' && !issuedFor.has(lastDecided.id) && (lastDecided.decidedAt ?? 0) > ranOut.issuedAt)) {
    return { kyc_status: 'expired', kyc_tier: ranOut.tierId, aml_clear: false };
  }
  if (lastDecided?.status === 'rejected' || credentials.length > 0) {
    return { kyc_status: 'rejected', kyc_tier: lastDecided?.credentialConfigurationId ?? credentials[0]?.tierId ?? null, aml_clear: false };
  }
  return { kyc_status: 'unverified', kyc_tier: null, aml_clear: false };
}

function hasAmlCheck(evidence: Array<{ kind: string }>): boolean {
  return evidence.some((e) => e.kind === AML_CHECK);
}

function applicationEvidence(application: Application): Array<{ kind: string }> {
  return (application.evidence ?? []).filter((e) => typeof e?.kind === 'string');
}
