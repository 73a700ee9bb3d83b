import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGenericHmacProvider } from '../../src/idv/genericHmac';
import { signBodyHmac } from '../../src/idv/webhookSignature';
import { WalletClient } from '../../src/wallet/client';
import { Holder } from '../../src/wallet/holder';
import { openApplication, requestCredential } from '../helpers/idvFlow';
import { ADMIN_TOKEN, makeTestIssuer, PUBLIC_URL, testClock } from '../helpers/issuer';

/** A vendor with Onfido/Veriff-style body-HMAC webhooks, through the configurable adapter. */
describe('generic HMAC adapter (body HMAC, loopback vendor)', () => {
  let server: Server;
  let base: string;
  const sessions = new Map<string, { status: string; country: string }>();
  beforeAll(async () => {
    server = createServer((req, res) => {
      const send = (s: number, b: unknown) => {
        res.writeHead(s, { 'content-type': 'application/json' });
        res.end(JSON.stringify(b));
      };
      if (req.headers.authorization !== 'Bearer vendor-key') return send(401, {});
      if (req.method === 'POST' && req.url === '/v1/sessions') {
        const id = `ses_${sessions.size + 1}`;
        sessions.set(id, { status: 'started', country: 'fr' });
        return send(201, { verification: { id, url: `https://vendor.example/v/${id}` } });
      }
      const m = /^\/v1\/sessions\/(ses_\d+)\/decision$/.exec(req.url ?? '');
      if (req.method === 'GET' && m && sessions.has(m[1])) {
        const s = sessions.get(m[1]) as { status: string; country: string };
        return send(200, {
          verification: {
            status: s.status,
            document: { country: s.country },
            checks: [
              { kind: 'document', result: 'passed' },
              { kind: 'pep', result: 'passed' },
            ],
            reasons: ['doc_blurry'],
          },
        });
      }
      send(404, {});
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it('opens the session, verifies body-HMAC webhooks, applies needs_review, and an operator decides', async () => {
    const clock = testClock(Date.now());
    const vendor = createGenericHmacProvider({
      name: 'acme',
      secrets: ['acme-secret'],
      signature: { scheme: 'body', header: 'x-hmac-signature', encoding: 'hex' },
      apiKey: 'vendor-key',
      sessionUrl: `${base}/v1/sessions`,
      sessionIdPath: 'verification.id',
      sessionUrlPath: 'verification.url',
      resultUrl: `${base}/v1/sessions/{reference}/decision`,
      statusPath: 'verification.status',
      countryPath: 'verification.document.country',
      checksPath: 'verification.checks',
      reasonsPath: 'verification.reasons',
      eventIdPath: 'id',
      eventReferencePath: 'verification.id',
      eventTypePath: 'action',
      eventTimePath: 'timestamp',
      statusMap: {
        started: 'in_progress',
        submitted: 'processing',
        approved: 'approved',
        declined: 'declined',
        review: 'needs_review',
        resubmission_requested: 'resubmission_requested',
      },
      fetch: (u, i) => fetch(u, i),
    });
    const tiers = [
      { id: 'KnownCustomerCredential', name: 'Standard', requiredChecks: ['document_verification'], validityDays: 365 },
      { id: 'Plus', name: 'Plus', requiredChecks: ['document_verification'], validityDays: 365 },
    ];
    const t = await makeTestIssuer({ clock, config: { idv: { provider: 'acme' }, tiers }, idv: { vendors: new Map([['acme', vendor]]), outboundSecrets: [] } });
    const client = new WalletClient(await Holder.create(), t.fetch);
    const { pfi, idvRequest } = await openApplication(client, PUBLIC_URL);
    const go = await t.app.request(idvRequest.url, { redirect: 'manual' });
    expect(go.status).toBe(303);
    expect(go.headers.get('location')).toBe('https://vendor.example/v/ses_1');
    const { deferred } = await requestCredential(client, pfi.did, idvRequest);

    const deliver = async (body: object, signature?: string) => {
      const raw = JSON.stringify(body);
      return t.app.request(`${PUBLIC_URL}/idv/webhooks/acme`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hmac-signature': signature ?? (await signBodyHmac('acme-secret', new TextEncoder().encode(raw))) },
        body: raw,
      });
    };
    const nowS = Math.floor(clock() / 1000);
    sessions.get('ses_1')!.status = 'review';
    const review = { id: 'wh_2', action: 'decision', timestamp: nowS - 5, verification: { id: 'ses_1' } };
    expect((await deliver(review, 'deadbeef')).status).toBe(401);
    const applied = await deliver(review);
    expect(await applied.json()).toEqual({ received: true, disposition: 'applied' });
    // An earlier event (by its own timestamp) arriving later changes nothing.
    expect(await (await deliver({ id: 'wh_1', action: 'submitted', timestamp: nowS - 60, verification: { id: 'ses_1' } })).json()).toEqual({
      received: true,
      disposition: 'stale',
    });
    expect(await deferred()).toEqual({ pending: true });

    const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const queue = await (await t.app.request(`${PUBLIC_URL}/admin/applications?status=review`, { headers: admin })).json();
    expect(queue.applications).toHaveLength(1);
    expect(queue.applications[0]).toMatchObject({ idv_provider: 'acme', country_of_residence: 'FR', decision_reason: 'acme:review acme:doc_blurry' });
    clock.advance(5);
    const decided = await t.app.request(`${PUBLIC_URL}/admin/applications/${queue.applications[0].id}/decision`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ decision: 'approve', tier: 'Plus' }),
    });
    expect((await decided.json()).status).toBe('approved');
    expect((await deferred()).credential).toBeTypeOf('string');
  });
});
