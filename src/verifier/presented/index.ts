/**
 * Credentials people already hold, as IDV input (docs/credentials-as-input.md): the EU PID and
 * other SD-JWT VCs, mdocs (the mDL) and other issuers' jwt_vc_json VCs, verified against the
 * trust configuration and normalised into evidence, claims and the checks they satisfy.
 */
export { parsePresentedCredentialTrust, PID_VCT, MDL_DOCTYPE, MDL_NAMESPACE, type PresentedCredentialTrust, type PresentedCredentialTrustInput } from './trust';
export { presentedCredentialDefinition, descriptorEntries } from './definitions';
export { verifyPresentedSubmission, type PresentedSubmission } from './submission';
export { verifySdJwtVcPresentation } from './sdJwtVc';
export { verifyMdocPresentation } from './mdoc';
export { verifyJwtVcPresentation } from './jwtVc';
export { presentedCredentialRecheckProblem } from './recheck';
export { presentedCredentialDcqlQuery, verifyPresentedDcqlResponse } from './dcql';
export {
  PresentedCredentialError,
  type CredentialEvidence,
  type PresentedClaims,
  type PresentationContext,
  type PresentedFetch,
  type PresentedVerificationDeps,
  type VerifiedPresentedCredential,
} from './result';
