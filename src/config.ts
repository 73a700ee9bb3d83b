import { z } from 'zod';

/**
 * Every option of the issuer, with its default, in one place (node-oidc-provider style).
 * Runtimes (src/runtime/*) read the environment and pass a partial config; nothing else
 * reads the environment.
 */
export interface IssuerConfig {
  /** Credential issuer identifier and base of every URL handed out (env PUBLIC_URL). */
  publicUrl: string;
  /** Bearer token for the operator API; undefined disables /admin (env ADMIN_TOKEN). */
  adminToken?: string;
  /**
   * Tenant API keys of the KYC status API (`GET /api/v1/kyc/{subject}/status`, env KYC_API_KEYS,
   * comma-separated); empty disables it. See README "KYC status API".
   */
  kycApiKeys: string[];
  /** Lifetimes, in seconds. */
  ttl: {
    /** SIOPv2 Authorization Request (its nonce) from the initiation GET. */
    siopRequest: number;
    /**
     * The pre-authorized code in the credential offer. Outlives the IDV form link (checked at
     * start): the offer is handed out with the form, and a wallet redeems it only after a slow
     * applicant finished the form, so the code must not expire while the form still works.
     */
    preAuthorizedCode: number;
    /** The IDV form link (`url` of the IDV Request). */
    idvForm: number;
    /** Access tokens. Long enough for deferred issuance after a manual review. */
    accessToken: number;
    /** c_nonce for proofs of possession. */
    cNonce: number;
  };
  /** Clock skew tolerated on exp/iat/nbf of tokens we receive, in seconds. */
  clockSkewSeconds: number;
  /**
   * Oldest proof JWT `iat` accepted, in seconds. Wallets build proofs ahead of the request
   * (Sphereon sets iat about a minute in the past), so the window is 5 minutes.
   */
  proofMaxAgeSeconds: number;
  /** Oldest SIOP ID token `iat` accepted, in seconds. */
  idTokenMaxAgeSeconds: number;
  /** Shown to the applicant in the SIOP client_metadata and in issuer metadata `display`. */
  clientName: string;
  /** The PFI's terms of service, linked from the form's consent step (env TOS_URI). */
  tosUri?: string;
  /** The PFI's privacy policy, linked from the form's consent step (env POLICY_URI). */
  policyUri?: string;
  /**
   * The rest of the SIOPv2 client_metadata the spec lists ("Initiate Application"; OIDC Dynamic
   * Client Registration §2): env ISSUER_LOGO_URI, ISSUER_TOS_URI, ISSUER_POLICY_URI (https URLs)
   * and ISSUER_CONTACTS (comma-separated). Omitted when unset.
   */
  clientMetadata: { logoUri?: string; tosUri?: string; policyUri?: string; contacts?: string[] };
  credential: {
    /** Key of credential_configurations_supported and the value in credential offers. */
    configurationId: string;
    /** KCC validity in days. */
    validityDays: number;
    /** Tier written into credentialSubject.tier when IDV does not set one. */
    defaultTier: string;
    /** ISO 3166-1 alpha-2 country of the PFI's KYC regime (credentialSubject.jurisdiction.country). */
    jurisdictionCountry: string;
    /**
     * credentialSchema id (env KCC_SCHEMA_ID). Default: the published KCC schema's id, which the
     * spec's example KCC carries and relying parties' definitions filter on. The issuer serves
     * the same schema at /schemas/kcc.schema.json either way.
     */
    schemaId: string;
  };
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /**
   * Request limits on the initiation, SIOP response, token, credential/deferred and IDV form
   * endpoints, per client IP and per client (applicant DID, or form link), per window.
   * Generous per IP because mobile carriers put many users behind one address.
   */
  rateLimits: {
    enabled: boolean;
    windowSeconds: number;
    perIp: number;
    perClient: number;
  };
  /**
   * Failed operator sign-ins (console login, operator API bearer) tolerated per window, per
   * client address and in total; past either, every attempt (right or wrong) is 429 until the
   * window ends. Independent of `rateLimits` so RATE_LIMITS=off never lifts it.
   */
  operatorAuthLimits: {
    enabled: boolean;
    windowSeconds: number;
    failuresPerIp: number;
    failuresGlobal: number;
  };
  /**
   * Four-eyes review (env REVIEW_FOUR_EYES=true): an operator's approval is only a proposal
   * until a second, different party confirms it (src/issuance/decisions.ts); every ADMIN_TOKEN
   * holder (operator API, first-start console) counts as one party. Rejections are not gated.
   */
  reviewFourEyes: boolean;
  /**
   * The PFI's DID method (env ISSUER_DID_METHOD): `web` (did:web from PUBLIC_URL), `dht`
   * (did:dht from an Ed25519 identity key, published to DID_DHT_GATEWAY) or `jwk` (did:jwk of
   * the signing key: no services, so wallets start from the IDV endpoint URL). See docs/dids-and-keys.md.
   */
  didMethod: IssuerDidMethod;
  /**
   * OID4VCI 1.0 deferred issuance: the `interval` (seconds) a wallet should wait between deferred
   * requests (§8.3, §9.2). Draft-13 wallets poll on `issuance_pending` instead.
   */
  deferredIntervalSeconds: number;
  /** Identity verification (docs/idv.md). */
  idv: {
    /** Provider whose webview the IDV Request `url` leads to: `hosted` (the built-in form) or a vendor name (env IDV_PROVIDER). */
    provider: string;
    /** Days PII is kept after a decision before it is purged (env PII_RETENTION_DAYS). */
    retentionDays: number;
    /**
     * Vendor webhooks signed over the body alone (no signed delivery time): events whose signed
     * event time is older than this are refused as replays, in seconds (env IDV_WEBHOOK_REPLAY_WINDOW_SECONDS).
     * Longer than the vendor's retry period, so genuine retries still arrive.
     */
    webhookReplayWindowSeconds: number;
    /** Largest incoming IDV vendor webhook, in bytes (vendors include the whole verification). */
    webhookMaxBodyBytes: number;
    /** Outbound webhooks to the PFI's systems (env PFI_WEBHOOK_URL); undefined: events are kept in the outbox only. */
    outboundWebhookUrl?: string;
    /** Delivery attempts before an outbound event is marked failed. */
    outboundMaxAttempts: number;
    /** First retry delay in seconds; doubles per attempt up to outboundMaxBackoffSeconds. */
    outboundBackoffSeconds: number;
    outboundMaxBackoffSeconds: number;
    /** Review console session lifetime from sign-in (absolute timeout), in seconds (env CONSOLE_SESSION_SECONDS). */
    consoleSessionSeconds: number;
    /**
     * Optional data uses the PFI asks the applicant about on the consent step, one checkbox each
     * (unticked by default); the choices are recorded in the audit trail by id.
     */
    optionalConsents?: ConsentItem[];
    /** A console session without a request for this long ends (idle timeout), in seconds (env CONSOLE_IDLE_SECONDS). */
    consoleIdleSeconds: number;
  };
  /**
   * KCC tiers (spec "Multiple Credential Types"): each is a credential configuration in the
   * issuer metadata and a Presentation Definition at /presentation-definitions/<id>; the
   * initiation GET selects one with presentation_definition_id. Default: one tier built from
   * `credential` (id = configurationId, name = defaultTier). See docs/tiers-and-status.md.
   */
  tiers: TierConfig[];
  /** Tier issued when the initiation GET names none. Default: the first tier. */
  defaultTierId: string;
  /** Bitstring Status List v1.0 options (see docs/tiers-and-status.md). */
  statusList: {
    /** Entries per list (bits); the spec's minimum, 131,072, gives herd privacy. */
    size: number;
    /** A new list is opened once this share of the current one is allocated (random indices stay cheap to find). */
    maxFill: number;
    /** Cache-Control max-age of the served status list credential, in seconds. */
    cacheSeconds: number;
    /** Validity of a signed status list credential, in seconds (relying parties refetch after). */
    validitySeconds: number;
  };
}

