import type { IssuerConfig, TierConfig } from '../config';
import { KCC_TYPES } from '../protocol/oid4vci/metadata';
import { SD_JWT_VC_FORMAT } from '../protocol/sdJwtVc/kcc';
import { resolveSdJwtVcSettings, type SdJwtVcSettings } from '../protocol/sdJwtVc/settings';

/**
 * The one registry of credential configurations (OID4VCI 1.0 §12.2.4
 * `credential_configurations_supported`; draft 13 §10.2.3): one per KCC tier (spec "Multiple
 * Credential Types"), derived from the tiers so that the metadata, the credential offer, the
 * token, credential and deferred endpoints, and both wire profiles name the same ids.
 */
export interface CredentialConfiguration {
  /** credential_configuration_id, presentation_definition_id and tier id, all one. */
  id: string;
  tier: TierConfig;
  format: 'jwt_vc_json';
  types: readonly string[];
  /** display name in the metadata. */
  name: string;
  description: string;
}

export interface CredentialConfigurations {
  all: readonly CredentialConfiguration[];
  /** The configuration issued when the wallet names none (the default tier). */
  fallback: CredentialConfiguration;
  get(id: string | null | undefined): CredentialConfiguration | undefined;
  /** The configuration an application was opened for; the default tier for rows older than tiers. */
  ofApplication(application: { credentialConfigurationId: string }): CredentialConfiguration;
}

/**
 * Pure and cheap (tiers are few): computed from config where needed, never cached in a module.
 * A class, so that the methods are not closures made on every call (docs/performance.md).
 */
export function credentialConfigurations(config: Pick<IssuerConfig, 'tiers' | 'defaultTierId'>): CredentialConfigurations {
  return new TierConfigurations(config);
}

class TierConfigurations implements CredentialConfigurations {
  readonly all: readonly CredentialConfiguration[];
  readonly fallback: CredentialConfiguration;

  constructor(config: Pick<IssuerConfig, 'tiers' | 'defaultTierId'>) {
    const single = config.tiers.length === 1;
    this.all = config.tiers.map(
      (tier): CredentialConfiguration => ({
        id: tier.id,
        tier,
        format: 'jwt_vc_json',
        types: KCC_TYPES,
        name: single ? 'Known Customer Credential' : `Known Customer Credential (${tier.name})`,
        description: tier.description ?? `Proof of a completed KYC verification: ${tier.requiredChecks.join(', ') || `tier ${tier.name}`}`,
      }),
    );
    this.fallback = this.get(config.defaultTierId) ?? this.all[0];
  }

  get(id: string | null | undefined): CredentialConfiguration | undefined {
    if (!id) return undefined;
    for (const c of this.all) if (c.id === id) return c;
    return undefined;
  }

  ofApplication(application: { credentialConfigurationId: string }): CredentialConfiguration {
    return this.get(application.credentialConfigurationId) ?? this.fallback;
  }
}

/** The tier an application asked for (its credential configuration); the default tier otherwise. */
export function tierOfApplication(
  deps: { config: Pick<IssuerConfig, 'tiers' | 'defaultTierId'> },
  application: { credentialConfigurationId: string },
): TierConfig {
  return credentialConfigurations(deps.config).ofApplication(application).tier;
}

/**
 * The KCC as an SD-JWT VC, one configuration beside each tier's jwt_vc_json one (same tier, same
 * decision; `vct` shared, the tier is a claim). Kept out of `all` until the credential and
 * deferred endpoints issue it: offers, applications and requests still name only `all`.
 */
export interface SdJwtCredentialConfiguration {
  /** `<tier id>_sd_jwt`: credential_configuration_id and scope. */
  id: string;
  /** The jwt_vc_json configuration of the same tier (its id is the tier id). */
  jwtVcJsonId: string;
  tier: TierConfig;
  format: typeof SD_JWT_VC_FORMAT;
  vct: string;
  name: string;
  description: string;
}

/** The id of a tier's SD-JWT VC configuration. */
export function sdJwtConfigurationId(tierId: string): string {
  return `${tierId}_sd_jwt`;
}

/** The SD-JWT VC configurations of the registry's tiers, for `vct`. */
export function sdJwtCredentialConfigurations(registry: CredentialConfigurations, vct: string): SdJwtCredentialConfiguration[] {
  const taken = new Set(registry.all.map((c) => c.id));
  return registry.all.map((c) => {
    const id = sdJwtConfigurationId(c.id);
    // A tier named like another tier's SD-JWT VC configuration would make one id mean two things.
    if (taken.has(id)) throw new TypeError(`tier id ${id} collides with the SD-JWT VC configuration of tier ${c.id}`);
    return { id, jwtVcJsonId: c.id, tier: c.tier, format: SD_JWT_VC_FORMAT, vct, name: `${c.name} (SD-JWT VC)`, description: c.description };
  });
}

/** The SD-JWT VC settings of this issuer (the settings table's `sdJwtVc`, SDJWT_VC_*), resolved and checked. */
export function sdJwtVcSettingsOf(config: Pick<IssuerConfig, 'publicUrl' | 'sdJwtVc'>): SdJwtVcSettings {
  const { offered, vct, batchSize, encryptionRequired } = config.sdJwtVc;
  return resolveSdJwtVcSettings(config.publicUrl, { offered, batchSize, encryptionRequired, ...(vct ? { vct } : {}) });
}

/** The SD-JWT VC configurations offered (none when SDJWT_VC_OFFERED is false). */
export function offeredSdJwtConfigurations(config: Pick<IssuerConfig, 'publicUrl' | 'sdJwtVc' | 'tiers' | 'defaultTierId'>): SdJwtCredentialConfiguration[] {
  const settings = sdJwtVcSettingsOf(config);
  return settings.offered ? sdJwtCredentialConfigurations(credentialConfigurations(config), settings.vct) : [];
}
