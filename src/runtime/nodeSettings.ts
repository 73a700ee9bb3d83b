import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { issuerInput, readSettings, settingsGiven, tiersFromJson, type Environment, type Settings } from '../config';
import { otlpTracesUrl } from './otel';
import { nodeLogger } from './logger';
import { checkSharedConfiguration, type NodeIssuerOptions } from './nodeServer';
import { configuredDidDhtIdentity, keysFromSettings } from './nodeKeys';
import { openPkcs11Custody, pkcs11SettingsFrom } from './pkcs11Signer';

/**
 * `npm start`'s options from the environment, read through the settings table
 * (src/config/settings.ts): every variable, its default and its check are there. What is Node's
 * own — files named by a setting, the configured keys — is read here.
 */
export function nodeOptionsFromSettings(env: Environment): NodeIssuerOptions {
  const settings = readSettings(env, 'node');
  const given = settingsGiven(env, 'node');
  const didMethod = settings.issuer.didMethod;
  const keys = keysFromSettings(settings.keys, didMethod);
  const { databaseUrl } = settings.storage;
  const idvEnv = env as Record<string, string | undefined>;
  // ISSUER_PKCS11_*: keys in an HSM (docs/hsm.md); checked before the token is opened.
  const pkcs11 = pkcs11SettingsFrom(settings.keys);
  const pkcs11Keys = pkcs11?.keyLabels
    ? { labels: pkcs11.keyLabels, didDhtIdentity: didMethod === 'dht' ? configuredDidDhtIdentity(settings.keys.didDhtIdentityJwk) : undefined }
    : undefined;
  if (databaseUrl) checkSharedConfiguration({ keys, pkcs11Keys, idvEnv });
  const tiersFile = settings.tiersDocument.file;
  const trustFile = settings.presentedCredentials.trustFile;
  return {
    port: settings.server.port,
    hostname: settings.server.host,
    dataDir: resolve(settings.storage.dataDir),
    didMethod,
    keys,
    keyCustody: pkcs11 ? openPkcs11Custody(pkcs11) : undefined,
    pkcs11Keys,
    keyAlg: settings.keys.alg,
    keysFile: settings.keys.file,
    databaseUrl,
    databasePoolSize: databaseUrl ? settings.storage.databasePoolSize : undefined,
    databaseTimeouts: { connectSeconds: settings.storage.databaseConnectTimeoutSeconds, statementSeconds: settings.storage.databaseStatementTimeoutSeconds },
    synchronous: settings.storage.sqliteSynchronous,
    didWebAllowInsecure: settings.did.webAllowInsecure,
    didDhtGateway: settings.did.dhtGateway,
    trustProxy: settings.server.trustProxy,
    logger: nodeLogger(settings.server.logLevel),
    idvEnv,
    backgroundIntervalMs: settings.jobs.intervalMs,
    metrics: { token: settings.metrics.token, port: settings.metrics.port, hostname: settings.metrics.host },
    httpTimeouts: settings.server.httpTimeouts,
    shutdown: settings.server.shutdown,
    otel: otelSettings(settings.tracing),
    traceContext: settings.tracing.propagate,
    // A trust file takes precedence over PRESENTED_CREDENTIAL_TRUST.
    presentedCredentialTrust: trustFile ? jsonFromFile('PRESENTED_CREDENTIAL_TRUST_FILE', trustFile) : settings.presentedCredentials.trust,
    config: {
      // Unset: http://localhost:<the port actually bound> (PORT=0 picks a free one).
      publicUrl: settings.issuer.publicUrl,
      // A tiers file takes precedence over KCC_TIERS.
      ...issuerInput(
        given.issuer ?? {},
        tiersFile ? tiersFromJson(`KCC_TIERS_FILE (${tiersFile})`, readSettingFile('KCC_TIERS_FILE', tiersFile)) : settings.tiersDocument.json,
      ),
    },
  };
}

function jsonFromFile(name: string, file: string): unknown {
  try {
    return JSON.parse(readSettingFile(name, file));
  } catch (e) {
    throw e instanceof SyntaxError ? new TypeError(`${name} (${file}) is not valid JSON`) : e;
  }
}

/** A file named by a setting; a missing or unreadable one fails at start, naming the setting. */
function readSettingFile(name: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new TypeError(`${name}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** The OpenTelemetry exporter's settings, when a traces endpoint is configured. */
function otelSettings(tracing: Settings['tracing']): NodeIssuerOptions['otel'] {
  const tracesUrl = otlpTracesUrl(tracing.endpoint, tracing.tracesEndpoint);
  return tracesUrl ? { tracesUrl, serviceName: tracing.serviceName, headers: tracing.headers ?? {} } : undefined;
}
