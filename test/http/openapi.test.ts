import SwaggerParser from '@apidevtools/swagger-parser';
import { validate as scalarValidate } from '@scalar/openapi-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Hono } from 'hono';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument, describeRoute, doc as answers } from '../../src/http/openapi';
import { SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { WalletClient } from '../../src/wallet/client';
import { Holder } from '../../src/wallet/holder';
import { ADMIN_TOKEN, PUBLIC_URL, makeTestIssuer } from '../helpers/issuer';
import { signKycStatusAuthorization } from '../../src/wallet/kycAuthorization';

/**
 * /openapi.json against real answers: every request below goes through a recording fetch, and
 * every answer (success and error) must be a documented status of a documented operation, with a
 * body that validates (ajv, JSON Schema 2020-12) against the documented schema of its media type.
 * At the end every documented operation must have been called.
 */
const KYC_KEY = 'rp-one-key-0123456789abcdef0123456789';
type Doc = { openapi: string; paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>> };

/** `METHOD /path/{param}` of every GET and POST route the Hono app registered (middleware left out). */
function registeredOperations(app: { routes: Array<{ method: string; path: string }> }): string[] {
  const ops = app.routes
    .filter((r) => r.method === 'GET' || r.method === 'POST')
    .filter((r) => !r.path.includes('*'))
    .map((r) => `${r.method} ${(r.path.replace(/\/+$/, '') || '/').replace(/:(\w+)(\{[^}]*\})?/g, '{$1}')}`);
  return [...new Set(ops)].sort();
}

describe('OpenAPI 3.1 document at /openapi.json', () => {
  it('documents every route the app registers (compared with app.routes), and nothing it does not serve', async () => {
    const t = await makeTestIssuer();
    const doc = (await (await t.fetch(`${PUBLIC_URL}/openapi.json`)).json()) as Doc;
    const documented = Object.entries(doc.paths)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    const registered = registeredOperations(t.app as unknown as { routes: Array<{ method: string; path: string }> });
    expect(registered.length).toBeGreaterThan(30);
    expect(registered).toContain('GET /api/v1/kyc/{subject}/status');
    expect(registered).toContain('POST /kya/token');
    expect(registered.filter((op) => !documented.includes(op))).toEqual([]);
    expect(documented.filter((op) => !registered.includes(op))).toEqual([]);
    // Every route also describes itself (a describeRoute beside its handler).
    const undescribed = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => (op as Record<string, unknown>)['x-undocumented'])
        .map(([m]) => `${m.toUpperCase()} ${p}`),
    );
    expect(undescribed).toEqual([]);
  });

  it('is a valid OpenAPI 3.1 document for two independent parsers (swagger-parser, Scalar)', async () => {
    const t = await makeTestIssuer();
    const doc = (await (await t.fetch(`${PUBLIC_URL}/openapi.json`)).json()) as Doc;
    // swagger-parser: the official OpenAPI 3.1 JSON Schema and $ref resolution.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
    // Scalar's parser: its own schema checks plus the semantic ones (declared path parameters).
    const scalar = await scalarValidate(structuredClone(doc));
    expect(scalar.errors ?? []).toEqual([]);
    expect(scalar.valid).toBe(true);
  });

  it('has every registered route by construction: an undescribed one is listed and marked, paths outside the base path keep the origin', () => {
    const sub = new Hono();
    sub.get('/items/:id{[0-9]+}', describeRoute({ summary: 'One item', tags: ['t'], responses: { 200: answers.json('Item', z.object({ id: z.number() })) } }));
    sub.get('/items/:id{[0-9]+}', (c) => c.json({ id: Number(c.req.param('id')) }));
    sub.get('/items/:id{[0-9]+}/', (c) => c.json({}));
    sub.post('/forgotten', (c) => c.body(null, 204));
    // A sub-app with its own error handler: Hono wraps its handlers (the description survives).
    sub.onError((_e, c) => c.text('x', 500));
    const app = new Hono();
    app.get('/.well-known/thing/base', describeRoute({ summary: 'Host document', tags: ['t'], responses: { 200: answers.html('Page') } }));
    app.get('/.well-known/thing/base', (c) => c.html('<p>'));
    app.use('*', async (_c, next) => next());
    app.route('/base', sub);
    const built = buildOpenApiDocument(app.routes, { publicUrl: 'https://issuer.example/base', clientName: 'Test' }) as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    expect(Object.keys(built.paths).sort()).toEqual(['/.well-known/thing/base', '/forgotten', '/items/{id}']);
    expect(built.paths['/items/{id}'].get.summary).toBe('One item');
    expect(built.paths['/items/{id}'].get.parameters).toEqual([{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }]);
    expect(built.paths['/forgotten'].post['x-undocumented']).toBe(true);
    expect(built.paths['/.well-known/thing/base'].servers).toEqual([{ url: 'https://issuer.example' }]);
    expect(built.paths['/items/{id}'].servers).toBeUndefined();
  });

  it('describes every endpoint, and real answers of each validate against it', async () => {
    // A client address as a runtime gives one (the KYA token records it).
    const t = await makeTestIssuer({ clientAddress: () => '192.0.2.10', config: { kycApiKeys: [`rp-one:${KYC_KEY}`] } });
    const docRes = await t.fetch(`${PUBLIC_URL}/openapi.json`);
    expect(docRes.status).toBe(200);
    const doc = (await docRes.json()) as Doc;
    expect(doc.openapi).toBe('3.1.0');
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const routes = Object.keys(doc.paths).map((p) => ({ template: p, re: new RegExp(`^${p.replace(/\{\w+\}/g, '[^/]+').replace(/\./g, '\\.')}$`) }));
    const called = new Set<string>();
    const problems: string[] = [];

    const check = async (method: string, url: string, res: Response) => {
      const path = new URL(url).pathname;
      // The most specific template: literal paths win over {param} ones.
      const route = routes.filter((r) => r.re.test(path)).sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0))[0];
      const op = route && doc.paths[route.template][method.toLowerCase()];
      if (!op) return problems.push(`${method} ${path}: not documented`);
      called.add(`${method.toUpperCase()} ${route.template}`);
      const answer = op.responses[String(res.status)];
      if (!answer) return problems.push(`${method} ${route.template}: status ${res.status} not documented`);
      const type = (res.headers.get('content-type') ?? '').split(';')[0].trim();
      const text = await res.clone().text();
      if (!text) return;
      if (!answer.content) return problems.push(`${method} ${route.template} ${res.status}: a body (${type}) where none is documented`);
      const media = answer.content[type];
      if (!media) {
        // JSON error bodies are documented for JSON routes; HTML pages for the form and console.
        return problems.push(`${method} ${route.template} ${res.status}: media type ${type} not documented (${Object.keys(answer.content).join(', ')})`);
      }
      if (type === 'application/json' || type.endsWith('+json')) {
        const validate = ajv.compile(media.schema);
        if (!validate(JSON.parse(text))) problems.push(`${method} ${route.template} ${res.status}: ${ajv.errorsText(validate.errors)}`);
      }
    };
    const fetch = async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input instanceof Request ? input.url : input);
      const res = await t.fetch(url, init);
      await check(init?.method ?? 'GET', url, res);
      return res;
    };
    const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

    // The applicant and the wallet, through the reference wallet (its fetch records).
    const holder = await Holder.create();
    const client = new WalletClient(holder, fetch);
    const pfi = await client.discover(PUBLIC_URL);
    await fetch(`${PUBLIC_URL}/idv/siopv2/initiate`, { headers: { accept: 'application/json' } });
    await fetch(`${PUBLIC_URL}/idv/siopv2/initiate?presentation_definition_id=nope`);
    const idv = await client.respond(await client.initiate(pfi.idvEndpoint, pfi));
    await fetch(`${PUBLIC_URL}/idv/siopv2/response`, json({ id_token: 'not-a-jwt' }));
    await fetch(idv.url, json({ given_name: 'A' }));
    await fetch(idv.url, json({ ...SAMPLE_IDENTITY, consent: 'accept', birthdate: '2999-01-01' }));
    await fetch(idv.url, json({ ...SAMPLE_IDENTITY, consent: 'accept' }, { origin: 'https://evil.example' }));
    await fetch(`${PUBLIC_URL}/idv/form/unknown-token`);
    await fetch(`${PUBLIC_URL}/idv/form.css`);
    await fetch(`${PUBLIC_URL}/idv/finish.html`);
    await fetch(`${PUBLIC_URL}/idv/review/finish.html`);
    // Sign-in at the bank is not configured here: both routes answer the documented 404.
    await fetch(`${PUBLIC_URL}/idv/form/unknown-token/existing-customer`, { method: 'POST' });
    await fetch(`${PUBLIC_URL}/idv/existing-customer/callback?code=x&state=y`);
    expect((await client.submitIdvForm(idv.url, SAMPLE_IDENTITY)).location).toMatch(/finish\.html$/);
    await fetch(idv.url, json({ ...SAMPLE_IDENTITY, consent: 'accept' }));
    const { credentialIssuer: meta } = await client.metadata(PUBLIC_URL);
    await fetch(`${PUBLIC_URL}/oauth2/token`, json({ grant_type: 'password' }));
    const code = idv.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
    const token = await client.token(`${PUBLIC_URL}/oauth2/token`, code);
    const issued = await client.credential(meta.credential_endpoint, token.access_token, PUBLIC_URL, token.c_nonce as string);
    expect(issued).toBeDefined();
    // KYA token (docs/kya.md): a refusal, then a token for an agent on the KCC just issued.
    await fetch(`${PUBLIC_URL}/kya/token`, json({ aid: {} }));
    const kyaNonce = ((await (await t.fetch(`${PUBLIC_URL}/oid4vci/nonce`, { method: 'POST' })).json()) as { c_nonce: string }).c_nonce;
    const agent = await Holder.create();
    const kyaRequest = {
      vp_token: await holder.createPresentation({ credentials: [issued.credential as string], audience: t.deps.issuer.did, nonce: kyaNonce }),
      aid: { name: 'Reorder agent' },
      cnf: { jwk: agent.signer.publicJwk },
    };
    expect((await fetch(`${PUBLIC_URL}/kya/token`, json(kyaRequest))).status).toBe(200);
    await fetch(`${PUBLIC_URL}/oid4vci/credential`, json({ format: 'jwt_vc_json' }, { authorization: `Bearer ${token.access_token}` }));
    await fetch(`${PUBLIC_URL}/oid4vci/credential`, json({}));
    await fetch(`${PUBLIC_URL}/oid4vci/deferred-credential`, json({ transaction_id: 'nope' }, { authorization: `Bearer ${token.access_token}` }));
    await fetch(`${PUBLIC_URL}/oid4vci/nonce`, { method: 'POST' });
    await fetch(
      `${PUBLIC_URL}/oid4vci/notification`,
      json({ notification_id: 'nope', event: 'credential_accepted' }, { authorization: `Bearer ${token.access_token}` }),
    );
    await fetch(`${PUBLIC_URL}/oid4vci/notification`, json({}));
    // A replayed code (which also revokes the tokens it gave).
    await fetch(`${PUBLIC_URL}/oauth2/token`, json({ grant_type: 'urn:ietf:params:oauth:grant-type:pre-authorized_code', 'pre-authorized_code': code }));

    // A deferred application ("Review"), decided by the operator, collected by the wallet.
    const review = await client.respond(await client.initiate(pfi.idvEndpoint, pfi));
    await client.submitIdvForm(review.url, { ...SAMPLE_IDENTITY, family_name: 'Review' });
    const reviewToken = await client.token(
      `${PUBLIC_URL}/oauth2/token`,
      review.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'],
    );
    const pending = await fetch(
      meta.credential_endpoint,
      json(
        {
          format: 'jwt_vc_json',
          proof: { proof_type: 'jwt', jwt: await holder.createProofJwt({ audience: PUBLIC_URL, nonce: reviewToken.c_nonce as string }) },
        },
        { authorization: `Bearer ${reviewToken.access_token}` },
      ),
    );
    const transactionId = ((await pending.json()) as { transaction_id: string }).transaction_id;
    await fetch(meta.deferred_credential_endpoint, json({ transaction_id: transactionId }, { authorization: `Bearer ${reviewToken.access_token}` }));

    // The operator API.
    const queue = (await (await fetch(`${PUBLIC_URL}/admin/applications?status=review`, { headers: admin })).json()) as { applications: { id: string }[] };
    const id = queue.applications[0].id;
    await fetch(`${PUBLIC_URL}/admin/applications?status=bogus`, { headers: admin });
    await fetch(`${PUBLIC_URL}/admin/applications`, {});
    await fetch(`${PUBLIC_URL}/admin/applications/${id}`, { headers: admin });
    await fetch(`${PUBLIC_URL}/admin/applications/nope`, { headers: admin });
    await fetch(`${PUBLIC_URL}/admin/applications/${id}/decision`, json({ decision: 'maybe' }, admin));
    await fetch(`${PUBLIC_URL}/admin/applications/${id}/decision`, json({ decision: 'approve', tier: 'Standard' }, admin));
    await fetch(`${PUBLIC_URL}/admin/applications/${id}/decision`, json({ decision: 'approve' }, admin));
    await fetch(meta.deferred_credential_endpoint, json({ transaction_id: transactionId }, { authorization: `Bearer ${reviewToken.access_token}` }));
    await fetch(`${PUBLIC_URL}/admin/applications/${id}/audit`, { headers: admin });
    await fetch(`${PUBLIC_URL}/admin/applications/${id}/erase-pii`, json({}, admin));
    await fetch(`${PUBLIC_URL}/admin/applications/${id}/erase-pii`, json({ reason: 'applicant asked' }, admin));
    await fetch(`${PUBLIC_URL}/admin/webhooks/events`, { headers: admin });
    const credentials = (await (await fetch(`${PUBLIC_URL}/admin/credentials?subject=${encodeURIComponent(holder.did)}`, { headers: admin })).json()) as {
      credentials: { id: string; status_list_credentials: { revocation: string } }[];
    };
    await fetch(`${PUBLIC_URL}/admin/credentials`, { headers: admin });
    const kcc = credentials.credentials[0];
    await fetch(`${PUBLIC_URL}/admin/credentials/${encodeURIComponent(kcc.id)}`, { headers: admin });
    await fetch(`${PUBLIC_URL}/admin/credentials/${encodeURIComponent(kcc.id)}/status`, json({ action: 'explode' }, admin));
    await fetch(`${PUBLIC_URL}/admin/credentials/${encodeURIComponent(kcc.id)}/status`, json({ action: 'suspend', reason: 'checking' }, admin));
    await fetch(kcc.status_list_credentials.revocation);
    await fetch(`${PUBLIC_URL}/status/999/revocation`);
    await fetch(`${PUBLIC_URL}/token-status/1`);
    await fetch(`${PUBLIC_URL}/token-status/999`);
    await fetch(`${PUBLIC_URL}/.well-known/jwt-vc-issuer`);
    await fetch(`${PUBLIC_URL}/vct/known-customer-credential`);

    // Metadata, tiers, ops, webhooks, console.
    await fetch(`${PUBLIC_URL}/.well-known/oauth-authorization-server`);
    await fetch(`${PUBLIC_URL}/schemas/kcc.schema.json`);
    const tiers = (await (await fetch(`${PUBLIC_URL}/presentation-definitions`)).json()) as { tiers: { id: string }[] };
    await fetch(`${PUBLIC_URL}/presentation-definitions/${tiers.tiers[0].id}`);
    await fetch(`${PUBLIC_URL}/presentation-definitions/nope`);
    await fetch(`${PUBLIC_URL}/healthz`);
    await fetch(`${PUBLIC_URL}/readyz`);
    await fetch(`${PUBLIC_URL}/metrics`);
    await fetch(`${PUBLIC_URL}/openapi.json`);
    await fetch(`${PUBLIC_URL}/idv/webhooks/nope`, json({}));
    await fetch(`${PUBLIC_URL}/idv/callback/nope?code=x&state=y`);
    await fetch(`${PUBLIC_URL}/console`, { redirect: 'manual' });
    await fetch(`${PUBLIC_URL}/console/login`);
    await fetch(`${PUBLIC_URL}/console/console.css`);
    // Workforce sign-in is not configured here: both answer 404 (test/security/operatorSso.test.ts runs them with an IdP).
    await fetch(`${PUBLIC_URL}/console/sso/start`, { redirect: 'manual' });
    await fetch(`${PUBLIC_URL}/console/sso/callback?code=x&state=y`);
    await fetch(`${PUBLIC_URL}/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=x&token=wrong',
    });
    await fetch(`${PUBLIC_URL}/console/logout`, { method: 'POST', redirect: 'manual' });
    await fetch(`${PUBLIC_URL}/console/applications/${id}`, { redirect: 'manual' });
    await fetch(`${PUBLIC_URL}/console/applications/${id}/decision`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'decision=approve',
    });
    await fetch(`${PUBLIC_URL}/console/applications/${id}/erase-pii`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'reason=x',
    });
    await fetch(`${PUBLIC_URL}/console/applications/${id}/credentials/${encodeURIComponent(kcc.id)}/status`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'action=revoke&reason=x',
    });
    await fetch(`${PUBLIC_URL}/console/applications/${id}/assign`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'op=assign',
    });
    await fetch(`${PUBLIC_URL}/console/operators`, { redirect: 'manual' });
    await fetch(`${PUBLIC_URL}/console/operators`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'op=add&name=ana&role=admin',
    });

    // The KYC status API, as a relying party with the subject's authorisation.
    const kyc = (subject: string, headers: Record<string, string>) => fetch(`${PUBLIC_URL}/api/v1/kyc/${encodeURIComponent(subject)}/status`, { headers });
    const rp = { authorization: `Bearer ${KYC_KEY}` };
    const authorisation = await signKycStatusAuthorization(holder.signer, {
      subject: holder.did,
      tenant: 'rp-one',
      audience: PUBLIC_URL,
      now: Math.floor(t.deps.clock() / 1000),
    });
    expect((await kyc(holder.did, { ...rp, 'kyc-subject-authorization': authorisation })).status).toBe(200);
    expect((await kyc(holder.did, rp)).status).toBe(404);
    expect((await kyc(holder.did, {})).status).toBe(401);
    expect((await kyc('not-a-did', rp)).status).toBe(400);

    expect(problems).toEqual([]);
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(documented.filter((op) => !called.has(op))).toEqual([]);
  });
});
