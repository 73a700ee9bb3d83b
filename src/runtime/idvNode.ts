import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { base64urlEncode } from '../crypto/base64url';
import type { IdvDeps } from '../idv/deps';
import { readSettings, type Environment } from '../config';
import { idvDepsFromVendorSettings } from '../idv/fromSettings';
import { parseDataKey } from '../idv/piiVault';
import { createNodePiiVault } from './nodePiiVault';

/**
 * Node wiring of identity verification from the environment (docs/idv.md; each variable's
 * default and check in src/config/settings.ts):
 *   PII_DATA_KEY            32-byte AES key, base64url. Unset: DATA_DIR/pii-data-key (0600), generated (development).
 *   PII_DATA_KEYS_RETIRED   comma-separated older keys, still used to open records sealed before a rotation.
 *   PERSONA_API_KEY, PERSONA_TEMPLATE_ID, PERSONA_WEBHOOK_SECRETS (comma-separated), PERSONA_API_BASE
 *   INCODE_CLIENT_ID, INCODE_CLIENT_SECRET, INCODE_ISSUER, INCODE_TOKEN_AUTH_METHOD, INCODE_SCOPE (docs/incode.md)
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

/** IDV wiring from an environment's settings (src/config/settings.ts `idvVendors`), the PII key from PII_DATA_KEY or the key file. */
export async function idvDepsFromEnv(env: Environment, dataKeyFile: string): Promise<IdvDeps> {
  const settings = readSettings(env).idvVendors;
  return idvDepsFromVendorSettings(settings, loadOrCreateDataKey(dataKeyFile, settings.piiDataKey), createNodePiiVault);
}
