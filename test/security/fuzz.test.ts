/**
 * Property-based fuzzing (fast-check) of every endpoint and every parser.
 *
 * Endpoint invariant: a 4xx with a JSON `{ error }` body (HTML on the IDV form pages) or a
 * valid answer (2xx/3xx); never a 5xx, never an `unhandled_error` log line, never an
 * unhandled rejection. Parser invariant: returns, or throws its own documented error type
 * (JwtError, TypeError, DidError, DidWebError, Error for the did:dht codec); never hangs,
 * never a RangeError from recursion, never another exception type.
 *
 * Run counts are set by RUNS below (kept small enough for ~2 loaded cores); the total is
 * printed at the end of the suite.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import type { DIDResolver } from 'did-resolver';
import { base64urlDecode, base64urlEncode, utf8 } from '../../src/crypto/base64url';
import { JwtError, decodeJwt, signJwt } from '../../src/crypto/jwt';
import { parseBep44Body } from '../../src/did/bep44';
import { createDidDhtDocument, createDidDhtResolver, decodeDidDhtPacket, didDhtFromPublicKey, encodeDidDhtPacket, signBep44 } from '../../src/did/dht';
import { createDidJwkResolver } from '../../src/did/jwk';
import { createDidKeyResolver } from '../../src/did/key';
import { DidError, createDidResolver, resolveVerificationKey } from '../../src/did/resolver';
import { DidWebError, createDidWebResolver, didWebUrl } from '../../src/did/web';
import type { Logger } from '../../src/http/context';
import { validateIdentityFields, FIELD_RULES } from '../../src/idv/fields';
import { startNodeIssuer } from '../../src/runtime/node';
import { SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { ADMIN_TOKEN, PUBLIC_URL, makeTestIssuer } from '../helpers/issuer';
import { PRE_AUTH, applicationIdOf, credentialRequest, openApplication, proofBody, redeem, submitIdentity, type TestIssuer } from '../helpers/steps';

/** FUZZ_SCALE=10 for a longer local run; the default keeps the suite fast on loaded CI machines. */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const RUNS = { endpoint: 150 * SCALE, mutation: 150 * SCALE, parser: 400 * SCALE, document: 200 * SCALE };
let totalRuns = 0;
function count<A extends unknown[], R>(p: (...a: A) => R): (...a: A) => R {
  return (...a: A) => {
    totalRuns++;
    return p(...a);
  };
}

/** Fails the suite on any unhandled rejection or uncaught exception while it runs. */
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);

/** A logger that keeps only `unhandled_error` events (the error handler's 500 path). */
function capturingLogger(sink: string[]): Logger {
  return { info() {}, warn() {}, error: (event, fields) => sink.push(`${event} ${JSON.stringify(fields)}`) };
}

/** The endpoint invariant. Returns the response for further checks. */
async function expectSafe(res: Response, what: unknown, options: { html?: boolean; htmlOnly?: boolean; method?: string } = {}) {
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  const ctx = { what, status: res.status, body: text.slice(0, 300) };
  if (res.status >= 500) expect.fail(`5xx: ${JSON.stringify(ctx)}`);
  if (res.status >= 400 && options.method !== 'HEAD') {
    // A browser (webview) on the form pages sees an HTML page for every refusal, not JSON.
    if (options.htmlOnly && res.status !== 413) expect(type, JSON.stringify(ctx)).toMatch(/^text\/html/);
    if (options.html && type.startsWith('text/html')) {
      expect(text, JSON.stringify(ctx)).toMatch(/^<!doctype html>/);
    } else {
      expect(type, JSON.stringify(ctx)).toMatch(/^application\/json/);
      const body = JSON.parse(text);
      expect(typeof body.error, JSON.stringify(ctx)).toBe('string');
    }
  }
  return { status: res.status, text };
}

// ---------- arbitraries ----------

const CONTENT_TYPES = [
  'application/json',
  'application/x-www-form-urlencoded',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'text/plain',
  'multipart/form-data; boundary=x',
  'application/xml',
  '',
  'application/json;;;',
  'application/x-www-form-urlencoded; charset=latin1',
];

/** Bodies: random text, random bytes (often invalid UTF-8), random JSON, random form strings. */
const bodyArb: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.dictionary(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 }).map((v) => JSON.stringify(v)),
  fc.array(fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 40 })), { maxLength: 8 }).map((pairs) => new URLSearchParams(pairs).toString()),
  fc
    .array(
      fc.tuple(
        fc.constantFrom('id_token', 'grant_type', 'pre-authorized_code', 'client_id', 'transaction_id', 'given_name', '%ff', '%', '&', '='),
        fc.string({ maxLength: 40 }),
      ),
      { maxLength: 8 },
    )
    .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&')),
);

