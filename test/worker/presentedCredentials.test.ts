import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateOnly } from '@owf/mdoc';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueMdl, makeCa, makeHolderKey, makeLeaf, presentMdl, presentSdJwtVc, sdJwtVcIssuer, statusListToken } from '../helpers/presentedCredentials';
import { ROOT, wranglerToml } from '../helpers/workerd';

/**
 * The presented-credential verifiers in workerd (no nodejs_compat, as wrangler.toml deploys):
 * the verification core bundled as wrangler bundles (esbuild, workerd/worker/browser conditions),
 * a PID (x5c, Token Status List) and an mDL verified and refused there. @peculiar/x509,
 * @sd-jwt/*, @owf/mdoc (cbor-x in plain JavaScript) and jose run on Web Crypto only.
 */
const CLIENT_ID = 'did:web:pfi.example';
const RESPONSE_URI = 'https://pfi.example/siop/response';
const ISS = 'https://pid.example.eu';
const STATUS_URI = 'https://pid.example.eu/status/1';
let mf: Miniflare;
let url: string;
let trust: unknown;
let pid: (status?: number) => Promise<string>;
let mdl: Awaited<ReturnType<typeof issueMdl>>;
let wallet: Awaited<ReturnType<typeof makeHolderKey>>;
const fetchTable: Record<string, string> = {};

async function verify(vpToken: unknown, descriptor_map: unknown[], nonce: string) {
  const res = await mf.dispatchFetch(url, {
    method: 'POST',
    body: JSON.stringify({
      trust,
      definitionId: 'held',
      vpToken,
      submission: { id: 's', definition_id: 'held', descriptor_map },
      context: { applicantDid: 'did:jwk:x', nonce, clientId: CLIENT_ID, responseUri: RESPONSE_URI },
      fetchTable,
    }),
  });
  return (await res.json()) as {
    ok: boolean;
    reasons?: string[];
    error?: string;
    verified?: { descriptorId: string; claims: Record<string, string>; evidence: { format: string } }[];
  };
}

beforeAll(async () => {
  const outdir = mkdtempSync(join(tmpdir(), 'presented-worker-'));
  await build({
    entryPoints: [join(ROOT, 'test/worker/fixtures/presentedCredentialsWorker.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    outfile: join(outdir, 'worker.js'),
    logLevel: 'silent',
  });
  mf = new Miniflare({
    modules: true,
    scriptPath: join(outdir, 'worker.js'),
    modulesRoot: outdir,
    compatibilityDate: wranglerToml().compatibilityDate,
    cf: false,
  });
  url = (await mf.ready).toString();

  const pidCa = await makeCa('CN=PID CA, C=DE');
  const iaca = await makeCa('CN=IACA, C=US');
  const provider = await makeLeaf(pidCa, 'CN=PID Provider, C=DE', { sanUrl: ISS });
  const ds = await makeLeaf(iaca, 'CN=DS, C=US');
  wallet = await makeHolderKey();
  trust = {
    trustAnchors: { 'pid-ca': pidCa.pem, iaca: iaca.pem },
    sdJwtVc: [{ id: 'eu-pid', name: 'EU PID', vct: 'urn:eudi:pid:1', x5cTrustAnchors: ['pid-ca'], satisfies: ['document_verification'] }],
    mdoc: [{ id: 'mdl', name: 'mDL', docType: 'org.iso.18013.5.1.mDL', iacaRoots: ['iaca'], satisfies: ['document_verification'] }],
  };
  const now = Math.floor(Date.now() / 1000);
  pid = (status) =>
    sdJwtVcIssuer(provider.privateJwk, { typ: 'dc+sd-jwt', x5c: [Buffer.from(provider.der).toString('base64')] }).issue({
      vct: 'urn:eudi:pid:1',
      iss: ISS,
      iat: now - 60,
      exp: now + 3600,
      cnf: { jwk: wallet.publicJwk },
      given_name: 'Erika',
      family_name: 'Mustermann',
      birthdate: '1964-08-12',
      nationalities: ['DE'],
      ...(status !== undefined ? { status: { status_list: { idx: status, uri: STATUS_URI } } } : {}),
    });
  fetchTable[STATUS_URI] = await statusListToken(STATUS_URI, [0, 1], provider.privateJwk, ISS);
  mdl = await issueMdl(ds, wallet.publicJwk, { family_name: 'Doe', given_name: 'Jane', birth_date: new DateOnly('1990-04-01'), issuing_country: 'US' });
}, 120_000);

afterAll(async () => {
  await mf?.dispose();
});

describe('presented credentials in workerd', () => {
  it('verifies a PID (x5c, status list) and an mDL in one submission', async () => {
    const nonce = 'w-n1';
    const vpToken = [
      await presentSdJwtVc(await pid(0), wallet.privateJwk, { aud: CLIENT_ID, nonce }, ['given_name', 'family_name', 'birthdate', 'nationalities']),
      await presentMdl(mdl, wallet.privateJwk, { clientId: CLIENT_ID, nonce, responseUri: RESPONSE_URI }, ['given_name', 'family_name', 'birth_date']),
    ];
    const r = await verify(
      vpToken,
      [
        { id: 'eu-pid', format: 'vc+sd-jwt', path: '$[0]' },
        { id: 'org.iso.18013.5.1.mDL', format: 'mso_mdoc', path: '$[1]' },
      ],
      nonce,
    );
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.verified?.map((v) => [v.descriptorId, v.evidence.format, v.claims.familyName])).toEqual([
      ['eu-pid', 'dc+sd-jwt', 'Mustermann'],
      ['mdl', 'mso_mdoc', 'Doe'],
    ]);
  });

  it('refuses a revoked PID and an mDL over another transcript', async () => {
    const nonce = 'w-n2';
    const revoked = await presentSdJwtVc(await pid(1), wallet.privateJwk, { aud: CLIENT_ID, nonce }, [
      'given_name',
      'family_name',
      'birthdate',
      'nationalities',
    ]);
    expect(await verify(revoked, [{ id: 'eu-pid', format: 'vc+sd-jwt', path: '$' }], nonce)).toEqual({ ok: false, reasons: ['eu-pid: revoked'] });
    const replayed = await presentMdl(mdl, wallet.privateJwk, { clientId: CLIENT_ID, nonce: 'another', responseUri: RESPONSE_URI }, [
      'given_name',
      'family_name',
      'birth_date',
    ]);
    expect(await verify(replayed, [{ id: 'org.iso.18013.5.1.mDL', format: 'mso_mdoc', path: '$' }], nonce)).toEqual({
      ok: false,
      reasons: ["org.iso.18013.5.1.mDL: the device signature does not verify over this request's session transcript"],
    });
  });
});
