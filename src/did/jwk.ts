import type { DIDResolver } from 'did-resolver';
import { base64urlDecodeToString, base64urlEncode } from '../crypto/base64url';
import { parsePublicJwk, type PublicJwk } from '../crypto/keys';
import { resolutionError, resolutionOk, singleKeyDidDocument, type DIDDocument } from './types';

/**
 * did:jwk (https://github.com/quartzjer/did-jwk/blob/main/spec.md): the DID is the
 * base64url JSON of the public JWK; the document has one method `#0`. Pure, no I/O.
 */
export function didJwkDocument(did: string): DIDDocument {
  const id = did.slice('did:jwk:'.length);
  if (!id || id.includes(':') || id.includes('#')) throw new TypeError('invalid did:jwk identifier');
  const jwk = parsePublicJwk(JSON.parse(base64urlDecodeToString(id)));
  if (!jwk) throw new TypeError('did:jwk key type is not supported (Ed25519 or secp256k1)');
  return singleKeyDidDocument(did, `${did}#0`, jwk);
}

export function didJwkFromPublicJwk(jwk: PublicJwk): string {
  const ordered = jwk.kty === 'OKP' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return `did:jwk:${base64urlEncode(JSON.stringify(ordered))}`;
}

export function createDidJwkResolver(): { jwk: DIDResolver } {
  return {
    jwk: async (did) => {
      try {
        return resolutionOk(didJwkDocument(did));
      } catch (e) {
        return resolutionError('invalidDid', e instanceof Error ? e.message : 'invalid did:jwk');
      }
    },
  };
}
