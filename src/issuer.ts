import type { ResolverRegistry } from 'did-resolver';
import { resolveConfig, type IssuerConfig, type IssuerConfigInput, type IssuerDidMethod, type SdJwtVcSigningAlg } from './config';
import type { CredentialSigner, CryptoProvider, PublicJwk, Signer } from './crypto/keys';
import type { IssuerKey, LocalIssuerKey } from './crypto/issuerKeys';
import type { KeyCustody } from './crypto/keyCustody';
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
import { createBankLogin } from './idv/existingCustomer/relyingParty';
import { deriveExistingCustomerKeys } from './idv/existingCustomer/loginTransaction';
import { existingCustomerSettingsFromTable } from './idv/existingCustomer/settings';
import { createOperatorSso, deriveOperatorSsoKeys, operatorSsoSettingsFromTable } from './issuance/operatorSso';
import type { Settings } from './config';
import type { HttpFetch } from './idv/provider';
import { createStatusListMemory } from './issuance/credentialStatus';
import { parsePresentedCredentialTrust, type PresentedCredentialTrust, type PresentedFetch } from './verifier/presented';

/**
 * Wires an issuer from its parts. Runtimes supply the database, crypto, keys, clock and
 * logger; everything here is runtime-agnostic.
 */
export type { IssuerKey } from './crypto/issuerKeys';

/** The key that signs the did:dht packet, if the list holds one. */
export function didDhtIdentityKey(keys: IssuerKey[]): LocalIssuerKey | undefined {
  return keys.find((k): k is LocalIssuerKey => k.role === 'did-dht-identity');
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
  /** The `existingCustomer` settings (EXISTING_CUSTOMER_*): the bank sign-in for existing customers (docs/existing-customers.md). */
  existingCustomer?: Settings['existingCustomer'];
  /** Outbound fetch to the bank's OpenID Connect provider; default: the platform's fetch. */
  existingCustomerFetch?: HttpFetch;
  /** The `operatorSso` settings (OPERATOR_SSO_*): the review console's workforce sign-in (docs/operator-sso.md). */
  operatorSso?: Settings['operatorSso'];
  /** Outbound HTTP to the workforce provider (default: the platform fetch; tests: loopback with a man in the middle). */
  operatorSsoFetch?: HttpFetch;
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
  /** Holds the keys that are references (an HSM over PKCS#11, docs/hsm.md); needed when any key is. */
  keyCustody?: KeyCustody;
  /** Trace context and spans (Node, src/runtime/tracing.ts); absent: off. */
  tracing?: AppDeps['tracing'];
}

/**
 * The PFI's DID, its current signer and its published keys. Every `kid` is a DID URL of
 * a verification method in `didDocument`:
 * - web (default): did:web from PUBLIC_URL; every key published, newest signs.
 * - dht: did:dht of the `did-dht-identity` key (`#0`); every signing key published beside it.
 * - jwk: did:jwk of the newest key (`#0`); did:jwk holds one key and no service, so a
 *   rotation changes the DID (docs/dids-and-keys.md).
 * `signer` is the newest EdDSA/ES256K key (a P-256 key never signs the spec's JWTs);
 * `sdJwtSigner` the newest key of `sdJwtVcSigningAlg` (SDJWT_VC_SIGNING_ALG), `signer` when unset.
 * P-256 keys are published with did:web only (did:jwk holds one key; the did:dht documents here
 * carry Ed25519 and secp256k1).
 */
export async function createIssuerIdentity(
  publicUrl: string,
  keys: IssuerKey[],
  crypto: CryptoProvider,
  options: { method?: IssuerDidMethod; custody?: KeyCustody; sdJwtVcSigningAlg?: SdJwtVcSigningAlg } = {},
): Promise<IssuerIdentity> {
  const method = options.method ?? 'web';
  const all = signingKeysNewestFirst(keys);
  if (all.length === 0) throw new Error('at least one issuer key is required');
  // The spec's JWTs are EdDSA or ES256K: the newest such key signs them (and names did:jwk).
  const newestFirst = [...all.filter((k) => k.alg !== 'ES256'), ...all.filter((k) => k.alg === 'ES256')];
  if (newestFirst[0].alg === 'ES256') throw new Error('at least one EdDSA or ES256K issuer key is required (a P-256 key signs only SD-JWT VCs)');
  if (method !== 'web' && newestFirst.some((k) => k.alg === 'ES256'))
    throw new Error(`a P-256 (ES256) issuer key needs ISSUER_DID_METHOD=web (did:${method} does not publish it here)`);
  // A key held by a custodian (HSM): its public key is read from it, once per identity.
  const publicJwks = new Map<IssuerKey, PublicJwk>();
  for (const k of newestFirst)
    publicJwks.set(k, k.external ? (await custodyFor(k, options.custody).describe(k.external)).publicJwk : toPublicJwk(k.privateJwk));
  const publicJwkOf = (k: IssuerKey) => publicJwks.get(k)!;
  const idvEndpoint = issuerUrls(publicUrl).initiate;
  let did: string;
  let publishedKeys: PublishedKey[];
  let didDocument: DIDDocument;
  if (method === 'jwk') {
    did = didJwkFromPublicJwk(publicJwkOf(newestFirst[0]));
    publishedKeys = [{ kid: `${did}#0`, publicJwk: publicJwkOf(newestFirst[0]) }];
    didDocument = didJwkDocument(did);
  } else if (method === 'dht') {
    const identity = didDhtIdentityKey(keys);
    if (!identity) throw new Error('did:dht needs an Ed25519 identity key (role did-dht-identity) in the key list');
    const identityPublicJwk = toPublicJwk(identity.privateJwk);
    did = didDhtFromIdentityJwk(identityPublicJwk);
    publishedKeys = newestFirst.map((k) => ({ kid: `${did}#${k.id}`, publicJwk: publicJwkOf(k) }));
    didDocument = buildPfiDidDhtDocument({ identityPublicJwk, keys: publishedKeys, idvEndpoint });
  } else {
    did = didWebFromUrl(publicUrl);
    publishedKeys = newestFirst.map((k) => ({ kid: `${did}#${k.id}`, publicJwk: publicJwkOf(k) }));
    didDocument = buildPfiDidDocument({ did, keys: publishedKeys, idvEndpoint });
  }
  const newest = newestFirst[0];
  const signer = newest.external
    ? await custodyFor(newest, options.custody).createSigner(newest.external, publishedKeys[0].kid)
    : await crypto.createSigner(newest.privateJwk, publishedKeys[0].kid);
  const keysByKid = new Map<string, PublicJwk>(publishedKeys.filter((k) => k.publicJwk.crv !== 'P-256').map((k) => [k.kid, k.publicJwk]));
  const sdJwtSigner = await credentialSignerFor(options.sdJwtVcSigningAlg, newestFirst, signer, publishedKeys, crypto, options.custody);
  return { did, signer, sdJwtSigner, publishedKeys, keysByKid, didDocument };
}

