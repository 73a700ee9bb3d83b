import { type SETTINGS, SETTING_DEFAULTS, ISSUER_DID_METHODS, settingsGiven, type Settings } from './config/settings';
import type { Environment, GivenSettingsOf } from './config/setting';
import type { ConsentItem, TierConfig } from './config/tiers';
import { brandColourProblem } from './config/parsers';
import { kycTenantsFromKeys } from './config/kycTenants';

export {
  ISSUER_DID_METHODS,
  KCC_SCHEMA_ID,
  LOG_LEVELS,
  SETTINGS,
  SETTING_DEFAULTS,
  listSettings,
  processEnv,
  readSettings,
  settingsGiven,
} from './config/settings';
export type { IssuerDidMethod, SdJwtVcSigningAlg, Settings } from './config/settings';
export type { Environment } from './config/setting';
export { SettingsError } from './config/setting';
export { parseTiersConfig, tiersFromJson } from './config/tiers';
export type { ConsentItem, TierConfig, TiersDocument } from './config/tiers';

/**
 * The issuer's configuration: the `issuer` section of the settings table (src/config/settings.ts,
 * where each option has its default and its documentation), resolved by `resolveConfig` — the
 * public URL required, the tiers and the default tier worked out.
 */
export type IssuerConfig = Omit<Settings['issuer'], 'publicUrl' | 'defaultTierId'> & {
  publicUrl: string;
  defaultTierId: string;
};

/** The options that are sections (objects of options), given member by member: derived, so a new section needs nothing here. */
type Sections = {
  [K in keyof IssuerConfig]-?: NonNullable<IssuerConfig[K]> extends readonly unknown[] ? never : NonNullable<IssuerConfig[K]> extends object ? K : never;
}[keyof IssuerConfig];

/** What a runtime or a test gives `resolveConfig`: the public URL, and any option (sections member by member). */
export type IssuerConfigInput = Partial<Omit<IssuerConfig, Sections | 'publicUrl'>> & { publicUrl: string } & {
  [K in Sections]?: Partial<IssuerConfig[K]>;
};

/** The defaults of the issuer's options (from the settings table). */
export const DEFAULTS: Settings['issuer'] = SETTING_DEFAULTS.issuer;

