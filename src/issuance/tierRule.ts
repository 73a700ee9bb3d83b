import type { IssuerConfig, TierConfig } from '../config';
import { highestTierSatisfied, missingChecksFor, tierNamed, type CheckEvidence } from '../protocol/tiers';
import { evidenceFromChecks, type IdvResult } from '../idv/provider';
import type { Application, ApplicationPrefill, EvidenceEntry } from '../store/types';
import { tierOfApplication } from './credentialConfigurations';
import type { IssuanceDeps } from './deps';

/**
 * A tier only as far as its evidence goes (docs/tiers-and-status.md "The tier rule"): every
 * decision path (operator API and console with four-eyes, vendor webhook and callback, the
 * sandbox form, the bank sign-in, presented credentials) grants a tier through these functions
 * over the pure rule of src/protocol/tiers.ts, and issuance and the KYC status API read the
 * granted tier back with `grantedTierOf`, so the KCC, the application record and the status agree.
 */

type TierDeps = { config: Pick<IssuerConfig, 'tiers' | 'defaultTierId'> };

/** An evidence entry as applications and IDV results hold it (`verifiedAt`, when present, ISO 8601 or epoch seconds). */
export interface EvidenceEntryLike {
  kind: string;
  verifiedAt?: unknown;
}

function verifiedAtSeconds(value: unknown, fallback: number): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return Math.floor(ms / 1000);
  }
  return fallback;
}

/**
 * The evidence a decision on an application rests on: the checks its verification reported
 * (done at `decidedAt`, or at their own `verifiedAt`) and the checks presented credentials still
 * cover (with their original time). Nothing else: an operator's decision adds no checks.
 *
 * @param decidedAt seconds since the epoch
 */
export function checkEvidenceOf(
  evidence: readonly EvidenceEntryLike[] | null | undefined,
  prefill: Pick<ApplicationPrefill, 'verifiedEvidence'> | null | undefined,
  decidedAt: number,
): CheckEvidence[] {
  const fromVerification = (evidence ?? [])
    .filter((e) => typeof e?.kind === 'string')
    .map((e) => ({ kind: e.kind, verifiedAt: verifiedAtSeconds(e.verifiedAt, decidedAt) }));
  const carried = (prefill?.verifiedEvidence ?? []).map((e) => ({ kind: e.kind, verifiedAt: e.verifiedAt }));
  return [...fromVerification, ...carried];
}

/**
 * The tier an approved application carries: the tier its decision named (the application's
 * `tier`, a configured tier's name), or else the tier it applied for. Issuance (the KCC's `tier`,
 * validity and status entry) and the KYC status API read it here.
 */
export function grantedTierOf(deps: TierDeps, application: Pick<Application, 'credentialConfigurationId' | 'tier'>): TierConfig {
  const applied = tierOfApplication(deps, application);
  return (application.tier ? tierNamed(deps.config.tiers, application.tier, applied) : undefined) ?? applied;
}

export type TierGrant =
  /** `tier` is granted; `limited` when it is below the ceiling (the evidence did not cover more). */
  | { tier: TierConfig; limited: boolean }
  /** No tier at or below the ceiling is covered: `missing` names what the ceiling still needs. */
  | { tier: undefined; ceiling: TierConfig; missing: string[] };

/**
 * An automated decision's tier (vendor, sandbox, bank sign-in): the highest tier the evidence
 * satisfies at or below the ceiling, which is the tier the result states (when it is a
 * configured one) or else the applied-for tier.
 *
 * @param now seconds since the epoch
 */
export function grantTier(
  deps: TierDeps,
  application: Pick<Application, 'credentialConfigurationId'>,
  evidence: readonly CheckEvidence[],
  now: number,
  statedTier?: string,
): TierGrant {
  const applied = tierOfApplication(deps, application);
  const ceiling = (statedTier ? tierNamed(deps.config.tiers, statedTier, applied) : undefined) ?? applied;
  const tier = highestTierSatisfied(deps.config.tiers, evidence, now, ceiling);
  if (tier) return { tier, limited: tier.id !== ceiling.id };
  return { tier: undefined, ceiling, missing: missingChecksFor(ceiling, evidence, now) };
}

/** The configured tiers `evidence` satisfies, each with nothing missing, and the others with what they miss (the console's choice). */
export function tierChoices(deps: TierDeps, evidence: readonly CheckEvidence[], now: number): { name: string; id: string; missing: string[] }[] {
  return deps.config.tiers.map((t) => ({ name: t.name, id: t.id, missing: missingChecksFor(t, evidence, now) }));
}

/**
 * What an operator's decision on `application` rests on: the evidence its verification recorded
 * (the application's, else its IDV session's outcome) and, for the rule, what presented
 * credentials still cover. The operator adds nothing to either.
 *
 * @param now seconds since the epoch
 */
export async function evidenceForDecision(
  deps: Pick<IssuanceDeps, 'store'>,
  application: Application,
  now: number,
): Promise<{ recorded: EvidenceEntry[]; held: CheckEvidence[] }> {
  let recorded: EvidenceEntry[] = application.evidence ?? [];
  if (!recorded.length) {
    const outcome = ((await deps.store.idvSessions.get(application.id))?.outcome ?? {}) as Partial<IdvResult>;
    recorded = (outcome.evidence ?? evidenceFromChecks(outcome.checks ?? [])) as EvidenceEntry[];
  }
  return { recorded, held: checkEvidenceOf(recorded, await deps.store.applicationPrefill.get(application.id), now) };
}
