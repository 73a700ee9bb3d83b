import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, verifyJwtSignature } from '../../src/crypto/jwt';
import { parsePublicJwk, toPublicJwk, type PrivateJwk } from '../../src/crypto/keys';
import { createWebCryptoProvider } from '../../src/crypto/webCrypto';
import { WalletClient, WalletError } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { runOperatorsCli } from '../../src/runtime/operatorsCli';
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { applyMigrationsWithWrangler, BUNDLE_METAFILE, bundleWorker, freePort, OMITTED_ZOD_MEMBERS, ROOT, startWorker } from '../helpers/workerd';

/**
 * The worker as it deploys: bundled by `wrangler deploy --dry-run`, its D1 migrated by
 * `wrangler d1 migrations apply --local`, run in workerd (miniflare) and driven over HTTP on
 * loopback by the reference wallet: immediate issuance, deferred issuance after an operator
 * decision through the admin API, rejection, and single-use codes under concurrency.
 */
const ADMIN_TOKEN = 'worker-admin-token-0123456789abcdef0';
const webCrypto = createWebCryptoProvider();

let dir: string;
let mf: Miniflare;
let url: string;
let scriptPath: string;
let signingKey: PrivateJwk;
let olderKey: PrivateJwk;
const figures: Record<string, number> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kcc-worker-'));
  const persistTo = join(dir, 'state');
  [scriptPath] = await Promise.all([bundleWorker(join(dir, 'bundle')), applyMigrationsWithWrangler(persistTo)]);
  // Key rotation through the secret: the first key signs, both are published.
  signingKey = { ...(await webCrypto.generateKeyPair('EdDSA')), kid: 'key-2' };
  olderKey = { ...(await webCrypto.generateKeyPair('ES256K')), kid: 'key-1' };
  const port = await freePort();
  const started = performance.now();
  ({ mf, url } = await startWorker({
    scriptPath,
    persistTo,
    port,
    bindings: {
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      ISSUER_NAME: 'Edge PFI',
      ISSUER_PRIVATE_JWK: JSON.stringify([signingKey, olderKey]),
      ADMIN_TOKEN,
      PII_DATA_KEY: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8',
      LOG_LEVEL: 'silent',
    },
  }));
  figures.workerdStartMs = performance.now() - started;
}, 120_000);

afterAll(async () => {
  await mf?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (Object.keys(figures).length) console.log('worker figures', JSON.stringify(figures));
});

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${url}/admin${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...init.headers } });

async function newWallet() {
  return new WalletClient(await Holder.create(), (input, init) => fetch(input, init));
}

