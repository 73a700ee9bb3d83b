import type { ResolverRegistry } from 'did-resolver';
import { resolveConfig, type IssuerConfig, type IssuerConfigInput, type IssuerDidMethod } from './config';
import type { CryptoProvider, PublicJwk } from './crypto/keys';
import type { IssuerKey } from './crypto/issuerKeys';
import { toPublicJwk } from './crypto/keys';
import { createDidJwkResolver, didJwkDocument, didJwkFromPublicJwk } from './did/jwk';
import { createDidKeyResolver } from './did/key';
import { buildPfiDidDhtDocument, buildPfiDidDocument, didDhtFromIdentityJwk, didWebFromUrl, type PublishedKey } from './did/pfi';
import { createDidResolver } from './did/resolver';
import type { DIDDocument } from './did/types';
import { createApp } from './http/app';
import { jsonLogger, type AppDeps, type IssuerIdentity, type Logger } from './http/context';
import { issuerUrls } from './paths';
import { createRateLimiter } from './http/rateLimit';
import { createSqliteStats, createStore, type Database } from './store/sqlite';
import type { Store } from './store/types';
import type { StatsQueries } from './store/stats';
import { emptyIdvDeps, type IdvDeps } from './idv/deps';
import { createPiiVault } from './idv/piiVault';
import { createStatusListMemory } from './issuance/credentialStatus';
import { parsePresentedCredentialTrust, type PresentedCredentialTrust, type PresentedFetch } from './verifier/presented';

/**
 * Wires an issuer from its parts. Runtimes supply the database, crypto, keys, clock and
 * logger; everything here is runtime-agnostic.
 */
export type { IssuerKey } from './crypto/issuerKeys';

/** The key that signs the did:dht packet, if the list holds one. */
export function didDhtIdentityKey(keys: IssuerKey[]): IssuerKey | undefined {
  return keys.find((k) => k.role === 'did-dht-identity');
}