/** One optional consent item of the hosted form's consent step. */
export interface ConsentItem {
  /** Recorded in the audit trail: [A-Za-z0-9._-], at most 64 characters. */
  id: string;
  /** Shown beside the checkbox, in the PFI's words. */
  text: string;
}

export type IssuerDidMethod = 'web' | 'dht' | 'jwk';
export const ISSUER_DID_METHODS: readonly IssuerDidMethod[] = ['web', 'dht', 'jwk'];

/** One KCC tier, a level of KYC diligence (spec "Multiple Credential Types"). */
export interface TierConfig {
  /** presentation_definition_id, credential configuration id and Presentation Definition id. */
  id: string;
  /** Human-readable name; written into credentialSubject.tier. */
  name: string;
  /** Evidence kinds IDV must have verified (evidence[*].kind), e.g. document_verification, sanction_screening. */
  requiredChecks: string[];
  /** KCC validity in days. */
  validityDays: number;
  /**
   * How long a check's evidence stays usable, per kind, in days (renewal redoes only the
   * checks that aged out). A kind not listed ages out with the credential (validityDays).
   */
  evidenceMaxAgeDays?: Record<string, number>;
  /**
   * Issuers (DIDs) whose KCCs the applicant may present to skip checks already done; the
   * string "self" stands for this PFI's DID. Empty or absent: the SIOP request carries no
   * presentation_definition and every check is done in IDV.
   */
  acceptsPriorCredentialsFrom?: string[];
  /** Optional description shown in metadata and the Presentation Definition's purpose. */
  description?: string;
}

