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
