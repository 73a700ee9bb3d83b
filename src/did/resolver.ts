import { Resolver, type DIDCache, type DIDResolver, type DIDResolutionResult, type ResolverRegistry } from 'did-resolver';
import { algorithmForJwk, parsePublicJwk, type JwsAlgorithm, type PublicJwk } from '../crypto/keys';
import { jwkFromMultikey } from './key';
import { didMethodOf, type DIDDocument, type VerificationRelationship } from './types';

/**
 * One resolver for every check that needs an applicant's keys (SIOP ID token, proof JWT,
 * presentations): the DIF `did-resolver` Resolver over our method resolvers, with a
 * bounded TTL cache. Errors carry codes; callers map them to invalid_request / invalid_proof.
 */
export type DidErrorCode = 'ERR_DID_INVALID' | 'ERR_DID_METHOD_NOT_SUPPORTED' | 'ERR_DID_NOT_RESOLVED' | 'ERR_DID_KEY_NOT_FOUND';

export class DidError extends Error {
  constructor(
    readonly code: DidErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DidError';
  }
}

export interface DidResolver {
  /** DID methods this resolver accepts, e.g. `['did:jwk', 'did:key']`. */
  readonly methods: readonly string[];
  resolve(did: string): Promise<DIDResolutionResult>;
}

export interface DidResolverOptions {
  /** Method resolvers keyed by method name, as `did-resolver` expects (`{ jwk, key, web, dht }`). */
  registry: ResolverRegistry;
  /** Cache time-to-live in milliseconds (default 5 minutes); 0 disables caching. */
  cacheTtlMs?: number;
  /** Most cached documents kept (default 1000); the oldest is evicted first. */
  cacheMaxEntries?: number;
  /** Clock in milliseconds (injected for tests). */
  now?: () => number;
}

/** A bounded TTL cache in the did-resolver `DIDCache` shape. Failed resolutions are not cached. */
export function boundedTtlCache(ttlMs: number, maxEntries: number, now: () => number): DIDCache {
  const entries = new Map<string, { at: number; result: DIDResolutionResult }>();
  return async (parsed, resolve) => {
    if (parsed.params?.['no-cache'] === 'true') return resolve();
    const key = parsed.didUrl;
    const hit = entries.get(key);
    if (hit && now() - hit.at < ttlMs) return hit.result;
    if (hit) entries.delete(key);
    const result = await resolve();
    if (!result.didResolutionMetadata?.error && result.didDocument) {
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      entries.set(key, { at: now(), result });
    }
    return result;
  };
}

export function createDidResolver(options: DidResolverOptions): DidResolver {
  const ttl = options.cacheTtlMs ?? 5 * 60_000;
  const cache = ttl > 0 ? boundedTtlCache(ttl, options.cacheMaxEntries ?? 1000, options.now ?? Date.now) : false;
  const resolver = new Resolver(options.registry as Record<string, DIDResolver>, { cache });
  return {
    methods: Object.keys(options.registry).map((m) => `did:${m}`),
    resolve: (did) => resolver.resolve(did),
  };
}

export interface ResolvedKey {
  did: string;
  kid: string;
  jwk: PublicJwk;
  alg: JwsAlgorithm;
  document: DIDDocument;
}

function refersTo(entry: unknown, kid: string, did: string): boolean {
  const id = typeof entry === 'string' ? entry : (entry as { id?: unknown })?.id;
  if (typeof id !== 'string') return false;
  return id === kid || (id.startsWith('#') && `${did}${id}` === kid);
}

/**
 * Resolves the public key a JWS `kid` (a DID URL such as `did:jwk:…#0`) names, and checks
 * that it is listed under `relationship` in the DID document (DID Core §5.3).
 */
export async function resolveVerificationKey(resolver: DidResolver, kid: string, relationship: VerificationRelationship): Promise<ResolvedKey> {
  const hash = kid.indexOf('#');
  if (hash <= 0 || hash === kid.length - 1) throw new DidError('ERR_DID_INVALID', 'kid must be a DID URL with a fragment');
  const did = kid.slice(0, hash);
  if (!/^did:[a-z0-9]+:[A-Za-z0-9._:%-]+$/.test(did)) throw new DidError('ERR_DID_INVALID', 'kid does not contain a valid DID');
  const method = didMethodOf(did);
  if (!method || !resolver.methods.includes(method)) throw new DidError('ERR_DID_METHOD_NOT_SUPPORTED', `${method ?? 'DID'} is not supported`);
  let result: DIDResolutionResult;
  try {
    result = await resolver.resolve(did);
  } catch {
    throw new DidError('ERR_DID_NOT_RESOLVED', 'DID could not be resolved');
  }
  const doc = result.didDocument;
  if (result.didResolutionMetadata?.error || !doc) throw new DidError('ERR_DID_NOT_RESOLVED', 'DID could not be resolved');
  if (doc.id !== did) throw new DidError('ERR_DID_NOT_RESOLVED', 'DID document id does not match the DID');
  // The document is untrusted JSON (a did:web host serves what it likes): any member may have any type.
  const listed: unknown = doc[relationship];
  const ref = Array.isArray(listed) ? listed.find((e) => refersTo(e, kid, did)) : undefined;
  if (!ref) throw new DidError('ERR_DID_KEY_NOT_FOUND', `kid is not an ${relationship} method of the DID`);
  const methods: unknown = doc.verificationMethod;
  const vm = typeof ref === 'object' ? ref : Array.isArray(methods) ? methods.find((v) => refersTo(v, kid, did)) : undefined;
  if (!vm || typeof vm !== 'object') throw new DidError('ERR_DID_KEY_NOT_FOUND', 'verification method not found');
  const method_ = vm as { publicKeyJwk?: unknown; publicKeyMultibase?: unknown };
  let jwk = parsePublicJwk(method_.publicKeyJwk);
  if (!jwk && typeof method_.publicKeyMultibase === 'string') {
    try {
      jwk = jwkFromMultikey(method_.publicKeyMultibase);
    } catch {
      jwk = undefined;
    }
  }
  const alg = jwk && algorithmForJwk(jwk);
  if (!jwk || !alg) throw new DidError('ERR_DID_KEY_NOT_FOUND', 'verification method key type is not supported');
  return { did, kid, jwk, alg, document: doc };
}
