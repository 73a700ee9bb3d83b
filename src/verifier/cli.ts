import { readFileSync } from 'node:fs';
import { createNodeCryptoProvider } from '../runtime/nodeCrypto';
import { createSafeFetch } from '../runtime/safeFetch';
import { createDidJwkResolver } from '../did/jwk';
import { createDidKeyResolver } from '../did/key';
import { createDidWebResolver } from '../did/web';
import { createDidDhtResolver } from '../did/dht';
import { createDidResolver } from '../did/resolver';
import type { PresentationDefinition } from '../protocol/pe/evaluate';
import { formatVerdict, verifyKcc } from './index';
import { createKccSchemaValidator } from './kccSchema';

/**
 * `kcc verify <jwt | file | -> [options]` — verifies a KCC for a relying party; exit 0 when
 * valid, 1 when not (2 on usage errors). Options:
 *   --presentation-definition <file>  the KCC must satisfy an input descriptor of this PD
 *   --trusted-issuer <did>            an issuer you trust (repeatable); none given: no issuer is trusted
 *   --now <ISO date>                  verify as of this time (default: now)
 *   --json                            print the verdict as JSON
 *   --allow-http                      did:web and status lists over http and private addresses (dev only)
 *   --did-dht-gateway <url>           did:dht gateway (default https://diddht.tbddev.org)
 */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Network access for did:web, did:dht and status lists (tests inject one). */
  fetch?: typeof fetch;
  readFile?: (path: string) => string;
}

const USAGE = 'usage: kcc verify <jwt | file | -> [--presentation-definition file] [--trusted-issuer did]... [--now iso] [--json] [--allow-http]';

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'verify') {
    io.err(USAGE);
    return 2;
  }
  const trusted: string[] = [];
  let input: string | undefined;
  let pdFile: string | undefined;
  let nowIso: string | undefined;
  let json = false;
  let allowHttp = false;
  let gateway = 'https://diddht.tbddev.org';
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const value = () => {
      const v = rest[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    try {
      if (a === '--presentation-definition') pdFile = value();
      else if (a === '--trusted-issuer') trusted.push(value());
      else if (a === '--now') nowIso = value();
      else if (a === '--json') json = true;
      else if (a === '--allow-http') allowHttp = true;
      else if (a === '--did-dht-gateway') gateway = value();
      else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
      else if (input === undefined) input = a;
      else throw new UsageError('only one credential at a time');
    } catch (e) {
      io.err((e as Error).message);
      io.err(USAGE);
      return 2;
    }
  }
  const readFile = io.readFile ?? ((p: string) => readFileSync(p === '-' ? 0 : p, 'utf8'));
  if (!input) {
    io.err(USAGE);
    return 2;
  }
  let jwt = input;
  if (input === '-' || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(input.trim())) {
    try {
      jwt = readFile(input).trim();
    } catch {
      io.err(`cannot read ${input} (give a compact JWT, a file, or - for stdin)`);
      return 2;
    }
  }
  let presentationDefinition: PresentationDefinition | undefined;
  if (pdFile) {
    try {
      const pd = JSON.parse(readFile(pdFile));
      // Accept a bare PD or one wrapped as { presentation_definition } / tbDEX requiredClaims.
      presentationDefinition = pd.presentation_definition ?? pd.requiredClaims ?? pd;
      if (!Array.isArray(presentationDefinition?.input_descriptors)) throw new Error('no input_descriptors');
    } catch (e) {
      io.err(`cannot read presentation definition ${pdFile}: ${(e as Error).message}`);
      return 2;
    }
  }
  const now = nowIso ? Math.floor(Date.parse(nowIso) / 1000) : Math.floor(Date.now() / 1000);
  if (Number.isNaN(now)) {
    io.err('--now must be an ISO 8601 date');
    return 2;
  }
  const net = io.fetch ?? createSafeFetch({ allowPrivate: allowHttp, allowHttp, timeoutMs: 5000, maxBytes: 4 * 1024 * 1024 });
  const resolver = createDidResolver({
    registry: {
      ...createDidJwkResolver(),
      ...createDidKeyResolver(),
      ...createDidWebResolver({ fetch: net, allowHttp, allowIpHosts: allowHttp }),
      ...createDidDhtResolver({ gatewayUrl: gateway, fetch: net }),
    },
  });
  const verdict = await verifyKcc(jwt, {
    resolver,
    verifier: createNodeCryptoProvider(),
    now,
    trustedIssuers: trusted,
    schema: createKccSchemaValidator(),
    presentationDefinition,
    fetchStatusList: async (url) => {
      if (!allowHttp && !url.startsWith('https://')) throw new Error(`status list URL ${url} is not https (use --allow-http for development)`);
      const res = await net(url, { headers: { accept: 'application/vc+jwt, application/jwt, text/plain' } });
      if (!res.ok) throw new Error(`HTTP ${res.status} from ${url}`);
      return (await res.text()).trim();
    },
  });
  if (json)
    io.out(
      JSON.stringify(
        { valid: verdict.ok, reasons: verdict.reasons, checks: verdict.checks, issuer: verdict.issuer, subject: verdict.subject, status: verdict.status },
        null,
        2,
      ),
    );
  else io.out(formatVerdict(verdict));
  return verdict.ok ? 0 : 1;
}

class UsageError extends Error {}

const isMain = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/verifier/cli.ts');
if (isMain) {
  runCli(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l) }).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`error: ${(e as Error).message}`);
      process.exit(2);
    },
  );
}
