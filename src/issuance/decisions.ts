import { HOSTED_PROVIDER } from '../idv/hostedForm';
import type { IdvResult, IdvState } from '../idv/provider';
import { applicationStatusFor } from '../idv/stateMachine';
import { nowSeconds } from '../ports/clock';
import { AccessDenied, Conflict, InvalidRequest, NotFound } from '../protocol/errors';
import type { Application, PendingApproval } from '../store/types';
import type { IssuerConfig } from '../config';
import type { IssuanceDeps } from './deps';
import { applyResult, ensureIdvSession } from './identityVerification';
import { isCountryOfResidence, kccDataProblem } from './kccClaims';
import { independentParties } from './operatorAccounts';
import { missingChecksFor, tierNamed, tiersSatisfiedBy } from '../protocol/tiers';
import { tierOfApplication } from './credentialConfigurations';
import { evidenceForDecision, grantedTierOf } from './tierRule';

/** The tier names an operator may give (credentialSubject.tier of the configured tiers, src/config.ts). */
export function configuredTierNames(config: Pick<IssuerConfig, 'tiers'>): string[] {
  return [...new Set(config.tiers.map((t) => t.name))];
}

/**
 * An operator's decision (review console or operator API). On an application in review it is
 * the decision; on a decided one, with `overrule`, a re-decision: recorded, announced, and
 * applied to the KCCs already issued (src/issuance/credentialStatus.ts credentialChangesFor).
 * Throws NotFound, Conflict (not awaiting review, or another reviewer decided first) or
 * InvalidRequest (an approval the KCC could not be built from).
 *
 * Four-eyes (`config.reviewFourEyes`): an approval is first only a proposal (`pendingApproval`
 * in the result; the application keeps its status, nothing is issued); the approval of another
 * `party` confirms it, with the proposal's tier and country, and only then is it the decision.
 * The proposer's own confirmation is AccessDenied. Rejections are not gated and drop a proposal.
 */
