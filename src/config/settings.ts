import {
  apiKeys,
  brandColour,
  commaList,
  contacts,
  decimalId,
  httpsUrl,
  httpUrl,
  otlpHeaders,
  incodeIssuer,
  integerFromTo,
  intervalMilliseconds,
  jsonText,
  key32,
  labelList,
  oneOf,
  onlyTrue,
  openidScope,
  portNumber,
  positiveMilliseconds,
  positiveNumber,
  publicBaseUrl,
  sqliteSynchronousMode,
  text,
  tiersDocument,
  trueOrFalse,
  unlessOff,
} from './parsers';
import { defaultsOf, givenTable, readTable, setting, settingsList, unset, type Environment, type Runtime, type SettingsOf } from './setting';
import type { ConsentItem, TierConfig } from './tiers';
import { LOG_LEVELS } from '../ports/logger';

export type IssuerDidMethod = 'web' | 'dht' | 'jwk';
/** SDJWT_VC_SIGNING_ALG: what signs the SD-JWT VC KCC and the Token Status List (src/crypto/keys.ts CredentialAlgorithm). */
export type SdJwtVcSigningAlg = 'EdDSA' | 'ES256' | 'ES256K';
export const SDJWT_VC_SIGNING_ALGS: readonly SdJwtVcSigningAlg[] = ['EdDSA', 'ES256', 'ES256K'];
export const ISSUER_DID_METHODS: readonly IssuerDidMethod[] = ['web', 'dht', 'jwk'];

/** Log levels the runtimes implement (LOG_LEVEL): src/ports/logger.ts. */
export { LOG_LEVELS };

/** The `$id` of the published KCC JSON schema (schemas/kcc.schema.json). */
export const KCC_SCHEMA_ID = 'https://vc.schemas.host/kcc.schema.json';

/**
 * Every option of the issuer, once: environment variable, parser, default, one line of
 * documentation (node-oidc-provider's lib/helpers/defaults.js is the model). `issuer` is the
 * config the app reads (`IssuerConfig`, src/config.ts); the other sections are read by the
 * runtimes (src/runtime/nodeSettings.ts, src/runtime/workerIssuer.ts), the IDV wiring
 * (src/idv/fromSettings.ts) and the CLIs. Nothing else reads the environment
 * (test/config/settingsTable.test.ts). The README's configuration table is generated from this
 * one (`npm run docs:settings`). Adding an option is one entry here; an entry without `env` is
 * set in code only (config input or Node options).
 */
