import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { issuerAwareResolver, statusListFetcher } from '../../src/issuance/presentedCredentials';
import { tierPresentationDefinition } from '../../src/protocol/tiers';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { verifyKcc } from '../../src/verifier';
import { runCli } from '../../src/verifier/cli';
import { createKccSchemaValidator } from '../../src/verifier/kccSchema';
import { TIERS, makeTieredIssuer, vcOf } from '../helpers/tiers';

const EXAMPLE = new URL('../fixtures/kcc-example-credential.jwt', import.meta.url).pathname;
const EXAMPLE_ISSUER = JSON.parse(readFileSync(new URL('../fixtures/kcc-example-credential.decoded.json', import.meta.url), 'utf8')).payload.iss as string;

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    fetch: (async () => new Response('offline', { status: 503 })) as unknown as typeof fetch,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('kcc verify (CLI) on the reference example KCC', () => {
  it('says it is expired and that its did:jwk issuer is not trusted', async () => {
    const r = await cli(['verify', EXAMPLE, '--now', '2026-11-23T12:00:00Z']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('FAIL dates');
    expect(r.out).toContain('expired on 2026-05-19T08:02:04.000Z');
    expect(r.out).toMatch(/FAIL issuer_trust\s+issuer did:jwk:\S+ is not trusted \(a did:jwk is a bare key/);
    expect(r.out).toMatch(/ok\s+signature\s+EdDSA signature/);
    expect(r.out).toMatch(/ok\s+schema/);
    expect(r.out.split('\n').pop()).toMatch(/^INVALID: /);
  });

  it('is valid before its expiry when its issuer is trusted; the reference PD (did:dht issuer) does not match', async () => {
    const ok = await cli(['verify', EXAMPLE, '--now', '2025-06-01T00:00:00Z', '--trusted-issuer', EXAMPLE_ISSUER]);
    expect(ok.code).toBe(0);
    expect(ok.out.split('\n').pop()).toBe('VALID');
    const pd = await cli([
      'verify',
      EXAMPLE,
      '--now',
      '2025-06-01T00:00:00Z',
      '--trusted-issuer',
      EXAMPLE_ISSUER,
      '--presentation-definition',
      new URL('../fixtures/kcc-presentation-definition.example-2.json', import.meta.url).pathname,
    ]);
    expect(pd.code).toBe(1);
    expect(pd.out).toContain('FAIL presentation_definition');
    expect(pd.out).toContain('$.issuer');
  });

  it('reports a tampered signature and usage errors', async () => {
    const jwt = readFileSync(EXAMPLE, 'utf8').trim();
    const [h, p, s] = jwt.split('.');
    const flipped = `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`;
    const r = await cli(['verify', flipped, '--now', '2025-06-01T00:00:00Z', '--trusted-issuer', EXAMPLE_ISSUER, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).reasons).toEqual(['signature: signature verification failed']);
    expect((await cli(['verify'])).code).toBe(2);
    expect((await cli(['verify', EXAMPLE, '--bogus'])).code).toBe(2);
    expect((await cli(['sign', EXAMPLE])).code).toBe(2);
    expect((await cli(['verify', 'not-a-file'])).code).toBe(2);
  });
});

describe('verifier library and CLI on credentials we issue', () => {
  it('verifies signature via did:web, schema, dates, status, trust and the tier PD', async () => {
    const t = await makeTieredIssuer();
    const kcc = (await t.apply(await t.wallet(), 'kcc-basic')).credential as string;
    const options = {
      resolver: issuerAwareResolver(t.deps),
      verifier: createNodeCryptoProvider(),
      now: t.nowSeconds(),
      trustedIssuers: [t.deps.issuer.did],
      fetchStatusList: statusListFetcher(t.deps),
      schema: createKccSchemaValidator(),
    };
    const verdict = await verifyKcc(kcc, { ...options, presentationDefinition: tierPresentationDefinition(TIERS[0], t.deps.issuer.did) });
    expect(verdict.reasons).toEqual([]);
    expect(verdict.ok).toBe(true);
    expect(verdict.status).toEqual({ revocation: false, suspension: false });
    // A Basic KCC does not satisfy the Enhanced definition (no sanction screening).
    const enhanced = await verifyKcc(kcc, { ...options, presentationDefinition: tierPresentationDefinition(TIERS[1], t.deps.issuer.did) });
    expect(enhanced.ok).toBe(false);
    expect(enhanced.reasons.join()).toContain('^sanction_screening$');
    // Not trusted when the relying party trusts someone else; expired a year on.
    expect((await verifyKcc(kcc, { ...options, trustedIssuers: ['did:web:other.test'] })).reasons.join()).toContain('is not trusted');
    expect((await verifyKcc(kcc, { ...options, now: options.now + 366 * 86400 })).reasons.join()).toContain('expired');
    // Without a way to fetch status lists the verdict cannot be positive.
    expect((await verifyKcc(kcc, { ...options, fetchStatusList: undefined })).reasons.join()).toContain('cannot check revocation status');

    // The CLI resolves did:web over HTTP and fetches the served PD and status lists.
    const dir = mkdtempSync(join(tmpdir(), 'kcc-pd-'));
    const pdFile = join(dir, 'pd.json');
    writeFileSync(pdFile, await (await t.app.request(`${t.base}/presentation-definitions/kcc-basic`)).text());
    const r = await t.cli([kcc, '--trusted-issuer', t.deps.issuer.did, '--presentation-definition', pdFile]);
    expect(r.out).toContain('VALID');
    expect(r.out).toMatch(/ok\s+status\s+not revoked nor suspended/);
    expect(r.code).toBe(0);
    expect(vcOf(kcc).credentialSchema[0].id).toBe('https://vc.schemas.host/kcc.schema.json');
  });
});