export type IssuerConfigInput = Partial<
  Omit<IssuerConfig, 'ttl' | 'credential' | 'rateLimits' | 'operatorAuthLimits' | 'idv' | 'statusList' | 'kycApiKeys' | 'clientMetadata'>
> & {
  kycApiKeys?: string[];
  clientMetadata?: IssuerConfig['clientMetadata'];
  publicUrl: string;
  rateLimits?: Partial<IssuerConfig['rateLimits']>;
  operatorAuthLimits?: Partial<IssuerConfig['operatorAuthLimits']>;
  idv?: Partial<IssuerConfig['idv']>;
  ttl?: Partial<IssuerConfig['ttl']>;
  credential?: Partial<IssuerConfig['credential']>;
  tiers?: TierConfig[];
  defaultTierId?: string;
  statusList?: Partial<IssuerConfig['statusList']>;
};

/** The `$id` of the published KCC JSON schema (schemas/kcc.schema.json). */
export const KCC_SCHEMA_ID = 'https://vc.schemas.host/kcc.schema.json';

export const DEFAULTS = {
  ttl: {
    siopRequest: 10 * 60,
    // The form's hour plus an hour for the wallet to redeem after the last minute of the form.
    preAuthorizedCode: 2 * 60 * 60,
    idvForm: 60 * 60,
    accessToken: 24 * 60 * 60,
    cNonce: 5 * 60,
  },
  clockSkewSeconds: 60,
  proofMaxAgeSeconds: 5 * 60,
  idTokenMaxAgeSeconds: 10 * 60,
  clientName: 'KCC Issuer',
  credential: {
    configurationId: 'KnownCustomerCredential',
    validityDays: 365,
    defaultTier: 'Standard',
    jurisdictionCountry: 'US',
    schemaId: KCC_SCHEMA_ID,
  },
  maxBodyBytes: 64 * 1024,
  rateLimits: { enabled: true, windowSeconds: 60, perIp: 300, perClient: 30 },
  operatorAuthLimits: { enabled: true, windowSeconds: 60, failuresPerIp: 10, failuresGlobal: 100 },
  reviewFourEyes: false,
  didMethod: 'web',
  deferredIntervalSeconds: 5,
  idv: {
    provider: 'hosted',
    retentionDays: 30,
    webhookMaxBodyBytes: 1024 * 1024,
    webhookReplayWindowSeconds: 3 * 24 * 60 * 60,
    outboundMaxAttempts: 12,
    outboundBackoffSeconds: 30,
    outboundMaxBackoffSeconds: 6 * 60 * 60,
    consoleSessionSeconds: 8 * 60 * 60,
    consoleIdleSeconds: 30 * 60,
  },
  statusList: {
    size: 131_072,
    maxFill: 0.5,
    cacheSeconds: 300,
    validitySeconds: 24 * 60 * 60,
  },
} as const;

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
  }
  return tiers;
}

