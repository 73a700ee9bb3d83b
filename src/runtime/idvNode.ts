import { existsSync } from 'node:fs';
import { base64urlEncode } from '../crypto/base64url';
import type { IdvDeps } from '../idv/deps';
import type { HttpFetch } from '../idv/provider';
import { readSettings, type Environment } from '../config';
import { idvDepsFromVendorSettings } from '../idv/fromSettings';
import { parseDataKey } from '../idv/piiVault';
import { KeyFileError, readKeyFileText, writeFileDurably } from './keyFile';
import { createNodePiiVault } from './nodePiiVault';

const DATA_KEY_SETTING = 'PII_DATA_KEY unset: DATA_DIR/pii-data-key';

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
/**
 * The PII data key: PII_DATA_KEY, else DATA_DIR/pii-data-key, created on first start (durably:
 * ./keyFile.ts writeFileDurably, never over an existing file). An empty, truncated or otherwise
 * unusable file is refused with a one-line KeyFileError naming it: a new key would leave every
 * record sealed with the old one unreadable.
 */
export function loadOrCreateDataKey(file: string, configured?: string): Uint8Array {
  if (configured) return parseDataKey(configured);
  if (existsSync(file)) {
    const text = readKeyFileText(file, DATA_KEY_SETTING);
    try {
      return parseDataKey(text);
    } catch {
      throw new KeyFileError(file, DATA_KEY_SETTING, `is not a 32-byte base64url key (${text.trim().length} characters; truncated by a crash?)`);
    }
  }
  const key = crypto.getRandomValues(new Uint8Array(32));
  writeFileDurably(file, base64urlEncode(key), { exclusive: true });
  return key;
}

/** IDV wiring from an environment's settings (src/config/settings.ts `idvVendors`), the PII key from PII_DATA_KEY or the key file. */
export async function idvDepsFromEnv(env: Environment, dataKeyFile: string, fetch?: HttpFetch): Promise<IdvDeps> {
  const settings = readSettings(env).idvVendors;
  return idvDepsFromVendorSettings(settings, loadOrCreateDataKey(dataKeyFile, settings.piiDataKey), createNodePiiVault, fetch);
}
