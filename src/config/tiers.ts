import { z } from 'zod';

/** One optional consent item of the hosted form's consent step. */
export interface ConsentItem {
  /** Recorded in the audit trail: [A-Za-z0-9._-], at most 64 characters. */
  id: string;
  /** Shown beside the checkbox, in the PFI's words. */
  text: string;
}

/** One KCC tier, a level of KYC diligence (spec "Multiple Credential Types"). */
export interface TierConfig {
  /** presentation_definition_id, credential configuration id and Presentation Definition id. */
  id: string;
  /** Human-readable name; written into credentialSubject.tier. */
  name: string;
  /** Evidence kinds IDV must have verified (evidence[*].kind), e.g. document_verification, sanction_screening. */
  requiredChecks: string[];
  /** KCC validity in days. */
  validityDays: number;
  /**
   * How long a check's evidence stays usable, per kind, in days (renewal redoes only the
   * checks that aged out). A kind not listed ages out with the credential (validityDays).
   */
  evidenceMaxAgeDays?: Record<string, number>;
  /**
   * Issuers (DIDs) whose KCCs the applicant may present to skip checks already done; the
   * string "self" stands for this PFI's DID. Empty or absent: the SIOP request carries no
   * presentation_definition and every check is done in IDV.
   */
  acceptsPriorCredentialsFrom?: string[];
  /**
   * Entries of the presented-credential trust configuration (docs/credentials-as-input.md: EU PID,
   * mDL, other issuers' VCs) an applicant may present to stand in for some or all of the checks;
   * the SIOP request then carries their presentation definition (`<tier id>-held`).
   */
  acceptsCredentials?: string[];
  /** Optional description shown in metadata and the Presentation Definition's purpose. */
  description?: string;
}

/** A tiers document: the tiers and which one the initiation GET gets when it names none. */
export interface TiersDocument {
  tiers?: TierConfig[];
  defaultTierId?: string;
}

const TierConfigWire = z.object({
  id: z.string(),
  name: z.string(),
  requiredChecks: z.array(z.string().min(1).max(64)).max(20),
  validityDays: z.number().positive(),
  evidenceMaxAgeDays: z.record(z.string(), z.number().positive()).optional(),
  acceptsPriorCredentialsFrom: z.array(z.string().min(1).max(2000)).max(50).optional(),
  acceptsCredentials: z
    .array(z.string().regex(/^[a-z0-9-]{1,64}$/))
    .max(20)
    .optional(),
  description: z.string().max(500).optional(),
});
const TiersFileWire = z.object({ defaultTierId: z.string().optional(), tiers: z.array(TierConfigWire).min(1).max(20) });

/**
 * Parses the tiers document (env KCC_TIERS_FILE on Node; KCC_TIERS, a JSON var, on both):
 * `{ "defaultTierId"?: string, "tiers": TierConfig[] }`. See docs/tiers-and-status.md.
 */
export function parseTiersConfig(json: unknown): TiersDocument {
  const parsed = TiersFileWire.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`tiers configuration: ${issue?.path.join('.') || 'root'}: ${issue?.message ?? 'invalid'}`);
  }
  return { tiers: parsed.data.tiers, defaultTierId: parsed.data.defaultTierId };
}

/** A tiers document from a setting's text, with the setting named in every error. */
export function tiersFromJson(name: string, text: string): TiersDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new TypeError(`${name} must be JSON: { "defaultTierId"?: string, "tiers": [...] } (docs/tiers-and-status.md)`);
  }
  try {
    return parseTiersConfig(json);
  } catch (e) {
    throw new TypeError(`${name}: ${(e as Error).message}`);
  }
}
