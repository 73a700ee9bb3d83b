import { DcqlPresentationResult, DcqlQuery } from 'dcql';
import { verifyJwtVcPresentation } from './jwtVc';
import { verifyMdocPresentation } from './mdoc';
import { PresentedCredentialError, type PresentationContext, type PresentedVerificationDeps, type VerifiedPresentedCredential } from './result';
import { verifySdJwtVcPresentation } from './sdJwtVc';
import type { ClaimName, ClaimPaths, PresentedCredentialTrust } from './trust';

/**
 * The same credentials asked for with DCQL (OpenID4VP 1.0 §6, `dcql_query`) instead of a
 * presentation definition, using the OpenWallet Foundation's `dcql` library to parse the query
 * and to check that what was presented and verified satisfies it (claims, credential_sets).
 * One credential query per trust entry (its id), any one of them required.
 */
export function presentedCredentialDcqlQuery(trust: PresentedCredentialTrust, ids?: readonly string[]): DcqlQuery.Input {
  const wanted = (id: string) => !ids || ids.includes(id);
  const claims = (paths: ClaimPaths, request: readonly ClaimName[], prefix: string[] = []) =>
    request.filter((k) => paths[k]?.length).map((k) => ({ id: k, path: [...prefix, ...(paths[k] as string[])[0].split('.')] }));
  const credentials: { id: string }[] = [
    ...trust.sdJwtVc
      .filter((e) => wanted(e.id))
      .map((e) => ({ id: e.id, format: 'dc+sd-jwt' as const, meta: { vct_values: [e.vct] }, claims: claims(e.claims, e.request) })),
    ...trust.mdoc
      .filter((e) => wanted(e.id))
      .map((e) => ({
        id: e.id,
        format: 'mso_mdoc' as const,
        meta: { doctype_value: e.docType },
        claims: claims(e.claims, e.request, [e.namespace]).map((c) => ({ ...c, intent_to_retain: true })),
      })),
    ...trust.jwtVc
      .filter((e) => wanted(e.id))
      .map((e) => ({
        id: e.id,
        format: 'jwt_vc_json' as const,
        meta: { type_values: [['VerifiableCredential', e.type]] },
        claims: claims(e.claims, e.request, ['credentialSubject']),
      })),
  ];
  if (credentials.length === 0) throw new TypeError('no credential is accepted');
  // Checked by DcqlQuery.parse where it is used (verifyPresentedDcqlResponse, the tests).
  return { credentials, credential_sets: [{ options: credentials.map((c) => [c.id]), required: true }] } as unknown as DcqlQuery.Input;
}

/**
 * Verifies an OpenID4VP 1.0 `vp_token` answering `query` (an object from credential query id to
 * an array of presentations; its JSON text from a form post): each presentation by the verifier of
 * its trust entry (SD-JWT VC, mdoc, jwt_vc_json in a jwt_vp_json), then the `dcql` library checks
 * that the verified credentials satisfy the query. All or nothing.
 * @throws PresentedCredentialError with every reason, prefixed by the credential query id.
 */
export async function verifyPresentedDcqlResponse(
  input: { vpToken: unknown; query: DcqlQuery.Input },
  context: PresentationContext,
  deps: PresentedVerificationDeps,
): Promise<VerifiedPresentedCredential[]> {
  const query = DcqlQuery.parse(input.query);
  DcqlQuery.validate(query);
  let token = input.vpToken;
  if (typeof token === 'string') {
    try {
      token = JSON.parse(token);
    } catch {
      throw new PresentedCredentialError(['vp_token is not a JSON object']);
    }
  }
  if (!token || typeof token !== 'object' || Array.isArray(token))
    throw new PresentedCredentialError(['vp_token must map credential query ids to presentations']);
  const entries = Object.entries(token as Record<string, unknown>);
  if (entries.length === 0 || entries.length > 5) throw new PresentedCredentialError(['vp_token must hold one to five credential queries']);
  const reasons: string[] = [];
  const verified: VerifiedPresentedCredential[] = [];
  const presented: Record<string, Parameters<typeof DcqlPresentationResult.fromDcqlPresentation>[0][string]> = {};
  for (const [id, value] of entries) {
    const refuse = (why: string) => reasons.push(`${id}: ${why}`);
    const credentialQuery = query.credentials.find((c) => c.id === id);
    const presentations = Array.isArray(value) ? value : [value];
    if (!credentialQuery) {
      refuse('not a credential query of the request');
      continue;
    }
    // Without `multiple: true` a query is answered by one presentation (OpenID4VP 1.0 §6.1).
    if (presentations.length !== 1 || typeof presentations[0] !== 'string') {
      refuse('expected one presentation');
      continue;
    }
    const presentation = presentations[0];
    try {
      const sd = context.trust.sdJwtVc.find((e) => e.id === id);
      const md = context.trust.mdoc.find((e) => e.id === id);
      const jw = context.trust.jwtVc.find((e) => e.id === id);
      let result: VerifiedPresentedCredential;
      if (sd && credentialQuery.format === 'dc+sd-jwt') {
        result = await verifySdJwtVcPresentation(presentation, sd, context, deps);
        presented[id] = { credential_format: 'dc+sd-jwt', vct: sd.vct, claims: result.disclosed as never, cryptographic_holder_binding: true };
      } else if (md && credentialQuery.format === 'mso_mdoc') {
        result = await verifyMdocPresentation(presentation, md, context, deps);
        presented[id] = { credential_format: 'mso_mdoc', doctype: md.docType, namespaces: result.disclosed as never, cryptographic_holder_binding: true };
      } else if (jw && credentialQuery.format === 'jwt_vc_json') {
        const mapEntry = { id, format: 'jwt_vp_json', path: '$', path_nested: { id, format: 'jwt_vc_json', path: '$.verifiableCredential[0]' } };
        result = await verifyJwtVcPresentation(presentation, mapEntry, jw, context, deps);
        const types = Array.isArray(result.disclosed.type) ? (result.disclosed.type as string[]) : [];
        presented[id] = {
          credential_format: 'jwt_vc_json',
          type: types,
          claims: JSON.parse(JSON.stringify(result.disclosed)),
          cryptographic_holder_binding: true,
        };
      } else {
        refuse('no accepted credential of that kind');
        continue;
      }
      verified.push(result);
    } catch (e) {
      if (e instanceof PresentedCredentialError) e.reasons.forEach(refuse);
      else throw e;
    }
  }
  if (reasons.length) throw new PresentedCredentialError(reasons);
  // dcql: do the verified credentials satisfy the query (requested claims present, credential_sets)?
  const mdocDates = JSON.parse(JSON.stringify(presented)) as typeof presented;
  const result = DcqlPresentationResult.fromDcqlPresentation(mdocDates, { dcqlQuery: query });
  if (!result.can_be_satisfied) {
    const failed = Object.entries(result.credential_matches)
      .filter(([, m]) => !m.success)
      .map(([id]) => `${id}: the presented credential does not satisfy the credential query`);
    throw new PresentedCredentialError(failed.length ? failed : ['the presented credentials do not satisfy the query']);
  }
  return verified;
}
