import { SETTING_DEFAULTS } from '../config';
import type { CryptoProvider } from '../crypto/keys';
import { createDidDhtResolver } from '../did/dht';
import { publishPfiDidDht } from '../did/pfi';
import { createDidWebResolver } from '../did/web';
import type { IssuerIdentity, Logger } from '../http/context';
import { didDhtIdentityKey, type IssuerKey } from '../issuer';
import type { Tracing } from '../ports/tracing';
import { createSafeFetch } from './safeFetch';
import { tracedFetch } from './tracing';

/**
 * DIDs on Node: resolving applicants' did:web and did:dht (and fetching other issuers' status
 * lists) through the SSRF-safe fetch, and publishing the PFI's own did:dht packet, at start and
 * then periodically (DHT records expire).
 */

/**
 * Fetches other issuers' status list credentials (presented KCCs): SSRF-safe, https only
 * unless DID_WEB_ALLOW_INSECURE, at most 1 MiB.
 */
export function nodeStatusListFetch(options: { didWebAllowInsecure?: boolean }, tracing?: Tracing) {
  const insecure = options.didWebAllowInsecure ?? SETTING_DEFAULTS.did.webAllowInsecure;
  const safeFetch = tracedFetch(createSafeFetch({ allowPrivate: insecure, allowHttp: insecure, timeoutMs: 5000, maxBytes: 1024 * 1024 }), tracing);
  return async (url: string): Promise<string> => {
    if (!insecure && !url.startsWith('https://')) throw new Error('status list URL is not https');
    const res = await safeFetch(url, { headers: { accept: 'application/vc+jwt, application/jwt, text/plain' } });
    if (!res.ok) throw new Error(`status list: HTTP ${res.status}`);
    return (await res.text()).trim();
  };
}

/**
 * Issuer metadata (JWT VC Issuer Metadata, JWKS) and status lists of credentials people already
 * hold (src/verifier/presented/): the SSRF-safe fetch, https only unless DID_WEB_ALLOW_INSECURE, 5 s, 1 MiB.
 */
export function nodePresentedFetch(options: { didWebAllowInsecure?: boolean }, tracing?: Tracing) {
  const insecure = options.didWebAllowInsecure ?? SETTING_DEFAULTS.did.webAllowInsecure;
  const safeFetch = tracedFetch(createSafeFetch({ allowPrivate: insecure, allowHttp: insecure, timeoutMs: 5000, maxBytes: 1024 * 1024 }), tracing);
  return async (url: string, accept: string): Promise<string> => {
    if (!insecure && !url.startsWith('https://')) throw new Error('URL is not https');
    const res = await safeFetch(url, { headers: { accept } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.text();
  };
}

/** did:web (SSRF-safe fetch: public addresses only unless allowed) and did:dht resolvers. */
export function nodeDidMethods(options: { didWebAllowInsecure?: boolean; didDhtGateway?: string }, tracing?: Tracing) {
  const insecure = options.didWebAllowInsecure ?? SETTING_DEFAULTS.did.webAllowInsecure;
  const safeFetch = tracedFetch(createSafeFetch({ allowPrivate: insecure, allowHttp: insecure, timeoutMs: 5000, maxBytes: 64 * 1024 }), tracing);
  const gatewayUrl = options.didDhtGateway ?? SETTING_DEFAULTS.did.dhtGateway;
  // The gateway is operator configuration, not applicant input (an applicant picks only the
  // 52-character z-base-32 id): an http or loopback gateway the operator set is allowed.
  const gatewayIsLocal = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(\/|$)/.test(gatewayUrl);
  const gatewayFetch =
    gatewayIsLocal || insecure
      ? tracedFetch(createSafeFetch({ allowPrivate: true, allowHttp: true, timeoutMs: 5000, maxBytes: 64 * 1024 }), tracing)
      : safeFetch;
  return {
    ...createDidWebResolver({ fetch: safeFetch, allowHttp: insecure, allowIpHosts: insecure }),
    ...createDidDhtResolver({ gatewayUrl, fetch: gatewayFetch }),
  };
}

/**
 * Publishes the issuer's did:dht document (signed by the identity key) to the gateway.
 * Returns false (and logs) on failure: the issuer keeps serving; the next republish retries.
 */
export async function publishIssuerDidDht(input: {
  keys: IssuerKey[];
  identity: IssuerIdentity;
  crypto: CryptoProvider;
  gatewayUrl: string;
  fetch: typeof fetch;
  now: number;
  logger: Logger;
}): Promise<boolean> {
  const identityKey = didDhtIdentityKey(input.keys);
  if (!identityKey) throw new Error('did:dht needs an identity key');
  try {
    const r = await publishPfiDidDht({
      document: input.identity.didDocument,
      identityPrivateJwk: identityKey.privateJwk,
      crypto: input.crypto,
      gatewayUrl: input.gatewayUrl,
      fetch: input.fetch,
      now: input.now,
    });
    input.logger.info('did_dht_published', { did: input.identity.did, seq: r.seq.toString(), bytes: r.bytes });
    return true;
  } catch (e) {
    input.logger.warn('did_dht_publish_failed', { did: input.identity.did, message: e instanceof Error ? e.message : String(e) });
    return false;
  }
}

/**
 * A did:dht issuer's publishing: once now (the DID is only resolvable once its packet is on the
 * DHT, did:dht spec) and every `republishMs` after (0: never). `current()` gives the keys and
 * identity of the moment, so a key reload is published by the next round.
 */
export async function startDidDhtPublishing(input: {
  current: () => { keys: IssuerKey[]; identity: IssuerIdentity };
  crypto: CryptoProvider;
  gatewayUrl?: string;
  republishMs?: number;
  fetch?: typeof fetch;
  clock: () => number;
  logger: Logger;
}) {
  const publish = () =>
    publishIssuerDidDht({
      ...input.current(),
      crypto: input.crypto,
      gatewayUrl: input.gatewayUrl ?? SETTING_DEFAULTS.did.dhtGateway,
      fetch: input.fetch ?? globalThis.fetch,
      now: input.clock(),
      logger: input.logger,
    });
  const published = await publish();
  const every = input.republishMs ?? SETTING_DEFAULTS.did.dhtRepublishMs;
  const timer = every > 0 ? setInterval(() => void publish(), every) : undefined;
  timer?.unref();
  return {
    /** Whether the gateway accepted the packet at start. */
    published,
    publish,
    stop: () => clearInterval(timer),
  };
}
