import { secp256k1 } from '@noble/curves/secp256k1.js';
import { base64urlDecode } from '../crypto/base64url';
import { signJwt } from '../crypto/jwt';
import type { CryptoProvider, JwsAlgorithm, PrivateJwk, Signer } from '../crypto/keys';
import { toPublicJwk } from '../crypto/keys';
import { secp256k1PublicKeyBytes } from '../crypto/secp256k1';
import { createWebCryptoProvider } from '../crypto/webCrypto';
import { createDidDhtDocument, didDhtFromPublicKey, encodeDidDhtPacket, publishDidDht, signBep44 } from '../did/dht';
import { didJwkDocument, didJwkFromPublicJwk } from '../did/jwk';
import { didKeyDocument, didKeyFromPublicKey } from '../did/key';
import { didWebFromUrl } from '../did/pfi';
import type { DIDDocument } from '../did/types';

/** The DID methods a holder can use (the spec's binding methods, plus did:key). */
export type HolderDidMethod = 'jwk' | 'key' | 'web' | 'dht';

export interface CreateHolderOptions {
  /** EdDSA (Ed25519, default) or ES256K (secp256k1). */
  alg?: JwsAlgorithm;
  crypto?: CryptoProvider;
  privateJwk?: PrivateJwk;
  /** Default did:jwk. */
  method?: HolderDidMethod;
  /**
   * did:web only: where the holder's DID document will be served, e.g.
   * `https://wallet.example/users/alice` → `did:web:wallet.example:users:alice`, document
   * at `<url>/did.json` (W3C did:web §3.2). The caller serves `holder.didDocument` there.
   */
  didWebUrl?: string;
}

/**
 * A holder: a key pair and a DID (did:jwk by default; did:key, did:web, did:dht; Ed25519
 * or secp256k1) that signs the SIOPv2 ID token and OID4VCI proof JWTs, as a mobile wallet would.
 */
export class Holder {
  private constructor(
    readonly did: string,
    readonly signer: Signer,
    readonly privateJwk: PrivateJwk,
    /** The DID document resolvers will find (serve it for did:web; publish it for did:dht). */
    readonly didDocument: DIDDocument,
    readonly method: HolderDidMethod,
    /** did:dht: the Ed25519 Identity Key that signs the BEP44 packet. */
    private readonly dhtIdentitySigner?: Signer,
  ) {}

  static async create(options: CreateHolderOptions = {}): Promise<Holder> {
    const crypto = options.crypto ?? createWebCryptoProvider();
    const privateJwk = options.privateJwk ?? (await crypto.generateKeyPair(options.alg ?? 'EdDSA'));
    const publicJwk = toPublicJwk(privateJwk);
    const method = options.method ?? 'jwk';
    switch (method) {
      case 'jwk': {
        const did = didJwkFromPublicJwk(publicJwk);
        return new Holder(did, await crypto.createSigner(privateJwk, `${did}#0`), privateJwk, didJwkDocument(did), method);
      }
      case 'key': {
        // did:key: Ed25519 raw 32 bytes (0xed), secp256k1 compressed SEC1 (0xe7).
        const did =
          publicJwk.crv === 'Ed25519'
            ? didKeyFromPublicKey('Ed25519', base64urlDecode(publicJwk.x))
            : didKeyFromPublicKey('secp256k1', secp256k1.Point.fromBytes(secp256k1PublicKeyBytes(publicJwk)).toBytes(true));
        const kid = `${did}#${did.slice('did:key:'.length)}`;
        return new Holder(did, await crypto.createSigner(privateJwk, kid), privateJwk, didKeyDocument(did), method);
      }
      case 'web': {
        if (!options.didWebUrl) throw new TypeError('a did:web holder needs didWebUrl');
        const did = didWebFromUrl(options.didWebUrl);
        const kid = `${did}#key-1`;
        const didDocument: DIDDocument = {
          '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/suites/jws-2020/v1'],
          id: did,
          verificationMethod: [{ id: kid, type: 'JsonWebKey2020', controller: did, publicKeyJwk: { ...publicJwk } }],
          authentication: [kid],
          assertionMethod: [kid],
        };
        return new Holder(did, await crypto.createSigner(privateJwk, kid), privateJwk, didDocument, method);
      }
      case 'dht': {
        // did:dht: the identifier is the Ed25519 Identity Key (#0). An Ed25519 holder signs
        // with it; a secp256k1 holder adds its key as `#sig` and keeps #0 for the packet.
        const identityJwk = publicJwk.crv === 'Ed25519' ? privateJwk : await crypto.generateKeyPair('EdDSA');
        const identityPublicKey = base64urlDecode(identityJwk.x);
        const did = didDhtFromPublicKey(identityPublicKey);
        const identitySigner = await crypto.createSigner(identityJwk, `${did}#0`);
        const didDocument = createDidDhtDocument({
          identityPublicKey,
          verificationMethods:
            publicJwk.crv === 'Ed25519'
              ? []
              : [{ id: 'sig', type: 'secp256k1', publicKeyJwk: { ...publicJwk, alg: 'ES256K' }, purposes: ['authentication', 'assertionMethod'] }],
        });
        const signer = publicJwk.crv === 'Ed25519' ? identitySigner : await crypto.createSigner(privateJwk, `${did}#sig`);
        return new Holder(did, signer, privateJwk, didDocument, method, identitySigner);
      }
      default:
        throw new TypeError(`unsupported holder DID method ${String(method)}`);
    }
  }

  get kid(): string {
    return this.signer.kid;
  }

  /** did:dht: the signed Pkarr relay body (sig || seq || DNS packet); seq in microseconds. */
  async didDhtRelayBody(seq: bigint): Promise<Uint8Array> {
    if (!this.dhtIdentitySigner) throw new TypeError('not a did:dht holder');
    const signer = this.dhtIdentitySigner;
    return signBep44({ v: encodeDidDhtPacket(this.didDocument), seq, sign: (m) => signer.sign(m) });
  }

  /** did:dht: publishes the holder's document to a Pkarr relay / gateway. */
  async publishDidDht(gatewayUrl: string, fetchImpl: typeof fetch, nowMs: number = Date.now()): Promise<void> {
    const body = await this.didDhtRelayBody(BigInt(Math.floor(nowMs)) * 1000n);
    await publishDidDht({ gatewayUrl, did: this.did, body, fetch: fetchImpl });
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
