import { clientAuthenticationAnonymous, type CallbackContext, type JwtSigner } from '@openid4vc/oauth2';
import { Openid4vciClient, Openid4vciVersion } from '@openid4vc/openid4vci';
import { ES256, digest } from '@sd-jwt/crypto-nodejs';
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { expect } from 'vitest';
import { HOLDER_ALGORITHMS } from '../../src/crypto/holderKeys';
import { decodeJwt } from '../../src/crypto/jwt';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { verifySdJwtVc } from '../../src/verifier/verifySdJwtVc';
import { credentialOfferUri } from './application';

/**
 * An OID4VCI 1.0 wallet built on the OpenWallet Foundation's oid4vc-ts (@openid4vc/openid4vci)
 * with ES256 keys (bare `jwk` proofs, as most 1.0 wallets do), and @sd-jwt/sd-jwt-vc as its
 * SD-JWT VC library. Shared by the Node (test/interop/owfSdJwtVc.test.ts) and workerd
 * (test/worker/sdJwtVc.test.ts) tests so both drive the issuer the same way.
 */
export interface WalletKey {
  jwk: JWK & { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  privateJwk: JWK;
  privateKey: CryptoKey;
}

export async function walletKey(): Promise<WalletKey> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const { x, y } = await exportJWK(publicKey);
  return { jwk: { kty: 'EC', crv: 'P-256', x: x as string, y: y as string }, privateJwk: await exportJWK(privateKey), privateKey };
}

/** An oid4vc-ts client whose proofs are signed by the wallet key named in the signer (`method: 'jwk'`). */
export function owfClient(keys: WalletKey[]) {
  const callbacks: Omit<CallbackContext, 'verifyJwt' | 'decryptJwe' | 'encryptJwe'> = {
    fetch,
    hash: (data, alg) => createHash(alg.replace('-', '')).update(data).digest(),
    generateRandom: (n) => randomBytes(n),
    signJwt: async (signer, jwt) => {
      const jwk = (signer as { publicJwk: { x: string } }).publicJwk;
      const key = keys.find((k) => k.jwk.x === jwk.x);
      if (!key) throw new Error('unknown wallet key');
      const signed = await new SignJWT(jwt.payload as Record<string, unknown>).setProtectedHeader(jwt.header as never).sign(key.privateKey);
      return { jwt: signed, signerJwk: key.jwk as never };
    },
    clientAuthentication: clientAuthenticationAnonymous(),
  };
  return new Openid4vciClient({ callbacks });
}

const signerOf = (key: WalletKey): JwtSigner => ({ method: 'jwk', publicJwk: key.jwk as never, alg: 'ES256' });

/** Offer → metadata (read as OID4VCI 1.0) → token; the offer names the tier's configuration, then its `_sd_jwt` sibling. */
export async function startIssuance(client: Openid4vciClient, offer: unknown) {
  const credentialOffer = await client.resolveCredentialOffer(credentialOfferUri(offer));
  const issuerMetadata = await client.resolveIssuerMetadata(credentialOffer.credential_issuer);
  expect(issuerMetadata.originalDraftVersion).toBe(Openid4vciVersion.V1);
  const { accessTokenResponse } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({ credentialOffer, issuerMetadata });
  const [jwtVcJson, sdJwt] = credentialOffer.credential_configuration_ids;
  expect(sdJwt).toBe(`${jwtVcJson}_sd_jwt`);
  expect(issuerMetadata.credentialIssuer.credential_configurations_supported[sdJwt].format).toBe('dc+sd-jwt');
  return { issuerMetadata, accessToken: accessTokenResponse.access_token, configurationId: sdJwt };
}

export type IssuanceStart = Awaited<ReturnType<typeof startIssuance>>;

/** One proof per key, all with one Nonce Endpoint nonce (a batch, OID4VCI 1.0 §8.2 `proofs.jwt`). */
export async function proofs(client: Openid4vciClient, issuerMetadata: IssuanceStart['issuerMetadata'], keys: WalletKey[], configurationId: string) {
  const { c_nonce } = await client.requestNonce({ issuerMetadata });
  const jwts: string[] = [];
  for (const key of keys)
    jwts.push(
      (await client.createCredentialRequestJwtProof({ issuerMetadata, signer: signerOf(key), nonce: c_nonce, credentialConfigurationId: configurationId })).jwt,
    );
  return jwts;
}

/**
 * @sd-jwt/sd-jwt-vc as the wallet: the issuer key (the first of `alg`) from the issuer's JWT VC
 * Issuer Metadata, status from its Token Status List; with `key`, able to present with a KB-JWT.
 */
export async function libraryFor(issuer: string, options: { key?: WalletKey; alg?: 'EdDSA' | 'ES256' } = {}) {
  const alg = options.alg ?? 'EdDSA';
  const metadata = (await (await fetch(`${issuer}/.well-known/jwt-vc-issuer`)).json()) as { jwks: { keys: Record<string, string>[] } };
  const entry = metadata.jwks.keys.find((k) => k.alg === alg);
  if (!entry) throw new Error(`no ${alg} key in the JWT VC Issuer Metadata`);
  const { kid: _kid, alg: _alg, use: _use, ...issuerJwk } = entry;
  let issuerVerifier: (data: string, sig: string) => Promise<boolean> | boolean;
  if (alg === 'ES256') {
    issuerVerifier = await ES256.getVerifier(issuerJwk);
  } else {
    const issuerKey = createPublicKey({ key: issuerJwk, format: 'jwk' });
    issuerVerifier = (data: string, sig: string) => verify(null, Buffer.from(data), issuerKey, Buffer.from(sig, 'base64url'));
  }
  return new SDJwtVcInstance({
    hasher: digest,
    verifier: issuerVerifier,
    statusVerifier: issuerVerifier,
    statusListFetcher: async (uri) => (await fetch(uri)).text(),
    ...(options.key ? { kbSigner: await ES256.getSigner(options.key.privateJwk), kbSignAlg: 'ES256' } : {}),
  });
}

/** The 2-bit status of an SD-JWT VC in the Token Status List it names, fetched over HTTP. */
export async function tokenStatusOf(sdJwt: string): Promise<number> {
  const { status } = decodeJwt(sdJwt.split('~')[0], { algorithms: HOLDER_ALGORITHMS }).payload as { status: { status_list: { idx: number; uri: string } } };
  const list = getListFromStatusListJWT(await (await fetch(status.status_list.uri)).text());
  return list.getStatus(status.status_list.idx);
}

/** The holder presents only countryOfResidence with a Key Binding JWT; our verifier (src/verifier) judges it. */
export async function presentCountryOnly(issuer: string, sdJwt: string, key: WalletKey, alg: 'EdDSA' | 'ES256' = 'EdDSA') {
  const holder = await libraryFor(issuer, { key, alg });
  const kb = { kb: { payload: { aud: 'https://rp.example', nonce: 'rp-nonce-1', iat: Math.floor(Date.now() / 1000) } } };
  const presentation = await holder.present(sdJwt, { countryOfResidence: true }, kb);
  return verifySdJwtVc(presentation, {
    verifier: createNodeCryptoProvider(),
    now: Math.floor(Date.now() / 1000),
    fetchIssuerMetadata: async (url) => (await fetch(url)).json(),
    fetchStatusList: async (url) => (await fetch(url)).text(),
    trustedIssuers: [issuer],
    keyBinding: { audience: 'https://rp.example', nonce: 'rp-nonce-1' },
  });
}
