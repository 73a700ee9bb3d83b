import type { PublicJwk } from '../crypto/keys';
import type { DIDDocument } from './types';

/**
 * The PFI's own DID. Default: did:web derived from PUBLIC_URL (W3C did:web §3.2: the port is
 * percent-encoded, path segments become `:`-separated), so `http://localhost:3000` becomes
 * `did:web:localhost%3A3000` and `https://pfi.example/kcc` becomes `did:web:pfi.example:kcc`.
 */
export function didWebFromUrl(publicUrl: string): string {
  const url = new URL(publicUrl);
  const host = url.port ? `${url.hostname}%3A${url.port}` : url.hostname;
  const segments = url.pathname.split('/').filter(Boolean).map(encodeURIComponent);
  return ['did:web', host, ...segments].join(':');
}

/** Where the did:web document lives, relative to the app's base path: `/.well-known/did.json` or `/did.json`. */
export function didWebDocumentPath(publicUrl: string): string {
  const path = new URL(publicUrl).pathname.replace(/\/+$/, '');
  return path ? `${path}/did.json` : '/.well-known/did.json';
}

export interface PublishedKey {
  kid: string;
  publicJwk: PublicJwk;
}

/**
 * The PFI DID document: every published key as a JsonWebKey2020 verification method
 * (newest first), usable for assertions (KCCs) and authentication (signed requests), and
 * the `#idv` service (spec, "Discover Initiation Endpoint": id `<did>#idv`, type `IDV`).
 */
export function buildPfiDidDocument(input: { did: string; keys: PublishedKey[]; idvEndpoint: string }): DIDDocument {
  const ids = input.keys.map((k) => k.kid);
  return {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/suites/jws-2020/v1'],
    id: input.did,
    verificationMethod: input.keys.map((k) => ({
      id: k.kid,
      type: 'JsonWebKey2020',
      controller: input.did,
      publicKeyJwk: { ...k.publicJwk },
    })),
    authentication: ids,
    assertionMethod: ids,
    service: [{ id: `${input.did}#idv`, type: 'IDV', serviceEndpoint: input.idvEndpoint }],
  };
}
