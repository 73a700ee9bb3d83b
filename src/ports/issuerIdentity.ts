import type { PublicJwk, Signer } from '../crypto/keys';
import type { PublishedKey } from '../did/pfi';
import type { DIDDocument } from '../did/types';

/** The PFI as an issuer: its DID, the key that signs now, and every key still published. */
export interface IssuerIdentity {
  did: string;
  signer: Signer;
  publishedKeys: PublishedKey[];
  /** kid → public key, for verifying our own access tokens. */
  keysByKid: ReadonlyMap<string, PublicJwk>;
  didDocument: DIDDocument;
}
