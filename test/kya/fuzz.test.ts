import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/http/context';
import { sourceIpProblem, validateSourceIps } from '../../src/protocol/kya/sourceIps';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { createDidJwkResolver } from '../../src/did/jwk';
import { createDidResolver } from '../../src/did/resolver';
import { verifyKyaToken } from '../../src/verifier/kya';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { PUBLIC_URL, makeTestIssuer } from '../helpers/issuer';

/**
 * Property-based fuzzing (fast-check) of the KYA endpoint and parsers, as test/security/fuzz.test.ts
 * does for the others: the endpoint answers a 4xx JSON error or a token, never a 5xx or an
 * unhandled_error log line, for random bodies and for mutations of a valid request; the source_ips
 * validator and the verifier return (a reason, a verdict) and never throw.
 */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
let t: Awaited<ReturnType<typeof makeTestIssuer>>;
let valid: Record<string, any>;
let holder: Holder;
let kcc: string;
const errors: string[] = [];
const logger: Logger = { info() {}, warn() {}, error: (event) => errors.push(event) };

beforeAll(async () => {
  t = await makeTestIssuer({ clientAddress: () => '8.8.4.4', logger });
  holder = await Holder.create();
  kcc = (await applyForKcc(new WalletClient(holder, t.fetch), { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY })).credential!;
  const agent = await Holder.create();
  valid = {
    vp_token: await vp(),
    aid: { name: 'Agent', source_ips: ['8.8.8.8'] },
    cnf: { jwk: agent.signer.publicJwk },
    scope: 'a b',
    apd: { id: 'p' },
    hid_claims: ['tier'],
  };
});

async function vp() {
  const nonce = ((await (await t.fetch(`${PUBLIC_URL}/oid4vci/nonce`, { method: 'POST' })).json()) as { c_nonce: string }).c_nonce;
  return holder.createPresentation({ credentials: [kcc], audience: t.deps.issuer.did, nonce });
}

async function post(body: string) {
  const res = await t.fetch(`${PUBLIC_URL}/kya/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const json = (await res.json()) as Record<string, unknown>;
  return { status: res.status, json };
}

const paths = ['vp_token', 'aid', 'aid.name', 'aid.source_ips', 'cnf', 'cnf.jwk', 'cnf.jwk.x', 'cnf.jwk.kty', 'scope', 'apd', 'apd.id', 'hid_claims'];

function setPath(body: Record<string, any>, path: string, value: unknown) {
  const copy = structuredClone(body);
  const parts = path.split('.');
  let at: any = copy;
  for (const p of parts.slice(0, -1)) {
    if (!at[p] || typeof at[p] !== 'object') at[p] = {};
    at = at[p];
  }
  at[parts[parts.length - 1]] = value;
  return copy;
}

describe('KYA endpoint fuzzing', () => {
  it('random JSON bodies: a 4xx JSON error, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), async (value) => {
        const r = await post(JSON.stringify(value));
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(typeof r.json.error).toBe('string');
      }),
      { numRuns: 100 * SCALE },
    );
    expect(errors).toEqual([]);
  });

  it('one member of a valid request replaced by anything: 4xx or a token, never a 5xx', async () => {
    let minted = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string(), fc.constant(undefined)), async (path, value) => {
        // A fresh presentation each run, so the nonce is not what refuses it.
        const body = setPath({ ...valid, vp_token: path === 'vp_token' ? valid.vp_token : await vp() }, path, value);
        const r = await post(JSON.stringify(body));
        if (r.status === 200) minted++;
        else {
          expect(r.status).toBeGreaterThanOrEqual(400);
          expect(r.status).toBeLessThan(500);
          expect(typeof r.json.error).toBe('string');
        }
      }),
      { numRuns: 100 * SCALE },
    );
    expect(errors).toEqual([]);
    // Some replacements are harmless (an optional member removed): the property saw both outcomes.
    expect(minted).toBeGreaterThan(0);
  });

  it('the source_ips validator and the verifier never throw on arbitrary input', async () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-f.:/ -]{0,40}$/)), (s) => {
        const r = sourceIpProblem(s);
        expect(r === undefined || typeof r === 'string').toBe(true);
        expect(typeof validateSourceIps(s).ok).toBe('boolean');
      }),
      { numRuns: 2000 * SCALE },
    );
    const options = {
      resolver: createDidResolver({ registry: createDidJwkResolver() }),
      verifier: createNodeCryptoProvider(),
      now: Math.floor(Date.now() / 1000),
    };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((v) => `eyJ0eXAiOiJreWErand0IiwiYWxnIjoiRWREU0EifQ.${Buffer.from(JSON.stringify(v)).toString('base64url')}.AAAA`),
        ),
        async (token) => {
          const verdict = await verifyKyaToken(token, options);
          expect(verdict.ok).toBe(false);
        },
      ),
      { numRuns: 300 * SCALE },
    );
  });
});
