import { signJwt } from '../crypto/jwt';
import type { Signer } from '../crypto/keys';
import { KCC_TYPES } from './oid4vci/metadata';
import { STATUS_CONTEXT, type StatusListEntry } from './statusList';

/**
 * The Known Customer Credential as a `jwt_vc_json` VC (VC Data Model 1.1 JWT encoding,
 * §6.3.1): `vc` plus the registered claims iss, sub, jti, nbf, exp (mirroring issuer,
 * credentialSubject.id, id, issuanceDate, expirationDate). Shape per schemas/kcc.schema.json
 * and test/fixtures/kcc-example-credential.decoded.json.
 */
export interface Evidence {
  kind: string;
  checks: string[];
  /** VC Data Model 1.1 §5.6: each evidence entry names its type; derived from `kind` when absent. */
  type?: string[];
}

/** `document_verification` → `DocumentVerification`: the evidence type named by a check kind. */
export function evidenceTypeOf(kind: string): string {
  const words = kind.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return words.length ? words.map((w) => w[0].toUpperCase() + w.slice(1)).join('') : 'Evidence';
}

/**
 * The KCC's evidence entries with a `type` each (VC Data Model 1.1 §5.6; `@digitalbazaar/vc`
 * refuses a credential without), keeping `kind` and `checks` for verifiers that filter on them.
 */
export function typedEvidence(evidence: readonly Evidence[]): Evidence[] {
  return evidence.map((entry) => (entry.type?.length ? entry : { type: [evidenceTypeOf(entry.kind)], ...entry }));
}

export interface KccInput {
  id: string; // urn:uuid:…
  issuerDid: string;
  subjectDid: string;
  countryOfResidence: string;
  tier: string;
  jurisdictionCountry: string;
  schemaId: string;
  evidence: Evidence[];
  issuedAt: number; // seconds
  expiresAt: number; // seconds
  /** Bitstring Status List v1.0 entries (revocation, suspension). */
  credentialStatus?: StatusListEntry[];
}

function isoSeconds(t: number): string {
  return new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function buildKccPayload(input: KccInput) {
  return {
    iss: input.issuerDid,
    sub: input.subjectDid,
    jti: input.id,
    iat: input.issuedAt,
    nbf: input.issuedAt,
    exp: input.expiresAt,
    vc: {
      '@context': input.credentialStatus?.length ? ['https://www.w3.org/2018/credentials/v1', STATUS_CONTEXT] : ['https://www.w3.org/2018/credentials/v1'],
      type: [...KCC_TYPES],
      id: input.id,
      issuer: input.issuerDid,
      issuanceDate: isoSeconds(input.issuedAt),
      expirationDate: isoSeconds(input.expiresAt),
      credentialSubject: {
        id: input.subjectDid,
        countryOfResidence: input.countryOfResidence,
        tier: input.tier,
        jurisdiction: { country: input.jurisdictionCountry },
      },
      credentialSchema: [{ id: input.schemaId, type: 'JsonSchema' }],
      evidence: typedEvidence(input.evidence),
      ...(input.credentialStatus?.length ? { credentialStatus: input.credentialStatus } : {}),
    },
  };
}

/** Signs a KCC with the PFI's current key (`kid` a DID URL in the PFI DID document). */
export function signKcc(signer: Signer, input: KccInput): Promise<string> {
  return signJwt(signer, buildKccPayload(input), { typ: 'JWT' });
}