export const MIN_ADMIN_TOKEN_LENGTH = 32;

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
  return {
    publicUrl,
    adminToken: input.adminToken || undefined,
    kycApiKeys: (input.kycApiKeys ?? []).filter((k) => k.length > 0),
    ttl,
    clockSkewSeconds: input.clockSkewSeconds ?? DEFAULTS.clockSkewSeconds,
    proofMaxAgeSeconds: input.proofMaxAgeSeconds ?? DEFAULTS.proofMaxAgeSeconds,
    idTokenMaxAgeSeconds: input.idTokenMaxAgeSeconds ?? DEFAULTS.idTokenMaxAgeSeconds,
    clientName: input.clientName || DEFAULTS.clientName,
    tosUri: httpsUriOption('TOS_URI', input.tosUri),
    policyUri: httpsUriOption('POLICY_URI', input.policyUri),
    clientMetadata: { ...defined(input.clientMetadata) },
    credential: { ...DEFAULTS.credential, ...defined(input.credential) },
    maxBodyBytes: input.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
    rateLimits: { ...DEFAULTS.rateLimits, ...defined(input.rateLimits) },
    operatorAuthLimits: { ...DEFAULTS.operatorAuthLimits, ...defined(input.operatorAuthLimits) },
    reviewFourEyes: input.reviewFourEyes ?? DEFAULTS.reviewFourEyes,
    didMethod: input.didMethod ?? DEFAULTS.didMethod,
    deferredIntervalSeconds: input.deferredIntervalSeconds ?? DEFAULTS.deferredIntervalSeconds,
    idv: { ...DEFAULTS.idv, ...defined(input.idv), optionalConsents: resolveConsentItems(input.idv?.optionalConsents) },
    ...resolveTierOptions(input),
  };
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

const TierConfigWire = z.object({
  id: z.string(),
  name: z.string(),
  requiredChecks: z.array(z.string().min(1).max(64)).max(20),
  validityDays: z.number().positive(),
  evidenceMaxAgeDays: z.record(z.string(), z.number().positive()).optional(),
  acceptsPriorCredentialsFrom: z.array(z.string().min(1).max(2000)).max(50).optional(),
  description: z.string().max(500).optional(),
});
const TiersFileWire = z.object({ defaultTierId: z.string().optional(), tiers: z.array(TierConfigWire).min(1).max(20) });

/**
 * Parses the tiers file (env KCC_TIERS_FILE on Node; a JSON binding on Workers):
 * `{ "defaultTierId"?: string, "tiers": TierConfig[] }`. See docs/tiers-and-status.md.
 */
export function parseTiersConfig(json: unknown): Pick<IssuerConfigInput, 'tiers' | 'defaultTierId'> {
  const parsed = TiersFileWire.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`tiers configuration: ${issue?.path.join('.') || 'root'}: ${issue?.message ?? 'invalid'}`);
  }
  return { tiers: parsed.data.tiers, defaultTierId: parsed.data.defaultTierId };
}

function absoluteUrl(name: string, text: string): string {
  if (!URL.canParse(text) || !/^https?:$/.test(new URL(text).protocol)) throw new TypeError(`${name} must be an absolute http(s) URL`);
  return text;
}

/** Log levels the runtimes implement (LOG_LEVEL). */
export const LOG_LEVELS = ['info', 'silent'];

/** A tiers document from a setting's text, with the setting named in every error. */
export function tiersFromJson(name: string, text: string): Pick<IssuerConfigInput, 'tiers' | 'defaultTierId'> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new TypeError(`${name} must be JSON: { "defaultTierId"?: string, "tiers": [...] } (docs/tiers-and-status.md)`);
  }
  try {
    return parseTiersConfig(json);
  } catch (e) {
    throw new TypeError(`${name}: ${(e as Error).message}`);
  }
}

/** KYC_API_KEYS: comma-separated tenant keys, each at least 32 characters (they are bearer secrets). */
function kycApiKeys(text: string | undefined): string[] | undefined {
  if (!text) return undefined;
  const keys = text
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  for (const key of keys) if (key.length < 32) throw new TypeError('KYC_API_KEYS must be comma-separated keys of at least 32 characters each');
  return keys;
}

