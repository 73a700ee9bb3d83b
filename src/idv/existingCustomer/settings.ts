import { z } from 'zod';
import type { Settings, TierConfig } from '../../config';

/**
 * Settings of "I already bank with <PFI> — sign in": the PFI's own OpenID Connect provider (its
 * online banking login) completes the IDV step for its existing customers (issue text and
 * docs/existing-customers.md). The environment variables (EXISTING_CUSTOMER_*) are entries of the
 * settings table (src/config/settings.ts, section `existingCustomer`); this module checks them as a
 * whole (the shape below, the issuer URL, the tiers the mapping names).
 */

/**
 * A path into the claims: dot-separated claim names (`address.country`), or the names as an
 * array when a name holds dots itself (Auth0's namespaced claims: `["https://bank.example/kyc_level"]`).
 */
const ClaimPath = z.union([
  z
    .string()
    .regex(/^[A-Za-z0-9_:$-]{1,64}(\.[A-Za-z0-9_:$-]{1,64}){0,4}$/, 'a claim path is dot-separated claim names, e.g. address.country, or an array of names'),
  z.array(z.string().min(1).max(256)).min(1).max(5),
]);

const EvidenceKind = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'an evidence kind is snake_case, e.g. document_verification');

/** How the bank's claims become what a KCC carries. */
export const ClaimMappingSchema = z.strictObject({
  /** Country of residence (ISO 3166-1 alpha-2). Default path `address.country` (OpenID Connect Core 1.0 §5.1.1). */
  country: z.strictObject({ claim: ClaimPath }).default({ claim: 'address.country' }),
  /**
   * The tier the customer's existing KYC supports: the bank's claim value → a configured tier id.
   * Without `claim` (or when the bank sends none) `whenAbsent` decides: the lowest tier the mapping
   * allows (`values`' tiers, or every configured tier without `values`), or manual review.
   */
  tier: z
    .strictObject({
      claim: ClaimPath.optional(),
      values: z.record(z.string().min(1).max(128), z.string().min(1)).optional(),
      whenAbsent: z.enum(['lowest', 'review']).default('review'),
    })
    .default({ whenAbsent: 'review' }),
  /**
   * Which checks the bank did: a claim holding an array of strings (or one string), each value
   * the bank reports mapped to an evidence kind (`document_verification`, `sanction_screening`, …).
   * Values not listed are ignored: the KCC never carries a check the mapping does not name.
   */
  checks: z.strictObject({ claim: ClaimPath, values: z.record(z.string().min(1).max(128), EvidenceKind) }).optional(),
  /** When the bank's KYC was done (seconds since the epoch or an ISO 8601 date); ages the evidence like the tiers' evidenceMaxAgeDays. */
  verifiedAt: z.strictObject({ claim: ClaimPath }).optional(),
});
export type ClaimMapping = z.infer<typeof ClaimMappingSchema>;

const PrivateJwkSchema = z.looseObject({
  kty: z.enum(['RSA', 'EC', 'OKP']),
  d: z.string().min(1),
  kid: z.string().min(1).max(256).optional(),
  alg: z.string().optional(),
});

/** Asymmetric algorithms only: an HMAC-signed ID token would be keyed by our own client secret. */
export const ID_TOKEN_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

export const ExistingCustomerSettingsSchema = z.strictObject({
  /** Shown to the applicant: "I already bank with <displayName> — sign in". */
  displayName: z.string().min(1).max(80),
  /** The provider's issuer identifier; discovery reads `<issuer>/.well-known/openid-configuration`. */
  issuer: z.string().url(),
  clientId: z.string().min(1).max(512),
  /** client_secret_basic (RFC 6749 §2.3.1) or private_key_jwt (OpenID Connect Core 1.0 §9, RFC 7523). */
  clientAuth: z.discriminatedUnion('method', [
    z.strictObject({ method: z.literal('client_secret_basic'), clientSecret: z.string().min(16, 'the client secret must be at least 16 characters') }),
    z.strictObject({ method: z.literal('private_key_jwt'), privateJwk: PrivateJwkSchema, alg: z.string().min(1).optional() }),
  ]),
  /** Space-separated on the wire; must contain `openid`. */
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'scope tokens are printable ASCII without spaces, quotes or backslashes'))
    .min(1)
    .refine((s) => s.includes('openid'), 'the scopes must include openid'),
  claimMapping: ClaimMappingSchema,
  /** A second application by the same bank customer with another DID: issue as usual, or send it to review. */
  secondDidPolicy: z.enum(['allow', 'review']).default('review'),
  /** Where an application goes when the bank's claims cannot make a KCC (no country, too little evidence). */
  fallback: z.enum(['regular_verification', 'review']).default('regular_verification'),
  /** Lifetime of a login transaction (the applicant's round trip through the bank's login). */
  loginTtlSeconds: z.number().int().min(60).max(3600).default(600),
  /** The one ID token signing algorithm accepted (id_token_signed_response_alg); default: what the provider announces, asymmetric only. */
  idTokenAlg: z.enum(ID_TOKEN_ALGORITHMS).optional(),
  /**
   * Sent as `max_age` (OpenID Connect Core 1.0 §3.1.2.1) and checked against the ID token's
   * `auth_time`: a bank session older than this makes the customer sign in again, so a device
   * left signed in to the bank is not enough. Absent: the bank's session rules apply.
   */
  maxAuthAgeSeconds: z.number().int().min(0).max(86_400).optional(),
  /** Allowed clock difference for the ID token's exp / iat, seconds. */
  clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
});
export type ExistingCustomerSettings = z.infer<typeof ExistingCustomerSettingsSchema>;
export type ExistingCustomerSettingsInput = z.input<typeof ExistingCustomerSettingsSchema>;

