import { DeviceResponse, SessionTranscript, Verifier, type VerificationAssessment } from '@owf/mdoc';
import { X509Certificate } from './certificate';
import { nowSeconds } from '../../ports/clock';
import { mdocVerifierContext } from './mdocContext';
import {
  PresentedCredentialError,
  evidenceFor,
  readClaims,
  type PresentationContext,
  type PresentedVerificationDeps,
  type VerifiedPresentedCredential,
} from './result';
import { anchorsOf, type MdocTrust } from './trust';

/**
 * Verifies an mdoc presented over OID4VP (`mso_mdoc`, ISO/IEC 18013-5 DeviceResponse,
 * base64url in vp_token) with @owf/mdoc, for one trust entry (`docType`):
 *  - exactly one document of the entry's doctype, its MSO for the same doctype;
 *  - issuerAuth (COSE_Sign1) by the document signer in `x5chain`, which chains to one of the
 *    entry's IACA roots (src/verifier/presented/x509.ts); the MSO signed within the DS
 *    certificate's validity and valid now (validFrom / validUntil, with skew);
 *  - every disclosed element's digest equals the MSO's value digest; issuing_country matches the
 *    DS certificate;
 *  - deviceAuth a deviceSignature (a MAC needs a reader key this flow does not have) by the MSO's
 *    device key over DeviceAuthentication with the OID4VP session transcript (OID4VP 1.0
 *    Appendix B.2.6.1, OpenID4VPHandover of client_id, the SIOP nonce and response_uri): a
 *    response made for another verifier or request does not verify.
 * Throws PresentedCredentialError with the reasons.
 */
export async function verifyMdocPresentation(
  vpToken: string,
  entry: MdocTrust,
  context: PresentationContext,
  deps: Pick<PresentedVerificationDeps, 'clock' | 'crypto'>,
): Promise<VerifiedPresentedCredential> {
  if (vpToken.length > MAX_DEVICE_RESPONSE) throw new PresentedCredentialError(['the mdoc DeviceResponse is too large']);
  let response: DeviceResponse;
  try {
    response = DeviceResponse.fromEncodedForOid4Vp(vpToken);
  } catch {
    throw new PresentedCredentialError(['not an mdoc DeviceResponse']);
  }
  const documents = (response.documents ?? []).filter((d) => d.docType === entry.docType);
  if (documents.length !== 1) throw new PresentedCredentialError([`the DeviceResponse has ${documents.length} documents of doctype ${entry.docType}, not one`]);
  const document = documents[0];
  const ctx = mdocVerifierContext(deps.crypto);
  let mso: typeof document.issuerSigned.issuerAuth.mobileSecurityObject;
  try {
    mso = document.issuerSigned.issuerAuth.mobileSecurityObject;
  } catch {
    throw new PresentedCredentialError(['the mdoc has no readable Mobile Security Object']);
  }
  if (mso.docType !== entry.docType) throw new PresentedCredentialError([`the MSO is for doctype ${mso.docType}, not ${entry.docType}`]);
  if (!document.deviceSigned.deviceAuth.deviceSignature) throw new PresentedCredentialError(['the mdoc is not authenticated by a device signature']);
  if (!document.issuerSigned.issuerAuth.x5chain?.length) throw new PresentedCredentialError(['the mdoc issuerAuth carries no x5chain']);

  const now = nowSeconds(deps);
  const sessionTranscript = await SessionTranscript.forOid4Vp({ clientId: context.clientId, nonce: context.nonce, responseUri: context.responseUri }, ctx);
  const failures: VerificationAssessment[] = [];
  try {
    await Verifier.verifyDeviceResponse(
      {
        deviceResponse: DeviceResponse.createSimple({ version: response.version, status: response.status, documents: [document] }),
        sessionTranscript,
        trustedCertificates: anchorsOf(context.trust, entry.iacaRoots),
        now: new Date(now * 1000),
        skewSeconds: context.skewSeconds ?? 60,
        onCheck: (assessment) => {
          if (assessment.status === 'FAILED') failures.push(assessment);
        },
      },
      ctx,
    );
  } catch (e) {
    // The library's message is not echoed: it may quote element values.
    throw new PresentedCredentialError(['the mdoc could not be verified']);
  }
  if (failures.length) throw new PresentedCredentialError(failures.map(reasonOf));

  const namespaces: Record<string, Record<string, unknown>> = {};
  for (const ns of document.issuerSigned.issuerNamespaces?.issuerNamespaces.keys() ?? [])
    namespaces[ns] = (document.issuerSigned.getPrettyClaims(ns) ?? {}) as Record<string, unknown>;
  const signer = new X509Certificate(new Uint8Array(document.issuerSigned.issuerAuth.certificate));
  return {
    descriptorId: entry.id,
    evidence: evidenceFor('mso_mdoc', signer.subject, entry.docType, entry.id, now),
    claims: readClaims(document.issuerSigned.getPrettyClaims(entry.namespace) ?? {}, entry.claims),
    satisfies: [...entry.satisfies],
    disclosed: namespaces,
    recheck: { format: 'mso_mdoc', expiresAt: Math.floor(mso.validityInfo.validUntil.getTime() / 1000) },
  };
}

const MAX_DEVICE_RESPONSE = 256 * 1024;

function reasonOf(a: VerificationAssessment): string {
  if (a.category === 'ISSUER_AUTH' && /certificate must be valid/i.test(a.check)) return `the document signer is not trusted: ${a.reason ?? a.check}`;
  if (a.category === 'ISSUER_AUTH' && /signature/i.test(a.check)) return 'the issuer signature (issuerAuth) is invalid';
  if (a.category === 'ISSUER_AUTH' && /valid at the time/i.test(a.check)) return 'the mdoc is expired or not yet valid';
  if (a.category === 'DEVICE_AUTH')
    return `the device signature does not verify over this request's session transcript${a.reason ? ` (${a.reason.slice(0, 120)})` : ''}`;
  // Digest failures name the element, never its value.
  return `${a.category.toLowerCase()}: ${a.check}`.slice(0, 240);
}
