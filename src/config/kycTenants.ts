/**
 * Relying parties (tenants) of the KYC status API and their keys, from KYC_API_KEYS entries:
 * `name:key` names the tenant (several entries with one name: that tenant's keys, for rotation);
 * a bare `key` is the tenant `tenant-<n>` (its position). A key is a bearer secret of at least 32
 * characters and belongs to one tenant. The name is what a subject's authorisation names
 * (src/protocol/kycAuthorization.ts) and what the audit trail records for each read.
 */
export interface KycTenant {
  name: string;
  keys: string[];
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const MIN_KYC_KEY_LENGTH = 32;

/** Parses and checks the entries; throws a TypeError naming KYC_API_KEYS (never the key). */
export function kycTenantsFromKeys(entries: readonly string[]): KycTenant[] {
  const tenants = new Map<string, KycTenant>();
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const name = colon >= 0 ? entry.slice(0, colon) : `tenant-${i + 1}`;
    const key = colon >= 0 ? entry.slice(colon + 1) : entry;
    if (!NAME.test(name)) throw new TypeError('KYC_API_KEYS: a tenant name must be lower-case letters, digits, ".", "_" or "-" (at most 64), before the ":"');
    if (key.length < MIN_KYC_KEY_LENGTH)
      throw new TypeError(`KYC_API_KEYS must be comma-separated keys of at least ${MIN_KYC_KEY_LENGTH} characters each (name:key or key)`);
    if (seen.has(key)) throw new TypeError('KYC_API_KEYS lists the same key twice');
    seen.add(key);
    const tenant = tenants.get(name) ?? { name, keys: [] };
    tenant.keys.push(key);
    tenants.set(name, tenant);
  });
  return [...tenants.values()];
}
