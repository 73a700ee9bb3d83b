import { base64urlDecode } from '../crypto/base64url';
import type { CryptoProvider, PrivateJwk, PublicJwk } from '../crypto/keys';
import { createDidDhtDocument, didDhtFromPublicKey, encodeDidDhtPacket, publishDidDht, signBep44 } from './dht';
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

// ---------- did:dht and did:jwk PFI DIDs ----------

/**
 * The PFI as did:dht (DID DHT Method Specification): the DID is z-base-32 of an Ed25519
 * Identity Key, published as `#0` (the spec puts it in authentication, assertionMethod,
 * capabilityInvocation and capabilityDelegation). The signing keys (Ed25519 or secp256k1)
 * are further `JsonWebKey` methods named by their own fragment, newest first, and the
 * `#idv` service has type IDV (spec "Discover Initiation Endpoint"), so the DNS packet
 * carries `_s0._did` `id=idv;t=IDV;se=<endpoint>`.
 */
export function buildPfiDidDhtDocument(input: { identityPublicJwk: PublicJwk; keys: PublishedKey[]; idvEndpoint: string }): DIDDocument {
  if (input.identityPublicJwk.kty !== 'OKP' || input.identityPublicJwk.crv !== 'Ed25519') throw new TypeError('the did:dht identity key must be Ed25519');
  const identityPublicKey = base64urlDecode(input.identityPublicJwk.x);
  const document = createDidDhtDocument({
    identityPublicKey,
    verificationMethods: input.keys.map((k) => ({
      id: k.kid.slice(k.kid.indexOf('#') + 1),
      type: k.publicJwk.crv,
      // `a=` in the key record: the JWS alg this key signs with.
      publicKeyJwk: { ...k.publicJwk, alg: k.publicJwk.crv === 'Ed25519' ? 'EdDSA' : 'ES256K' },
      purposes: ['authentication', 'assertionMethod'],
    })),
    services: [{ id: 'idv', type: 'IDV', serviceEndpoint: input.idvEndpoint }],
  });
  // BEP44 caps the packet at 1000 bytes: fail at start, not at publication.
  encodeDidDhtPacket(document);
  return document;
}

/** did:dht of an Ed25519 identity JWK. */
export function didDhtFromIdentityJwk(identityPublicJwk: PublicJwk): string {
  return didDhtFromPublicKey(base64urlDecode(identityPublicJwk.x));
}

/**
 * The signed Pkarr relay body (BEP44 sig || seq || DNS packet) for the PFI's did:dht
 * document, signed by the Identity Key. `seq` is the time in microseconds (Pkarr).
 */
export async function signPfiDidDhtRelayBody(input: {
  document: DIDDocument;
  identityPrivateJwk: PrivateJwk;
  crypto: CryptoProvider;
  seq: bigint;
}): Promise<Uint8Array> {
  const signer = await input.crypto.createSigner(input.identityPrivateJwk, `${input.document.id}#0`);
  if (signer.alg !== 'EdDSA') throw new TypeError('the did:dht identity key must be Ed25519');
  return signBep44({ v: encodeDidDhtPacket(input.document), seq: input.seq, sign: (m) => signer.sign(m) });
}

/** Publishes the PFI's did:dht document to a Pkarr relay / did:dht gateway (HTTP PUT). */
export async function publishPfiDidDht(input: {
  document: DIDDocument;
  identityPrivateJwk: PrivateJwk;
  crypto: CryptoProvider;
  gatewayUrl: string;
  fetch: typeof fetch;
  /** Milliseconds since the epoch; seq = µs. */
  now: number;
}): Promise<{ seq: bigint; bytes: number }> {
  const seq = BigInt(Math.floor(input.now)) * 1000n;
  const body = await signPfiDidDhtRelayBody({ ...input, seq });
  await publishDidDht({ gatewayUrl: input.gatewayUrl, did: input.document.id, body, fetch: input.fetch });
  return { seq, bytes: body.byteLength };
}
