import { configFromSettings } from '../config';
import type { D1Database } from '@cloudflare/workers-types';
import { drizzle } from 'drizzle-orm/d1';
import { parseIssuerKeys } from '../crypto/issuerKeys';
import { createWebCryptoProvider } from '../crypto/webCrypto';
import { createDidDhtResolver } from '../did/dht';
import { createDidWebResolver, readBodyCapped, withTimeout } from '../did/web';
import { jsonLogger, silentLogger, type AppDeps } from '../http/context';
import { buildIssuer } from '../issuer';
import { idvDepsFromSettings } from '../idv/fromSettings';
import { dispatchDueWebhooks } from '../issuance/webhookDelivery';
import { parseDataKey } from '../idv/piiVault';
import { JOBS, runJobs } from '../issuance/jobs';
import * as schema from '../store/schema';
import type { Database } from '../store/sqlite';

/**
 * The issuer on Cloudflare Workers, built from the `env` bindings (documented in wrangler.toml
 * and docs/cloudflare.md): D1, Web Crypto and the platform fetch. The entry module is
 * src/runtime/worker.ts; this file holds what it uses, because a Workers entry module may export
 * nothing but handlers (workerd refuses other named exports). Nothing Node-only is imported
 * (no better-sqlite3, no node: modules), so the worker needs no `nodejs_compat` flag.
 */
export interface WorkerEnv {
  /** D1 database, migrated from drizzle/ (`wrangler d1 migrations apply`). */
  DB: D1Database;
  /** Secret. Signing key(s): one private JWK, an array of them (first signs) or the Node key file; see parseIssuerKeys. */
  ISSUER_PRIVATE_JWK: string;
  /** Secret. Bearer token of the operator API; unset disables /admin. */
  ADMIN_TOKEN?: string;
  /**
   * Secret. The PII vault's data key (32-byte AES key, base64url), the same variable as on Node
   * (PII_DATA_KEY, docs/idv.md); PII_DATA_KEYS_RETIRED lists older keys after a rotation. Required
   * on Workers once the vault is wired: a generated key would differ per isolate.
   */
  PII_DATA_KEY?: string;
  PII_DATA_KEYS_RETIRED?: string;
  /** Vars/secrets of identity verification, as on Node (docs/idv.md): IDV_PROVIDER, PII_RETENTION_DAYS,
   *  PFI_WEBHOOK_URL, PFI_WEBHOOK_SECRETS, PERSONA_*, INCODE_*, IDV_GENERIC_CONFIG, IDV_GENERIC_SECRETS, WEBHOOK_TOLERANCE_SECONDS. */
  IDV_PROVIDER?: string;
  PII_RETENTION_DAYS?: string;
  PFI_WEBHOOK_URL?: string;
  /** Var. "off" disables the in-isolate rate limits; RATE_LIMIT_PER_IP / RATE_LIMIT_PER_CLIENT per minute. */
  RATE_LIMITS?: string;
  RATE_LIMIT_PER_IP?: string;
  RATE_LIMIT_PER_CLIENT?: string;
  [setting: string]: unknown;
  /** Var. The issuer's public base URL: credential issuer id, did:web and every URL handed out. */
  PUBLIC_URL: string;
  /** Var. Display name (SIOP client_metadata, issuer metadata). */
  ISSUER_NAME?: string;
  /** Var. credentialSchema id of issued KCCs (default: the published KCC schema's id). */
  KCC_SCHEMA_ID?: string;
  /** Var. Pkarr relay for did:dht resolution (default https://diddht.tbddev.org). */
  DID_DHT_GATEWAY?: string;
  /** Var. "true" resolves did:web over http and IP hosts: local development only. */
  DID_WEB_ALLOW_INSECURE?: string;
  /** Var. "silent" turns request logs off. */
  LOG_LEVEL?: string;
}

export const DEFAULT_DID_DHT_GATEWAY = 'https://diddht.tbddev.org';

/** Builds the issuer from the bindings: parses and imports the key(s), wires D1 and resolvers. */
export async function buildWorkerIssuer(env: WorkerEnv) {
  if (!env.DB) throw new Error('the D1 binding DB is missing');
  if (!env.PUBLIC_URL) throw new Error('PUBLIC_URL is not set');
  if (!env.ISSUER_PRIVATE_JWK) throw new Error('ISSUER_PRIVATE_JWK is not set');
  // Node may generate and keep a PII key in DATA_DIR; a worker cannot (each isolate would make its own).
  if (!env.PII_DATA_KEY) throw new Error('PII_DATA_KEY is not set (required on Workers)');
  const settings = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const insecure = env.DID_WEB_ALLOW_INSECURE === 'true';
  // The platform fetch, bound: Workers reach no private network, so no address filter is
  // needed here (Node's safeFetch does that); did:web still requires https and a DNS name.
  const platformFetch: typeof fetch = (input, init) => fetch(input, init);
  return buildIssuer({
    config: {
      publicUrl: env.PUBLIC_URL,
      ...configFromSettings(settings),
    },
    // Cloudflare sets CF-Connecting-IP to the client's address on every request to a worker.
    clientAddress: (c) => c.req.header('cf-connecting-ip') || undefined,
    idv: await idvDepsFromSettings(settings, parseDataKey(env.PII_DATA_KEY)),
    db: drizzle(env.DB, { schema }) as unknown as Database,
    crypto: createWebCryptoProvider(),
    keys: parseIssuerKeys(env.ISSUER_PRIVATE_JWK),
    clock: Date.now,
    logger: env.LOG_LEVEL === 'silent' ? silentLogger : jsonLogger(),
    // Other issuers' status lists (presented KCCs). Workers cannot reach private
    // addresses, so the platform fetch is the SSRF boundary; https only, 5 s, 1 MiB.
    statusListFetch: async (url: string) => {
      if (!insecure && !url.startsWith('https://')) throw new Error('status list URL is not https');
      return withTimeout(5000, async (signal) => {
        const res = await platformFetch(url, { headers: { accept: 'application/vc+jwt, application/jwt, text/plain' }, signal, redirect: 'error' });
        if (!res.ok) throw new Error(`status list: HTTP ${res.status}`);
        return new TextDecoder().decode(await readBodyCapped(res, 1024 * 1024)).trim();
      });
    },
    didMethods: {
      ...createDidWebResolver({ fetch: platformFetch, allowHttp: insecure, allowIpHosts: insecure }),
      ...createDidDhtResolver({ gatewayUrl: env.DID_DHT_GATEWAY || DEFAULT_DID_DHT_GATEWAY, fetch: platformFetch }),
    },
  });
}

export type WorkerIssuer = Awaited<ReturnType<typeof buildWorkerIssuer>>;

/** The Cron Trigger runs the one job list (src/issuance/jobs.ts), as Node's timer does. */
export const SCHEDULED_JOBS = JOBS;
export const runScheduledJobs = runJobs;