/** Drops undefined members, so an unset environment variable never hides a default. */
function defined<T extends object>(value: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(value ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const TIER_ID = /^[A-Za-z0-9._-]{1,64}$/;

function resolveTiers(input: IssuerConfigInput, credential: IssuerConfig['credential']): TierConfig[] {
  const tiers: TierConfig[] = input.tiers?.length
    ? input.tiers.map((t) => ({ ...t, requiredChecks: [...t.requiredChecks], acceptsPriorCredentialsFrom: t.acceptsPriorCredentialsFrom ?? [] }))
    : [
        {
          id: credential.configurationId,
          name: credential.defaultTier,
          requiredChecks: ['document_verification'],
          validityDays: credential.validityDays,
          acceptsPriorCredentialsFrom: [],
        },
      ];
  const seen = new Set<string>();
  for (const t of tiers) {
    if (!TIER_ID.test(t.id)) throw new TypeError(`tier id ${JSON.stringify(t.id)} must match ${TIER_ID}`);
    if (seen.has(t.id)) throw new TypeError(`tier id ${t.id} is declared twice`);
    seen.add(t.id);
    if (!t.name) throw new TypeError(`tier ${t.id} needs a name`);
    if (!(t.validityDays > 0)) throw new TypeError(`tier ${t.id} needs a positive validityDays`);
    // One presentation definition per SIOP request: KCCs of ours (upgrade, renewal) or credentials held from others.
    if (t.acceptsCredentials?.length && t.acceptsPriorCredentialsFrom?.length)
      throw new TypeError(`tier ${t.id}: acceptsCredentials and acceptsPriorCredentialsFrom cannot be combined (one presentation definition per request)`);
  }
  return tiers;
}

export const MIN_ADMIN_TOKEN_LENGTH = 32;

/**
 * The issuer's configuration from an input (a runtime's settings, a test's options): defaults
 * from the settings table, then the checks that span options (the code outlives the form, the
 * tiers, the admin token's length, the public URL).
 */
export function resolveConfig(input: IssuerConfigInput): IssuerConfig {
  const publicUrl = input.publicUrl.replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    throw new TypeError(`PUBLIC_URL must be an absolute http(s) URL such as https://kcc.pfi.example (got ${JSON.stringify(publicUrl.slice(0, 100))})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('PUBLIC_URL must be an http(s) URL');
  if (!/^[A-Z]{2}$/.test(input.credential?.jurisdictionCountry ?? DEFAULTS.credential.jurisdictionCountry)) {
    throw new TypeError('KCC_JURISDICTION must be an ISO 3166-1 alpha-2 country code in capitals, such as US or DE');
  }
  if (input.didMethod !== undefined && !ISSUER_DID_METHODS.includes(input.didMethod)) throw new TypeError('ISSUER_DID_METHOD must be web, dht or jwk');
  // A shared bearer secret must resist offline and online guessing: 32 characters is 192 bits as base64url.
  if (input.adminToken && input.adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new TypeError(`ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (e.g. openssl rand -base64 32)`);
  }
  const ttl = { ...DEFAULTS.ttl, ...defined(input.ttl) };
  for (const [name, seconds] of Object.entries(ttl)) {
    if (!(Number.isFinite(seconds) && seconds > 0)) throw new TypeError(`ttl.${name} must be a positive number of seconds`);
  }
  if (ttl.preAuthorizedCode <= ttl.idvForm) {
    throw new TypeError(
      `ttl.preAuthorizedCode (${ttl.preAuthorizedCode} s) must outlive ttl.idvForm (${ttl.idvForm} s): a wallet redeems the code after the form is done`,
    );
  }
  // Every option of the table, so a new entry needs nothing here; then what is resolved specially.
  const options = withDefaults(DEFAULTS, input);
  const kycApiKeys = options.kycApiKeys.filter((k) => k.length > 0);
  kycTenantsFromKeys(kycApiKeys); // checked at start: a request never meets a bad entry
  // Programmatic input gets the check the environment's parser applies.
  const colourProblem = brandColourProblem(options.branding.primaryColor);
  if (colourProblem) throw new TypeError(`BRAND_PRIMARY_COLOR ${colourProblem}`);
  if (!(options.reviewExpectedHours > 0)) throw new TypeError('REVIEW_EXPECTED_HOURS must be a positive number');
  return {
    ...options,
    publicUrl,
    ttl,
    // Empty strings are unset, as they are in the environment.
    adminToken: input.adminToken || undefined,
    clientName: input.clientName || DEFAULTS.clientName,
    branding: { primaryColor: options.branding.primaryColor.toLowerCase() },
    kycApiKeys,
    tosUri: httpsUriOption('TOS_URI', input.tosUri),
    policyUri: httpsUriOption('POLICY_URI', input.policyUri),
    clientMetadata: { ...defined(input.clientMetadata) },
    idv: { ...options.idv, optionalConsents: resolveConsentItems(input.idv?.optionalConsents) },
    ...resolveTierOptions(input),
  };
}

/** The table's issuer options: the input's where given (a section member by member), the default otherwise. */
function withDefaults(defaults: Settings['issuer'], input: IssuerConfigInput): Settings['issuer'] {
  const given = input as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(defaults)) {
    const section = typeof value === 'object' && value !== null && !Array.isArray(value);
    out[key] = section ? { ...value, ...defined(given[key] as object | undefined) } : (given[key] ?? value);
  }
  return out as Settings['issuer'];
}

/** An absolute http(s) URL (links shown to the applicant), or undefined when unset. */
function httpsUriOption(name: string, value: string | undefined): string | undefined {
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${name} must be an absolute URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`${name} must be an http(s) URL`);
  return url.toString();
}

function resolveConsentItems(items: ConsentItem[] | undefined): ConsentItem[] {
  const seen = new Set<string>();
  for (const item of items ?? []) {
    if (!TIER_ID.test(item.id)) throw new TypeError(`consent item id ${JSON.stringify(item.id)} must match ${TIER_ID}`);
    if (seen.has(item.id)) throw new TypeError(`consent item ${item.id} is declared twice`);
    seen.add(item.id);
    if (!item.text) throw new TypeError(`consent item ${item.id} needs a text`);
  }
  return [...(items ?? [])];
}

function resolveTierOptions(input: IssuerConfigInput): Pick<IssuerConfig, 'tiers' | 'defaultTierId' | 'statusList'> {
  const credential = { ...DEFAULTS.credential, ...defined(input.credential) };
  const tiers = resolveTiers(input, credential);
  const defaultTierId = input.defaultTierId ?? tiers[0].id;
  if (!tiers.some((t) => t.id === defaultTierId)) throw new TypeError(`defaultTierId ${defaultTierId} is not a declared tier`);
  const statusList = { ...DEFAULTS.statusList, ...input.statusList };
  // Bitstring Status List v1.0 §6.1: at least 131,072 entries (16 KiB) for herd privacy; whole bytes.
  if (statusList.size < 131_072 || statusList.size % 8 !== 0) throw new TypeError('statusList.size must be a multiple of 8, at least 131072');
  if (!(statusList.maxFill > 0 && statusList.maxFill <= 0.9)) throw new TypeError('statusList.maxFill must be in (0, 0.9]');
  return { tiers, defaultTierId, statusList };
}

/**
 * The issuer options an environment gives (Node: the process environment; Workers: vars and
 * secrets), as a config input: what is unset is left to the code-given input and the defaults.
 * PUBLIC_URL and the Node-only ISSUER_DID_METHOD are read by the runtimes.
 */
export function configFromSettings(env: Environment): Omit<IssuerConfigInput, 'publicUrl'> {
  const given = settingsGiven(env, 'workers');
  return issuerInput(given.issuer ?? {}, given.tiersDocument?.json);
}

/** An issuer config input from given issuer settings and a tiers document (KCC_TIERS or KCC_TIERS_FILE). */
export function issuerInput(
  issuer: GivenSettingsOf<typeof SETTINGS>['issuer'] & object,
  tiers?: { tiers?: TierConfig[]; defaultTierId?: string },
): Omit<IssuerConfigInput, 'publicUrl'> {
  const { publicUrl: _runtimeDecides, ...rest } = issuer;
  return { ...rest, ...(tiers ?? {}) };
}

/**
 * Settings that start but should not reach production, said loudly at start by both runtimes:
 * an https PUBLIC_URL (a real deployment) whose IDV is the hosted form's sandbox, which approves
 * anyone not named "Declined" or "Review" (README "Sandbox IDV test values").
 */
export function configWarnings(config: Pick<IssuerConfig, 'publicUrl' | 'idv'>): string[] {
  const warnings: string[] = [];
  if (config.publicUrl.startsWith('https:') && config.idv.provider === 'hosted') {
    warnings.push(
      'PUBLIC_URL is https but IDV_PROVIDER is hosted: the sandbox IDV approves every applicant without a real check. Set IDV_PROVIDER to a vendor (docs/idv.md) before issuing KCCs anyone relies on.',
    );
  }
  return warnings;
}