export const SETTINGS = {
  issuer: {
    publicUrl: unset({
      env: 'PUBLIC_URL',
      parse: publicBaseUrl,
      defaultText: 'Node: `http://localhost:$PORT`; Workers: required',
      doc: 'credential issuer identifier, base of every URL handed out, and the source of the did:web',
    }),
    adminToken: unset({
      env: 'ADMIN_TOKEN',
      parse: text,
      secret: true,
      doc: 'bearer token of the operator API (machine access; at least 32 characters, else the issuer refuses to start); unset disables `/admin`. It signs in to the review console only while no operator account exists (first start); the console is off while there is neither',
    }),
    kycApiKeys: setting<string[]>({
      env: 'KYC_API_KEYS',
      parse: apiKeys,
      default: [],
      secret: true,
      doc: 'tenant keys (comma-separated `name:key`, or bare keys named `tenant-<n>`; keys 32+ characters) of the [KYC status API](docs/guide.md#kyc-status-api) (`GET /api/v1/kyc/{subject}/status`); empty disables it',
    }),
    /** Lifetimes, in seconds. */
    ttl: {
      siopRequest: setting({
        env: 'TTL_SIOP_REQUEST_SECONDS',
        parse: positiveNumber,
        default: 10 * 60,
        doc: 'lifetime of the SIOPv2 Authorization Request (its nonce), in seconds',
      }),
      // The form's hour plus an hour for the wallet to redeem after the last minute of the form:
      // the offer is handed out with the form, so the code must not expire while the form still works.
      preAuthorizedCode: setting({
        env: 'TTL_PRE_AUTHORIZED_CODE_SECONDS',
        parse: positiveNumber,
        default: 2 * 60 * 60,
        doc: 'lifetime of the pre-authorized code in the credential offer, in seconds; must outlive the IDV form (refused at start otherwise)',
      }),
      idvForm: setting({
        env: 'TTL_IDV_FORM_SECONDS',
        parse: positiveNumber,
        default: 60 * 60,
        doc: 'lifetime of the IDV form link (`url` of the IDV Request), in seconds',
      }),
      accessToken: setting({
        env: 'TTL_ACCESS_TOKEN_SECONDS',
        parse: positiveNumber,
        default: 24 * 60 * 60,
        doc: 'lifetime of access tokens, in seconds; long enough for deferred issuance after a manual review',
      }),
      cNonce: setting({
        env: 'TTL_C_NONCE_SECONDS',
        parse: positiveNumber,
        default: 5 * 60,
        doc: 'lifetime of a c_nonce for proofs of possession, in seconds',
      }),
    },
    clockSkewSeconds: setting({ default: 60, doc: 'clock skew tolerated on exp/iat/nbf of tokens we receive, in seconds' }),
    // Wallets build proofs ahead of the request (Sphereon sets iat about a minute in the past).
    proofMaxAgeSeconds: setting({ default: 5 * 60, doc: 'oldest proof JWT `iat` accepted, in seconds' }),
    idTokenMaxAgeSeconds: setting({ default: 10 * 60, doc: 'oldest SIOP ID token `iat` accepted, in seconds' }),
    clientName: setting({ env: 'ISSUER_NAME', parse: text, default: 'KCC Issuer', doc: 'shown to applicants (client_metadata, metadata `display`, form)' }),
    tosUri: unset({ env: 'TOS_URI', parse: text, doc: "the PFI's terms of service, linked from the form's consent step (an http(s) URL)" }),
    policyUri: unset({ env: 'POLICY_URI', parse: text, doc: "the PFI's privacy policy, linked from the form's consent step (an http(s) URL)" }),
    /** The rest of the SIOPv2 client_metadata the spec lists ("Initiate Application"; OIDC Dynamic Client Registration §2); omitted when unset. */
    clientMetadata: {
      logoUri: unset({ env: 'ISSUER_LOGO_URI', parse: httpsUrl, doc: 'SIOPv2 `client_metadata.logo_uri` (an https URL)' }),
      tosUri: unset({ env: 'ISSUER_TOS_URI', parse: httpsUrl, doc: 'SIOPv2 `client_metadata.tos_uri` (an https URL)' }),
      policyUri: unset({ env: 'ISSUER_POLICY_URI', parse: httpsUrl, doc: 'SIOPv2 `client_metadata.policy_uri` (an https URL)' }),
      contacts: unset({ env: 'ISSUER_CONTACTS', parse: contacts, doc: 'SIOPv2 `client_metadata.contacts` (comma-separated e-mail addresses)' }),
    },
    credential: {
      configurationId: setting({
        default: 'KnownCustomerCredential',
        doc: 'key of credential_configurations_supported and the value in credential offers (the default tier)',
      }),
      validityDays: setting({
        env: 'KCC_VALIDITY_DAYS',
        parse: positiveNumber,
        default: 365,
        doc: 'KCC validity of the default tier, in days (a tiers file sets its own per tier)',
      }),
      defaultTier: setting({ default: 'Standard', doc: 'tier written into `credentialSubject.tier` when IDV does not set one' }),
      jurisdictionCountry: setting({
        env: 'KCC_JURISDICTION',
        parse: text,
        default: 'US',
        doc: "ISO 3166-1 alpha-2 country of the PFI's KYC regime (`credentialSubject.jurisdiction.country`)",
      }),
      schemaId: setting({
        env: 'KCC_SCHEMA_ID',
        parse: httpUrl,
        default: KCC_SCHEMA_ID,
        doc: "`credentialSchema.id` of issued KCCs: the published schema's id, which the spec's example KCC carries and relying parties filter on. The same schema is served at `/schemas/kcc.schema.json` either way",
      }),
    },
    maxBodyBytes: setting({ default: 64 * 1024, doc: 'largest request body accepted, in bytes' }),
    // Generous per IP because mobile carriers put many users behind one address.
    rateLimits: {
      enabled: setting({
        env: 'RATE_LIMITS',
        parse: unlessOff,
        default: true,
        defaultText: 'on',
        doc: '`off` disables the request limits (benchmarks); see [SECURITY.md](SECURITY.md)',
      }),
      windowSeconds: setting({ default: 60, doc: 'window of the request limits, in seconds' }),
      perIp: setting({
        env: 'RATE_LIMIT_PER_IP',
        parse: positiveNumber,
        default: 300,
        doc: 'requests per window per client IP on the initiation, SIOP response, token, credential/deferred and IDV form endpoints',
      }),
      perClient: setting({
        env: 'RATE_LIMIT_PER_CLIENT',
        parse: positiveNumber,
        default: 30,
        doc: 'requests per window per client (applicant DID, or form link) on the same endpoints',
      }),
    },
    // Independent of rateLimits so RATE_LIMITS=off never lifts it.
    operatorAuthLimits: {
      enabled: setting({ default: true, doc: 'failed operator sign-ins (console login, operator API bearer) are limited' }),
      windowSeconds: setting({ default: 60, doc: 'window of the operator sign-in limit, in seconds' }),
      failuresPerIp: setting({ default: 10, doc: 'failed sign-ins per window per client address; past it every attempt is 429 until the window ends' }),
      failuresPerAccount: setting({
        default: 20,
        doc: 'failed console sign-ins per window per account name; past it that name is 429 from addresses that already failed (never from a clean address)',
      }),
      failuresGlobal: setting({
        default: 100,
        doc: 'failed sign-ins per window in total; past it failures are answered `globalFailureDelayMs` later and alert (log line, metric), but nothing is refused',
      }),
      globalFailureDelayMs: setting({ default: 1000, doc: 'delay of each failed sign-in past `failuresGlobal`, in ms' }),
    },
    reviewFourEyes: setting({
      env: 'REVIEW_FOUR_EYES',
      parse: trueOrFalse,
      default: false,
      doc: '`true`: an approval (console or API) is a proposal until a second, different operator confirms it (src/issuance/decisions.ts); every `ADMIN_TOKEN` holder counts as one party; rejections are not gated. `true` or `false` only. See [Operator accounts](docs/guide.md#operator-accounts-roles-and-four-eyes)',
    }),
    didMethod: setting<IssuerDidMethod>({
      env: 'ISSUER_DID_METHOD',
      parse: oneOf(ISSUER_DID_METHODS, 'must be web, dht or jwk'),
      default: 'web',
      only: 'node',
      doc: '`web` (did:web from `PUBLIC_URL`), `dht` (did:dht from an Ed25519 identity key, published to `DID_DHT_GATEWAY`) or `jwk` (did:jwk of the signing key); see [docs/dids-and-keys.md](docs/dids-and-keys.md)',
    }),
    deferredIntervalSeconds: setting({
      default: 5,
      doc: 'OID4VCI 1.0 deferred issuance `interval` a wallet should wait between deferred requests (§8.3, §9.2), in seconds',
    }),
    /** Identity verification (docs/idv.md). */
    idv: {
      provider: setting({
        env: 'IDV_PROVIDER',
        parse: text,
        default: 'hosted',
        doc: "`hosted` (the built-in form), `persona`, `incode`, or the generic vendor's name; vendor settings in [docs/idv.md](docs/idv.md)",
      }),
      retentionDays: setting({ env: 'PII_RETENTION_DAYS', parse: positiveNumber, default: 30, doc: 'days PII is kept after a decision before it is purged' }),
      // Longer than vendors' retry periods, so genuine retries still arrive.
      webhookReplayWindowSeconds: setting({
        env: 'IDV_WEBHOOK_REPLAY_WINDOW_SECONDS',
        parse: positiveNumber,
        default: 3 * 24 * 60 * 60,
        doc: 'oldest signed event time accepted from a vendor whose signature covers the body only (replays), in seconds',
      }),
      webhookMaxBodyBytes: setting({ default: 1024 * 1024, doc: 'largest incoming IDV vendor webhook, in bytes (vendors include the whole verification)' }),
      outboundWebhookUrl: unset({
        env: 'PFI_WEBHOOK_URL',
        parse: httpUrl,
        doc: "outbound signed webhooks to the PFI's systems (durable outbox, retries); unset: events stay in the outbox",
      }),
      outboundMaxAttempts: setting({ default: 12, doc: 'delivery attempts before an outbound event is marked failed' }),
      outboundBackoffSeconds: setting({ default: 30, doc: 'first outbound retry delay, in seconds; doubles per attempt' }),
      outboundMaxBackoffSeconds: setting({ default: 6 * 60 * 60, doc: 'longest outbound retry delay, in seconds' }),
      consoleSessionSeconds: setting({
        env: 'CONSOLE_SESSION_SECONDS',
        parse: positiveNumber,
        default: 8 * 60 * 60,
        doc: 'review console session lifetime from sign-in (absolute timeout), in seconds',
      }),
      consoleIdleSeconds: setting({
        env: 'CONSOLE_IDLE_SECONDS',
        parse: positiveNumber,
        default: 30 * 60,
        doc: 'a console session without a request for this long ends (idle timeout), in seconds',
      }),
      optionalConsents: setting<ConsentItem[]>({
        default: [],
        doc: 'optional data uses the PFI asks about on the consent step, one unticked checkbox each; choices recorded in the audit trail by id',
      }),
    },
    /** The PFI's look on the applicant pages and the console (name: ISSUER_NAME, logo: ISSUER_LOGO_URI). */
    branding: {
      primaryColor: setting({
        env: 'BRAND_PRIMARY_COLOR',
        parse: brandColour,
        default: '#1d4ed8',
        doc: "buttons, links and header of the applicant pages, `#rrggbb`; refused unless white text on it reaches WCAG's 4.5:1 contrast",
      }),
    },
    reviewExpectedHours: setting({
      env: 'REVIEW_EXPECTED_HOURS',
      parse: positiveNumber,
      default: 48,
      doc: 'the finish page tells an applicant sent to manual review to expect an answer within this many hours',
    }),
    /** Know Your Agent tokens (docs/kya.md, src/issuance/kya.ts). */
    kya: {
      // Short: a merchant learns of a revoked KCC only from its status list, which it may cache.
      tokenLifetimeMinutes: setting({
        env: 'KYA_TOKEN_LIFETIME_MINUTES',
        parse: integerFromTo(1, 1440),
        default: 15,
        doc: "lifetime of a KYA token in minutes (1 to 1440), never beyond the KCC's own expiry",
      }),
    },
    /** SD-JWT VC KCCs beside each tier's jwt_vc_json one, encrypted responses, batches (docs/formats.md). */
    sdJwtVc: {
      offered: setting({
        env: 'SDJWT_VC_OFFERED',
        parse: trueOrFalse,
        default: true,
        doc: "offer a `dc+sd-jwt` configuration (`<tier id>_sd_jwt`) beside each tier's `jwt_vc_json` one (metadata and offers), with `credential_response_encryption` and `batch_credential_issuance` (OID4VCI 1.0); draft-13 wallets keep taking the `jwt_vc_json` one (see docs/formats.md)",
      }),
      vct: unset({
        env: 'SDJWT_VC_VCT',
        parse: text,
        defaultText: '`<PUBLIC_URL>/vct/known-customer-credential` (Type Metadata served there)',
        doc: 'the `vct` of the SD-JWT VC KCC (a URI, printable ASCII, at most 512 characters)',
      }),
      batchSize: setting({
        env: 'SDJWT_VC_BATCH_SIZE',
        parse: integerFromTo(1, 20),
        default: 5,
        doc: '`batch_credential_issuance.batch_size`: most SD-JWT VC copies (one per proof, each with its own key and status index) one request may ask for, 1 to 20',
      }),
      signingAlg: unset<SdJwtVcSigningAlg>({
        env: 'SDJWT_VC_SIGNING_ALG',
        parse: oneOf(SDJWT_VC_SIGNING_ALGS),
        defaultText: 'the algorithm of the key that signs the `jwt_vc_json` KCC',
        doc: '`EdDSA`, `ES256` or `ES256K`: the issuer key that signs SD-JWT VC KCCs and the Token Status List (the newest of that algorithm; `ES256` is P-256, what HAIP/EUDI wallets expect, a key generated into the key file on Node or a P-256 JWK in `ISSUER_PRIVATE_JWK`, did:web only); `jwt_vc_json` KCCs stay EdDSA/ES256K. See docs/formats.md',
      }),
      encryptionRequired: setting({
        env: 'SDJWT_VC_ENCRYPTION_REQUIRED',
        parse: trueOrFalse,
        default: false,
        doc: '`credential_response_encryption.encryption_required`: refuse (`invalid_encryption_parameters`) a 1.0 credential or deferred request that does not ask for an encrypted response',
      }),
    },
    tiers: setting<TierConfig[]>({
      default: [],
      doc: 'KCC tiers (spec "Multiple Credential Types"); empty: one tier from `credential`. See [docs/tiers-and-status.md](docs/tiers-and-status.md)',
    }),
    defaultTierId: unset<string>({ doc: 'tier issued when the initiation GET names none; unset: the first tier' }),
    /** Bitstring Status List v1.0 options (see docs/tiers-and-status.md). */
    statusList: {
      size: setting({ default: 131_072, doc: "entries per status list (bits); the spec's minimum, 131,072, gives herd privacy" }),
      maxFill: setting({ default: 0.5, doc: 'a new list is opened once this share of the current one is allocated (random indices stay cheap to find)' }),
      cacheSeconds: setting({ default: 300, doc: 'Cache-Control max-age of the served status list credential, in seconds' }),
      validitySeconds: setting({ default: 24 * 60 * 60, doc: 'validity of a signed status list credential, in seconds (relying parties refetch after)' }),
    },
  },

  /** The tiers document (docs/tiers-and-status.md), parsed into `issuer.tiers` and `issuer.defaultTierId`. */
  tiersDocument: {
    json: unset({ env: 'KCC_TIERS', parse: tiersDocument, doc: 'the tiers document as JSON (Workers, which have no files; Node may use it too)' }),
    file: unset({ env: 'KCC_TIERS_FILE', parse: text, only: 'node', doc: 'a file holding the tiers document (one tier from the defaults otherwise)' }),
  },

  /** Credentials people already hold, as IDV input (docs/credentials-as-input.md): the trust configuration, parsed at start. */
  presentedCredentials: {
    trust: unset({
      env: 'PRESENTED_CREDENTIAL_TRUST',
      parse: jsonText,
      doc: "trust anchors and accepted credentials (EU PID, mDL, other issuers' VCs) as JSON (Workers; Node may use it too); a tier lists the entries it accepts in `acceptsCredentials`",
    }),
    trustFile: unset({
      env: 'PRESENTED_CREDENTIAL_TRUST_FILE',
      parse: text,
      only: 'node',
      doc: 'a file holding that trust configuration (takes precedence over `PRESENTED_CREDENTIAL_TRUST`)',
    }),
  },

  /** The Node HTTP server (src/runtime/nodeServer.ts). */
  server: {
    port: setting({ env: 'PORT', parse: portNumber, default: 3000, only: 'node', doc: 'listen port (0: any free one)' }),
    // One default for `npm start` and startNodeIssuer: all interfaces, as a server in a container
    // needs (startNodeIssuer used to default to 127.0.0.1 while `npm start` bound 0.0.0.0).
    host: setting({ env: 'HOST', parse: text, default: '0.0.0.0', only: 'node', doc: 'listen address; `127.0.0.1` keeps the server to this machine' }),
    trustProxy: setting({
      env: 'TRUST_PROXY',
      parse: onlyTrue,
      default: false,
      only: 'node',
      doc: 'behind a reverse proxy: rate-limit by the last `X-Forwarded-For` hop',
    }),
    logLevel: setting<(typeof LOG_LEVELS)[number]>({
      env: 'LOG_LEVEL',
      parse: oneOf(LOG_LEVELS),
      default: 'info',
      doc: '`debug`, `info`, `warn`, `error` or `silent`: lines at this level and above; `debug` adds each scheduled job run; `silent` writes nothing, errors included (`error` is the quietest that still logs them)',
    }),
    /** Graceful shutdown on SIGTERM / SIGINT (src/runtime/nodeServer.ts `close`). */
    shutdown: {
      drainMs: setting({
        env: 'SHUTDOWN_DRAIN_MS',
        parse: intervalMilliseconds,
        default: 0,
        only: 'node',
        doc: 'on SIGTERM/SIGINT, how long `/readyz` answers 503 while new connections are still accepted, in ms; behind a load balancer set it above its health-check interval (e.g. `10000`)',
      }),
      timeoutMs: setting({
        env: 'SHUTDOWN_TIMEOUT_MS',
        parse: positiveMilliseconds,
        default: 20_000,
        only: 'node',
        doc: "then how long requests in flight, the background job run in flight and the database's close may take together before what is left is cut, in ms (keep drain + timeout below the supervisor's kill timeout)",
      }),
    },
    // Node's own defaults allow 300 s per request: slow-client protection.
    httpTimeouts: {
      headersMs: setting({
        env: 'HTTP_HEADERS_TIMEOUT_MS',
        parse: positiveMilliseconds,
        default: 10_000,
        only: 'node',
        doc: 'time to receive the request line and headers, in ms; a slower client is disconnected',
      }),
      requestMs: setting({
        env: 'HTTP_REQUEST_TIMEOUT_MS',
        parse: positiveMilliseconds,
        default: 30_000,
        only: 'node',
        doc: 'time to receive the whole request, body included, in ms',
      }),
      keepAliveMs: setting({
        env: 'HTTP_KEEP_ALIVE_TIMEOUT_MS',
        parse: positiveMilliseconds,
        default: 5_000,
        only: 'node',
        doc: 'how long an idle keep-alive connection stays open, in ms',
      }),
    },
  },

  /** `npm run worker:dev` (src/runtime/workerDev.ts): `wrangler dev`'s address when neither a flag nor PORT / HOST names one. */
  workerDev: {
    port: setting({ default: 8787, doc: '`npm run worker:dev`: port of `wrangler dev` without `--port` or `PORT`' }),
    host: setting({ default: '127.0.0.1', doc: '`npm run worker:dev`: address of `wrangler dev` without `--ip` or `HOST`' }),
  },

  /** Where the data lives on Node (src/runtime/sqlite.ts, src/runtime/postgres.ts). */
  storage: {
    dataDir: setting({
      env: 'DATA_DIR',
      parse: text,
      default: './data',
      only: 'node',
      doc: 'SQLite database (`kcc-issuer.db`, WAL) and the generated key file; migrations run at start',
    }),
    sqliteSynchronous: setting<'NORMAL' | 'FULL'>({
      env: 'SQLITE_SYNCHRONOUS',
      parse: sqliteSynchronousMode,
      default: 'NORMAL',
      only: 'node',
      doc: '`NORMAL` (WAL: no corruption, may lose the last commits on power loss) or `FULL`. WAL checkpoints run on a background thread with its own connection',
    }),
    databaseUrl: unset({
      env: 'DATABASE_URL',
      parse: text,
      secret: true,
      only: 'node',
      defaultText: 'unset (SQLite in `DATA_DIR`)',
      doc: '`postgres://user:pass@host:port/db`: PostgreSQL instead, shared by any number of instances behind a load balancer; then `ISSUER_PRIVATE_JWK` and `PII_DATA_KEY` are required. See [docs/postgres.md](docs/postgres.md)',
    }),
    databasePoolSize: setting({
      env: 'DATABASE_POOL_SIZE',
      parse: integerFromTo(1, 1000),
      default: 10,
      only: 'node',
      doc: 'with `DATABASE_URL`: connections per instance for requests (plus one for advisory locks)',
    }),
    databaseConnectTimeoutSeconds: setting({
      env: 'DATABASE_CONNECT_TIMEOUT_SECONDS',
      parse: integerFromTo(1, 60),
      default: 3,
      only: 'node',
      doc: 'with `DATABASE_URL`: how long one connection attempt to PostgreSQL may take; reconnecting waits at most 0.5 s between attempts',
    }),
    databaseStatementTimeoutSeconds: setting({
      env: 'DATABASE_STATEMENT_TIMEOUT_SECONDS',
      parse: integerFromTo(1, 300),
      default: 5,
      only: 'node',
      doc: "the longest a statement may run (PostgreSQL's `statement_timeout` and `lock_timeout`) or wait for SQLite's write lock (`busy_timeout`); past it the request answers 503 with `Retry-After`",
    }),
  },

  /** The issuer's keys (docs/dids-and-keys.md). */
  keys: {
    privateJwk: unset({
      env: 'ISSUER_PRIVATE_JWK',
      parse: text,
      secret: true,
      defaultText: 'Node: a generated key file; Workers: required',
      doc: 'the signing key as a private JWK (Ed25519 → EdDSA, secp256k1 → ES256K); or a JSON array of them, the first signing and all published (rotation across instances)',
    }),
    alg: setting<'EdDSA' | 'ES256K'>({
      env: 'ISSUER_KEY_ALG',
      parse: oneOf(['EdDSA', 'ES256K'], 'must be EdDSA or ES256K'),
      default: 'EdDSA',
      only: 'node',
      doc: 'algorithm of the key generated on first start when none is configured',
    }),
    file: unset({
      env: 'ISSUER_KEYS_FILE',
      parse: text,
      only: 'node',
      defaultText: '`$DATA_DIR/issuer-keys.json`',
      doc: 'where the generated key is kept (mode 0600; never logged); `npm run keys` manages it',
    }),
    didDhtIdentityJwk: unset({
      env: 'ISSUER_DID_DHT_IDENTITY_JWK',
      parse: text,
      secret: true,
      only: 'node',
      doc: 'did:dht identity key (Ed25519 private JWK) when `ISSUER_PRIVATE_JWK` is used',
    }),
    /** Keys in an HSM over PKCS#11 (src/runtime/pkcs11Signer.ts, docs/hsm.md). */
    pkcs11: {
      module: unset({
        env: 'ISSUER_PKCS11_MODULE',
        parse: text,
        only: 'node',
        doc: "path of the HSM vendor's PKCS#11 library: signing keys are generated and kept in the token, never leaving it (see [docs/hsm.md](docs/hsm.md))",
      }),
      tokenLabel: unset({
        env: 'ISSUER_PKCS11_TOKEN_LABEL',
        parse: text,
        only: 'node',
        doc: 'with `ISSUER_PKCS11_MODULE`: the token, by label (or `ISSUER_PKCS11_SLOT`)',
      }),
      slot: unset({ env: 'ISSUER_PKCS11_SLOT', parse: decimalId, only: 'node', doc: 'with `ISSUER_PKCS11_MODULE`: the token, by decimal slot id' }),
      pin: unset({ env: 'ISSUER_PKCS11_PIN', parse: text, secret: true, only: 'node', doc: 'the token user PIN (or `ISSUER_PKCS11_PIN_FILE`)' }),
      pinFile: unset({ env: 'ISSUER_PKCS11_PIN_FILE', parse: text, only: 'node', doc: 'a file holding the token user PIN (a mounted secret)' }),
      keyLabels: unset({
        env: 'ISSUER_PKCS11_KEY_LABEL',
        parse: labelList,
        only: 'node',
        doc: "comma-separated labels of signing keys already in the token, the first signing and all published (no key file); unset: the key file names the token's keys",
      }),
      sessions: setting({
        env: 'ISSUER_PKCS11_SESSIONS',
        parse: integerFromTo(1, 64),
        default: 4,
        only: 'node',
        doc: 'PKCS#11 sessions signing at once',
      }),
    },
  },

  /** DID resolution and the PFI's did:dht (src/runtime/nodeDid.ts, src/runtime/workerIssuer.ts). */
  did: {
    webAllowInsecure: setting({
      env: 'DID_WEB_ALLOW_INSECURE',
      parse: onlyTrue,
      default: false,
      doc: 'resolve applicant did:web (and fetch status lists) over http and to loopback/private addresses (development only)',
    }),
    dhtGateway: setting({
      env: 'DID_DHT_GATEWAY',
      parse: text,
      default: 'https://diddht.tbddev.org',
      doc: 'Pkarr relay used to resolve did:dht and to publish a did:dht issuer DID',
    }),
    // DHT records expire, so a did:dht issuer republishes its packet.
    dhtRepublishMs: setting({ default: 60 * 60 * 1000, doc: 'Node: republish the did:dht packet this often, in ms (0 disables)' }),
  },

  /** Identity verification vendors and secrets (src/idv/fromSettings.ts, docs/idv.md). */
  idvVendors: {
    piiDataKey: unset({
      env: 'PII_DATA_KEY',
      parse: text,
      secret: true,
      defaultText: 'Node: generated in `DATA_DIR`; Workers: required',
      doc: 'AES-256-GCM key for PII at rest (32 bytes, base64url)',
    }),
    piiDataKeysRetired: setting<string[]>({
      env: 'PII_DATA_KEYS_RETIRED',
      parse: commaList,
      default: [],
      secret: true,
      doc: 'comma-separated older PII keys (after a rotation), used only to open records sealed under them',
    }),
    outboundSecrets: setting<string[]>({
      env: 'PFI_WEBHOOK_SECRETS',
      parse: commaList,
      default: [],
      secret: true,
      doc: 'comma-separated signing secrets of the outbound webhooks (one `v1=` entry each)',
    }),
    webhookToleranceSeconds: setting({
      env: 'WEBHOOK_TOLERANCE_SECONDS',
      parse: positiveNumber,
      default: 300,
      doc: 'accepted age (±) of a timestamped vendor webhook signature, in seconds',
    }),
    persona: {
      apiKey: unset({
        env: 'PERSONA_API_KEY',
        parse: text,
        secret: true,
        doc: 'Persona API key (bearer); with `PERSONA_TEMPLATE_ID` and `PERSONA_WEBHOOK_SECRETS`',
      }),
      templateId: unset({ env: 'PERSONA_TEMPLATE_ID', parse: text, doc: 'Persona inquiry template (`itmpl_…`)' }),
      webhookSecrets: setting<string[]>({
        env: 'PERSONA_WEBHOOK_SECRETS',
        parse: commaList,
        default: [],
        secret: true,
        doc: 'comma-separated Persona webhook secrets (`wbhsec_…`), all accepted (rotation)',
      }),
      apiBase: setting({ env: 'PERSONA_API_BASE', parse: httpUrl, default: 'https://api.withpersona.com', doc: 'Persona API base URL' }),
    },
    incode: {
      clientId: unset({
        env: 'INCODE_CLIENT_ID',
        parse: text,
        doc: "Incode's OIDC integration (redirect URI `<PUBLIC_URL>/idv/callback/incode`); with `INCODE_CLIENT_SECRET`; see [docs/incode.md](docs/incode.md)",
      }),
      clientSecret: unset({ env: 'INCODE_CLIENT_SECRET', parse: text, secret: true, doc: 'Incode OIDC client secret' }),
      issuer: setting({
        env: 'INCODE_ISSUER',
        parse: incodeIssuer,
        default: 'https://auth.incode.com',
        doc: 'Incode OIDC issuer (`https://auth.demo.incode.com` for the sandbox)',
      }),
      tokenAuthMethod: setting<'client_secret_post' | 'client_secret_basic'>({
        env: 'INCODE_TOKEN_AUTH_METHOD',
        parse: oneOf(['client_secret_post', 'client_secret_basic']),
        default: 'client_secret_post',
        doc: 'how the client secret is sent to the token endpoint',
      }),
      scope: setting({
        env: 'INCODE_SCOPE',
        parse: openidScope,
        default: 'openid profile address',
        doc: 'scopes asked of Incode (openid required; profile for name and birthdate, address for the country)',
      }),
    },
    generic: {
      config: unset({ env: 'IDV_GENERIC_CONFIG', parse: jsonText, doc: 'generic HMAC vendor: its JSON configuration (docs/idv.md)' }),
      secrets: setting<string[]>({
        env: 'IDV_GENERIC_SECRETS',
        parse: commaList,
        default: [],
        secret: true,
        doc: 'generic HMAC vendor: comma-separated webhook secrets',
      }),
    },
  },

  /**
   * "I already bank with <PFI> — sign in": the PFI's own OpenID Connect login completes the IDV
   * step for its existing customers (src/idv/existingCustomer/, docs/existing-customers.md).
   * Off unless EXISTING_CUSTOMER_ISSUER is set; checked as a whole at start.
   */
  existingCustomer: {
    issuer: unset({
      env: 'EXISTING_CUSTOMER_ISSUER',
      parse: text,
      doc: "the bank's OpenID Connect issuer (https; http only on loopback); turns on the sign-in option (redirect URI `<PUBLIC_URL>/idv/existing-customer/callback`); see [docs/existing-customers.md](docs/existing-customers.md)",
    }),
    clientId: unset({ env: 'EXISTING_CUSTOMER_CLIENT_ID', parse: text, doc: "the issuer's client id at the bank's provider" }),
    clientSecret: unset({
      env: 'EXISTING_CUSTOMER_CLIENT_SECRET',
      parse: text,
      secret: true,
      doc: 'client secret (client_secret_basic, 16+ characters); or `EXISTING_CUSTOMER_PRIVATE_KEY_JWK`, not both',
    }),
    privateKeyJwk: unset({
      env: 'EXISTING_CUSTOMER_PRIVATE_KEY_JWK',
      parse: jsonText,
      secret: true,
      doc: 'private JWK (JSON) for private_key_jwt client authentication',
    }),
    tokenAuthMethod: unset<'client_secret_basic' | 'private_key_jwt'>({
      env: 'EXISTING_CUSTOMER_TOKEN_AUTH_METHOD',
      parse: oneOf(['client_secret_basic', 'private_key_jwt']),
      doc: 'client authentication at the token endpoint; unset: private_key_jwt when a JWK is given, else client_secret_basic',
    }),
    scopes: setting({
      env: 'EXISTING_CUSTOMER_SCOPES',
      parse: text,
      default: 'openid address',
      doc: 'space-separated scopes asked of the bank (openid required; URL scopes allowed)',
    }),
    claimMapping: unset({
      env: 'EXISTING_CUSTOMER_CLAIM_MAPPING',
      parse: jsonText,
      doc: "JSON: how the bank's claims give country, tier, checks and verification date (docs/existing-customers.md); unset: country from `address.country`, tier by review",
    }),
    displayName: setting({
      env: 'EXISTING_CUSTOMER_DISPLAY_NAME',
      parse: text,
      default: 'your bank',
      doc: 'shown on the IDV page: "I already bank with <name> — sign in"',
    }),
    secondDidPolicy: setting<'allow' | 'review'>({
      env: 'EXISTING_CUSTOMER_SECOND_DID_POLICY',
      parse: oneOf(['allow', 'review']),
      default: 'review',
      doc: 'a bank customer already linked to another DID: issue as usual (`allow`) or send to manual review',
    }),
    fallback: setting<'regular_verification' | 'review'>({
      env: 'EXISTING_CUSTOMER_FALLBACK',
      parse: oneOf(['regular_verification', 'review']),
      default: 'regular_verification',
      doc: "where the application goes when the bank's claims cannot make a KCC (no country, too little evidence)",
    }),
    loginTtlSeconds: setting({
      env: 'EXISTING_CUSTOMER_LOGIN_TTL_SECONDS',
      parse: integerFromTo(60, 3600),
      default: 600,
      doc: "lifetime of one round trip through the bank's login, in seconds (60 to 3600)",
    }),
    idTokenAlg: unset({
      env: 'EXISTING_CUSTOMER_ID_TOKEN_ALG',
      parse: oneOf(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']),
      doc: 'the one ID token signing algorithm accepted (asymmetric only); unset: what the provider announces',
    }),
    maxAuthAgeSeconds: unset({
      env: 'EXISTING_CUSTOMER_MAX_AUTH_AGE_SECONDS',
      parse: integerFromTo(0, 86_400),
      doc: "sent as `max_age` and checked against the ID token's `auth_time`: an older bank session signs in again",
    }),
    keySecret: unset({
      env: 'EXISTING_CUSTOMER_KEY_SECRET',
      parse: key32,
      secret: true,
      doc: 'required with `EXISTING_CUSTOMER_ISSUER`: 32 bytes, base64url: seals the login transaction cookie and keys the bank subject digest of the links (rotating it orphans existing links)',
    }),
  },

  /**
   * The review console's sign-in through the PFI's workforce OpenID Connect provider (Entra ID,
   * Okta, Keycloak…): src/issuance/operatorSso.ts, docs/operator-sso.md. Off unless
   * OPERATOR_SSO_ISSUER is set; checked as a whole at start. Local accounts keep working beside it.
   */
  operatorSso: {
    issuer: unset({
      env: 'OPERATOR_SSO_ISSUER',
      parse: text,
      doc: 'the workforce OpenID Connect issuer (https; http only on loopback); turns on "Sign in with …" in the review console (redirect URI `<PUBLIC_URL>/console/sso/callback`); see [docs/operator-sso.md](docs/operator-sso.md)',
    }),
    clientId: unset({ env: 'OPERATOR_SSO_CLIENT_ID', parse: text, doc: "the console's client id at the workforce provider" }),
    clientSecret: unset({
      env: 'OPERATOR_SSO_CLIENT_SECRET',
      parse: text,
      secret: true,
      doc: 'client secret (client_secret_basic, 16+ characters); or `OPERATOR_SSO_PRIVATE_KEY_JWK`, not both',
    }),
    privateKeyJwk: unset({
      env: 'OPERATOR_SSO_PRIVATE_KEY_JWK',
      parse: jsonText,
      secret: true,
      doc: 'private JWK (JSON) for private_key_jwt client authentication at the workforce provider',
    }),
    scopes: setting({
      env: 'OPERATOR_SSO_SCOPES',
      parse: openidScope,
      default: 'openid profile',
      doc: 'space-separated scopes asked of the workforce provider (openid required; add the one that releases the roles claim, e.g. `groups` at Okta)',
    }),
    rolesClaim: setting({
      env: 'OPERATOR_SSO_ROLES_CLAIM',
      parse: text,
      default: 'groups',
      doc: "the claim (dot path, e.g. `realm_access.roles`) holding the operator's groups or app roles, read at every sign-in",
    }),
    roleMap: unset({
      env: 'OPERATOR_SSO_ROLE_MAP',
      parse: jsonText,
      doc: 'required with `OPERATOR_SSO_ISSUER`: JSON object, group or app role (a value of the roles claim) → console role (`reviewer`, `admin`); several mapped: the highest; none: sign-in refused',
    }),
    displayName: setting({
      env: 'OPERATOR_SSO_DISPLAY_NAME',
      parse: text,
      default: 'your organisation',
      doc: 'shown on the console\'s sign-in button: "Sign in with <name>"',
    }),
    idTokenAlg: unset({
      env: 'OPERATOR_SSO_ID_TOKEN_ALG',
      parse: oneOf(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']),
      doc: 'the one ID token signing algorithm accepted (asymmetric only); unset: what the provider announces',
    }),
    maxAuthAgeSeconds: unset({
      env: 'OPERATOR_SSO_MAX_AUTH_AGE_SECONDS',
      parse: integerFromTo(0, 86_400),
      doc: "sent as `max_age` and checked against the ID token's `auth_time`: an older workforce session signs in again",
    }),
    keySecret: unset({
      env: 'OPERATOR_SSO_KEY_SECRET',
      parse: key32,
      secret: true,
      doc: 'required with `OPERATOR_SSO_ISSUER`: 32 bytes, base64url: seals the sign-in transaction cookie and keys the digest that names each workforce identity (its four-eyes party); rotating it makes every identity a new party',
    }),
  },

  /** Background jobs (src/issuance/jobs.ts): Node's timer; Workers use a Cron Trigger. */
  jobs: {
    intervalMs: setting({
      env: 'WEBHOOK_DISPATCH_INTERVAL_MS',
      parse: intervalMilliseconds,
      default: 5000,
      only: 'node',
      doc: 'background job period (outbound webhooks, retention purge, expiries), in ms; `0` disables',
    }),
  },

  /** Prometheus metrics (src/runtime/metrics.ts), Node only; off unless a token or a port is set. */
  metrics: {
    token: unset({
      env: 'METRICS_TOKEN',
      parse: text,
      secret: true,
      only: 'node',
      doc: 'serves Prometheus `/metrics` on the main port to `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise); at least 32 characters, like `ADMIN_TOKEN`',
    }),
    port: unset({
      env: 'METRICS_PORT',
      parse: portNumber,
      only: 'node',
      doc: 'serves `/metrics` without auth on its own listener; with neither this nor `METRICS_TOKEN`, metrics are off',
    }),
    host: setting({
      env: 'METRICS_HOST',
      parse: text,
      default: '127.0.0.1',
      only: 'node',
      doc: 'address of the `METRICS_PORT` listener (loopback by default)',
    }),
  },

  /** OpenTelemetry traces (src/runtime/otel.ts), Node only; the SDK is loaded only when an endpoint is set. */
  tracing: {
    propagate: setting({
      env: 'TRACE_CONTEXT_PROPAGATION',
      parse: trueOrFalse,
      default: false,
      only: 'node',
      doc: '`true`: without a collector too, continue an incoming `traceparent` and send it on outbound calls and webhooks (on Node 20 its AsyncLocalStorage slows every request once one is traced: docs/operations.md); always on with a collector',
    }),
    endpoint: unset({
      env: 'OTEL_EXPORTER_OTLP_ENDPOINT',
      parse: httpUrl,
      only: 'node',
      doc: 'OTLP/HTTP collector base URL (`/v1/traces` is appended): a span per request, store call and outbound call; unset: no spans, no SDK loaded (`traceparent` is still passed on)',
    }),
    tracesEndpoint: unset({
      env: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      parse: httpUrl,
      only: 'node',
      doc: 'the full OTLP/HTTP traces URL, used as is; overrides `OTEL_EXPORTER_OTLP_ENDPOINT`',
    }),
    headers: unset({
      env: 'OTEL_EXPORTER_OTLP_HEADERS',
      parse: otlpHeaders,
      secret: true,
      only: 'node',
      doc: 'headers sent to the collector, `name=value` comma-separated (e.g. its API key)',
    }),
    serviceName: setting({
      env: 'OTEL_SERVICE_NAME',
      parse: text,
      default: 'kcc-issuer',
      only: 'node',
      doc: '`service.name` of the exported spans',
    }),
  },
};

/** Every setting's value, as `readSettings` returns it. */
export type Settings = SettingsOf<typeof SETTINGS>;

/** The defaults of every setting. */
export const SETTING_DEFAULTS: Settings = deepFreeze(defaultsOf(SETTINGS));

/**
 * Every setting from an environment (Node: the process environment; Workers: the `env` vars and
 * secrets), defaults for the rest. `runtime` skips the other runtime's variables. An invalid
 * value throws a TypeError naming the variable (never a secret's value).
 */
export function readSettings(env: Environment, runtime?: Runtime): Settings {
  return readTable(SETTINGS, env, runtime);
}

/** Only the settings an environment gives (see `givenTable`), for merging over code-given values. */
export function settingsGiven(env: Environment, runtime?: Runtime) {
  return givenTable(SETTINGS, env, runtime);
}

/** Every setting with its dotted path (`issuer.ttl.cNonce`), in table order. */
export function listSettings() {
  return settingsList(SETTINGS);
}

/** The process environment: the one place on Node that reads it (entry points pass it on). */
export function processEnv(): Record<string, string | undefined> {
  return globalThis.process?.env ?? {};
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
