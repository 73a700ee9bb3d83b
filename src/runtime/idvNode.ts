import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { base64urlEncode } from '../crypto/base64url';
import type { IdvDeps } from '../idv/deps';
import { createGenericHmacProvider, type GenericHmacOptions } from '../idv/genericHmac';
import { createPersonaProvider } from '../idv/persona';
import { parseDataKey } from '../idv/piiVault';
import { createNodePiiVault } from './nodePiiVault';
import type { IdvProvider } from '../idv/provider';

/**
 * Node wiring of identity verification from the environment (docs/idv.md):
 *   PII_DATA_KEY            32-byte AES key, base64url. Unset: DATA_DIR/pii-data-key (0600), generated (development).
 *   PII_DATA_KEYS_RETIRED   comma-separated older keys, still used to open records sealed before a rotation.
 *   PERSONA_API_KEY, PERSONA_TEMPLATE_ID, PERSONA_WEBHOOK_SECRETS (comma-separated), PERSONA_API_BASE
 *   IDV_GENERIC_CONFIG      JSON of GenericHmacOptions (without fetch/secrets); IDV_GENERIC_SECRETS (comma-separated)
 *   PFI_WEBHOOK_SECRETS     comma-separated; each signs (one v1= entry per secret)
 *   WEBHOOK_TOLERANCE_SECONDS  tolerance of timestamped vendor signatures (300)
 */
export function loadOrCreateDataKey(file: string, configured?: string): Uint8Array {
  if (configured) return parseDataKey(configured);
  if (existsSync(file)) return parseDataKey(readFileSync(file, 'utf8'));
  const key = crypto.getRandomValues(new Uint8Array(32));
  writeFileSync(file, base64urlEncode(key), { mode: 0o600 });
  chmodSync(file, 0o600);
  return key;
}

const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

export async function idvDepsFromEnv(env: Record<string, string | undefined>, dataKeyFile: string): Promise<IdvDeps> {
  const vendors = new Map<string, IdvProvider>();
  const fetch = (input: string, init?: RequestInit) => globalThis.fetch(input, init);
  const toleranceSeconds = env.WEBHOOK_TOLERANCE_SECONDS ? Number(env.WEBHOOK_TOLERANCE_SECONDS) : 300;
  if (!Number.isFinite(toleranceSeconds) || toleranceSeconds <= 0) throw new Error('WEBHOOK_TOLERANCE_SECONDS must be a positive number');
  if (env.PERSONA_API_KEY) {
    if (!env.PERSONA_TEMPLATE_ID) throw new Error('PERSONA_TEMPLATE_ID is required with PERSONA_API_KEY');
    const secrets = list(env.PERSONA_WEBHOOK_SECRETS);
    if (secrets.length === 0) throw new Error('PERSONA_WEBHOOK_SECRETS is required with PERSONA_API_KEY');
    vendors.set('persona', createPersonaProvider({ apiKey: env.PERSONA_API_KEY, templateId: env.PERSONA_TEMPLATE_ID, webhookSecrets: secrets, apiBase: env.PERSONA_API_BASE || undefined, toleranceSeconds, fetch }));
  }
  if (env.IDV_GENERIC_CONFIG) {
    let config: Omit<GenericHmacOptions, 'fetch' | 'secrets'>;
    try {
      config = JSON.parse(env.IDV_GENERIC_CONFIG);
    } catch {
      throw new Error('IDV_GENERIC_CONFIG is not valid JSON');
    }
    const signature = config.signature?.scheme === 'timestamped' ? { ...config.signature, toleranceSeconds: config.signature.toleranceSeconds ?? toleranceSeconds } : config.signature;
    vendors.set(config.name, createGenericHmacProvider({ ...config, signature, secrets: list(env.IDV_GENERIC_SECRETS), fetch }));
  }
  return {
    vendors,
    vault: createNodePiiVault(loadOrCreateDataKey(dataKeyFile, env.PII_DATA_KEY), list(env.PII_DATA_KEYS_RETIRED).map(parseDataKey)),
    outboundSecrets: list(env.PFI_WEBHOOK_SECRETS),
    outboundFetch: fetch,
  };
}
