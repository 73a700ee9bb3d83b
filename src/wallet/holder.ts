import { signJwt } from '../crypto/jwt';
import type { CryptoProvider, JwsAlgorithm, PrivateJwk, Signer } from '../crypto/keys';
import { toPublicJwk } from '../crypto/keys';
import { createWebCryptoProvider } from '../crypto/webCrypto';
import { didJwkFromPublicJwk } from '../did/jwk';

/**
 * A holder: a did:jwk key pair (Ed25519 by default, secp256k1 for ES256K) that signs the
 * SIOPv2 ID token and OID4VCI proof JWTs, as a mobile wallet would.
 */
export class Holder {
  private constructor(readonly did: string, readonly signer: Signer, readonly privateJwk: PrivateJwk) {}

  static async create(options: { alg?: JwsAlgorithm; crypto?: CryptoProvider; privateJwk?: PrivateJwk } = {}): Promise<Holder> {
    const crypto = options.crypto ?? createWebCryptoProvider();
    const privateJwk = options.privateJwk ?? (await crypto.generateKeyPair(options.alg ?? 'EdDSA'));
    const did = didJwkFromPublicJwk(toPublicJwk(privateJwk));
    return new Holder(did, await crypto.createSigner(privateJwk, `${did}#0`), privateJwk);
  }

  get kid(): string {
    return this.signer.kid;
  }

  /** Self-issued ID Token (SIOPv2 §11; spec "ID Token"): iss = sub = our DID, aud = client_id. */
  createIdToken(input: { clientId: string; nonce: string; now?: number; ttlSeconds?: number }): Promise<string> {
    const now = input.now ?? Math.floor(Date.now() / 1000);
    return signJwt(
      this.signer,
      { iss: this.did, sub: this.did, aud: input.clientId, nonce: input.nonce, iat: now, exp: now + (input.ttlSeconds ?? 300) },
      { typ: 'JWT' },
    );
  }

  /**
   * A jwt_vp_json presentation (VCDM 1.1 §6.3.1; OID4VP): vp claim holding VC JWTs, signed by our
   * DID, bound to the verifier (aud = client_id) and the request (nonce).
   */
  createPresentation(input: { credentials: string[]; audience: string; nonce: string; now?: number; ttlSeconds?: number }): Promise<string> {
    const now = input.now ?? Math.floor(Date.now() / 1000);
    return signJwt(
      this.signer,
      {
        iss: this.did,
        aud: input.audience,
        nonce: input.nonce,
        iat: now,
        nbf: now,
        exp: now + (input.ttlSeconds ?? 300),
        jti: `urn:uuid:${crypto.randomUUID()}`,
        vp: {
          '@context': ['https://www.w3.org/2018/credentials/v1'],
          type: ['VerifiablePresentation'],
          holder: this.did,
          verifiableCredential: input.credentials,
        },
      },
      { typ: 'JWT' },
    );
  }

  /** Proof of possession (spec "proof.jwt"): typ openid4vci-proof+jwt, aud the issuer, the c_nonce. */
  createProofJwt(input: { audience: string; nonce: string; now?: number }): Promise<string> {
    const now = input.now ?? Math.floor(Date.now() / 1000);
    return signJwt(this.signer, { iss: this.did, aud: input.audience, iat: now, nonce: input.nonce }, { typ: 'openid4vci-proof+jwt' });
  }
}
