import type { Store } from './types';

/**
 * Periodic clean-up of single-use values that can no longer be used, runtime-agnostic:
 * Node may call it on a timer, Workers call it from the Cron Trigger (src/runtime/worker.ts).
 * `now` is in seconds since the epoch, like every time in the store.
 *
 * SIOP nonces, c_nonces and Nonce Endpoint nonces go as soon as they expire: an expired one is refused whether
 * it exists or not. Pre-authorized codes are kept `codeRetentionSeconds` past expiry
 * (default: the access-token lifetime) so that a replayed code is still recognised as used
 * and can revoke the tokens issued from it (RFC 6749 §4.1.2) while those tokens live.
 */
export interface PurgeOptions {
  codeRetentionSeconds?: number;
}

export interface PurgeResult {
  siopRequests: number;
  preAuthorizedCodes: number;
  cNonces: number;
  nonces: number;
}

export const DEFAULT_CODE_RETENTION_SECONDS = 24 * 60 * 60;

export async function purgeExpired(store: Store, now: number, options: PurgeOptions = {}): Promise<PurgeResult> {
  const retention = options.codeRetentionSeconds ?? DEFAULT_CODE_RETENTION_SECONDS;
  return {
    siopRequests: await store.siopRequests.deleteExpired(now),
    preAuthorizedCodes: await store.preAuthorizedCodes.deleteExpired(now - retention),
    cNonces: await store.cNonces.deleteExpired(now),
    nonces: await store.nonces.pruneExpired(now),
  };
}