describe('worker bundle', () => {
  // What the bound measures: every module wrangler would upload, gzipped, summed; the size Cloudflare
  // limits (3 MiB gzip on the free plan) and the upload wrangler prints as "Total Upload … gzip".
  // A lazy `import()` does not shrink it: wrangler bundles without code splitting, so a dynamically
  // imported module is inlined into worker.js (only its evaluation is deferred); were it ever
  // emitted as a module of its own, it would still be counted here. docs/cloudflare.md "Bundle size"
  // says what weighs what.
  it('is under 300 KiB gzipped and imports nothing from node:', () => {
    const outdir = dirname(scriptPath);
    const modules = readdirSync(outdir).filter((f) => /\.(m?js|wasm)$/.test(f));
    expect(modules).toEqual(['worker.js']);
    const code = readFileSync(scriptPath);
    figures.bundleBytes = statSync(scriptPath).size;
    figures.bundleGzipBytes = modules.reduce((sum, f) => sum + gzipSync(readFileSync(join(outdir, f)), { level: 9 }).length, 0);
    expect(figures.bundleGzipBytes).toBeLessThan(300 * 1024);
    expect(code.toString('utf8')).not.toMatch(/from\s*["']node:|require\(["']node:|better-sqlite3/);
  });

  it('weighs as printed, and nothing bundled uses what the zod and pako aliases leave out', () => {
    const meta = JSON.parse(readFileSync(join(dirname(scriptPath), BUNDLE_METAFILE), 'utf8')) as {
      inputs: Record<string, { imports: { path: string }[] }>;
      outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
    };
    const [, output] = Object.entries(meta.outputs).find(([name]) => name.endsWith('worker.js'))!;
    const byPackage = new Map<string, number>();
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      const owner = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? (path.startsWith('src/') ? `src/${path.split('/')[1]}` : path);
      byPackage.set(owner, (byPackage.get(owner) ?? 0) + bytesInOutput);
    }
    const heaviest = [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 12);
    console.log('worker bundle, minified bytes by package:', heaviest.map(([p, b]) => `${p} ${(b / 1024).toFixed(1)} KiB`).join(', '));
    expect(byPackage.has('zod')).toBe(true);
    // src/runtime/workerZod: zod's namespace without these members; a dependency calling one would get undefined.
    const omitted = new RegExp(`\\b[A-Za-z_$][\\w$]*\\.(?:${OMITTED_ZOD_MEMBERS.join('|')})\\b`);
    const zodUsers = Object.keys(output.inputs).filter((p) => !/node_modules\/zod\//.test(p) && /\.(m?js|ts)$/.test(p));
    const offenders = zodUsers.filter((p) => {
      const text = readFileSync(join(ROOT, p), 'utf8');
      return /from\s*["']zod["']/.test(text) && omitted.test(text.replace(/\b(?:ajv|this|schema|regex|re|RegExp)\.compile\b/g, ''));
    });
    expect(offenders).toEqual([]);
    // src/runtime/workerPako: no deflate. Its one caller is StatusList.compressStatusList of
    // @sd-jwt/jwt-status-list, which only @sd-jwt/sd-jwt-vc imports (for getListFromStatusListJWT).
    const importersOf = (target: RegExp) =>
      Object.entries(meta.inputs)
        .filter(([, input]) => input.imports.some((i) => target.test(i.path)))
        .map(([path]) => path);
    expect(importersOf(/src\/runtime\/workerPako\.ts$/)).toEqual(['node_modules/@sd-jwt/jwt-status-list/dist/index.mjs']);
    expect(importersOf(/@sd-jwt\/jwt-status-list\/dist\/index\.mjs$/)).toEqual(['node_modules/@sd-jwt/sd-jwt-vc/dist/index.mjs']);
    const sdJwtVc = readFileSync(join(ROOT, 'node_modules/@sd-jwt/sd-jwt-vc/dist/index.mjs'), 'utf8');
    expect(sdJwtVc).not.toMatch(/compressStatusList|createHeaderAndPayload/);
  });
});

describe('worker in workerd', () => {
  it('serves the did:web document on its own domain (cold, then warm)', async () => {
    let t = performance.now();
    const res = await fetch(`${url}/.well-known/did.json`);
    figures.firstRequestMs = performance.now() - t; // isolate start + issuer build (key import) + D1-free request
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      id: string;
      verificationMethod: { id: string; publicKeyJwk: unknown }[];
      service: { type: string; serviceEndpoint: string }[];
    };
    const port = new URL(url).port;
    expect(doc.id).toBe(`did:web:127.0.0.1%3A${port}`);
    expect(doc.verificationMethod.map((v) => v.id)).toEqual([`${doc.id}#key-2`, `${doc.id}#key-1`]);
    expect(doc.verificationMethod[0].publicKeyJwk).toEqual(toPublicJwk(signingKey));
    expect(doc.verificationMethod[1].publicKeyJwk).toEqual(toPublicJwk(olderKey));
    expect(doc.service).toEqual([{ id: `${doc.id}#idv`, type: 'IDV', serviceEndpoint: `${url}/idv/siopv2/initiate` }]);
    const warm: number[] = [];
    for (let i = 0; i < 15; i++) {
      t = performance.now();
      await (await fetch(`${url}/.well-known/did.json`)).arrayBuffer();
      warm.push(performance.now() - t);
    }
    figures.warmRequestMedianMs = warm.sort((a, b) => a - b)[7];
    const meta = (await (await fetch(`${url}/.well-known/openid-credential-issuer`)).json()) as { credential_issuer: string };
    expect(meta.credential_issuer).toBe(url);
  });

  it('issues a KCC immediately when IDV approves', async () => {
    const client = await newWallet();
    const t = performance.now();
    const result = await applyForKcc(client, { issuer: url, identity: SAMPLE_IDENTITY });
    figures.immediateFlowMs = performance.now() - t;
    expect(result.deferred).toBe(false);
    const jwt = decodeJwt(result.credential);
    expect(jwt.header.kid).toMatch(/#key-2$/);
    await verifyJwtSignature(jwt, parsePublicJwk(toPublicJwk(signingKey))!, webCrypto);
    const vc = jwt.payload.vc as { type: string[]; credentialSubject: { id: string; countryOfResidence: string } };
    expect(vc.type).toContain('KnownCustomerCredential');
    expect(vc.credentialSubject).toMatchObject({ id: client.holder.did, countryOfResidence: 'US' });
    expect(jwt.payload.sub).toBe(client.holder.did);
  });

  it('serves the Token Status List from D1 through suspend and revoke, signed by the current key, and the JWT VC Issuer Metadata', async () => {
    const client = await newWallet();
    const result = await applyForKcc(client, { issuer: url, identity: SAMPLE_IDENTITY });
    const vc = decodeJwt(result.credential).payload.vc as { id: string; credentialStatus: { statusListIndex: string; statusListCredential: string }[] };
    const index = Number(vc.credentialStatus[0].statusListIndex);
    const listId = Number(new URL(vc.credentialStatus[0].statusListCredential).pathname.split('/')[2]);
    const tokenList = async () => {
      const res = await fetch(`${url}/token-status/${listId}`);
      expect(res.headers.get('content-type')).toBe('application/statuslist+jwt');
      const jwt = await res.text();
      await verifyJwtSignature(decodeJwt(jwt), parsePublicJwk(toPublicJwk(signingKey))!, webCrypto);
      return getListFromStatusListJWT(jwt);
    };
    expect((await tokenList()).getStatus(index)).toBe(0);
    expect(
      (await admin(`/credentials/${encodeURIComponent(vc.id)}/status`, { method: 'POST', body: JSON.stringify({ action: 'suspend', reason: 'checking' }) }))
        .status,
    ).toBe(200);
    expect((await tokenList()).getStatus(index)).toBe(2);
    expect(
      (await admin(`/credentials/${encodeURIComponent(vc.id)}/status`, { method: 'POST', body: JSON.stringify({ action: 'revoke', reason: 'test' }) })).status,
    ).toBe(200);
    expect((await tokenList()).getStatus(index)).toBe(1);
    const issuerMetadata = (await (await fetch(`${url}/.well-known/jwt-vc-issuer`)).json()) as {
      issuer: string;
      jwks: { keys: { kid: string; alg: string }[] };
    };
    expect(issuerMetadata.issuer).toBe(url);
    expect(issuerMetadata.jwks.keys.map((k) => [k.kid.split('#')[1], k.alg])).toEqual([
      ['key-2', 'EdDSA'],
      ['key-1', 'ES256K'],
    ]);
  });

  it('defers issuance until an operator approves through the admin API', async () => {
    const client = await newWallet();
    const decided: string[] = [];
    const result = await applyForKcc(client, {
      issuer: url,
      identity: { ...SAMPLE_IDENTITY, family_name: 'Review', country_of_residence: 'DE' },
      pollIntervalMs: 20,
      pollAttempts: 5,
      whilePending: async () => {
        // Still pending before the decision.
        const list = (await (await admin('/applications?status=review')).json()) as { applications: { id: string; applicant_did: string }[] };
        const mine = list.applications.find((a) => a.applicant_did === client.holder.did);
        expect(mine).toBeDefined();
        // A tier that is not configured is refused; the configured one is decided.
        expect(
          (await admin(`/applications/${mine!.id}/decision`, { method: 'POST', body: JSON.stringify({ decision: 'approve', tier: 'Enhanced' }) })).status,
        ).toBe(400);
        const res = await admin(`/applications/${mine!.id}/decision`, { method: 'POST', body: JSON.stringify({ decision: 'approve', tier: 'Standard' }) });
        expect(res.status).toBe(200);
        decided.push(((await res.json()) as { status: string }).status);
      },
    });
    expect(decided).toEqual(['approved']);
    expect(result.deferred).toBe(true);
    const vc = decodeJwt(result.credential).payload.vc as { credentialSubject: { id: string; countryOfResidence: string; tier: string } };
    expect(vc.credentialSubject).toMatchObject({ id: client.holder.did, countryOfResidence: 'DE', tier: 'Standard' });
  });

  it('answers issuance_pending until the decision, then credential_request_denied on rejection', async () => {
    const client = await newWallet();
    let pendingPolls = 0;
    const failure = await applyForKcc(client, {
      issuer: url,
      identity: { ...SAMPLE_IDENTITY, family_name: 'Review' },
      pollIntervalMs: 10,
      pollAttempts: 3,
      onStep: (s) => void (s.step === 'issuance_pending' && pendingPolls++),
      whilePending: async () => {
        const list = (await (await admin('/applications?status=review')).json()) as { applications: { id: string; applicant_did: string }[] };
        const mine = list.applications.find((a) => a.applicant_did === client.holder.did)!;
        expect(
          (await admin(`/applications/${mine.id}/decision`, { method: 'POST', body: JSON.stringify({ decision: 'reject', reason: 'test' }) })).status,
        ).toBe(200);
      },
    }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WalletError);
    expect((failure as WalletError).body).toMatchObject({ error: 'credential_request_denied' });
    expect(pendingPolls).toBe(0);
  });

  it('refuses the credential when IDV declines (family_name "Declined")', async () => {
    const client = await newWallet();
    const failure = await applyForKcc(client, { issuer: url, identity: { ...SAMPLE_IDENTITY, family_name: 'Declined' } }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WalletError);
    expect((failure as WalletError).status).toBe(400);
    expect((failure as WalletError).body).toMatchObject({ error: 'credential_request_denied' });
  });

  it('redeems a pre-authorized code exactly once under concurrent token requests', async () => {
    const client = await newWallet();
    const pfi = await client.discover(url);
    const idvRequest = await client.respond(await client.initiate(pfi.idvEndpoint, pfi));
    const form = await client.submitIdvForm(idvRequest.url, SAMPLE_IDENTITY);
    expect(form.status).toBe(200);
    const code = idvRequest.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
    const { authorizationServer } = await client.metadata(idvRequest.credential_offer.credential_issuer);
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () => client.token(authorizationServer.token_endpoint, code)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect((o.reason as WalletError).body).toMatchObject({ error: 'invalid_grant' });
  });

  it('protects the admin API with the ADMIN_TOKEN secret', async () => {
    expect((await fetch(`${url}/admin/applications`)).status).toBe(401);
    expect((await fetch(`${url}/admin/applications`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await admin('/applications?status=approved')).status).toBe(200);
  });

  it('signs a console operator in with an account the CLI made for D1 (PBKDF2 written on Node verifies on Workers)', async () => {
    const out: string[] = [];
    const err: string[] = [];
    expect(await runOperatorsCli(['add', 'ana', '--role', 'admin', '--print-sql'], {}, { out: (l) => out.push(l), err: (l) => err.push(l) })).toBe(0);
    const secret = /\): ([\w-]{43})$/.exec(err.join('\n'))?.[1] as string;
    await (await mf.getD1Database('DB')).exec(out.join('\n'));
    const signIn = (operator: string, token: string) =>
      fetch(`${url}/console/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ operator, token }).toString(),
      });
    expect((await signIn('ana', `${secret}x`)).status).toBe(401);
    // Once an account exists, ADMIN_TOKEN no longer opens the console.
    expect((await signIn('Bob', ADMIN_TOKEN)).status).toBe(401);
    const ok = await signIn('ana', secret);
    expect(ok.status).toBe(303);
    const cookie = (ok.headers.get('set-cookie') ?? '').split(';')[0];
    const queue = await fetch(`${url}/console`, { headers: { cookie }, redirect: 'manual' });
    expect(queue.status).toBe(200);
    expect(await queue.text()).toContain('Signed in as <strong>ana</strong> (admin)');
  });

  it('purges expired single-use values from the Cron Trigger', async () => {
    const d1 = await mf.getD1Database('DB');
    const now = Math.floor(Date.now() / 1000);
    await d1.batch([
      d1
        .prepare('INSERT INTO siop_requests (nonce, created_at, expires_at) VALUES (?, ?, ?), (?, ?, ?)')
        .bind('cron-old', now - 900, now - 300, 'cron-live', now, now + 300),
      d1.prepare('INSERT INTO c_nonces (nonce, access_token_jti, expires_at) VALUES (?, ?, ?)').bind('cron-old', 'jti', now - 1),
      d1
        .prepare('INSERT INTO pre_authorized_codes (code_hash, application_id, applicant_did, expires_at) VALUES (?, ?, ?, ?), (?, ?, ?, ?)')
        .bind('cron-ancient', 'a', 'd', now - 2 * 86400, 'cron-recent', 'a', 'd', now - 60),
    ]);
    const worker = await mf.getWorker();
    const result = await worker.scheduled({ scheduledTime: new Date(), cron: '*/5 * * * *' });
    expect(result.outcome).toBe('ok');
    const left = async (table: string, column: string) =>
      ((await d1.prepare(`SELECT ${column} AS k FROM ${table} WHERE ${column} LIKE 'cron-%' ORDER BY 1`).all()).results as { k: string }[]).map((r) => r.k);
    expect(await left('siop_requests', 'nonce')).toEqual(['cron-live']);
    expect(await left('c_nonces', 'nonce')).toEqual([]);
    expect(await left('pre_authorized_codes', 'code_hash')).toEqual(['cron-recent']);
  });
});
