import type { DIDDocument, DIDResolutionResult, Resolvable } from 'did-resolver';

/**
 * DID documents and resolution follow the DIF `did-resolver` shapes, so any method
 * resolver written for that package plugs in (see src/did/resolver.ts).
 */
export type { DIDDocument, DIDResolutionResult, Resolvable };

export type VerificationRelationship = 'authentication' | 'assertionMethod';

export function resolutionError(error: string, message: string): DIDResolutionResult {
  return { didResolutionMetadata: { error, message }, didDocument: null, didDocumentMetadata: {} };
}

export function resolutionOk(didDocument: DIDDocument): DIDResolutionResult {
  return { didResolutionMetadata: { contentType: 'application/did+json' }, didDocument, didDocumentMetadata: {} };
}

/** `did:<method>:...` → `did:<method>` */
export function didMethodOf(did: string): string | undefined {
  const m = /^did:([a-z0-9]+):/.exec(did);
  return m ? `did:${m[1]}` : undefined;
}

/** The document of a single-key DID (did:jwk, did:key): one JsonWebKey2020 method used for every relationship. */
export function singleKeyDidDocument(did: string, vmId: string, publicKeyJwk: object): DIDDocument {
  return {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/suites/jws-2020/v1'],
    id: did,
    verificationMethod: [{ id: vmId, type: 'JsonWebKey2020', controller: did, publicKeyJwk: { ...(publicKeyJwk as JsonWebKey) } as never }],
    authentication: [vmId],
    assertionMethod: [vmId],
    capabilityInvocation: [vmId],
    capabilityDelegation: [vmId],
  };
}
