import { z } from 'zod';

/**
 * The KCC's selectively disclosable claims as a relying party may receive them: any subset,
 * each shaped as in the KCC JSON schema (schemas/kcc.schema.json: countryOfResidence and
 * jurisdiction.country ISO 3166-1 alpha-2, tier a string; evidence as the jwt_vc_json KCC
 * carries it). The DID pattern is the corrected one (README: the published schema's `.-_` range).
 */
const Country = z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code');

export const DisclosedKccClaims = z
  .object({
    countryOfResidence: Country.optional(),
    tier: z.string().min(1).max(100).optional(),
    jurisdiction: z.object({ country: Country }).passthrough().optional(),
    evidence: z
      .array(z.object({ kind: z.string().min(1).max(100), checks: z.array(z.string().max(100)).max(50) }).passthrough())
      .max(20)
      .optional(),
    sub: z
      .string()
      .regex(/^did:[a-z0-9]+:([a-zA-Z0-9._:-]|%[0-9A-Fa-f]{2})+$/, 'must be a DID')
      .optional(),
  })
  .passthrough();

export type DisclosedKccClaims = z.infer<typeof DisclosedKccClaims>;