const headerValueArb = fc.oneof(
  fc.string({ maxLength: 80 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
  fc.constantFrom('Bearer', 'Bearer ', 'Basic x', `Bearer ${ADMIN_TOKEN}`, 'Bearer a.b.c'),
);

interface Mutation {
  pos: number;
  op: 'flip' | 'delete' | 'insert' | 'duplicate' | 'truncate';
  byte: number;
}
const mutationsArb = fc.array(
  fc.record({
    pos: fc.nat(),
    op: fc.constantFrom<Mutation['op']>('flip', 'delete', 'insert', 'duplicate', 'truncate'),
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  { minLength: 1, maxLength: 4 },
);

/** Applies byte-level mutations (bit flips, deletions, insertions, duplications, truncation). */
function mutate(input: string | Uint8Array, mutations: Mutation[]): Uint8Array {
  let bytes = Array.from(typeof input === 'string' ? utf8.encode(input) : input);
  for (const m of mutations) {
    const i = bytes.length === 0 ? 0 : m.pos % bytes.length;
    if (m.op === 'flip') bytes[i] = (bytes[i] ?? 0) ^ (1 << (m.byte % 8));
    else if (m.op === 'delete') bytes.splice(i, 1);
    else if (m.op === 'insert') bytes.splice(i, 0, m.byte);
    else if (m.op === 'duplicate') bytes.splice(i, 0, ...bytes.slice(i, i + 1 + (m.byte % 16)));
    else bytes = bytes.slice(0, i);
  }
  return Uint8Array.from(bytes);
}

/** A mutated string that stays a string (header values, path segments). */
function mutateString(input: string, mutations: Mutation[]): string {
  return new TextDecoder().decode(mutate(input, mutations));
}

/** A mutated header value: bytes read as Latin-1 (what HTTP carries), without CR, LF or NUL. */
function mutateHeader(input: string, mutations: Mutation[]): string {
  return String.fromCharCode(...mutate(input, mutations)).replace(/[\r\n\0]/g, '');
}

const asBody = (b: string | Uint8Array): BodyInit => (typeof b === 'string' ? b : (b as Uint8Array<ArrayBuffer>));

// ---------- endpoints ----------

describe('fuzzing the endpoints', () => {
  let t: TestIssuer;
  const errors: string[] = [];
  let holder: Holder;
  /** The approved application's applicant (its own DID: the same DID's next SIOPv2 answer would resume that approval). */
  let approvedHolder: Holder;
  let formToken: string;
  let code: string;
  let accessToken: string;
  let cNonce: string;
  let reviewToken: string;
  let reviewTransaction: string;
  let applicationId: string;

  /** A fresh pending application: its form token and pre-authorized code. */
  async function freshApplication() {
    const app = await openApplication(t, holder);
    formToken = new URL(app.idvRequest.url).pathname.split('/').pop()!;
    code = app.code;
    return app;
  }

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    t = await makeTestIssuer({ logger: capturingLogger(errors) });
    holder = await Holder.create();
    approvedHolder = await Holder.create();
    const reviewHolder = await Holder.create();
    // An approved application with a live access token and c_nonce.
    const approved = await openApplication(t, approvedHolder);
    await submitIdentity(t, approved.client, approved.idvRequest, SAMPLE_IDENTITY);
    const token = await redeem(t, approvedHolder, approved.code);
    accessToken = token.access_token;
    cNonce = token.c_nonce;
    applicationId = await applicationIdOf(t, accessToken);
    // An application in review with a deferred transaction (always issuance_pending).
    const review = await openApplication(t, reviewHolder);
    await submitIdentity(t, review.client, review.idvRequest, { ...SAMPLE_IDENTITY, family_name: 'Review' });
    const reviewGrant = await redeem(t, reviewHolder, review.code);
    reviewToken = reviewGrant.access_token;
    const deferred = await credentialRequest(t, reviewToken, await proofBody(reviewHolder, reviewGrant.c_nonce));
    expect(deferred.status).toBe(202);
    reviewTransaction = deferred.body.transaction_id;
    await freshApplication();
  });

  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
  });

  const send = (path: string, init: RequestInit = {}) => t.app.request(`${PUBLIC_URL}${path}`, init);

  it('random method, path, query and headers on any route', async () => {
    const paths = [
      '/idv/siopv2/initiate',
      '/idv/siopv2/response',
      '/idv/form/x',
      '/idv/finish.html',
      '/idv/form.css',
      '/oauth2/token',
      '/oid4vci/credential',
      '/oid4vci/deferred-credential',
      '/admin/applications',
      '/admin/applications/x/decision',
      '/.well-known/did.json',
      '/.well-known/openid-credential-issuer',
      '/.well-known/oauth-authorization-server',
      '/schemas/kcc.schema.json',
      '/healthz',
      '/',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
        fc.oneof(
          fc.constantFrom(...paths),
          fc.webPath(),
          fc.constantFrom(...paths).chain((p) => fc.string({ maxLength: 30 }).map((s) => p + encodeURIComponent(s))),
        ),
        fc.oneof(
          fc.constant(''),
          fc.webQueryParameters().map((q) => `?${q}`),
          fc.string({ maxLength: 60 }).map((s) => `?${s.replace(/[#\s]/g, '')}`),
        ),
        fc.constantFrom(...CONTENT_TYPES),
        headerValueArb,
        bodyArb,
        count(async (method, path, query, contentType, authorization, body) => {
          let url: string;
          try {
            url = new URL(`${PUBLIC_URL}${path.startsWith('/') ? path : `/${path}`}${query}`).toString();
          } catch {
            return; // not a URL a client could send
          }
          const hasBody = method !== 'GET' && method !== 'HEAD';
          const res = await t.app.request(url, {
            method,
            headers: { 'content-type': contentType, authorization, accept: '*/*' },
            body: hasBody ? asBody(body) : undefined,
          });
          await expectSafe(res, { method, path, query }, { html: path.startsWith('/idv/'), method });
        }),
      ),
      { numRuns: RUNS.endpoint },
    );
  });

  it('GET /idv/siopv2/initiate: random and duplicate query parameters, random Accept', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.oneof(fc.constant('presentation_definition_id'), fc.string({ maxLength: 20 })),
            fc.oneof(fc.constant('KnownCustomerCredential'), fc.string({ maxLength: 40 })),
          ),
          { maxLength: 6 },
        ),
        fc.string({ maxLength: 40 }).map((s) => s.replace(/[#\s]/g, '')),
        fc.oneof(fc.constant('application/json'), fc.constant('*/*'), headerValueArb),
        count(async (pairs, raw, accept) => {
          const q = new URLSearchParams(pairs).toString();
          const res = await send(`/idv/siopv2/initiate?${q}&${raw}`, { headers: { accept } });
          const { status } = await expectSafe(res, { pairs, raw });
          expect([200, 400]).toContain(status);
        }),
      ),
      { numRuns: RUNS.endpoint },
    );
  });

  it('POST /idv/siopv2/response: random bodies and content types', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...CONTENT_TYPES),
        bodyArb,
        count(async (contentType, body) => {
          const { status } = await expectSafe(
            await send('/idv/siopv2/response', { method: 'POST', headers: { 'content-type': contentType }, body: asBody(body) }),
            { contentType },
          );
          expect([400, 413, 415]).toContain(status);
        }),
      ),
      { numRuns: RUNS.endpoint },
    );
  });

  it('POST /idv/siopv2/response: a valid ID token, mutated byte by byte (token and body)', async () => {
    const idToken = await holder.createIdToken({ clientId: t.deps.issuer.did, nonce: 'not-a-live-nonce' });
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.boolean(),
        mutationsArb,
        count(async (asForm, mutateWholeBody, mutations) => {
          const body = asForm ? new URLSearchParams({ id_token: idToken }).toString() : JSON.stringify({ id_token: idToken });
          const sent = mutateWholeBody
            ? mutate(body, mutations)
            : asForm
              ? new URLSearchParams({ id_token: mutateString(idToken, mutations) }).toString()
              : JSON.stringify({ id_token: mutateString(idToken, mutations) });
          const res = await send('/idv/siopv2/response', {
            method: 'POST',
            headers: { 'content-type': asForm ? 'application/x-www-form-urlencoded' : 'application/json' },
            body: asBody(sent),
          });
          expect((await expectSafe(res, { asForm, mutations })).status).toBe(400);
        }),
      ),
      { numRuns: RUNS.mutation },
    );
  });

  it('/idv/form/:token GET and POST: random tokens, random and mutated submissions', async () => {
    const valid = new URLSearchParams(SAMPLE_IDENTITY).toString();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant('live'), fc.string({ maxLength: 120 }), fc.string({ unit: 'binary', maxLength: 40 })),
        fc.constantFrom('GET', 'POST'),
        fc.oneof(
          bodyArb,
          mutationsArb.map((m) => mutate(valid, m)),
          mutationsArb.map((m) => mutate(JSON.stringify(SAMPLE_IDENTITY), m)),
        ),
        fc.constantFrom(...CONTENT_TYPES),
        fc.constantFrom('text/html', 'application/json', '*/*'),
        count(async (tokenChoice, method, body, contentType, accept) => {
          const token = tokenChoice === 'live' ? formToken : tokenChoice;
          const res = await send(`/idv/form/${encodeURIComponent(token)}`, {
            method,
            headers: { 'content-type': contentType, accept },
            body: method === 'POST' ? asBody(body) : undefined,
          });
          // (An empty token is no form URL at all: the app's JSON 404.)
          const browser = token !== '' && accept === 'text/html' && !contentType.toLowerCase().startsWith('application/json');
          const { status } = await expectSafe(res, { tokenChoice, method, contentType, accept }, { html: true, htmlOnly: browser });
          if (status === 303 || (status === 200 && method === 'POST')) await freshApplication(); // submitted: a new live form
        }),
      ),
      { numRuns: RUNS.mutation },
    );
  });

  it('POST /oauth2/token: random bodies, and a valid request mutated byte by byte', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          bodyArb.map((b) => ({ b, ct: 'application/x-www-form-urlencoded' })),
          bodyArb.map((b) => ({ b, ct: 'application/json' })),
          fc.tuple(fc.boolean(), mutationsArb).map(([json, m]) => {
            const fields = { grant_type: PRE_AUTH, 'pre-authorized_code': code, client_id: holder.did };
            return json
              ? { b: mutate(JSON.stringify(fields), m), ct: 'application/json' }
              : { b: mutate(new URLSearchParams(fields).toString(), m), ct: 'application/x-www-form-urlencoded' };
          }),
          // duplicate parameters
          fc.constant({ b: `grant_type=${encodeURIComponent(PRE_AUTH)}&grant_type=x&pre-authorized_code=a`, ct: 'application/x-www-form-urlencoded' }),
        ),
        count(async ({ b, ct }) => {
          const { status } = await expectSafe(await send('/oauth2/token', { method: 'POST', headers: { 'content-type': ct }, body: asBody(b) }), { ct });
          if (status === 200) await freshApplication(); // the code was redeemed
        }),
      ),
      { numRuns: RUNS.mutation },
    );
  });

  it('POST /oid4vci/credential: random and mutated access tokens, bodies and proofs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant('valid'), fc.constant('none'), mutationsArb, headerValueArb),
        fc.oneof(
          fc.constant('valid'),
          bodyArb,
          mutationsArb.map((m) => ({ mutateProof: m })),
          mutationsArb.map((m) => ({ mutateBody: m })),
        ),
        count(async (auth, bodyChoice) => {
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (auth === 'valid') headers.authorization = `Bearer ${accessToken}`;
          else if (Array.isArray(auth)) headers.authorization = `Bearer ${mutateHeader(accessToken, auth)}`;
          else if (typeof auth === 'string' && auth !== 'none') headers.authorization = auth;
          const honest = await proofBody(approvedHolder, cNonce);
          let body: string | Uint8Array;
          if (bodyChoice === 'valid') body = JSON.stringify(honest);
          else if (typeof bodyChoice === 'object' && 'mutateProof' in bodyChoice)
            body = JSON.stringify({ ...honest, proof: { proof_type: 'jwt', jwt: mutateString(honest.proof.jwt, bodyChoice.mutateProof) } });
          else if (typeof bodyChoice === 'object' && 'mutateBody' in bodyChoice) body = mutate(JSON.stringify(honest), bodyChoice.mutateBody);
          else body = bodyChoice as string | Uint8Array;
          let res: Response;
          try {
            res = await send('/oid4vci/credential', { method: 'POST', headers, body: asBody(body) });
          } catch (e) {
            if (e instanceof TypeError && /header/i.test(e.message)) return; // a header no client can send
            throw e;
          }
          const { status, text } = await expectSafe(res, { auth: typeof auth, bodyChoice: typeof bodyChoice });
          const json = JSON.parse(text);
          if (typeof json.c_nonce === 'string') cNonce = json.c_nonce;
          if (status === 200) {
            // Issued with the honest proof: take a fresh nonce for the next runs.
            const r = await credentialRequest(t, accessToken, { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: 'x.y.z' } });
            cNonce = r.body.c_nonce;
          }
        }),
      ),
      { numRuns: RUNS.mutation },
    );
  });

  it('POST /oid4vci/deferred-credential: random and mutated transaction ids and bodies', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.oneof(
          fc.constant(JSON.stringify({ transaction_id: reviewTransaction })),
          bodyArb,
          mutationsArb.map((m) => mutate(JSON.stringify({ transaction_id: reviewTransaction }), m)),
          fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ transaction_id: v })),
        ),
        count(async (ownToken, body) => {
          const res = await send('/oid4vci/deferred-credential', {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${ownToken ? reviewToken : accessToken}` },
            body: asBody(body),
          });
          const { status } = await expectSafe(res, { ownToken });
          expect(status).toBe(400); // issuance_pending, invalid_transaction_id or invalid_request: never the credential
        }),
      ),
      { numRuns: RUNS.mutation },
    );
  });

  it('/admin/*: random paths, methods and bodies, with and without the operator token', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constant(`Bearer ${ADMIN_TOKEN}`),
          fc.constant(''),
          headerValueArb,
          mutationsArb.map((m) => `Bearer ${mutateHeader(ADMIN_TOKEN, m)}`),
        ),
        fc.constantFrom('GET', 'POST'),
        fc.oneof(
          fc.constant('/applications'),
          fc.constantFrom('pending', 'review', 'approved', 'rejected', 'x', '').map((s) => `/applications?status=${s}`),
          fc.string({ maxLength: 60 }).map((s) => `/applications/${encodeURIComponent(s)}`),
          fc
            .oneof(fc.constant('live'), fc.string({ maxLength: 60 }))
            .map((s) => `/applications/${encodeURIComponent(s === 'live' ? applicationId : s)}/decision`),
          fc.webPath().map((p) => `/${p.replace(/^\/+/, '')}`),
        ),
        fc.oneof(
          bodyArb,
          fc
            .record(
              { decision: fc.oneof(fc.constantFrom('approve', 'reject'), fc.jsonValue()), tier: fc.jsonValue(), reason: fc.jsonValue() },
              { requiredKeys: [] },
            )
            .map((v) => JSON.stringify(v)),
        ),
        count(async (authorization, method, path, body) => {
          let res: Response;
          try {
            res = await send(`/admin${path}`, {
              method,
              headers: { authorization, 'content-type': 'application/json' },
              body: method === 'POST' ? asBody(body) : undefined,
            });
          } catch (e) {
            if (e instanceof TypeError && /(header|URL)/i.test(e.message)) return;
            throw e;
          }
          const { status } = await expectSafe(res, { path, method });
          if (authorization !== `Bearer ${ADMIN_TOKEN}`) expect([401, 404]).toContain(status);
        }),
      ),
      { numRuns: RUNS.endpoint },
    );
  });

  it('well-known documents answer any query and headers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          '/.well-known/did.json',
          '/.well-known/openid-credential-issuer',
          '/.well-known/oauth-authorization-server',
          '/schemas/kcc.schema.json',
          '/healthz',
          '/idv/form.css',
          '/idv/finish.html',
        ),
        fc.webQueryParameters(),
        headerValueArb,
        count(async (path, q, h) => {
          const res = await send(`${path}?${q}`, { headers: { accept: h, 'accept-language': h, 'x-request-id': h } });
          const { status } = await expectSafe(res, { path, q });
          expect(status).toBe(200);
          expect(res.headers.get('x-request-id')).toMatch(/^[\w.-]{1,64}$/);
        }),
      ),
      { numRuns: RUNS.endpoint },
    );
  });

  it('huge bodies, deep JSON, wrong content types, invalid UTF-8, duplicate parameters (fixed cases)', async () => {
    const posts = [
      '/idv/siopv2/response',
      '/oauth2/token',
      '/oid4vci/credential',
      '/oid4vci/deferred-credential',
      `/idv/form/${formToken}`,
      `/admin/applications/${applicationId}/decision`,
    ];
    const auth = (path: string) => (path.startsWith('/admin') ? `Bearer ${ADMIN_TOKEN}` : `Bearer ${accessToken}`);
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const cases: Array<{ name: string; body: BodyInit; type: string; expect?: number[] }> = [
      { name: '1 MiB JSON string', body: JSON.stringify({ id_token: 'x'.repeat(1 << 20) }), type: 'application/json', expect: [413] },
      { name: '1 MiB form', body: `a=${'x'.repeat(1 << 20)}`, type: 'application/x-www-form-urlencoded', expect: [413] },
      { name: '100k nested arrays', body: deep(100_000), type: 'application/json', expect: [413] },
      { name: '30k nested arrays (under the limit)', body: deep(30_000), type: 'application/json' },
      { name: '30k nested objects in a member', body: `{"transaction_id":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`, type: 'application/json' },
      { name: 'deep proof', body: `{"format":"jwt_vc_json","proof":${'{"proof":'.repeat(8000)}1${'}'.repeat(8000)}}`, type: 'application/json' },
      { name: 'invalid UTF-8 JSON', body: Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), type: 'application/json', expect: [400, 401] },
      { name: 'invalid UTF-8 form', body: Uint8Array.from([0x61, 0x3d, 0xc3, 0x28]), type: 'application/x-www-form-urlencoded', expect: [400, 401, 415] },
      { name: 'lone surrogate escapes', body: '{"id_token":"\\ud800","transaction_id":"\\udfff","grant_type":"\\ud800"}', type: 'application/json' },
      {
        name: 'duplicate form parameters',
        body: 'id_token=a&id_token=b&grant_type=a&grant_type=b&given_name=x&given_name=y',
        type: 'application/x-www-form-urlencoded',
        expect: [400, 401, 415],
      },
      { name: 'duplicate JSON members', body: '{"id_token":"a","id_token":"b","transaction_id":"x","transaction_id":"y"}', type: 'application/json' },
      { name: 'JSON array body', body: '[]', type: 'application/json', expect: [400, 401] },
      { name: 'JSON null body', body: 'null', type: 'application/json', expect: [400, 401] },
      { name: 'empty JSON body', body: '', type: 'application/json', expect: [400, 401] },
      { name: 'XML', body: '<a/>', type: 'application/xml', expect: [400, 401, 415] },
      {
        name: 'multipart',
        body: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--',
        type: 'multipart/form-data; boundary=x',
        expect: [400, 401, 415],
      },
      { name: '__proto__ member', body: '{"__proto__":{"grant_type":"x"},"constructor":{"prototype":{}}}', type: 'application/json' },
    ];
    for (const path of posts) {
      for (const c of cases) {
        const res = await send(path, { method: 'POST', headers: { 'content-type': c.type, authorization: auth(path) }, body: c.body });
        const { status } = await expectSafe(res, { path, case: c.name }, { html: path.startsWith('/idv/form') });
        if (c.expect) expect({ path, case: c.name, status }).toEqual({ path, case: c.name, status: expect.toBeOneOf(c.expect) });
        totalRuns++;
      }
    }
    // With a body limit large enough to let 100k nested arrays through to the parsers.
    const big = await makeTestIssuer({ config: { maxBodyBytes: 4 << 20 }, logger: capturingLogger(errors) });
    for (const path of ['/idv/siopv2/response', '/oauth2/token', '/oid4vci/credential', '/admin/applications/x/decision']) {
      for (const body of [deep(100_000), `{"proof":${deep(100_000)}}`, `{"id_token":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`]) {
        const res = await big.app.request(`${PUBLIC_URL}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: path.startsWith('/admin') ? `Bearer ${ADMIN_TOKEN}` : 'Bearer x' },
          body,
        });
        await expectSafe(res, { path, deep: body.slice(0, 12) });
        totalRuns++;
      }
    }
  });

  it('no 500 was logged and no rejection went unhandled', () => {
    expect(errors).toEqual([]);
    expect(unhandled).toEqual([]);
  });
});

