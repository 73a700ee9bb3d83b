import type { TierConfig } from '../../config';
import { missingChecksFor } from '../../protocol/tiers';
import { ISO_3166_ALPHA2 } from '../fields';
import type { ClaimMapping } from './settings';

/**
 * From the bank's verified claims to what a KCC carries: country of residence, tier and
 * evidence. Pure: the claims come from an ID token and userinfo response already verified
 * (./relyingParty.ts). Nothing here invents data: a claim that is missing or does not pass the
 * hosted form's rules makes a fallback with its reason, never a KCC with empty data, and the
 * evidence names only checks the bank reported.
 */

/** One KCC evidence entry of the existing-customer path (VC Data Model 1.1 §5.6: each entry has a `type`). */
export interface ExistingCustomerEvidence {
  type: ['ExistingCustomer'];
  /** `existing_customer` for the sign-in itself; otherwise the evidence kind a tier requires. */
  kind: string;
  /** For `existing_customer`: the evidence kinds the bank reported; otherwise the bank's own values that map to the kind. */
  checks: string[];
  /** ISO 8601, when the bank reported when its KYC was done. */
  verifiedAt?: string;
}

/** Why the bank's claims do not make a KCC on their own. */
export type FallbackReason =
  /** No country of residence claim at the mapped path. */
  | 'country_missing'
  /** A country claim that is not an ISO 3166-1 alpha-2 code. */
  | 'country_invalid'
  /** No tier claim, and the mapping says such customers go to review. */
  | 'tier_claim_missing'
  /** A tier claim value the mapping does not name. */
  | 'tier_claim_unmapped'
  /** The reported checks satisfy no tier the mapping allows (at or below the bank's tier). */
  | 'evidence_insufficient';

/** Reasons regular verification can cure (the form collects the country and does the checks); the others are for an operator. */
const CURED_BY_VERIFICATION: ReadonlySet<FallbackReason> = new Set(['country_missing', 'country_invalid', 'evidence_insufficient']);

export type MappedClaims =
  | { status: 'verified'; countryOfResidence: string; tierId: string; evidence: ExistingCustomerEvidence[]; notes: string[] }
  | {
      status: 'fallback';
      /** Regular verification (the hosted form or vendor) or manual review, by the reasons and the settings. */
      next: 'regular_verification' | 'review';
      reasons: FallbackReason[];
      /** What the bank did report, for the reviewer; never enough to issue on its own. */
      countryOfResidence?: string;
      tierId?: string;
      evidence: ExistingCustomerEvidence[];
      notes: string[];
    };

/** Reads a path (`address.country`, or its names as an array) from a claims object; undefined when any step is missing. */
export function readClaimPath(claims: Record<string, unknown>, path: string | readonly string[]): unknown {
  let at: unknown = claims;
  for (const segment of typeof path === 'string' ? path.split('.') : path) {
    if (!at || typeof at !== 'object' || Array.isArray(at) || !Object.hasOwn(at, segment)) return undefined;
    at = (at as Record<string, unknown>)[segment];
  }
  return at;
}

function parseVerifiedAt(value: unknown, now: number): number | undefined {
  let ms: number | undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) ms = value * 1000;
  else if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value)) {
    const t = Date.parse(value);
    if (Number.isFinite(t)) ms = t;
  }
  // A KYC date in the future is not evidence of anything.
  return ms !== undefined && ms <= now + 300_000 ? ms : undefined;
}

/** The tier the fewest checks make (ties: the configured order): "the lowest tier the mapping allows". */
function lowestTier(candidates: readonly TierConfig[]): TierConfig | undefined {
  return [...candidates].sort((a, b) => a.requiredChecks.length - b.requiredChecks.length)[0];
}

/**
 * Maps verified claims to a KCC's country, tier and evidence, or to a fallback with reasons.
 *
 * Tier rule (a tier only as far as its evidence goes): the bank's tier claim (or, without one
 * and `whenAbsent: lowest`, the lowest tier the mapping allows) is the ceiling; it is granted
 * when the reported checks, still fresh under that tier's evidenceMaxAgeDays, cover its
 * requiredChecks; otherwise the highest allowed tier below it that they cover; otherwise a
 * fallback (`evidence_insufficient`).
 *
 * @param now ms since the epoch (ages the evidence)
 * @param fallback where claims regular verification could complete go (settings.fallback)
 */
