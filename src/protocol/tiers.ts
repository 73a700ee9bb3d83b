import type { TierConfig } from '../config';
import type { PresentationDefinition } from './pe/evaluate';

/**
 * KCC tiers (spec "Multiple Credential Types"): each tier is described by a DIF PE 2.0
 * Presentation Definition. Two definitions per tier:
 *  - the tier's own definition (`tierPresentationDefinition`): what a relying party asks for to
 *    get a KCC of this tier or better from this PFI (type, issuer, every required check), served
 *    at /presentation-definitions/<tier id>; its id is the tier id, so it is the
 *    presentation_definition_id the initiation GET takes;
 *  - the prior-credential definition (`priorCredentialDefinition`): what the SIOPv2 request asks
 *    the applicant to present (any KCC from a trusted issuer) to skip checks already done.
 * Every field names the VC data model path (`$.type[*]`) and the JWT VC payload path
 * (`$.vc.type[*]`, VC Data Model 1.1 §6.3.1): evaluators such as @sphereon/pex match a JWT VC's
 * decoded payload, others the VC inside it.
 */
export const KCC_FORMATS = {
  jwt_vc_json: { alg: ['EdDSA', 'ES256K'] },
  jwt_vc: { alg: ['EdDSA', 'ES256K'] },
  jwt_vp_json: { alg: ['EdDSA', 'ES256K'] },
  jwt_vp: { alg: ['EdDSA', 'ES256K'] },
};

/** The literal string a tier's acceptsPriorCredentialsFrom uses for this PFI's own DID. */
export const SELF_ISSUER = 'self';

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function tierPresentationDefinition(tier: TierConfig, issuerDid: string): PresentationDefinition {
  return {
    id: tier.id,
    name: tier.name,
    purpose: tier.description ?? `A Known Customer Credential at tier ${tier.name} (checks: ${tier.requiredChecks.join(', ') || 'none'}).`,
    format: { jwt_vc_json: KCC_FORMATS.jwt_vc_json, jwt_vc: KCC_FORMATS.jwt_vc },
    input_descriptors: [
      {
        id: 'known-customer-credential',
        name: 'Known Customer Credential',
        purpose: `A KCC from ${issuerDid} whose evidence covers ${tier.requiredChecks.join(', ') || 'no specific check'}.`,
        constraints: {
          fields: [
            { path: ['$.type[*]', '$.vc.type[*]'], filter: { type: 'string', const: 'KnownCustomerCredential' } },
            { path: ['$.issuer', '$.vc.issuer', '$.iss'], filter: { type: 'string', const: issuerDid } },
            ...tier.requiredChecks.map((check) => ({
              path: ['$.evidence[*].kind', '$.vc.evidence[*].kind'],
              filter: { type: 'string', pattern: `^${escapeRegex(check)}$` },
            })),
          ],
        },
      },
    ],
  };
}

/** Trusted issuer DIDs of a tier, with "self" replaced by the PFI DID. */
export function trustedIssuersOf(tier: TierConfig, issuerDid: string): string[] {
  return [...new Set((tier.acceptsPriorCredentialsFrom ?? []).map((i) => (i === SELF_ISSUER ? issuerDid : i)))];
}

export function acceptsPriorCredentials(tier: TierConfig): boolean {
  return (tier.acceptsPriorCredentialsFrom ?? []).length > 0;
}

