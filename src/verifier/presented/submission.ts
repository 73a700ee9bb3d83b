import { PresentationExchangeError, parsePresentationSubmission, type PresentationDefinition } from '../../protocol/pe/evaluate';
import { JsonPathError, queryJsonPath } from '../../protocol/pe/jsonPath';
import { descriptorEntries } from './definitions';
import { verifyJwtVcPresentation } from './jwtVc';
import { verifyMdocPresentation } from './mdoc';
import { PresentedCredentialError, type PresentationContext, type PresentedVerificationDeps, type VerifiedPresentedCredential } from './result';
import { verifySdJwtVcPresentation } from './sdJwtVc';

export interface PresentedSubmission {
  /** The direct_post `vp_token`: one presentation, an array of them, or the array as JSON text (form posts). */
  vpToken: unknown;
  presentationSubmission: unknown;
  /** The definition the SIOPv2 request carried (presentedCredentialDefinition). */
  definition: PresentationDefinition;
  /** The trust entries the tier accepts (all configured ones when undefined). */
  acceptedIds?: readonly string[];
}

const MAX_PRESENTATIONS = 5;
const SD_JWT_FORMATS = ['vc+sd-jwt', 'dc+sd-jwt'];

/**
 * Verifies an OID4VP response's credentials-as-IDV-input against the definition it answers
 * (PE 2.0 §"Presentation Submission"): the submission's definition_id is the definition's; each
 * descriptor_map entry names one of its input descriptors, once; its `format` is that
 * descriptor's kind (SD-JWT VC, mso_mdoc, jwt_vp_json with a nested jwt_vc_json); its `path`
 * selects one presentation in vp_token; and the credential verifies as that descriptor's trust
 * entry (vct, doctype or VC type and issuers), so an entry pointing at the wrong descriptor is
 * refused. All or nothing: one refused credential refuses the submission (nothing is decided).
 * @throws PresentedCredentialError with every reason, prefixed by the descriptor id.
 */
export async function verifyPresentedSubmission(
  input: PresentedSubmission,
  context: PresentationContext,
  deps: PresentedVerificationDeps,
): Promise<VerifiedPresentedCredential[]> {
  const root = parseVpToken(input.vpToken);
  let submission: ReturnType<typeof parsePresentationSubmission>;
  try {
    submission = parsePresentationSubmission(input.presentationSubmission);
  } catch (e) {
    throw new PresentedCredentialError([(e as PresentationExchangeError).message]);
  }
  if (submission.definition_id !== input.definition.id)
    throw new PresentedCredentialError([`presentation_submission.definition_id ${submission.definition_id} is not ${input.definition.id}`]);
  if (submission.descriptor_map.length === 0) throw new PresentedCredentialError(['presentation_submission maps no credential']);
  const entries = descriptorEntries(context.trust, input.acceptedIds);
  const descriptorIds = new Set(input.definition.input_descriptors.map((d) => d.id));
  const seen = new Set<string>();
  const reasons: string[] = [];
  const verified: VerifiedPresentedCredential[] = [];
  for (const mapEntry of submission.descriptor_map) {
    const refuse = (why: string) => reasons.push(`${mapEntry.id}: ${why}`);
    if (seen.has(mapEntry.id)) {
      refuse('the descriptor is mapped twice');
      continue;
    }
    seen.add(mapEntry.id);
    const accepted = entries.get(mapEntry.id);
    if (!descriptorIds.has(mapEntry.id) || !accepted) {
      refuse('not an input descriptor of the definition');
      continue;
    }
    let selected: unknown[];
    try {
      selected = queryJsonPath(root, mapEntry.path);
    } catch (e) {
      refuse(e instanceof JsonPathError ? e.message : 'the path is invalid');
      continue;
    }
    if (selected.length !== 1 || typeof selected[0] !== 'string') {
      refuse(`path ${mapEntry.path} does not select one presentation`);
      continue;
    }
    const presentation = selected[0];
    try {
      if (accepted.kind === 'sd-jwt-vc') {
        if (!SD_JWT_FORMATS.includes(mapEntry.format) || mapEntry.path_nested)
          throw new PresentedCredentialError([`format ${mapEntry.format} is not an SD-JWT VC's`]);
        verified.push(await verifySdJwtVcPresentation(presentation, accepted.entry, context, deps));
      } else if (accepted.kind === 'mdoc') {
        if (mapEntry.format !== 'mso_mdoc' || mapEntry.path_nested) throw new PresentedCredentialError([`format ${mapEntry.format} is not mso_mdoc`]);
        verified.push(await verifyMdocPresentation(presentation, accepted.entry, context, deps));
      } else {
        if (mapEntry.format !== 'jwt_vp_json' && mapEntry.format !== 'jwt_vp')
          throw new PresentedCredentialError([`format ${mapEntry.format} is not jwt_vp_json`]);
        verified.push(await verifyJwtVcPresentation(presentation, mapEntry, accepted.entry, context, deps));
      }
    } catch (e) {
      if (e instanceof PresentedCredentialError) e.reasons.forEach(refuse);
      else throw e;
    }
  }
  if (reasons.length) throw new PresentedCredentialError(reasons);
  return verified;
}

function parseVpToken(value: unknown): unknown {
  let v = value;
  if (typeof v === 'string' && v.trimStart().startsWith('[')) {
    try {
      v = JSON.parse(v);
    } catch {
      throw new PresentedCredentialError(['vp_token is not valid JSON']);
    }
  }
  if (typeof v === 'string' && v.length > 0) return v;
  if (Array.isArray(v) && v.length > 0 && v.length <= MAX_PRESENTATIONS && v.every((t) => typeof t === 'string')) return v;
  throw new PresentedCredentialError([`vp_token must be a presentation or an array of at most ${MAX_PRESENTATIONS}`]);
}
