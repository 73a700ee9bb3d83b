import type { IdvDeps } from './deps';
import { createGenericHmacProvider, type GenericHmacOptions } from './genericHmac';
import { createIncodeProvider, incodeOptionsFromSettings } from './incode';
import { createPersonaProvider } from './persona';
import { createPiiVault, parseDataKey, type PiiVault } from './piiVault';
import type { IdvProvider } from './provider';

/**
 * Identity verification wiring from settings, runtime-agnostic (Node: src/runtime/idvNode.ts,
 * Workers: src/runtime/workerIssuer.ts). The runtime supplies the PII data key; the rest comes
 * from the settings (docs/idv.md): PII_DATA_KEYS_RETIRED, PERSONA_*, INCODE_*, IDV_GENERIC_CONFIG,
 * IDV_GENERIC_SECRETS, PFI_WEBHOOK_SECRETS, WEBHOOK_TOLERANCE_SECONDS.
 */
const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export async function idvDepsFromSettings(
  env: Record<string, string | undefined>,
  dataKey: Uint8Array,
  /** The vault implementation: Web Crypto by default; Node passes its node:crypto one. */
  createVault: (key: Uint8Array, retired: Uint8Array[]) => PiiVault | Promise<PiiVault> = createPiiVault,
): Promise<IdvDeps> {
  const vendors = new Map<string, IdvProvider>();
  const fetch = (input: string, init?: RequestInit) => globalThis.fetch(input, init);
  const toleranceSeconds = env.WEBHOOK_TOLERANCE_SECONDS ? Number(env.WEBHOOK_TOLERANCE_SECONDS) : 300;
  if (!Number.isFinite(toleranceSeconds) || toleranceSeconds <= 0) throw new Error('WEBHOOK_TOLERANCE_SECONDS must be a positive number');
  if (env.PERSONA_API_KEY) {
    if (!env.PERSONA_TEMPLATE_ID) throw new Error('PERSONA_TEMPLATE_ID is required with PERSONA_API_KEY');
    const secrets = list(env.PERSONA_WEBHOOK_SECRETS);
    if (secrets.length === 0) throw new Error('PERSONA_WEBHOOK_SECRETS is required with PERSONA_API_KEY');
    vendors.set(
      'persona',
      createPersonaProvider({
        apiKey: env.PERSONA_API_KEY,
        templateId: env.PERSONA_TEMPLATE_ID,
        webhookSecrets: secrets,
        apiBase: env.PERSONA_API_BASE || undefined,
        toleranceSeconds,
        fetch,
      }),
    );
  }
  const incode = incodeOptionsFromSettings(env, fetch);
  if (incode) vendors.set('incode', createIncodeProvider(incode));
  if (env.IDV_GENERIC_CONFIG) {
    let config: Omit<GenericHmacOptions, 'fetch' | 'secrets'>;
    try {
      config = JSON.parse(env.IDV_GENERIC_CONFIG);
    } catch {
      throw new Error('IDV_GENERIC_CONFIG is not valid JSON');
    }
    const signature =
      config.signature?.scheme === 'timestamped'
        ? { ...config.signature, toleranceSeconds: config.signature.toleranceSeconds ?? toleranceSeconds }
        : config.signature;
    vendors.set(config.name, createGenericHmacProvider({ ...config, signature, secrets: list(env.IDV_GENERIC_SECRETS), fetch }));
  }
  return {
    vendors,
    vault: await createVault(dataKey, list(env.PII_DATA_KEYS_RETIRED).map(parseDataKey)),
    outboundSecrets: list(env.PFI_WEBHOOK_SECRETS),
    outboundFetch: fetch,
  };
}
