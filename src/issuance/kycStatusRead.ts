import { digestSecret } from '../crypto/hash';
import { nowSeconds } from '../ports/clock';
import { NotFound } from '../protocol/errors';
import { verifyKycStatusAuthorization } from '../protocol/kycAuthorization';
import type { IssuanceDeps } from './deps';
import { kycStatusOf, type KycStatusAnswer } from './kycStatus';

/**
 * A relying party's (tenant's) read of a subject's KYC status, scoped to the subjects that
 * authorised that tenant (src/protocol/kycAuthorization.ts). Without a valid authorisation naming
 * this tenant the answer is 404 with one message whatever the DID (known, unknown, approved,
 * rejected), so a tenant cannot probe customers who never dealt with it. Every read is audited
 * under the tenant's name (`kyc-tenant:<name>`): `kyc.status_read` with the subject and the
 * answer, or `kyc.status_refused` with the reason and a digest of the DID tried (not the DID:
 * a probe is recorded without the tenant's input becoming an identifier in the trail).
 */
export async function readKycStatusForTenant(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'resolver' | 'crypto' | 'issuer' | 'config'>,
  input: { tenant: string; subject: string; authorization: string | undefined },
): Promise<KycStatusAnswer> {
  const now = nowSeconds(deps);
  const verdict = await verifyKycStatusAuthorization({
    token: input.authorization,
    subject: input.subject,
    tenant: input.tenant,
    audiences: [deps.config.publicUrl, deps.issuer.did],
    resolver: deps.resolver,
    verifier: deps.crypto,
    now,
    skewSeconds: deps.config.clockSkewSeconds,
  });
  const actor = `kyc-tenant:${input.tenant}`;
  if (!verdict.ok) {
    await deps.store.audit.record({
      applicationId: null,
      actor,
      action: 'kyc.status_refused',
      detail: { reason: verdict.reason, subject_digest: digestSecret(deps.crypto, input.subject) },
      at: now,
    });
    throw new NotFound('no KYC status for this subject is available to this tenant (the subject must authorise it)');
  }
  const answer = await kycStatusOf(deps, input.subject);
  await deps.store.audit.record({
    applicationId: null,
    actor,
    action: 'kyc.status_read',
    detail: { subject: input.subject, kyc_status: answer.kyc_status, authorization_kid: verdict.kid },
    at: now,
  });
  return answer;
}
