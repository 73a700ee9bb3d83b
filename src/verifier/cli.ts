import { readFileSync } from 'node:fs';
import { createNodeCryptoProvider } from '../runtime/nodeCrypto';
import { createSafeFetch } from '../runtime/safeFetch';
import { createDidJwkResolver } from '../did/jwk';
import { createDidKeyResolver } from '../did/key';
import { createDidWebResolver } from '../did/web';
import { createDidDhtResolver } from '../did/dht';
import { createDidResolver } from '../did/resolver';
import type { PresentationDefinition } from '../protocol/pe/evaluate';
import { formatVerdict, verifyKcc, verifySdJwtVc } from './index';
import { createKccSchemaValidator } from './kccSchema';
import { formatKyaVerdict, verifyKyaToken } from './kya';

/**
 * `kcc verify <jwt | sd-jwt | file | -> [options]` — verifies a KCC for a relying party, as
 * jwt_vc_json or as SD-JWT VC (issued, or presented with a Key Binding JWT); exit 0 when
 * valid, 1 when not (2 on usage errors). Options:
 *   --presentation-definition <file>  the KCC must satisfy an input descriptor of this PD
 *   --trusted-issuer <did | url>      an issuer you trust (repeatable; an SD-JWT VC's iss is its URL); none given: no issuer is trusted
 *   --audience <client_id> --nonce <n> an SD-JWT VC presentation: its Key Binding JWT must carry both
 *   --vct <uri>                       an SD-JWT VC must have this vct (repeatable)
 *   --now <ISO date>                  verify as of this time (default: now)
 *   --json                            print the verdict as JSON
 *   --allow-http                      did:web and status lists over http and private addresses (dev only)
 *   --did-dht-gateway <url>           did:dht gateway (default https://diddht.tbddev.org)
 * `kcc verify --kya <jwt | file | -> [options]` verifies a KYA token instead (docs/kya.md): the
 * PFI's signature, exp, the principal's KCC status, and the agent's proof of possession:
 *   --agent-proof <jwt | file>        the agent's DPoP-shaped proof sent with the request, with
 *   --htm <method> --htu <url>        the method and URL of that request
 *   --agent-nonce <nonce>             the nonce you gave the agent, if any
 *   --no-agent-proof                  inspect the token without a proof (never valid to serve an agent)
 */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Network access for did:web, did:dht and status lists (tests inject one). */
  fetch?: typeof fetch;
  readFile?: (path: string) => string;
}

const USAGE =
  'usage: kcc verify <jwt | sd-jwt | file | -> [--presentation-definition file] [--trusted-issuer did|url]... [--audience id --nonce n] [--vct uri]... [--now iso] [--json] [--allow-http]\n' +
  '       kcc verify --kya <jwt | file | -> [--agent-proof jwt --htm METHOD --htu URL [--agent-nonce n] | --no-agent-proof] [--trusted-issuer did]... [--now iso] [--json] [--allow-http]';

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
  let audience: string | undefined;
  let nonce: string | undefined;
  const vcts: string[] = [];
  let kya = false;
  let agentProof: string | undefined;
  let htm: string | undefined;
  let htu: string | undefined;
  let agentNonce: string | undefined;
  let noAgentProof = false;
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
      else if (a === '--audience') audience = value();
      else if (a === '--nonce') nonce = value();
      else if (a === '--vct') vcts.push(value());
      else if (a === '--kya') kya = true;
      else if (a === '--agent-proof') agentProof = value();
      else if (a === '--htm') htm = value();
      else if (a === '--htu') htu = value();
      else if (a === '--agent-nonce') agentNonce = value();
      else if (a === '--no-agent-proof') noAgentProof = true;
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
  if ((audience === undefined) !== (nonce === undefined)) {
    io.err('--audience and --nonce go together (an SD-JWT VC presentation)');
    io.err(USAGE);
    return 2;
  }
  let jwt = input;
  // A compact JWT, or an SD-JWT (`<jwt>~<disclosure>~…~[<kb-jwt>]`).
  if (input === '-' || !/^[\w-]+\.[\w-]+\.[\w-]+(~[\w.-]*)*$/.test(input.trim())) {
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
  if (!kya && (agentProof || htm || htu || agentNonce || noAgentProof)) {
    io.err('--agent-proof, --htm, --htu, --agent-nonce and --no-agent-proof go with --kya');
    return 2;
  }
  if (kya && agentProof && (!htm || !htu)) {
    io.err('--agent-proof needs --htm and --htu (the method and URL of the request it came with)');
    return 2;
  }
  if (kya && agentProof && !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(agentProof.trim())) {
    try {
      agentProof = readFile(agentProof).trim();
    } catch {
      io.err(`cannot read ${agentProof} (give a compact JWT or a file)`);
      return 2;
    }
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
  const fetchText = async (url: string, accept: string) => {
    if (!allowHttp && !url.startsWith('https://')) throw new Error(`${url} is not https (use --allow-http for development)`);
    const res = await net(url, { headers: { accept } });
    if (!res.ok) throw new Error(`HTTP ${res.status} from ${url}`);
    return (await res.text()).trim();
  };
  const fetchStatusList = (url: string) => fetchText(url, 'application/vc+jwt, application/jwt, text/plain');
  if (kya) {
    const kyaVerdict = await verifyKyaToken(jwt, {
      resolver,
      verifier: createNodeCryptoProvider(),
      now,
      trustedIssuers: trusted,
      fetchStatusList,
      ...(agentProof
        ? { agentProof: { proof: agentProof, htm: htm as string, htu: htu as string, ...(agentNonce !== undefined ? { nonce: agentNonce } : {}) } }
        : {}),
      requireAgentProof: !noAgentProof,
    });
    if (json) {
      const { ok, reasons, checks, issuer, principal, agent, claims } = kyaVerdict;
      io.out(JSON.stringify({ valid: ok, reasons, checks, issuer, principal, agent, scope: claims?.scope }, null, 2));
    } else io.out(formatKyaVerdict(kyaVerdict));
    return kyaVerdict.ok ? 0 : 1;
  }
  if (jwt.includes('~')) {
    const sd = await verifySdJwtVc(jwt, {
      resolver,
      verifier: createNodeCryptoProvider(),
      now,
      trustedIssuers: trusted,
      expectedVct: vcts.length ? vcts : undefined,
      keyBinding: audience !== undefined && nonce !== undefined ? { audience, nonce } : undefined,
      fetchIssuerMetadata: async (url) => JSON.parse(await fetchText(url, 'application/json')),
      fetchStatusList: (url) => fetchText(url, 'application/statuslist+jwt'),
    });
    if (json)
      io.out(
        JSON.stringify(
          { valid: sd.ok, reasons: sd.reasons, checks: sd.checks, issuer: sd.issuer, vct: sd.vct, disclosed: sd.disclosed, status: sd.status },
          null,
          2,
        ),
      );
    else io.out(formatVerdict(sd));
    return sd.ok ? 0 : 1;
  }
  const verdict = await verifyKcc(jwt, {
    resolver,
    verifier: createNodeCryptoProvider(),
    now,
    trustedIssuers: trusted,
    schema: createKccSchemaValidator(),
    presentationDefinition,
    fetchStatusList,
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

// From source only (tsx): the production build's entry (src/runtime/main/verify.ts) calls runCli itself.
const isMain = import.meta.url.endsWith('.ts') && (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/verifier/cli.ts'));
if (isMain) {
  runCli(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l) }).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`error: ${(e as Error).message}`);
      process.exit(2);
    },
  );
}
