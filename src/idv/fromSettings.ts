import { readSettings, type Settings } from '../config';
import type { Environment } from '../config/setting';
import type { IdvDeps } from './deps';
import { createGenericHmacProvider, type GenericHmacOptions } from './genericHmac';
import { createIncodeProvider, incodeOptionsFromSettings } from './incode';
import { createPersonaProvider } from './persona';
import { createPiiVault, parseDataKey, type PiiVault } from './piiVault';
import type { HttpFetch, IdvProvider } from './provider';

/**
 * Identity verification wiring from settings, runtime-agnostic (Node: src/runtime/idvNode.ts,
 * Workers: src/runtime/workerIssuer.ts). The runtime supplies the PII data key; the rest comes
 * from the `idvVendors` settings (src/config/settings.ts, docs/idv.md): PII_DATA_KEYS_RETIRED,
 * PERSONA_*, INCODE_*, IDV_GENERIC_CONFIG, IDV_GENERIC_SECRETS, PFI_WEBHOOK_SECRETS,
 * WEBHOOK_TOLERANCE_SECONDS.
 */
export async function idvDepsFromVendorSettings(
  settings: Settings['idvVendors'],
  dataKey: Uint8Array,
  /** The vault implementation: Web Crypto by default; Node passes its node:crypto one. */
  createVault: (key: Uint8Array, retired: Uint8Array[]) => PiiVault | Promise<PiiVault> = createPiiVault,
  /** The vendors' API calls and the outbound webhooks (Node passes one that carries the trace context). */
  fetch: HttpFetch = (input, init) => globalThis.fetch(input, init),
): Promise<IdvDeps> {
  const vendors = new Map<string, IdvProvider>();
  const toleranceSeconds = settings.webhookToleranceSeconds;
  const persona = settings.persona;
  if (persona.apiKey) {
    if (!persona.templateId) throw new Error('PERSONA_TEMPLATE_ID is required with PERSONA_API_KEY');
    if (persona.webhookSecrets.length === 0) throw new Error('PERSONA_WEBHOOK_SECRETS is required with PERSONA_API_KEY');
    vendors.set(
      'persona',
      createPersonaProvider({
        apiKey: persona.apiKey,
        templateId: persona.templateId,
        webhookSecrets: persona.webhookSecrets,
        apiBase: persona.apiBase,
        toleranceSeconds,
        fetch,
      }),
    );
  }
  const incode = incodeOptionsFromSettings(settings.incode, fetch);
  if (incode) vendors.set('incode', createIncodeProvider(incode));
  if (settings.generic.config !== undefined) {
    const config = settings.generic.config as Omit<GenericHmacOptions, 'fetch' | 'secrets'>;
    const signature =
      config.signature?.scheme === 'timestamped'
        ? { ...config.signature, toleranceSeconds: config.signature.toleranceSeconds ?? toleranceSeconds }
        : config.signature;
    vendors.set(config.name, createGenericHmacProvider({ ...config, signature, secrets: settings.generic.secrets, fetch }));
  }
  return {
    vendors,
    vault: await createVault(dataKey, settings.piiDataKeysRetired.map(parseDataKey)),
    outboundSecrets: settings.outboundSecrets,
    outboundFetch: fetch,
  };
}

/** The same from an environment's variables (Node env, Workers vars and secrets), read through the settings table. */
export async function idvDepsFromSettings(
  env: Environment,
  dataKey: Uint8Array,
  createVault?: (key: Uint8Array, retired: Uint8Array[]) => PiiVault | Promise<PiiVault>,
): Promise<IdvDeps> {
  return idvDepsFromVendorSettings(readSettings(env).idvVendors, dataKey, createVault);
}
