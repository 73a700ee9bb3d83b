import type { IssuerConfig, TierConfig } from '../config';
import { KCC_TYPES } from '../protocol/oid4vci/metadata';

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