export function mapClaimsToKcc(
  claims: Record<string, unknown>,
  mapping: ClaimMapping,
  tiers: readonly TierConfig[],
  now: number,
  fallback: 'regular_verification' | 'review',
): MappedClaims {
  const reasons: FallbackReason[] = [];
  const notes: string[] = [];

  // Country of residence, held to the hosted form's rule (src/idv/fields.ts).
  const rawCountry = readClaimPath(claims, mapping.country.claim);
  let countryOfResidence: string | undefined;
  if (rawCountry === undefined || rawCountry === null || rawCountry === '') reasons.push('country_missing');
  else if (typeof rawCountry === 'string' && ISO_3166_ALPHA2.has(rawCountry.trim().toUpperCase())) countryOfResidence = rawCountry.trim().toUpperCase();
  else reasons.push('country_invalid');

  // Checks the bank reported, as evidence kinds; values the mapping does not name are dropped.
  const verifiedAtMs = mapping.verifiedAt ? parseVerifiedAt(readClaimPath(claims, mapping.verifiedAt.claim), now) : undefined;
  if (mapping.verifiedAt && verifiedAtMs === undefined) {
    notes.push(readClaimPath(claims, mapping.verifiedAt.claim) === undefined ? 'verified_at_missing' : 'verified_at_unusable');
  }
  const byKind = new Map<string, string[]>();
  if (mapping.checks) {
    const raw = readClaimPath(claims, mapping.checks.claim);
    const values = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw.filter((v): v is string => typeof v === 'string') : [];
    if (raw === undefined) notes.push('checks_claim_missing');
    for (const value of values.slice(0, 64)) {
      const kind = Object.hasOwn(mapping.checks.values, value) ? mapping.checks.values[value] : undefined;
      if (!kind) {
        if (!notes.includes('check_value_unmapped')) notes.push('check_value_unmapped');
        continue;
      }
      const list = byKind.get(kind) ?? [];
      if (!list.includes(value)) list.push(value);
      byKind.set(kind, list);
    }
  }
  const reportedKinds = [...byKind.keys()];

  // The tier rule of every path (src/protocol/tiers.ts): a KYC older than the tier's
  // evidenceMaxAgeDays for a kind does not count for it; without a date the checks count as of now.
  const nowSeconds = Math.floor(now / 1000);
  const reported = reportedKinds.map((kind) => ({ kind, verifiedAt: verifiedAtMs !== undefined ? Math.floor(verifiedAtMs / 1000) : nowSeconds }));
  const covers = (tier: TierConfig) => missingChecksFor(tier, reported, nowSeconds).length === 0;

  // The tiers the mapping allows: those its values name, or every configured tier.
  const mappedIds = mapping.tier.values ? new Set(Object.values(mapping.tier.values)) : undefined;
  const allowed = tiers.filter((t) => !mappedIds || mappedIds.has(t.id));
  let ceiling: TierConfig | undefined;
  const rawTier = mapping.tier.claim ? readClaimPath(claims, mapping.tier.claim) : undefined;
  if (rawTier !== undefined && rawTier !== null && rawTier !== '') {
    const key = typeof rawTier === 'string' || typeof rawTier === 'number' ? String(rawTier) : undefined;
    const id = key !== undefined && mapping.tier.values && Object.hasOwn(mapping.tier.values, key) ? mapping.tier.values[key] : undefined;
    ceiling = id ? tiers.find((t) => t.id === id) : undefined;
    if (!ceiling) reasons.push('tier_claim_unmapped');
  } else if (mapping.tier.whenAbsent === 'lowest') {
    ceiling = lowestTier(allowed);
    if (mapping.tier.claim) notes.push('tier_claim_missing_lowest_used');
  } else {
    reasons.push('tier_claim_missing');
  }

  let granted: TierConfig | undefined;
  if (ceiling) {
    if (covers(ceiling)) granted = ceiling;
    else {
      const ceilingChecks = new Set(ceiling.requiredChecks);
      const below = allowed.filter((t) => t.id !== ceiling.id && t.requiredChecks.every((k) => ceilingChecks.has(k)) && covers(t));
      granted = below.sort((a, b) => b.requiredChecks.length - a.requiredChecks.length)[0];
      if (granted) notes.push('tier_limited_by_evidence');
      else reasons.push('evidence_insufficient');
    }
  }

  const verifiedAt = verifiedAtMs !== undefined ? new Date(verifiedAtMs).toISOString() : undefined;
  const evidenceFor = (kinds: readonly string[]): ExistingCustomerEvidence[] => [
    { type: ['ExistingCustomer'], kind: 'existing_customer', checks: [...kinds], ...(verifiedAt ? { verifiedAt } : {}) },
    ...kinds.map((kind) => ({
      type: ['ExistingCustomer'] as ['ExistingCustomer'],
      kind,
      checks: byKind.get(kind) ?? [],
      ...(verifiedAt ? { verifiedAt } : {}),
    })),
  ];

  if (reasons.length === 0 && granted && countryOfResidence) {
    // Like the other paths (src/idv/checks.ts), a KCC carries the checks its tier needed, so a
    // verifier filtering on evidence kinds never reads a higher tier into it than it states.
    return { status: 'verified', countryOfResidence, tierId: granted.id, evidence: evidenceFor(granted.requiredChecks), notes };
  }
  // For the reviewer: everything the bank reported.
  const evidence = evidenceFor(reportedKinds);
  return {
    status: 'fallback',
    next: reasons.some((r) => CURED_BY_VERIFICATION.has(r)) ? fallback : 'review',
    reasons,
    ...(countryOfResidence ? { countryOfResidence } : {}),
    ...(granted ? { tierId: granted.id } : {}),
    evidence,
    notes,
  };
}
