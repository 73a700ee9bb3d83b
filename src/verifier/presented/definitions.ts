import type { FieldConstraint, InputDescriptor, PresentationDefinition } from '../../protocol/pe/evaluate';
import type { ClaimName, ClaimPaths, JwtVcTrust, MdocTrust, PresentedCredentialTrust, SdJwtVcTrust } from './trust';

/**
 * DIF Presentation Exchange 2.0 definitions for credentials people already hold (OID4VP with
 * `presentation_definition`): one input descriptor per trust entry, asking only for the claims
 * IDV reads (names, birth date, nationality, country of residence) and limiting disclosure:
 *  - SD-JWT VC: format `vc+sd-jwt` (the PE registry's name; the credential's typ may be the
 *    newer dc+sd-jwt), `$.vct` fixed, each claim path on the disclosed object;
 *  - mdoc: the descriptor id is the doctype (ISO/IEC 18013-7 Annex B, OID4VP Appendix B.2.2),
 *    format `mso_mdoc`, each data element as `$['namespace']['element']` with intent_to_retain
 *    true for what is sealed with the application;
 *  - jwt_vc_json: presented in a jwt_vp_json signed by the applicant DID; the VC type and the
 *    entry's issuers fixed (both the VC data model and JWT payload paths, as src/protocol/tiers.ts).
 * The definition asks for any one of them (submission_requirements pick min 1, group `A`).
 */
export const SD_JWT_ALGS = ['ES256', 'ES384', 'ES512', 'EdDSA'];
export const MDOC_ALGS = ['ES256', 'ES384', 'ES512', 'EdDSA'];
export const JWT_VC_ALGS = ['EdDSA', 'ES256K'];

const CLAIM_NAMES: Record<ClaimName, string> = {
  givenName: 'given name',
  familyName: 'family name',
  birthDate: 'birth date',
  nationality: 'nationality',
  countryOfResidence: 'country of residence',
};

/** One field per requested claim (all its alternative paths); none optional (see EntryCommon.request). */
function claimFields(
  paths: ClaimPaths,
  request: readonly ClaimName[],
  toPaths: (p: string) => string[],
  extra: Partial<FieldConstraint> = {},
): FieldConstraint[] {
  return request
    .filter((k) => paths[k]?.length)
    .map((k) => ({ path: (paths[k] as string[]).flatMap(toPaths), purpose: `Your ${CLAIM_NAMES[k]}, for identity verification.`, ...extra }));
}

const dotted = (p: string) => `$.${p}`;

/** The input descriptor for an SD-JWT VC entry. */
export function sdJwtVcDescriptor(entry: SdJwtVcTrust): InputDescriptor {
  return {
    id: entry.id,
    name: entry.name,
    purpose: `A ${entry.name} to verify your identity without a document upload.`,
    group: ['A'],
    format: { 'vc+sd-jwt': { 'sd-jwt_alg_values': SD_JWT_ALGS, 'kb-jwt_alg_values': SD_JWT_ALGS } } as InputDescriptor['format'],
    constraints: {
      limit_disclosure: 'required',
      fields: [{ path: ['$.vct'], filter: { type: 'string', const: entry.vct } }, ...claimFields(entry.claims, entry.request, (p) => [dotted(p)])],
    },
  };
}

/** The input descriptor for an mdoc entry (its id is the doctype, as ISO 18013-7 wallets expect). */
export function mdocDescriptor(entry: MdocTrust): InputDescriptor {
  return {
    id: entry.docType,
    name: entry.name,
    purpose: `A ${entry.name} to verify your identity without a document upload.`,
    group: ['A'],
    format: { mso_mdoc: { alg: MDOC_ALGS } },
    constraints: {
      limit_disclosure: 'required',
      fields: claimFields(entry.claims, entry.request, (p) => [`$['${entry.namespace}']['${p}']`], { intent_to_retain: true } as Partial<FieldConstraint>),
    },
  };
}

/** The input descriptor for another issuer's jwt_vc_json entry. */
export function jwtVcDescriptor(entry: JwtVcTrust): InputDescriptor {
  return {
    id: entry.id,
    name: entry.name,
    purpose: `A ${entry.name} from an issuer this PFI trusts.`,
    group: ['A'],
    format: { jwt_vc_json: { alg: JWT_VC_ALGS }, jwt_vc: { alg: JWT_VC_ALGS }, jwt_vp_json: { alg: JWT_VC_ALGS }, jwt_vp: { alg: JWT_VC_ALGS } },
    constraints: {
      fields: [
        { path: ['$.type[*]', '$.vc.type[*]'], filter: { type: 'string', const: entry.type } },
        { path: ['$.issuer', '$.vc.issuer', '$.iss'], filter: { type: 'string', enum: [...entry.issuers] } },
        ...claimFields(entry.claims, entry.request, (p) => [`$.credentialSubject.${p}`, `$.vc.credentialSubject.${p}`]),
      ],
    },
  };
}

/** Which trust entry an input descriptor id stands for. */
export type DescriptorEntry = { kind: 'sd-jwt-vc'; entry: SdJwtVcTrust } | { kind: 'mdoc'; entry: MdocTrust } | { kind: 'jwt-vc'; entry: JwtVcTrust };

/** The entries named by `ids` (a tier's accepted credentials; all when undefined), by descriptor id. */
export function descriptorEntries(trust: PresentedCredentialTrust, ids?: readonly string[]): Map<string, DescriptorEntry> {
  const wanted = (id: string) => !ids || ids.includes(id);
  const map = new Map<string, DescriptorEntry>();
  for (const entry of trust.sdJwtVc) if (wanted(entry.id)) map.set(entry.id, { kind: 'sd-jwt-vc', entry });
  for (const entry of trust.mdoc) if (wanted(entry.id)) map.set(entry.docType, { kind: 'mdoc', entry });
  for (const entry of trust.jwtVc) if (wanted(entry.id)) map.set(entry.id, { kind: 'jwt-vc', entry });
  return map;
}

/**
 * The presentation definition asking for any one of the credentials `ids` names (a tier's list),
 * e.g. served at /presentation-definitions/<id> and sent in the SIOPv2 request.
 */
export function presentedCredentialDefinition(trust: PresentedCredentialTrust, definitionId: string, ids?: readonly string[]): PresentationDefinition {
  const input_descriptors = [...descriptorEntries(trust, ids).values()].map((d) =>
    d.kind === 'sd-jwt-vc' ? sdJwtVcDescriptor(d.entry) : d.kind === 'mdoc' ? mdocDescriptor(d.entry) : jwtVcDescriptor(d.entry),
  );
  return {
    id: definitionId,
    name: 'A credential you already hold',
    purpose: 'Present an identity credential you already hold so that the checks it covers need not be done again.',
    input_descriptors,
    submission_requirements: [{ name: 'One identity credential', rule: 'pick', min: 1, from: 'A' }],
  };
}