/** An https issuer, or http on loopback only (tests, local development). */
export function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]');
}

/**
 * Parses and checks the settings: shape (zod), an https issuer without query or credentials
 * (http on loopback only), and every tier id the mapping names is a configured tier.
 * Throws an Error naming each problem (settings are checked at start, like src/config.ts).
 */
export function parseExistingCustomerSettings(input: unknown, tiers: readonly TierConfig[]): ExistingCustomerSettings {
  const parsed = ExistingCustomerSettingsSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`);
    throw new Error(`existing-customer sign-in settings: ${problems.join('; ')}`);
  }
  const settings = parsed.data;
  const issuer = new URL(settings.issuer);
  if (!(issuer.protocol === 'https:' || isLoopbackHttp(issuer)) || issuer.search || issuer.hash || issuer.username || issuer.password) {
    throw new Error('existing-customer sign-in settings: issuer must be an https URL without query, fragment or credentials (http only on loopback)');
  }
  const known = new Set(tiers.map((t) => t.id));
  const unknown = Object.values(settings.claimMapping.tier.values ?? {}).filter((id) => !known.has(id));
  if (unknown.length)
    throw new Error(`existing-customer sign-in settings: claimMapping.tier.values names unconfigured tiers: ${[...new Set(unknown)].join(', ')}`);
  if (settings.claimMapping.tier.claim && !settings.claimMapping.tier.values) {
    throw new Error('existing-customer sign-in settings: claimMapping.tier.claim needs claimMapping.tier.values (claim value → tier id)');
  }
  return settings;
}

/**
 * The settings from the settings table's `existingCustomer` section (src/config/settings.ts,
 * EXISTING_CUSTOMER_*); undefined when EXISTING_CUSTOMER_ISSUER is not set (the option is then
 * not offered). Throws naming the problem, never a secret's value.
 */
export function existingCustomerSettingsFromTable(
  table: Settings['existingCustomer'],
  tiers: readonly TierConfig[],
): { settings: ExistingCustomerSettings; keySecret: Uint8Array } | undefined {
  if (!table.issuer) {
    const stray = (['clientId', 'clientSecret', 'privateKeyJwk', 'claimMapping', 'keySecret'] as const).filter((k) => table[k] !== undefined);
    if (stray.length) throw new Error(`existing-customer sign-in settings: ${stray.join(', ')} set without EXISTING_CUSTOMER_ISSUER`);
    return undefined;
  }
  if (!table.keySecret) throw new Error('EXISTING_CUSTOMER_KEY_SECRET (32 bytes, base64url) is required with EXISTING_CUSTOMER_ISSUER');
  const { clientSecret: secret, privateKeyJwk: jwk } = table;
  if (secret !== undefined && jwk !== undefined) throw new Error('set EXISTING_CUSTOMER_CLIENT_SECRET or EXISTING_CUSTOMER_PRIVATE_KEY_JWK, not both');
  const method = table.tokenAuthMethod ?? (jwk !== undefined ? 'private_key_jwt' : 'client_secret_basic');
  const settings = parseExistingCustomerSettings(
    {
      displayName: table.displayName,
      issuer: table.issuer,
      clientId: table.clientId,
      clientAuth: method === 'private_key_jwt' ? { method, privateJwk: jwk } : { method, clientSecret: secret },
      scopes: table.scopes.trim().split(/\s+/),
      claimMapping: table.claimMapping ?? {},
      secondDidPolicy: table.secondDidPolicy,
      fallback: table.fallback,
      loginTtlSeconds: table.loginTtlSeconds,
      idTokenAlg: table.idTokenAlg,
      maxAuthAgeSeconds: table.maxAuthAgeSeconds,
    },
    tiers,
  );
  return { settings, keySecret: table.keySecret };
}
