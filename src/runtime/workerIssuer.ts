import { configFromSettings, readSettings } from '../config';
import type { D1Database } from '@cloudflare/workers-types';
import { drizzle } from 'drizzle-orm/d1';
import { parseIssuerKeys } from '../crypto/issuerKeys';
import { createWebCryptoProvider } from '../crypto/webCrypto';
import { createDidDhtResolver } from '../did/dht';
import { createDidWebResolver, readBodyCapped, withTimeout } from '../did/web';
import { jsonLogger, silentLogger } from '../http/context';
import { buildIssuer } from '../issuer';
import { idvDepsFromVendorSettings } from '../idv/fromSettings';
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
  /**
   * Vars and secrets: the settings table's variables (src/config/settings.ts; those not marked
   * Node-only), read only through it. Required here: PUBLIC_URL, ISSUER_PRIVATE_JWK, PII_DATA_KEY.
   */
  [setting: string]: unknown;
}

/** Builds the issuer from the bindings: parses and imports the key(s), wires D1 and resolvers. */
export async function buildWorkerIssuer(env: WorkerEnv) {
  if (!env.DB) throw new Error('the D1 binding DB is missing');
  const settings = readSettings(env, 'workers');
  const publicUrl = settings.issuer.publicUrl;
  const privateJwk = settings.keys.privateJwk;
  const piiDataKey = settings.idvVendors.piiDataKey;
  if (!publicUrl) throw new Error('PUBLIC_URL is not set');
  if (!privateJwk) throw new Error('ISSUER_PRIVATE_JWK is not set');
  // Node may generate and keep a PII key in DATA_DIR; a worker cannot (each isolate would make its own).
  if (!piiDataKey) throw new Error('PII_DATA_KEY is not set (required on Workers)');
  const insecure = settings.did.webAllowInsecure;
  // The platform fetch, bound: Workers reach no private network, so no address filter is
  // needed here (Node's safeFetch does that); did:web still requires https and a DNS name.
  const platformFetch: typeof fetch = (input, init) => fetch(input, init);
  return buildIssuer({
    config: {
      publicUrl,
      ...configFromSettings(env),
    },
    // Cloudflare sets CF-Connecting-IP to the client's address on every request to a worker.
    clientAddress: (c) => c.req.header('cf-connecting-ip') || undefined,
    idv: await idvDepsFromVendorSettings(settings.idvVendors, parseDataKey(piiDataKey)),
    existingCustomer: settings.existingCustomer,
    operatorSso: settings.operatorSso,
    db: drizzle(env.DB, { schema }) as unknown as Database,
    crypto: createWebCryptoProvider(),
    keys: parseIssuerKeys(privateJwk),
    clock: Date.now,
    logger: jsonLogger(undefined, settings.server.logLevel),
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
    presentedCredentialTrust: settings.presentedCredentials.trust,
    // Issuer metadata and status lists of credentials people already hold: https only, 5 s, 1 MiB.
    presentedFetch: async (url: string, accept: string) => {
      if (!insecure && !url.startsWith('https://')) throw new Error('URL is not https');
      return withTimeout(5000, async (signal) => {
        const res = await platformFetch(url, { headers: { accept }, signal, redirect: 'error' });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        return new TextDecoder().decode(await readBodyCapped(res, 1024 * 1024));
      });
    },
    didMethods: {
      ...createDidWebResolver({ fetch: platformFetch, allowHttp: insecure, allowIpHosts: insecure }),
      ...createDidDhtResolver({ gatewayUrl: settings.did.dhtGateway, fetch: platformFetch }),
    },
  });
}

export type WorkerIssuer = Awaited<ReturnType<typeof buildWorkerIssuer>>;

/** The Cron Trigger runs the one job list (src/issuance/jobs.ts), as Node's timer does. */
export const SCHEDULED_JOBS = JOBS;
export const runScheduledJobs = runJobs;