/**
 * The settings both runtimes read from their environment (Node: the process environment; Workers: vars and
 * secrets), as a config input. PUBLIC_URL, keys and DID settings are runtime-specific and read there.
 */
export function configFromSettings(env: Record<string, string | undefined>): Omit<IssuerConfigInput, 'publicUrl'> {
  const number = (name: string): number | undefined => {
    const text = env[name];
    if (text === undefined || text === '') return undefined;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number`);
    return value;
  };
  const httpsUrl = (name: string): string | undefined => {
    const text = env[name];
    if (!text) return undefined;
    let parsed: URL | undefined;
    try {
      parsed = new URL(text);
    } catch {
      parsed = undefined;
    }
    if (parsed?.protocol !== 'https:') throw new TypeError(`${name} must be an https URL`);
    return text;
  };
  if (env.LOG_LEVEL && !LOG_LEVELS.includes(env.LOG_LEVEL))
    throw new TypeError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(env.LOG_LEVEL.slice(0, 40))})`);
  const contacts = env.ISSUER_CONTACTS
    ? env.ISSUER_CONTACTS.split(',')
        .map((c) => c.trim())
        .filter(Boolean)
    : undefined;
  if (contacts?.some((c) => c.length > 200))
    throw new TypeError('ISSUER_CONTACTS must be comma-separated contacts (e-mail addresses), each under 200 characters');
  const fourEyes = env.REVIEW_FOUR_EYES;
  if (fourEyes !== undefined && fourEyes !== '' && fourEyes !== 'true' && fourEyes !== 'false') {
    throw new TypeError(`REVIEW_FOUR_EYES must be true or false (got ${JSON.stringify(fourEyes.slice(0, 40))})`);
  }
  return {
    adminToken: env.ADMIN_TOKEN || undefined,
    reviewFourEyes: fourEyes === 'true' ? true : fourEyes === 'false' ? false : undefined,
    kycApiKeys: kycApiKeys(env.KYC_API_KEYS),
    clientName: env.ISSUER_NAME || undefined,
    tosUri: env.TOS_URI || undefined,
    policyUri: env.POLICY_URI || undefined,
    clientMetadata: { logoUri: httpsUrl('ISSUER_LOGO_URI'), tosUri: httpsUrl('ISSUER_TOS_URI'), policyUri: httpsUrl('ISSUER_POLICY_URI'), contacts },
    credential: {
      jurisdictionCountry: env.KCC_JURISDICTION || undefined,
      validityDays: number('KCC_VALIDITY_DAYS'),
      ...(env.KCC_SCHEMA_ID ? { schemaId: absoluteUrl('KCC_SCHEMA_ID', env.KCC_SCHEMA_ID) } : {}),
    },
    ttl: {
      siopRequest: number('TTL_SIOP_REQUEST_SECONDS'),
      preAuthorizedCode: number('TTL_PRE_AUTHORIZED_CODE_SECONDS'),
      idvForm: number('TTL_IDV_FORM_SECONDS'),
      accessToken: number('TTL_ACCESS_TOKEN_SECONDS'),
      cNonce: number('TTL_C_NONCE_SECONDS'),
    },
    // Workers have no files: the tiers come as a JSON var (KCC_TIERS); Node reads KCC_TIERS_FILE.
    ...(env.KCC_TIERS ? tiersFromJson('KCC_TIERS', env.KCC_TIERS) : {}),
    rateLimits: { enabled: env.RATE_LIMITS !== 'off', perIp: number('RATE_LIMIT_PER_IP'), perClient: number('RATE_LIMIT_PER_CLIENT') },
    idv: {
      ...(env.IDV_PROVIDER ? { provider: env.IDV_PROVIDER } : {}),
      ...(env.PII_RETENTION_DAYS ? { retentionDays: number('PII_RETENTION_DAYS') } : {}),
      ...(env.PFI_WEBHOOK_URL ? { outboundWebhookUrl: env.PFI_WEBHOOK_URL } : {}),
      consoleSessionSeconds: number('CONSOLE_SESSION_SECONDS'),
      consoleIdleSeconds: number('CONSOLE_IDLE_SECONDS'),
      webhookReplayWindowSeconds: number('IDV_WEBHOOK_REPLAY_WINDOW_SECONDS'),
    },
  };
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
