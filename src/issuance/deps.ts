import type { OperatorSso } from './operatorSso';
import type { IssuerConfig } from '../config';
import type { CryptoProvider } from '../crypto/keys';
import type { DidResolver } from '../did/resolver';
import type { IdvDeps } from '../idv/deps';
import type { Clock } from '../ports/clock';
import type { IssuerIdentity } from '../ports/issuerIdentity';
import type { Logger } from '../ports/logger';
import type { Store } from '../store/types';
import type { Tracing } from '../ports/tracing';
import type { PresentedCredentialTrust, PresentedFetch } from '../verifier/presented';

/**
 * Signed status list credentials kept in this process's memory (src/issuance/credentialStatus.ts):
 * what is served when the store cannot take the cache write (a full or read-only disk) or cannot
 * answer a read, so relying parties keep checking status while writes are refused. One entry
 * per list and purpose (bounded).
 */
export interface StatusListMemory {
  readonly entries: Map<string, { version: number; jwt: string; expiresAt: number }>;
  /** The last cache write failed: logged once, and again only after one has succeeded. */
  cacheWriteFailing: boolean;
}

/**
 * The ports the credential lifecycle runs on, built once per process (Node) or isolate
 * (Workers). Each use case takes only the members it needs (`Pick<IssuanceDeps, …>`, the
 * oid4vc-ts style), so a test can hand it exactly those.
 */
export interface IssuanceDeps {
  config: IssuerConfig;
  store: Store;
  crypto: CryptoProvider;
  issuer: IssuerIdentity;
  resolver: DidResolver;
  /** Milliseconds since the epoch (src/ports/clock.ts). */
  clock: Clock;
  logger: Logger;
  /** Identity verification: vendor providers, the PII vault, outbound webhook signing (src/idv/deps.ts). */
  idv: IdvDeps;
  /**
   * Fetches another issuer's status list credential (a JWT) when a presented credential
   * names one; our own lists are built locally. Absent: such credentials are refused (fail closed).
   */
  statusListFetch?: (url: string) => Promise<string>;
  /** What credentials people already hold are accepted, from whom (docs/credentials-as-input.md); absent: none. */
  presentedTrust?: PresentedCredentialTrust;
  /** Fetches issuer metadata and status lists of presented credentials (SSRF-safe on Node). Absent: those needing it are refused. */
  presentedFetch?: PresentedFetch;
  /**
   * Signed status lists kept in memory (src/issuance/credentialStatus.ts), served while the store
   * cannot take their cache write; per process or isolate. Absent: such a list is re-signed on each request.
   */
  statusListMemory?: StatusListMemory;
  /** The review console's workforce sign-in (src/issuance/operatorSso.ts), when OPERATOR_SSO_ISSUER is set. */
  operatorSso?: OperatorSso;
  /** W3C Trace Context and spans (src/ports/tracing.ts; Node). Absent: nothing is traced or propagated. */
  tracing?: Tracing;
}
