import type { IssuerDidMethod, SdJwtVcSigningAlg } from '../config';
import { algorithmForJwk, type CryptoProvider, type JwsAlgorithm, type PrivateJwk } from '../crypto/keys';
import { parseIssuerKeys, type LocalIssuerKey } from '../crypto/issuerKeys';
import type { KeyCustody } from '../crypto/keyCustody';
import type { IssuerIdentity, Logger } from '../http/context';
import { createIssuerIdentity, type IssuerKey } from '../issuer';
import { loadOrCreateKeys } from './keyFile';

/**
 * The issuer's keys on Node: configured (ISSUER_PRIVATE_JWK, the same on every instance) or kept
 * in the key file (DATA_DIR/issuer-keys.json, `npm run keys`), which SIGHUP reloads.
 */

/**
 * ISSUER_PRIVATE_JWK: an Ed25519 (EdDSA) or secp256k1 (ES256K) private JWK; or, as on Workers
 * (src/crypto/issuerKeys.ts), an array of them (the first signs, all are published) so that
 * instances configured alike can roll a rotation. Never logged.
 */
export function configuredKeys(text: string): IssuerKey[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('ISSUER_PRIVATE_JWK is not valid JSON');
  }
  return Array.isArray(value) ? parseIssuerKeys(text) : [configuredKey(text)];
}

/** One ISSUER_PRIVATE_JWK: an Ed25519 (EdDSA) or secp256k1 (ES256K) private JWK. */
function configuredKey(text: string): LocalIssuerKey {
  let jwk: PrivateJwk;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new Error('ISSUER_PRIVATE_JWK is not valid JSON');
  }
  const alg = algorithmForJwk(jwk);
  if (!alg || typeof jwk.d !== 'string') throw new Error('ISSUER_PRIVATE_JWK must be an Ed25519 or secp256k1 private JWK');
  return { id: 'key-1', alg, privateJwk: jwk, createdAt: '1970-01-01T00:00:00Z' };
}

/** ISSUER_DID_DHT_IDENTITY_JWK: the Ed25519 did:dht identity key that goes with ISSUER_PRIVATE_JWK. */
export function configuredDidDhtIdentity(text: string | undefined): LocalIssuerKey {
  if (!text) throw new Error('ISSUER_DID_METHOD=dht with ISSUER_PRIVATE_JWK needs ISSUER_DID_DHT_IDENTITY_JWK (an Ed25519 private JWK)');
  const key = configuredKey(text);
  if (key.alg !== 'EdDSA') throw new Error('ISSUER_DID_DHT_IDENTITY_JWK must be an Ed25519 private JWK');
  return { ...key, id: '0', role: 'did-dht-identity' };
}

/** The configured keys, plus the did:dht identity key when the method is dht; undefined when none are configured (the key file is used). */
export function keysFromSettings(settings: { privateJwk?: string; didDhtIdentityJwk?: string }, didMethod: IssuerDidMethod): IssuerKey[] | undefined {
  if (!settings.privateJwk) return undefined;
  return [...configuredKeys(settings.privateJwk), ...(didMethod === 'dht' ? [configuredDidDhtIdentity(settings.didDhtIdentityJwk)] : [])];
}

/**
 * The key file's keys (created on first start), with a did:dht identity key when the method needs
 * one. With a custodian (an HSM, docs/hsm.md) a new signing key is generated in it and the file
 * keeps only its label.
 */
export function loadKeyFile(
  file: string,
  crypto: CryptoProvider,
  alg: JwsAlgorithm,
  didMethod: IssuerDidMethod,
  custody?: KeyCustody,
  sdJwtVcSigningAlg?: SdJwtVcSigningAlg,
): Promise<IssuerKey[]> {
  return loadOrCreateKeys(file, crypto, alg, { didDhtIdentity: didMethod === 'dht', custody, sdJwtVcSigningAlg });
}

/**
 * Re-reads the key file (after `npm run keys -- rotate`/`retire`): the newest key signs from now
 * on and the DID document lists the current keys; `apply` installs them in the running issuer.
 */
export async function reloadKeyFile(input: {
  file: string;
  crypto: CryptoProvider;
  alg: JwsAlgorithm;
  didMethod: IssuerDidMethod;
  publicUrl: string;
  custody?: KeyCustody;
  /** SDJWT_VC_SIGNING_ALG: which key signs SD-JWT VCs (src/issuer.ts createIssuerIdentity). */
  sdJwtVcSigningAlg?: SdJwtVcSigningAlg;
  logger: Logger;
  apply: (keys: IssuerKey[], identity: IssuerIdentity) => void;
}): Promise<IssuerIdentity> {
  const keys = await loadKeyFile(input.file, input.crypto, input.alg, input.didMethod, input.custody, input.sdJwtVcSigningAlg);
  const identity = await createIssuerIdentity(input.publicUrl, keys, input.crypto, {
    method: input.didMethod,
    custody: input.custody,
    sdJwtVcSigningAlg: input.sdJwtVcSigningAlg,
  });
  input.apply(keys, identity);
  input.logger.info('issuer_keys_reloaded', { did: identity.did, kid: identity.signer.kid, published: identity.publishedKeys.length });
  return identity;
}
