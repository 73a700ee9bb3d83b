import { nowSeconds } from '../../ports/clock';
import type { DescriptorMapEntry } from '../../protocol/pe/evaluate';
import { verifyPresentation } from '../verifyPresentation';
import { jwtVcDescriptor } from './definitions';
import {
  PresentedCredentialError,
  evidenceFor,
  readClaims,
  type PresentationContext,
  type PresentedVerificationDeps,
  type VerifiedPresentedCredential,
} from './result';
import type { JwtVcTrust } from './trust';

/**
 * Verifies another issuer's `jwt_vc_json` credential inside a `jwt_vp_json` presentation with the
 * relying-party verifier (src/verifier/verifyPresentation.ts): the VP signed by an authentication
 * key of the applicant DID over the SIOP nonce with the PFI as `aud`; the VC signed by an
 * assertionMethod key of an issuer DID the entry trusts for its type (an untrusted issuer is
 * refused before its DID is resolved), its subject the applicant DID, unexpired, and not revoked
 * or suspended on its Bitstring Status List; the VC satisfies the entry's input descriptor.
 * `mapEntry` is the descriptor_map entry whose `path` selected `vp`.
 */
export async function verifyJwtVcPresentation(
  vp: string,
  mapEntry: DescriptorMapEntry,
  entry: JwtVcTrust,
  context: PresentationContext,
  deps: Pick<PresentedVerificationDeps, 'clock' | 'crypto' | 'resolver' | 'fetch'>,
): Promise<VerifiedPresentedCredential> {
  const descriptor = jwtVcDescriptor(entry);
  const definition = { id: `presented-${entry.id}`, input_descriptors: [descriptor] };
  const now = nowSeconds(deps);
  const verdict = await verifyPresentation({
    vpToken: vp,
    presentationSubmission: { id: 'presented', definition_id: definition.id, descriptor_map: [{ ...mapEntry, path: '$' }] },
    definition,
    holderDid: context.applicantDid,
    nonce: context.nonce,
    audience: context.clientId,
    resolver: deps.resolver,
    verifier: deps.crypto,
    now,
    skewSeconds: context.skewSeconds,
    maxAgeSeconds: context.maxAgeSeconds ?? 300,
    credentialOptions: {
      trustedIssuers: entry.issuers,
      refuseUntrustedFirst: true,
      fetchStatusList: (url) => deps.fetch(url, 'application/vc+jwt, application/jwt'),
      skewSeconds: context.skewSeconds,
    },
  });
  const credential = verdict.matched.get(entry.id);
  if (!verdict.ok || !credential?.vc || !credential.issuer)
    throw new PresentedCredentialError(verdict.reasons.length ? verdict.reasons : ['the credential was not verified']);
  const vc = credential.vc;
  const subject = Array.isArray(vc.credentialSubject) ? vc.credentialSubject[0] : vc.credentialSubject;
  const exp = typeof credential.payload?.exp === 'number' ? credential.payload.exp : undefined;
  return {
    descriptorId: entry.id,
    evidence: evidenceFor('jwt_vc_json', credential.issuer, entry.type, entry.id, now),
    claims: readClaims(subject, entry.claims),
    satisfies: [...entry.satisfies],
    disclosed: vc,
    recheck: {
      format: 'jwt_vc_json',
      issuer: credential.issuer,
      ...(exp !== undefined ? { expiresAt: exp } : {}),
      ...(vc.credentialStatus !== undefined ? { status: vc.credentialStatus } : {}),
    },
  };
}
