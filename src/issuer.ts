import type { ResolverRegistry } from 'did-resolver';
import { resolveConfig, type IssuerConfigInput } from './config';
import type { CryptoProvider, JwsAlgorithm, PrivateJwk, PublicJwk } from './crypto/keys';
import { toPublicJwk } from './crypto/keys';
import { createDidJwkResolver } from './did/jwk';
import { createDidKeyResolver } from './did/key';
import { buildPfiDidDocument, didWebFromUrl } from './did/pfi';
import { createDidResolver } from './did/resolver';
import { createApp } from './http/app';
import { jsonLogger, type AppDeps, type IssuerIdentity, type Logger } from './http/context';
import { issuerUrls } from './http/paths';
import { createStore, type Database } from './store/store';

/**
 * Wires an issuer from its parts. Runtimes supply the database, crypto, keys, clock and
 * logger; everything here is runtime-agnostic.
 */
export interface IssuerKey {
  /** Fragment of the verification method id: `<did>#<id>`. */
  id: string;
  alg: JwsAlgorithm;
  privateJwk: PrivateJwk;
  /** ISO time the key was created; the newest key signs. */
  createdAt: string;
}

export interface BuildIssuerOptions {
  config: IssuerConfigInput;
  db: Database;
  crypto: CryptoProvider;
  /** Issuer keys; the newest signs, all are published. */
  keys: IssuerKey[];
  clock?: () => number;
  logger?: Logger;
  /** Extra DID method resolvers (did:web, did:dht) beside the built-in did:jwk and did:key. */
  didMethods?: ResolverRegistry;
  /** Fetches other issuers' status list credentials (presented KCCs); see AppDeps.statusListFetch. */
  statusListFetch?: (url: string) => Promise<string>;
}

export async function createIssuerIdentity(publicUrl: string, keys: IssuerKey[], crypto: CryptoProvider): Promise<IssuerIdentity> {
  if (keys.length === 0) throw new Error('at least one issuer key is required');
  const did = didWebFromUrl(publicUrl);
  const newestFirst = [...keys].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const publishedKeys = newestFirst.map((k) => ({ kid: `${did}#${k.id}`, publicJwk: toPublicJwk(k.privateJwk) }));
  const signer = await crypto.createSigner(newestFirst[0].privateJwk, publishedKeys[0].kid);
  const keysByKid = new Map<string, PublicJwk>(publishedKeys.map((k) => [k.kid, k.publicJwk]));
  const didDocument = buildPfiDidDocument({ did, keys: publishedKeys, idvEndpoint: issuerUrls(publicUrl).initiate });
  return { did, signer, publishedKeys, keysByKid, didDocument };
}

export async function buildIssuer(options: BuildIssuerOptions) {
  const config = resolveConfig(options.config);
  const clock = options.clock ?? Date.now;
  const deps: AppDeps = {
    config,
    store: createStore(options.db),
    crypto: options.crypto,
    issuer: await createIssuerIdentity(config.publicUrl, options.keys, options.crypto),
    resolver: createDidResolver({
      registry: { ...createDidJwkResolver(), ...createDidKeyResolver(), ...options.didMethods },
      now: clock,
    }),
    clock,
    logger: options.logger ?? jsonLogger(),
    statusListFetch: options.statusListFetch,
  };
  return { app: createApp(deps), deps };
}