export async function recordOperatorDecision(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'logger' | 'crypto'>,
  decisionInput: {
    applicationId: string;
    decision: 'approve' | 'reject';
    tier?: string;
    /** Supplies the KCC's country when the verification reported none (ISO 3166-1 alpha-2). */
    countryOfResidence?: string;
    reason?: string;
    actor: string;
    /** Who counts as one party for four-eyes (an account, or every ADMIN_TOKEN holder as one); defaults to `actor`. */
    party?: string;
    overrule?: boolean;
  },
): Promise<Application & { pendingApproval?: PendingApproval }> {
  let input = decisionInput;
  const existing = await deps.store.applications.get(input.applicationId);
  if (!existing) throw new NotFound('no such application');
  const allowed = existing.status === 'review' || (input.overrule && (existing.status === 'approved' || existing.status === 'rejected'));
  if (!allowed) throw new Conflict(`application is ${existing.status}, not awaiting review`);
  const party = input.party ?? input.actor;
  const fourEyes = deps.config.reviewFourEyes && input.decision === 'approve';
  let proposal = fourEyes ? await deps.store.pendingApprovals.get(input.applicationId) : undefined;
  if (proposal && proposal.fromStatus !== existing.status) {
    // Proposed before the application changed status (e.g. overruled since): no longer what was reviewed.
    await deps.store.pendingApprovals.clear(input.applicationId);
    proposal = undefined;
  }
  if (proposal) {
    if (proposal.party === party)
      throw new AccessDenied('four-eyes review: this approval must be confirmed by a different operator than the one who proposed it');
    // A second account is no second person when one of them set up the other's secret, or one party set up both.
    if (!(await independentParties(deps, proposal.party, party)))
      throw new AccessDenied(
        'four-eyes review: this account was created or reset by the proposer (or both accounts by the same operator), so it cannot confirm the approval; another operator must',
      );
    if (
      (input.tier !== undefined && input.tier !== (proposal.tier ?? undefined)) ||
      (input.countryOfResidence !== undefined && input.countryOfResidence !== (proposal.countryOfResidence ?? undefined))
    ) {
      throw new InvalidRequest('the confirmation differs from the pending approval (tier or country of residence): confirm it as proposed, or reject');
    }
    input = {
      ...input,
      tier: proposal.tier ?? undefined,
      countryOfResidence: proposal.countryOfResidence ?? undefined,
      reason: input.reason ?? proposal.reason ?? undefined,
    };
  }
  // credentialSubject.tier names a configured level of diligence; an operator cannot invent one.
  if (input.tier !== undefined && !configuredTierNames(deps.config).includes(input.tier)) {
    throw new InvalidRequest(`tier must be one of the configured tiers: ${configuredTierNames(deps.config).join(', ')}`);
  }
  if (input.countryOfResidence !== undefined && !isCountryOfResidence(input.countryOfResidence)) {
    throw new InvalidRequest('country_of_residence must be an ISO 3166-1 alpha-2 code');
  }
  const countryOfResidence = input.countryOfResidence ?? existing.countryOfResidence ?? undefined;
  if (input.decision === 'approve' && kccDataProblem({ countryOfResidence })) {
    throw new InvalidRequest('the application has no valid country of residence: approve with country_of_residence, or reject');
  }
  // The evidence is what verification recorded (and presented credentials still cover): an
  // operator's approval adds no checks, so it cannot grant a tier beyond them (docs/tiers-and-status.md).
  const { recorded: evidence, held } = await evidenceForDecision(deps, existing, nowSeconds(deps));
  let tier: string | undefined;
  if (input.decision === 'approve') {
    const now = nowSeconds(deps);
    const asked = input.tier ? tierNamed(deps.config.tiers, input.tier, tierOfApplication(deps, existing)) : grantedTierOf(deps, existing);
    const missing = asked ? missingChecksFor(asked, held, now) : [];
    if (asked && missing.length) {
      const covered = tiersSatisfiedBy(deps.config.tiers, held, now).map((t) => t.name);
      throw new InvalidRequest(
        `the application's evidence does not cover tier ${asked.name}: missing ${missing.join(', ')}; ${
          covered.length ? `it covers ${[...new Set(covered)].join(', ')}` : 'it covers no configured tier'
        } (an operator's decision adds no checks: send the applicant through verification again, or reject)`,
      );
    }
    tier = asked?.name;
  }
  if (fourEyes) {
    const now = nowSeconds(deps);
    if (!proposal) {
      const row: PendingApproval = {
        applicationId: input.applicationId,
        party,
        actor: input.actor,
        fromStatus: existing.status,
        tier: input.tier ?? null,
        countryOfResidence: input.countryOfResidence ?? null,
        reason: input.reason ?? null,
        createdAt: now,
      };
      if (!(await deps.store.pendingApprovals.propose(row)))
        throw new Conflict('another operator proposed an approval at the same time: reload and confirm or reject it');
      await deps.store.audit.record({
        applicationId: input.applicationId,
        actor: input.actor,
        action: 'decision.approval_proposed',
        detail: { tier: row.tier, four_eyes: true },
        at: now,
      });
      return { ...existing, pendingApproval: row };
    }
    // Verified above, taken here: of two confirmers one takes the proposal, and never its proposer.
    const taken = await deps.store.pendingApprovals.takeForConfirmation(input.applicationId, party);
    if (!taken) throw new Conflict('the pending approval was confirmed or dropped by someone else');
    await deps.store.audit.record({
      applicationId: input.applicationId,
      actor: input.actor,
      action: 'decision.approval_confirmed',
      detail: { proposed_by: taken.actor, four_eyes: true },
      at: now,
    });
  } else if (input.decision === 'reject') {
    await deps.store.pendingApprovals.clear(input.applicationId);
  }
  const session =
    (await deps.store.idvSessions.get(input.applicationId)) ?? (await ensureIdvSession(deps, input.applicationId, existing.idvProvider ?? HOSTED_PROVIDER));
  const state: IdvState = input.decision === 'approve' ? 'approved' : 'declined';
  // Applied as the newest event even if a vendor's clock runs ahead of ours.
  const eventAt = Math.max(deps.clock(), session.lastEventAt + 1);
  const prior = (session.outcome ?? {}) as Partial<IdvResult>;
  const result: IdvResult = {
    state,
    reasonCodes: [`operator:${input.decision}`, ...(input.reason ? [`operator_reason:${input.reason.slice(0, 200)}`] : [])],
    final: true,
    checks: prior.checks ?? [],
    // The evidence stays what verification recorded; the KCC carries it.
    ...(evidence.length ? { evidence: evidence.map(({ kind, checks, ...rest }) => ({ ...rest, kind, checks: [...(checks ?? [])] })) } : {}),
    countryOfResidence,
    tier: tier ?? existing.tier ?? undefined,
    verifiedAt: deps.clock(),
    vendorReference: session.vendorReference ?? input.applicationId,
  };
  if (existing.status === 'review') {
    // The conditional UPDATE settles a race between two reviewers: one decision wins.
    const won = await deps.store.applications.decideReview(
      input.applicationId,
      { status: input.decision === 'approve' ? 'approved' : 'rejected', tier, reason: input.reason, decidedBy: input.actor },
      nowSeconds(deps),
    );
    if (!won) throw new Conflict('the application was decided by someone else');
  }
  const applied = await applyResult(deps, {
    applicationId: input.applicationId,
    provider: existing.idvProvider ?? session.provider,
    result,
    eventAt,
    actor: input.actor,
    decidedBy: input.actor,
    reason: input.reason,
  });
  // Applied, the reason was written with the decision; a result the session did not take still records it.
  if (input.reason && applied.disposition !== 'applied' && applied.disposition !== 'redecision') {
    await deps.store.applicationStatus.set(
      input.applicationId,
      { status: applicationStatusFor(applied.state), provider: existing.idvProvider ?? session.provider, reason: input.reason, decidedBy: input.actor },
      nowSeconds(deps),
    );
  }
  return (await deps.store.applications.get(input.applicationId)) as Application;
}