/** The newest key of SDJWT_VC_SIGNING_ALG as a signer; the KCC signer when unset or when that is the key. */
async function credentialSignerFor(
  alg: SdJwtVcSigningAlg | undefined,
  newestFirst: IssuerKey[],
  signer: Signer,
  publishedKeys: PublishedKey[],
  crypto: CryptoProvider,
  custody: KeyCustody | undefined,
): Promise<CredentialSigner> {
  if (!alg || alg === signer.alg) return signer;
  const index = newestFirst.findIndex((k) => k.alg === alg);
  if (index < 0)
    throw new Error(
      `SDJWT_VC_SIGNING_ALG=${alg} but no ${alg} issuer key is configured (docs/formats.md: a P-256 JWK in ISSUER_PRIVATE_JWK, or the key file on Node)`,
    );
  // did:jwk publishes the newest key only.
  if (index >= publishedKeys.length) throw new Error(`SDJWT_VC_SIGNING_ALG=${alg}: did:jwk publishes only the ${signer.alg} signing key`);
  const key = newestFirst[index];
  const kid = publishedKeys[index].kid;
  return key.external ? custodyFor(key, custody).createSigner(key.external, kid) : crypto.createCredentialSigner(key.privateJwk, kid);
}

function custodyFor(key: IssuerKey & { external: object }, custody: KeyCustody | undefined): KeyCustody {
  if (!custody || custody.custody !== key.external.custody) {
    throw new Error(
      `issuer key ${key.id} is held by ${key.external.custody} (label ${key.external.label}) but no ${key.external.custody} custodian is configured (ISSUER_PKCS11_MODULE, docs/hsm.md)`,
    );
  }
  return custody;
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
    issuer: await createIssuerIdentity(config.publicUrl, options.keys, options.crypto, {
      method: config.didMethod,
      custody: options.keyCustody,
      sdJwtVcSigningAlg: config.sdJwtVc.signingAlg,
    }),
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
    tracing: options.tracing,
  };
  if (config.idv.provider !== 'hosted' && !deps.idv.vendors.has(config.idv.provider)) {
    throw new Error(`IDV_PROVIDER ${config.idv.provider} is not configured (docs/idv.md)`);
  }
  const bank = options.existingCustomer && existingCustomerSettingsFromTable(options.existingCustomer, config.tiers);
  if (bank) {
    const login = createBankLogin(
      bank.settings,
      {
        clock,
        fetch: options.existingCustomerFetch ?? ((input, init) => globalThis.fetch(input, init)),
        random: options.crypto,
        keys: await deriveExistingCustomerKeys(bank.keySecret),
      },
      { redirectUri: issuerUrls(config.publicUrl).existingCustomerCallback, tiers: config.tiers },
    );
    deps.idv = { ...deps.idv, existingCustomer: login };
  }
  const sso = options.operatorSso && operatorSsoSettingsFromTable(options.operatorSso);
  if (sso) {
    deps.operatorSso = createOperatorSso(
      sso.settings,
      {
        clock,
        fetch: options.operatorSsoFetch ?? ((input, init) => globalThis.fetch(input, init)),
        random: options.crypto,
        keys: await deriveOperatorSsoKeys(sso.keySecret),
      },
      { redirectUri: issuerUrls(config.publicUrl).consoleSsoCallback },
    );
  }
  if (!deps.idv.vault) {
    // No configured data key: PII sealed now cannot be read after a restart (tests, demos).
    deps.idv = { ...deps.idv, vault: await createPiiVault(crypto.getRandomValues(new Uint8Array(32))) };
  }
  return { app: createApp(deps), deps };
}