// ---------- raw HTTP against the Node runtime ----------

describe('fuzzing raw HTTP requests (Node runtime)', () => {
  it('malformed request lines, hosts, headers and bodies never get a 5xx nor take the server down', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kcc-fuzz-'));
    const errors: string[] = [];
    const issuer = await startNodeIssuer({
      port: 0,
      dataDir,
      logger: capturingLogger(errors),
      config: { adminToken: ADMIN_TOKEN, rateLimits: { enabled: false } },
    });
    const send = (bytes: Uint8Array) =>
      new Promise<string>((ok) => {
        const socket = net.connect(issuer.port, '127.0.0.1', () => socket.end(bytes));
        let out = '';
        const done = () => ok(out.split('\r\n')[0]);
        socket.on('data', (d) => (out += d.toString('latin1')));
        socket.on('end', done);
        socket.on('error', done);
        socket.setTimeout(2000, () => {
          socket.destroy();
          done();
        });
      });
    const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$/);
    const latin1 = fc.string({ unit: 'binary', maxLength: 60 }).map((v) => v.replace(/[^\p{Cc}\u0020-\u00ff]/gu, '?'));
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.constantFrom('GET', 'POST', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE'), token),
          fc.oneof(
            fc.constantFrom(
              '/oauth2/token',
              '/oid4vci/credential',
              '/idv/siopv2/response',
              '/idv/siopv2/initiate',
              '/idv/form/x',
              '/admin/applications',
              '/.well-known/did.json',
              '*',
              'http://evil.example/healthz',
              '//x',
              '/%ZZ',
              '/\u00ff',
            ),
            latin1.map((p) => `/${p.replace(/[\s]/g, '')}`),
          ),
          fc.oneof(
            fc.constant('localhost'),
            fc.constant(''),
            latin1.map((h) => h.replace(/[\r\n]/g, '')),
          ),
          fc.array(
            fc.tuple(
              fc.oneof(token, fc.constantFrom('content-type', 'authorization', 'transfer-encoding', 'content-length', 'x-request-id')),
              latin1.map((v) => v.replace(/[\r\n]/g, '')),
            ),
            { maxLength: 6 },
          ),
          fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.constant(utf8.encode(JSON.stringify({ id_token: 'a.b.c' })))),
          count(async (method, path, host, headers, body) => {
            const head = [
              `${method} ${path} HTTP/1.1`,
              ...(host ? [`Host: ${host}`] : []),
              ...headers.map(([k, v]) => `${k}: ${v}`),
              `Content-Length: ${body.length}`,
              'Connection: close',
              '',
              '',
            ].join('\r\n');
            const bytes = new Uint8Array([...Array.from(head, (ch) => ch.charCodeAt(0) & 0xff), ...body]);
            const status = await send(bytes);
            // An answer (any status below 500) or a closed connection (the HTTP parser refusing it).
            if (status) expect(status, JSON.stringify({ method, path, host, headers })).toMatch(/^HTTP\/1\.[01] [1-4]\d\d /);
          }),
        ),
        { numRuns: RUNS.endpoint / 3 },
      );
      expect((await fetch(`${issuer.url}/healthz`)).status).toBe(200);
      expect(errors).toEqual([]);
    } finally {
      await issuer.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

// ---------- DID documents served to resolveVerificationKey (fake registry) ----------

describe('fuzzing DID documents', () => {
  const jsonish = fc.jsonValue({ maxDepth: 4 });

  /** Documents that look like DID documents, with random holes, wrong types and real keys. */
  function documentArb(did: string, kid: string, realJwk: Record<string, unknown>) {
    const vm = fc.record(
      {
        id: fc.oneof(fc.constant(kid), fc.constant('#key-1'), fc.constant(`${did}#other`), jsonish),
        type: fc.oneof(fc.constantFrom('JsonWebKey2020', 'JsonWebKey', 'Multikey'), jsonish),
        controller: fc.oneof(fc.constant(did), jsonish),
        publicKeyJwk: fc.oneof(
          fc.constant(realJwk),
          fc.constant({ ...realJwk, d: 'x' }),
          fc.constant({ kty: 'EC', crv: 'secp256k1', x: 'AA', y: 'AA' }),
          jsonish,
        ),
        publicKeyMultibase: fc.oneof(fc.constant('z6Mk'), fc.string({ maxLength: 60 }), jsonish),
      },
      { requiredKeys: [] },
    );
    const relationship = fc.oneof(fc.array(fc.oneof(fc.constant(kid), fc.constant('#key-1'), vm, jsonish), { maxLength: 4 }), jsonish, vm);
    return fc.record(
      {
        id: fc.oneof(fc.constant(did), jsonish),
        '@context': jsonish,
        verificationMethod: fc.oneof(fc.array(fc.oneof(vm, jsonish), { maxLength: 4 }), jsonish, vm),
        authentication: relationship,
        assertionMethod: relationship,
      },
      { requiredKeys: [] },
    );
  }

  it('random documents from a resolver: resolveVerificationKey returns a key or throws DidError', async () => {
    let served: unknown;
    let threw = false;
    const web: DIDResolver = async () => {
      if (threw) throw new Error('resolver blew up');
      return { didResolutionMetadata: {}, didDocument: served as never, didDocumentMetadata: {} };
    };
    const resolver = createDidResolver({ registry: { web }, cacheTtlMs: 0 });
    const did = 'did:web:evil.example';
    const kid = `${did}#key-1`;
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: base64urlEncode(ed25519.getPublicKey(ed25519.utils.randomSecretKey())) };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(documentArb(did, kid, jwk), jsonish, fc.anything()),
        fc.boolean(),
        fc.constantFrom('authentication', 'assertionMethod') as fc.Arbitrary<'authentication' | 'assertionMethod'>,
        count(async (doc, blowUp, rel) => {
          served = doc;
          threw = blowUp && Math.random() < 0.1;
          try {
            const key = await resolveVerificationKey(resolver, kid, rel);
            expect(key.jwk.kty).toMatch(/^(OKP|EC)$/);
          } catch (e) {
            if (!(e instanceof DidError)) throw new Error(`not a DidError: ${(e as Error)?.name}: ${(e as Error)?.message}`);
          }
        }),
      ),
      { numRuns: RUNS.document },
    );
  });

  it('the did:web resolver, served random statuses, content types and bodies: resolveVerificationKey throws only DidError', async () => {
    let reply: { status: number; type: string; body: Uint8Array | string } = { status: 200, type: 'application/json', body: '{}' };
    const fakeFetch = (async () =>
      new Response(reply.status === 204 ? null : (reply.body as BodyInit), { status: reply.status, headers: { 'content-type': reply.type } })) as typeof fetch;
    const resolver = createDidResolver({ registry: createDidWebResolver({ fetch: fakeFetch, maxBytes: 4096 }), cacheTtlMs: 0 });
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: base64urlEncode(ed25519.getPublicKey(ed25519.utils.randomSecretKey())) };
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(200, 200, 200, 204, 301, 404, 500),
        fc.constantFrom('application/json', 'application/did+json', 'application/did+ld+json; charset=utf-8', 'text/html', ''),
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.string({ maxLength: 5000 }),
          fc.constant('['.repeat(3000) + ']'.repeat(3000)),
          fc.constant('x'.repeat(5000)),
          documentArb('did:web:placeholder.example', 'did:web:placeholder.example#key-1', jwk).map((d) => JSON.stringify(d)),
        ),
        count(async (status, type, body) => {
          const did = `did:web:h${n++}.example`;
          reply = { status, type, body: typeof body === 'string' ? body.replaceAll('did:web:placeholder.example', did) : body };
          try {
            await resolveVerificationKey(resolver, `${did}#key-1`, 'authentication');
          } catch (e) {
            if (!(e instanceof DidError)) throw new Error(`not a DidError: ${(e as Error)?.name}: ${(e as Error)?.message}`);
          }
        }),
      ),
      { numRuns: RUNS.document },
    );
  });

  it('random documents for an applicant DID reach the SIOP endpoint as 400, never 500', async () => {
    let served: unknown;
    const errors: string[] = [];
    const web: DIDResolver = async () => ({ didResolutionMetadata: {}, didDocument: served as never, didDocumentMetadata: {} });
    const t = await makeTestIssuer({ didMethods: { web }, logger: capturingLogger(errors) });
    const holder = await Holder.create();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.context(),
        fc.nat(),
        count(async (ctx, seed) => {
          // A fresh DID per run (the resolver caches good documents).
          const did = `did:web:evil.example:u${n++}`;
          const kid = `${did}#key-1`;
          served = fc.sample(fc.oneof(documentArb(did, kid, holder.signer.publicJwk as never), jsonish), { numRuns: 1, seed })[0];
          ctx.log(JSON.stringify(served)?.slice(0, 200) ?? 'undefined');
          const now = Math.floor(Date.now() / 1000);
          const idToken = await signJwt(
            { ...holder.signer, kid },
            { iss: did, sub: did, aud: t.deps.issuer.did, nonce: 'n', iat: now, exp: now + 60 },
            { typ: 'JWT' },
          );
          const res = await t.app.request(`${PUBLIC_URL}/idv/siopv2/response`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ id_token: idToken }),
          });
          expect((await expectSafe(res, { served })).status).toBe(400);
        }),
      ),
      { numRuns: RUNS.document },
    );
    expect(errors).toEqual([]);
  });
});

