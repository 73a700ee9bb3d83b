/**
 * The options of SD-JWT VC issuance, encrypted responses and batches, resolved: the settings
 * table's `sdJwtVc` section (SDJWT_VC_*, src/config/settings.ts) with the default `vct` worked out
 * from the public URL and the values checked.
 */
export interface SdJwtVcSettings {
  /**
   * Whether the dc+sd-jwt configurations, `credential_response_encryption` and
   * `batch_credential_issuance` are offered (metadata) and honoured (credential and deferred endpoints).
   */
  offered: boolean;
  /** The KCC's `vct`; Type Metadata is served at the default one. */
  vct: string;
  /** `batch_credential_issuance.batch_size`: most proofs (so copies) one request may ask for. */
  batchSize: number;
  /** `credential_response_encryption.encryption_required`. */
  encryptionRequired: boolean;
}

export const DEFAULT_BATCH_SIZE = 5;
/** Path of the KCC's Type Metadata under PUBLIC_URL (src/paths.ts names the same). */
export const KCC_VCT_PATH = '/vct/known-customer-credential';

/** The default `vct`: an https URL under the issuer, where its Type Metadata is served. */
export function defaultVct(publicUrl: string): string {
  return publicUrl.replace(/\/+$/, '') + KCC_VCT_PATH;
}

export function resolveSdJwtVcSettings(publicUrl: string, input: Partial<SdJwtVcSettings> = {}): SdJwtVcSettings {
  const settings: SdJwtVcSettings = {
    offered: input.offered ?? false,
    vct: input.vct ?? defaultVct(publicUrl),
    batchSize: input.batchSize ?? DEFAULT_BATCH_SIZE,
    encryptionRequired: input.encryptionRequired ?? false,
  };
  if (!Number.isSafeInteger(settings.batchSize) || settings.batchSize < 1 || settings.batchSize > 20)
    throw new TypeError('batchSize must be an integer from 1 to 20');
  if (!/^[\x21-\x7e]{1,512}$/.test(settings.vct)) throw new TypeError('vct must be a URI (printable ASCII, at most 512 characters)');
  return settings;
}