/** Signing keys (everything but the did:dht identity key), newest first. */
export function signingKeysNewestFirst(keys: IssuerKey[]): IssuerKey[] {
  return keys.filter((k) => k.role !== 'did-dht-identity').sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

export interface BuildIssuerOptions {
  config: IssuerConfigInput;
  /** The SQLite database (better-sqlite3 or D1); or, instead, a ready `store` (PostgreSQL). */
  db?: Database;
  store?: Store;
  /** The counting queries of /readyz and the business metrics for `store` (PostgreSQL: `openPostgres().stats`); made from `db` when absent. */
  stats?: StatsQueries;
  crypto: CryptoProvider;
  /** Issuer keys; the newest signs, all are published. */
  keys: IssuerKey[];
  clock?: () => number;
  logger?: Logger;
  /** Extra DID method resolvers (did:web, did:dht) beside the built-in did:jwk and did:key. */
  didMethods?: ResolverRegistry;
  /** How to read the client's IP address from a request (runtime-specific). */
  clientAddress?: AppDeps['clientAddress'];
  /** IDV vendors, PII vault, outbound webhook secrets (docs/idv.md). Default: hosted form only, a per-process PII key. */
  idv?: IdvDeps;
  /** Fetches other issuers' status list credentials (presented KCCs); see AppDeps.statusListFetch. */
  statusListFetch?: (url: string) => Promise<string>;
  /** The presented-credential trust configuration as JSON (PRESENTED_CREDENTIAL_TRUST[_FILE]); checked against the tiers at start. */
  presentedCredentialTrust?: unknown;
  /** Fetches issuer metadata and status lists of presented credentials; see IssuanceDeps.presentedFetch. */
  presentedFetch?: PresentedFetch;
  /** See AppDeps.readRequestBody (Node reads bodies from the IncomingMessage). */
  readRequestBody?: AppDeps['readRequestBody'];
  /** See AppDeps.exchange (Node reads and sets headers on its own request and response objects). */
  exchange?: AppDeps['exchange'];
  /** Prometheus metrics (Node, src/runtime/metrics.ts); absent: off. */
  metrics?: AppDeps['metrics'];
}

/**
 * The PFI's DID, its current signer and its published keys. Every `kid` is a DID URL of
 * a verification method in `didDocument`:
 * - web (default): did:web from PUBLIC_URL; every key published, newest signs.
 * - dht: did:dht of the `did-dht-identity` key (`#0`); every signing key published beside it.
 * - jwk: did:jwk of the newest key (`#0`); did:jwk holds one key and no service, so a
 *   rotation changes the DID (docs/dids-and-keys.md).
 */
export async function createIssuerIdentity(
  publicUrl: string,
  keys: IssuerKey[],
  crypto: CryptoProvider,
  options: { method?: IssuerDidMethod } = {},
): Promise<IssuerIdentity> {
  const method = options.method ?? 'web';
  const newestFirst = signingKeysNewestFirst(keys);
  if (newestFirst.length === 0) throw new Error('at least one issuer key is required');
  const idvEndpoint = issuerUrls(publicUrl).initiate;
  let did: string;
  let publishedKeys: PublishedKey[];
  let didDocument: DIDDocument;
  if (method === 'jwk') {
    did = didJwkFromPublicJwk(toPublicJwk(newestFirst[0].privateJwk));
    publishedKeys = [{ kid: `${did}#0`, publicJwk: toPublicJwk(newestFirst[0].privateJwk) }];
    didDocument = didJwkDocument(did);
  } else if (method === 'dht') {
    const identity = didDhtIdentityKey(keys);
    if (!identity) throw new Error('did:dht needs an Ed25519 identity key (role did-dht-identity) in the key list');
    const identityPublicJwk = toPublicJwk(identity.privateJwk);
    did = didDhtFromIdentityJwk(identityPublicJwk);
    publishedKeys = newestFirst.map((k) => ({ kid: `${did}#${k.id}`, publicJwk: toPublicJwk(k.privateJwk) }));
    didDocument = buildPfiDidDhtDocument({ identityPublicJwk, keys: publishedKeys, idvEndpoint });
  } else {
    did = didWebFromUrl(publicUrl);
    publishedKeys = newestFirst.map((k) => ({ kid: `${did}#${k.id}`, publicJwk: toPublicJwk(k.privateJwk) }));
    didDocument = buildPfiDidDocument({ did, keys: publishedKeys, idvEndpoint });
  }
  const signer = await crypto.createSigner(newestFirst[0].privateJwk, publishedKeys[0].kid);
  const keysByKid = new Map<string, PublicJwk>(publishedKeys.map((k) => [k.kid, k.publicJwk]));
  return { did, signer, publishedKeys, keysByKid, didDocument };
}

/** The trust configuration parsed, and every tier's acceptsCredentials naming one of its entries; refuses the start otherwise. */
function presentedTrustFor(config: IssuerConfig, json: unknown): PresentedCredentialTrust | undefined {
  const trust = json === undefined ? undefined : parsePresentedCredentialTrust(json);
  for (const tier of config.tiers) {
    if (!tier.acceptsCredentials?.length) continue;
    if (!trust) throw new TypeError(`tier ${tier.id} accepts credentials but PRESENTED_CREDENTIAL_TRUST is not set (docs/credentials-as-input.md)`);
    const known = new Set([...trust.sdJwtVc, ...trust.mdoc, ...trust.jwtVc].map((e) => e.id));
    for (const id of tier.acceptsCredentials)
      if (!known.has(id)) throw new TypeError(`tier ${tier.id} accepts credential ${id}, which the presented credential trust does not define`);
  }
  return trust;
}

export async function buildIssuer(options: BuildIssuerOptions) {
  const config = resolveConfig(options.config);
  const clock = options.clock ?? Date.now;
  if (!options.store && !options.db) throw new Error('buildIssuer needs a db or a store');
  const deps: AppDeps = {
    config,
    store: options.store ?? createStore(options.db!),
    crypto: options.crypto,
    issuer: await createIssuerIdentity(config.publicUrl, options.keys, options.crypto, { method: config.didMethod }),
    resolver: createDidResolver({
      registry: { ...createDidJwkResolver(), ...createDidKeyResolver(), ...options.didMethods },
      now: clock,
    }),
    clock,
    logger: options.logger ?? jsonLogger(),
    rateLimiter: createRateLimiter(),
    clientAddress: options.clientAddress,
    idv: options.idv ?? emptyIdvDeps(),
    statusListFetch: options.statusListFetch,
    presentedTrust: presentedTrustFor(config, options.presentedCredentialTrust),
    presentedFetch: options.presentedFetch,
    statusListMemory: createStatusListMemory(),
    readRequestBody: options.readRequestBody,
    exchange: options.exchange,
    // The counting queries (src/store/stats.ts) over the same database as the store.
    stats: options.stats ?? (options.db ? createSqliteStats(options.db) : undefined),
    metrics: options.metrics,
  };
  if (config.idv.provider !== 'hosted' && !deps.idv.vendors.has(config.idv.provider)) {
    throw new Error(`IDV_PROVIDER ${config.idv.provider} is not configured (docs/idv.md)`);
  }
  if (!deps.idv.vault) {
    // No configured data key: PII sealed now cannot be read after a restart (tests, demos).
    deps.idv = { ...deps.idv, vault: await createPiiVault(crypto.getRandomValues(new Uint8Array(32))) };
  }
  return { app: createApp(deps), deps };
}
