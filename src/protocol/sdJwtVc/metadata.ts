import { credentialAlgorithmForJwk, type PublicJwk } from '../../crypto/keys';
import { SELECTIVELY_DISCLOSABLE_CLAIMS } from './kcc';

/**
 * The documents a wallet and a relying party read about an SD-JWT VC KCC:
 * - SD-JWT VC Type Metadata for the `vct` (draft-ietf-oauth-sd-jwt-vc §6): names, and for each
 *   claim its display label and that it is selectively disclosable (`sd: "always"`);
 * - JWT VC Issuer Metadata (§5, `/.well-known/jwt-vc-issuer`): the keys that sign the KCCs and
 *   the Token Status Lists, so a verifier finds the key of an `iss` that is an https URL.
 */
const LOCALE = 'en-US';

const CLAIM_LABELS: Record<(typeof SELECTIVELY_DISCLOSABLE_CLAIMS)[number], { label: string; description: string }> = {
  countryOfResidence: { label: 'Country of residence', description: 'ISO 3166-1 alpha-2 code of the country the customer lives in' },
  tier: { label: 'Verification tier', description: 'The KYC tier the customer was verified for' },
  jurisdiction: { label: 'Jurisdiction', description: 'The country whose KYC rules the verification followed' },
  evidence: { label: 'Evidence', description: 'Which kinds of checks were done (no personal data)' },
  sub: { label: 'Customer DID', description: 'The DID the customer authenticated with' },
};

/** The claims of a KCC for OID4VCI 1.0 `credential_metadata.claims` (Appendix B.2). */
export function kccClaimDescriptions(): { path: string[]; display: { name: string; locale: string }[] }[] {
  return SELECTIVELY_DISCLOSABLE_CLAIMS.map((name) => ({ path: [name], display: [{ name: CLAIM_LABELS[name].label, locale: LOCALE }] }));
}

/** SD-JWT VC Type Metadata for the KCC's `vct`. */
export function buildKccTypeMetadata(input: { vct: string; name?: string; description?: string }) {
  const name = input.name ?? 'Known Customer Credential';
  const description = input.description ?? 'Proof of a completed KYC verification';
  return {
    vct: input.vct,
    name,
    description,
    display: [{ locale: LOCALE, name, description }],
    claims: SELECTIVELY_DISCLOSABLE_CLAIMS.map((claim) => ({
      path: [claim],
      display: [{ locale: LOCALE, label: CLAIM_LABELS[claim].label, description: CLAIM_LABELS[claim].description }],
      sd: 'always' as const,
    })),
  };
}

export interface JwtVcIssuerMetadata {
  issuer: string;
  jwks: { keys: (PublicJwk & { kid: string; alg: string; use: 'sig' })[] };
}

/**
 * JWT VC Issuer Metadata (§5.1): `issuer` is the `iss` of our SD-JWT VCs, `jwks` every published
 * signing key with its `kid` (the DID URL the JWT header names) and `alg`.
 */
export function buildJwtVcIssuerMetadata(input: { issuer: string; keys: readonly { kid: string; publicJwk: PublicJwk }[] }): JwtVcIssuerMetadata {
  return {
    issuer: input.issuer,
    jwks: {
      keys: input.keys.map((k) => ({ ...k.publicJwk, kid: k.kid, alg: credentialAlgorithmForJwk(k.publicJwk) as string, use: 'sig' as const })),
    },
  };
}

/**
 * Where the JWT VC Issuer Metadata of an `iss` lives (§5: the well-known segment inserted between
 * the host and the path, like RFC 8414 §3.1).
 */
export function jwtVcIssuerMetadataUrl(issuer: string): string {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.origin}/.well-known/jwt-vc-issuer${path}`;
}