/** The definition the SIOPv2 request carries (spec "Initiate Application": presentation_definition). */
export function priorCredentialDefinition(tier: TierConfig, issuerDid: string): PresentationDefinition {
  return {
    id: `${tier.id}-prior-kcc`,
    name: 'Known Customer Credential you already hold',
    purpose: `Present a Known Customer Credential you hold so that only the checks ${tier.name} still needs are done.`,
    format: { jwt_vp_json: KCC_FORMATS.jwt_vp_json, jwt_vp: KCC_FORMATS.jwt_vp, jwt_vc_json: KCC_FORMATS.jwt_vc_json, jwt_vc: KCC_FORMATS.jwt_vc },
    input_descriptors: [
      {
        id: 'prior-known-customer-credential',
        name: 'Known Customer Credential',
        purpose: 'A KCC from an issuer this PFI trusts.',
        format: { jwt_vc_json: KCC_FORMATS.jwt_vc_json, jwt_vc: KCC_FORMATS.jwt_vc },
        constraints: {
          fields: [
            { path: ['$.type[*]', '$.vc.type[*]'], filter: { type: 'string', const: 'KnownCustomerCredential' } },
            { path: ['$.issuer', '$.vc.issuer', '$.iss'], filter: { type: 'string', enum: trustedIssuersOf(tier, issuerDid) } },
          ],
        },
      },
    ],
  };
}

export function findTier(tiers: readonly TierConfig[], id: string): TierConfig | undefined {
  return tiers.find((t) => t.id === id);
}

/** Days a check's evidence stays usable under a tier (renewal redoes checks older than this). */
export function evidenceMaxAgeDays(tier: TierConfig, kind: string): number {
  return tier.evidenceMaxAgeDays?.[kind] ?? tier.validityDays;
}

/**
 * One check of an application's evidence as the tier rule reads it: its kind
 * (evidence[*].kind) and when it was done (seconds since the epoch).
 */
export interface CheckEvidence {
  kind: string;
  verifiedAt: number;
}

/**
 * The tier rule, the one place every decision path asks (docs/tiers-and-status.md): the checks
 * `tier` requires that `evidence` does not cover, either absent or older than the tier's
 * evidenceMaxAgeDays for the kind. Empty: the evidence satisfies the tier.
 *
 * @param now seconds since the epoch
 */
export function missingChecksFor(tier: TierConfig, evidence: readonly CheckEvidence[], now: number): string[] {
  return tier.requiredChecks.filter((kind) => !evidence.some((e) => e.kind === kind && now - e.verifiedAt < evidenceMaxAgeDays(tier, kind) * 86400));
}

/** Every configured tier whose required checks `evidence` covers (configured order). */
export function tiersSatisfiedBy(tiers: readonly TierConfig[], evidence: readonly CheckEvidence[], now: number): TierConfig[] {
  return tiers.filter((t) => missingChecksFor(t, evidence, now).length === 0);
}

/** Whether `lower` asks nothing `upper` does not: its required checks are a subset of upper's. */
export function isAtOrBelow(lower: TierConfig, upper: TierConfig): boolean {
  return lower.requiredChecks.every((kind) => upper.requiredChecks.includes(kind));
}

/**
 * The highest tier the evidence satisfies, at or below `ceiling` (the applied-for tier, or the
 * tier a decision names); undefined when none. Highest: the most required checks; on a tie the
 * ceiling itself, then the configured order.
 */
export function highestTierSatisfied(
  tiers: readonly TierConfig[],
  evidence: readonly CheckEvidence[],
  now: number,
  ceiling?: TierConfig,
): TierConfig | undefined {
  const candidates = tiersSatisfiedBy(tiers, evidence, now).filter((t) => !ceiling || isAtOrBelow(t, ceiling));
  const rank = (t: TierConfig) => t.requiredChecks.length * 2 + (ceiling && t.id === ceiling.id ? 1 : 0);
  return candidates.reduce<TierConfig | undefined>((best, t) => (!best || rank(t) > rank(best) ? t : best), undefined);
}

/**
 * The configured tier a decision's tier name means: the applied-for tier when the name is its
 * name, otherwise the first configured tier of that name; undefined for a name no tier has.
 */
export function tierNamed(tiers: readonly TierConfig[], name: string, appliedFor: TierConfig): TierConfig | undefined {
  return appliedFor.name === name ? appliedFor : tiers.find((t) => t.name === name);
}
