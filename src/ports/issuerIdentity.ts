import type { CredentialSigner, PublicJwk, Signer } from '../crypto/keys';
import type { PublishedKey } from '../did/pfi';
import type { DIDDocument } from '../did/types';

/** The PFI as an issuer: its DID, the key that signs now, and every key still published. */
export interface IssuerIdentity {
  did: string;
  /** Signs every JWT of the spec's flow (jwt_vc_json KCC, status lists, tokens, request objects): EdDSA or ES256K. */
  signer: Signer;
  /** Signs SD-JWT VC KCCs and the Token Status List: `signer`, or the newest key of SDJWT_VC_SIGNING_ALG (ES256 on P-256). */
  sdJwtSigner: CredentialSigner;
  publishedKeys: PublishedKey[];
  /** kid → public key of the EdDSA/ES256K keys, for verifying our own access tokens. */
  keysByKid: ReadonlyMap<string, PublicJwk>;
  didDocument: DIDDocument;
}
