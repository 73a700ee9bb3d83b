import { pathToFileURL } from 'node:url';
import { configWarnings, processEnv, SettingsError } from '../config';
import { nodeOptionsFromSettings } from './nodeSettings';
import { startNodeIssuer } from './nodeServer';

/**
 * `npm start`: the issuer on Node, from the environment. Every variable, its default and its
 * check are in the settings table (src/config/settings.ts; the README configuration table, generated
 * from it). The work is split by job:
 *   nodeSettings.ts  the environment → the server's options (keys, tiers file)
 *   nodeServer.ts    database, keys, the HTTP server, background jobs, shutdown
 *   nodeDid.ts       DID resolution over the SSRF-safe fetch, did:dht publishing
 *   nodeKeys.ts      configured keys, the key file and its reload (SIGHUP, after `npm run keys`)
 *   metrics.ts       Prometheus metrics and their listener
 * This file logs the start and wires the signals.
 */
export { checkSharedConfiguration, httpServerOptions, nodeClientAddress, startNodeIssuer, type HttpTimeouts, type NodeIssuerOptions } from './nodeServer';
export { nodeDidMethods, nodeStatusListFetch, publishIssuerDidDht } from './nodeDid';
export { configuredKeys } from './nodeKeys';

/** `npm start` / `npm run start:prod`: the issuer from the environment, until SIGTERM or SIGINT. */
export async function main() {
  const options = nodeOptionsFromSettings(processEnv());
  const issuer = await startNodeIssuer(options);
  for (const warning of configWarnings(issuer.deps.config)) console.error(JSON.stringify({ level: 'warn', event: 'configuration_warning', message: warning }));
  console.log(
    JSON.stringify({
      level: 'info',
      event: 'issuer_started',
      pid: process.pid,
      url: issuer.url,
      did: issuer.deps.issuer.did,
      didMethod: issuer.deps.config.didMethod,
      signingKid: issuer.deps.issuer.signer.kid,
      ...(issuer.didDhtPublished !== undefined ? { didDhtPublished: issuer.didDhtPublished } : {}),
      idvEndpoint: `${issuer.url}/idv/siopv2/initiate`,
      operatorApi: issuer.deps.config.adminToken ? 'enabled' : 'disabled',
      metrics: issuer.metricsUrl ?? (issuer.deps.metrics?.token ? `${issuer.url}/metrics (bearer METRICS_TOKEN)` : 'disabled'),
      idvProvider: issuer.deps.config.idv.provider,
      outboundWebhooks: issuer.deps.config.idv.outboundWebhookUrl ? 'enabled' : 'disabled',
      database: options.databaseUrl ? 'postgresql' : 'sqlite',
    }),
  );
  process.on('SIGHUP', () => {
    issuer.reloadKeys().catch((e) => console.error(JSON.stringify({ level: 'error', event: 'issuer_keys_reload_failed', message: String(e?.message ?? e) })));
  });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    // A second signal while draining: stop now (an impatient Ctrl-C, a supervisor's last word).
    if (stopping) {
      console.error(JSON.stringify({ level: 'warn', event: 'issuer_stopped', signal, graceful: false }));
      process.exit(1);
    }
    stopping = true;
    const started = Date.now();
    const { drainMs, timeoutMs } = options.shutdown ?? {};
    console.log(JSON.stringify({ level: 'info', event: 'issuer_stopping', signal, drainMs, timeoutMs }));
    issuer.close().then(
      ({ timedOut }) => {
        // The HSM session (PKCS#11) closes after the last request that could sign.
        if (options.keyCustody && 'close' in options.keyCustody) options.keyCustody.close();
        // Written before exiting: stdout on a pipe is asynchronous, and process.exit would drop the line.
        process.stdout.write(`${JSON.stringify({ level: 'info', event: 'issuer_stopped', signal, graceful: !timedOut, ms: Date.now() - started })}\n`, () =>
          process.exit(0),
        );
      },
      (e) => {
        console.error(JSON.stringify({ level: 'error', event: 'issuer_stop_failed', message: String(e?.message ?? e) }));
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** A start that failed: one line per problem (every invalid setting, DATA_DIR, a port in use), never a stack trace. */
export function reportStartupFailure(e: unknown): void {
  const problems = e instanceof SettingsError ? e.problems : [String((e as Error)?.message ?? e)];
  for (const message of problems) console.error(JSON.stringify({ level: 'error', event: 'startup_failed', message }));
}

// Run from source only (tsx): in the production build this module is bundled into an entry
// (src/runtime/main/) that starts it itself, and would otherwise start twice.
if (import.meta.url.endsWith('.ts') && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    reportStartupFailure(e);
    process.exit(1);
  });
}