// ---------- parsers ----------

describe('fuzzing the parsers', () => {
  let validJwt: string;
  let holder: Holder;
  beforeAll(async () => {
    holder = await Holder.create();
    validJwt = await holder.createProofJwt({ audience: PUBLIC_URL, nonce: 'n' });
  });

  it('decodeJwt: random strings, random parts and mutated tokens throw only JwtError', async () => {
    const b64json = fc.jsonValue({ maxDepth: 3 }).map((v) => base64urlEncode(JSON.stringify(v) ?? ''));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ unit: 'binary', maxLength: 100 }),
          fc.tuple(b64json, b64json, fc.string({ maxLength: 30 })).map((p) => p.join('.')),
          fc
            .tuple(fc.dictionary(fc.constantFrom('alg', 'kid', 'typ', 'crit', 'jwk', '__proto__'), fc.jsonValue({ maxDepth: 2 })), b64json)
            .map(([h, p]) => `${base64urlEncode(JSON.stringify(h))}.${p}.AAAA`),
          mutationsArb.map((m) => mutateString(validJwt, m)),
          fc.anything(),
        ),
        count((token) => {
          try {
            const jwt = decodeJwt(token);
            expect(['EdDSA', 'ES256K']).toContain(jwt.header.alg);
            expect(jwt.signature.length).toBeGreaterThan(0);
          } catch (e) {
            if (!(e instanceof JwtError)) throw new Error(`not a JwtError: ${(e as Error)?.name}: ${(e as Error)?.message}`);
          }
        }),
      ),
      { numRuns: RUNS.parser },
    );
  });

  it('base64url: strict decode throws only TypeError; encode/decode round-trip and canonical', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^[A-Za-z0-9_-]{0,80}$/), fc.string({ unit: 'binary', maxLength: 40 })),
        fc.uint8Array({ maxLength: 80 }),
        count((s, bytes) => {
          expect(base64urlDecode(base64urlEncode(bytes))).toEqual(bytes);
          try {
            const decoded = base64urlDecode(s);
            expect(base64urlEncode(decoded)).toBe(s); // only canonical encodings decode
          } catch (e) {
            if (!(e instanceof TypeError)) throw e;
          }
        }),
      ),
      { numRuns: RUNS.parser },
    );
  });

  it('validateIdentityFields: never throws; accepted fields satisfy every rule', () => {
    const fieldValue = fc.oneof(
      fc.string({ maxLength: 120 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.anything(),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
      fc.constantFrom('US', 'us', 'XX', 'passport', 'Doe', '2000-02-30', '0000-01-01'),
    );
    fc.assert(
      fc.property(
        fc.record(
          {
            given_name: fieldValue,
            family_name: fieldValue,
            birthdate: fieldValue,
            country_of_residence: fieldValue,
            document_type: fieldValue,
            document_number: fieldValue,
          },
          { requiredKeys: [] },
        ),
        fc.boolean(),
        count((input, sample) => {
          const r = validateIdentityFields(sample ? { ...SAMPLE_IDENTITY, ...input } : (input as Record<string, unknown>), '2026-01-01');
          if (r.ok) {
            for (const rule of FIELD_RULES) {
              const v = r.fields[rule.name];
              expect(typeof v).toBe('string');
              if (rule.maxLength) expect(v.length).toBeLessThanOrEqual(rule.maxLength);
              expect(v).not.toMatch(/\p{Cc}/u);
            }
            expect(r.fields.birthdate <= '2026-01-01').toBe(true);
          } else {
            expect(Object.keys(r.errors).length).toBeGreaterThan(0);
          }
        }),
      ),
      { numRuns: RUNS.parser },
    );
  });

  it('DID strings: resolveVerificationKey over did:jwk, did:key and a did:web/did:dht registry throws only DidError', async () => {
    const web: DIDResolver = async () => ({ didResolutionMetadata: { error: 'notFound' }, didDocument: null, didDocumentMetadata: {} });
    const resolver = createDidResolver({ registry: { ...createDidJwkResolver(), ...createDidKeyResolver(), web }, cacheTtlMs: 0 });
    const did = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.constantFrom('did:jwk:', 'did:key:', 'did:web:', 'did:dht:', 'did:key:z', 'did:jwk:e30').chain((p) => fc.string({ maxLength: 80 }).map((s) => p + s)),
      fc.jsonValue({ maxDepth: 2 }).map((v) => `did:jwk:${base64urlEncode(JSON.stringify(v) ?? '')}`),
      fc
        .dictionary(fc.constantFrom('kty', 'crv', 'x', 'y', 'd'), fc.oneof(fc.constantFrom('OKP', 'EC', 'Ed25519', 'secp256k1'), fc.string({ maxLength: 60 })))
        .map((v) => `did:jwk:${base64urlEncode(JSON.stringify(v))}`),
      fc.stringMatching(/^[1-9A-HJ-NP-Za-km-z]{1,60}$/).map((s) => `did:key:z${s}`),
      mutationsArb.map((m) => mutateString(holder.did, m)),
    );
    await fc.assert(
      fc.asyncProperty(
        did,
        fc.oneof(
          fc.constant('#0'),
          fc.string({ maxLength: 10 }).map((f) => `#${f}`),
          fc.constant(''),
        ),
        count(async (d, fragment) => {
          try {
            await resolveVerificationKey(resolver, d + fragment, 'authentication');
          } catch (e) {
            if (!(e instanceof DidError)) throw new Error(`not a DidError: ${(e as Error)?.name}: ${(e as Error)?.message}`);
          }
        }),
      ),
      { numRuns: RUNS.parser },
    );
  });

  it('did:web: didWebUrl throws only DidWebError; what it returns is an https URL ending in /did.json on the DID host', () => {
    const seg = fc.stringMatching(/^([A-Za-z0-9._-]|%[0-9A-Fa-f]{2}){1,20}$/);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 80 }).map((s) => `did:web:${s}`),
          fc
            .array(
              fc.oneof(seg, fc.constantFrom('localhost%3A8443', 'example.com', '%2e%2e', '..', '127.0.0.1', '%5B%3A%3A1%5D', 'a%2Fb', 'x%00', '%ZZ', '%')),
              { minLength: 1, maxLength: 5 },
            )
            .map((s) => `did:web:${s.join(':')}`),
          fc.string({ maxLength: 40 }),
        ),
        count((did) => {
          try {
            const url = didWebUrl(did);
            const u = new URL(url);
            expect(u.protocol).toBe('https:');
            expect(u.pathname.endsWith('/did.json')).toBe(true);
            expect(u.pathname.split('/')).not.toContain('..');
            expect(u.username + u.password).toBe('');
          } catch (e) {
            if (!(e instanceof DidWebError)) throw new Error(`not a DidWebError: ${(e as Error)?.name}: ${(e as Error)?.message} for ${did}`);
          }
        }),
      ),
      { numRuns: RUNS.parser },
    );
  });

  it('did:dht: decodeDidDhtPacket and parseBep44Body on random and mutated input throw only Error, and the resolver never throws', async () => {
    const secretKey = ed25519.utils.randomSecretKey();
    const publicKey = ed25519.getPublicKey(secretKey);
    const did = didDhtFromPublicKey(publicKey);
    const doc = createDidDhtDocument({ identityPublicKey: publicKey, services: [{ id: 'idv', type: 'IDV', serviceEndpoint: 'https://x.example/idv' }] });
    const packet = encodeDidDhtPacket(doc);
    const relayBody = await signBep44({ v: packet, seq: BigInt(Date.now()) * 1000n, sign: async (m) => ed25519.sign(m, secretKey) });
    let served: Uint8Array = relayBody;
    const resolver = createDidDhtResolver({
      gatewayUrl: 'http://relay.test',
      fetch: (async () => new Response(served as Uint8Array<ArrayBuffer>, { status: 200 })) as typeof fetch,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 1200 }),
          mutationsArb.map((m) => mutate(packet, m)),
        ),
        fc.oneof(
          fc.uint8Array({ maxLength: 1200 }),
          mutationsArb.map((m) => mutate(relayBody, m)),
          fc.constant(relayBody),
        ),
        // A relay body whose signature is valid over a mutated packet: the decoder sees hostile input after BEP44 checks pass.
        mutationsArb,
        count(async (bytes, body, m) => {
          for (const parse of [() => decodeDidDhtPacket(did, bytes), () => parseBep44Body(bytes)]) {
            try {
              parse();
            } catch (e) {
              if (!(e instanceof Error) || e instanceof RangeError) throw new Error(`unexpected ${(e as Error)?.name}: ${(e as Error)?.message}`);
            }
          }
          served = body;
          const r1 = await resolver.dht(did, { did, didUrl: did, method: 'dht', id: did.slice(8) } as never, {} as never, {});
          expect(r1.didDocument ? r1.didDocument.id : r1.didResolutionMetadata.error).toBeTruthy();
          const v = mutate(packet, m).slice(0, 1000);
          served = await signBep44({ v, seq: BigInt(Date.now()) * 1000n, sign: async (msg) => ed25519.sign(msg, secretKey) });
          const r2 = await resolver.dht(did, { did, didUrl: did, method: 'dht', id: did.slice(8) } as never, {} as never, {});
          expect(r2.didDocument ? r2.didDocument.id : r2.didResolutionMetadata.error).toBeTruthy();
        }),
      ),
      { numRuns: RUNS.document },
    );
  });
});

afterAll(() => {
  console.log(`fuzz: ${totalRuns} runs`);
});
