import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/http/context';
import { createPersonaProvider } from '../../src/idv/persona';
import { createPiiVault } from '../../src/idv/piiVault';
import { startNodeIssuer } from '../../src/runtime/node';
import { WalletClient } from '../../src/wallet/client';
import { Holder } from '../../src/wallet/holder';
import { startFakePersona } from '../helpers/fakePersona';
import { openApplication, requestCredential } from '../helpers/idvFlow';
import { ADMIN_TOKEN, makeIssuerKeys } from '../helpers/issuer';
import { TIERS } from '../helpers/tiers';

/**
 * "PII collected by IDV vendor" end to end over real loopback HTTP: the issuer on Node, Persona
 * as a fake server following Persona's documented API, the wallet. Webhooks arrive correctly
 * signed, mis-signed, replayed, stale and out of order.
 */
const OLD_SECRET = 'wbhsec_old_0123456789abcdef';
const NEW_SECRET = 'wbhsec_new_fedcba9876543210';
const API_KEY = 'persona_sandbox_key_test';

describe('Persona adapter (loopback vendor)', () => {
  let persona: Awaited<ReturnType<typeof startFakePersona>>;
  let issuer: Awaited<ReturnType<typeof startNodeIssuer>>;
  let dir: string;
  let webhookUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kcc-persona-'));
    persona = await startFakePersona({ apiKey: API_KEY, secrets: [NEW_SECRET] });
    const provider = createPersonaProvider({
      apiKey: API_KEY,
      templateId: 'itmpl_test',
      webhookSecrets: [OLD_SECRET, NEW_SECRET],
      apiBase: persona.apiBase,
      fetch: (u, i) => fetch(u, i),
      tier: 'Enhanced',
    });
    issuer = await startNodeIssuer({
      port: 0,
      dataDir: dir,
      keys: await makeIssuerKeys(),
      logger: silentLogger,
      backgroundIntervalMs: 0,
      // Basic and Enhanced: the vendor's stated tier (Enhanced) is granted only because its checks cover it.
      config: { adminToken: ADMIN_TOKEN, idv: { provider: 'persona' }, tiers: TIERS },
      idv: { vendors: new Map([['persona', provider]]), outboundSecrets: [], vault: await createPiiVault(new Uint8Array(32).fill(7)) },
    });
    webhookUrl = `${issuer.url}/idv/webhooks/persona`;
  });
  afterAll(async () => {
    await issuer?.close();
    await persona?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const now = () => Math.floor(Date.now() / 1000);
  const iso = (offsetSeconds: number) => new Date(Date.now() + offsetSeconds * 1000).toISOString();

  it('opens one Persona inquiry per application (idempotency key) and redirects the webview to it', async () => {
    const client = new WalletClient(await Holder.create(), (u, i) => fetch(u, i));
    const { idvRequest } = await openApplication(client, issuer.url);
    const first = await fetch(idvRequest.url, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toMatch(/^https:\/\/withpersona\.example\/verify\?code=otl_inq_/);
    // A reload gets a fresh one-time link for the same inquiry (one-time links work once).
    const again = await fetch(idvRequest.url, { redirect: 'manual' });
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(persona.requests.filter((r) => r.path.endsWith('/generate-one-time-link'))).toHaveLength(2);
    const creates = persona.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/inquiries');
    expect(creates).toHaveLength(1);
    expect(creates[0].idempotencyKey).toMatch(/^kcc-application-/);

    // The adapter itself: the same idempotency key yields the same inquiry at Persona.
    const provider = createPersonaProvider({
      apiKey: API_KEY,
      templateId: 'itmpl_test',
      webhookSecrets: [NEW_SECRET],
      apiBase: persona.apiBase,
      fetch: (u, i) => fetch(u, i),
    });
    const a = await provider.createSession({ applicationId: 'app-x', idempotencyKey: 'key-x', redirectUrl: 'http://x/finish', entryUrl: 'http://x' });
    const b = await provider.createSession({ applicationId: 'app-x', idempotencyKey: 'key-x', redirectUrl: 'http://x/finish', entryUrl: 'http://x' });
    expect(a.vendorReference).toBe(b.vendorReference);
  });

  it('applies signed webhooks by event time, refuses forged and stale ones, dedupes replays, records re-decisions', async () => {
    const client = new WalletClient(await Holder.create(), (u, i) => fetch(u, i));
    const { pfi, idvRequest } = await openApplication(client, issuer.url);
    const redirect = await fetch(idvRequest.url, { redirect: 'manual' });
    const inquiryId = /otl_(inq_\w+)/.exec(redirect.headers.get('location') ?? '')?.[1] as string;
    expect(inquiryId).toBeTruthy();
    const { first, deferred } = await requestCredential(client, pfi.did, idvRequest);
    expect(first.status).toBe(202);
    expect(await deferred()).toEqual({ pending: true });

    // Correctly signed (new secret only: the issuer accepts both during rotation).
    persona.update(inquiryId, { status: 'pending' });
    const started = persona.eventBody({ eventId: 'evt_started', name: 'inquiry.started', inquiryId, createdAt: iso(-50) });
    expect(await persona.deliver(webhookUrl, started, await persona.sign(started, now()))).toMatchObject({ status: 200, body: { disposition: 'applied' } });

    // Mis-signed: unknown secret, no header, a body altered after signing, garbage header.
    const completed = persona.eventBody({ eventId: 'evt_completed', name: 'inquiry.completed', inquiryId, createdAt: iso(-30), status: 'completed' });
    expect((await persona.deliver(webhookUrl, completed, await persona.sign(completed, now(), ['wbhsec_attacker']))).status).toBe(401);
    expect((await persona.deliver(webhookUrl, completed, undefined)).status).toBe(401);
    expect((await persona.deliver(webhookUrl, completed.replace('completed', 'approved'), await persona.sign(completed, now()))).status).toBe(401);
    expect((await persona.deliver(webhookUrl, completed, 'v1=zz,t=abc')).status).toBe(401);
    // Stale: correctly signed an hour ago (a captured delivery replayed later).
    const stale = await persona.deliver(webhookUrl, completed, await persona.sign(completed, now() - 3600));
    expect(stale).toMatchObject({ status: 401, body: { error_description: 'webhook rejected: stale' } });

    // Approved (rotation: both pairs present, as Persona sends while rotating).
    persona.update(inquiryId, {
      status: 'approved',
      decidedAt: iso(-10),
      checks: [
        { type: 'verification/government-id', status: 'passed' },
        { type: 'verification/selfie', status: 'passed' },
        { type: 'report/watchlist', status: 'ready' },
      ],
    });
    const approved = persona.eventBody({ eventId: 'evt_approved', name: 'inquiry.approved', inquiryId, createdAt: iso(-10) });
    expect(await persona.deliver(webhookUrl, approved, await persona.sign(approved, now(), [OLD_SECRET, NEW_SECRET]))).toMatchObject({
      status: 200,
      body: { disposition: 'applied' },
    });

    const issued = await deferred();
    expect(issued.credential).toBeTypeOf('string');
    const vc = decodeJwt(issued.credential as string).vc as { credentialSubject: Record<string, unknown>; evidence: { kind: string; checks: string[] }[] };
    expect(vc.credentialSubject.countryOfResidence).toBe('DE');
    expect(vc.credentialSubject.tier).toBe('Enhanced');
    expect(vc.evidence.map((e) => e.kind).sort()).toEqual(['document_verification', 'liveness_check', 'sanction_screening']);

    // Replayed (same event id, freshly signed): acknowledged, not applied again.
    expect(await persona.deliver(webhookUrl, approved, await persona.sign(approved, now()))).toMatchObject({ status: 200, body: { disposition: 'duplicate' } });
    // Out of order: the "completed" event (older than "approved") arrives last: stale, nothing moves.
    expect(await persona.deliver(webhookUrl, completed, await persona.sign(completed, now()))).toMatchObject({ status: 200, body: { disposition: 'stale' } });

    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const applications = (await (await fetch(`${issuer.url}/admin/applications?status=approved`, { headers: admin })).json()).applications as {
      id: string;
      idv_provider: string;
    }[];
    const app = applications.find((a) => a.idv_provider === 'persona') as { id: string };
    expect(app).toBeTruthy();

    // A thin-webhook fetch failure is not lost: 502, then the vendor's retry is processed.
    persona.update(inquiryId, { status: 'declined', decidedAt: iso(0) });
    const declined = persona.eventBody({ eventId: 'evt_declined', name: 'inquiry.declined', inquiryId, createdAt: iso(0) });
    persona.failNextFetches(1);
    expect((await persona.deliver(webhookUrl, declined, await persona.sign(declined, now()))).status).toBe(502);
    // Re-decision after a terminal state: the vendor flips approved → declined.
    expect(await persona.deliver(webhookUrl, declined, await persona.sign(declined, now()))).toMatchObject({
      status: 200,
      body: { disposition: 'redecision' },
    });
    const after = await (await fetch(`${issuer.url}/admin/applications/${app.id}`, { headers: admin })).json();
    expect(after.status).toBe('rejected');
    const audit = await (await fetch(`${issuer.url}/admin/applications/${app.id}/audit`, { headers: admin })).json();
    const redecision = audit.audit.find((a: { action: string }) => a.action === 'idv.redecision');
    expect(redecision.detail).toMatchObject({ from: 'approved', to: 'declined' });
    expect(redecision.detail.credentials_issued).toHaveLength(1);
    expect(audit.idv_events.map((e: { id: string; disposition: string }) => `${e.id}:${e.disposition}`)).toEqual([
      'persona:evt_started:applied',
      'persona:evt_completed:stale',
      'persona:evt_approved:applied',
      'persona:evt_declined:redecision',
    ]);
    const events = (await (await fetch(`${issuer.url}/admin/webhooks/events`, { headers: admin })).json()).events as { type: string }[];
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['application.submitted', 'application.approved', 'credential.issued', 'application.rejected']),
    );
  });

  it('answers 404 for an unknown provider and 400 for a signed body that is not a Persona event', async () => {
    expect((await fetch(`${issuer.url}/idv/webhooks/nope`, { method: 'POST', body: '{}' })).status).toBe(404);
    const body = JSON.stringify({ hello: 'world' });
    expect((await persona.deliver(webhookUrl, body, await persona.sign(body, now()))).status).toBe(400);
    // Vendor events carry the whole inquiry: up to 1 MiB is read (other endpoints stop at 64 KiB).
    const big = JSON.stringify({ pad: 'x'.repeat(200_000) });
    expect((await persona.deliver(webhookUrl, big, await persona.sign(big, now()))).status).toBe(400);
    const huge = JSON.stringify({ pad: 'x'.repeat(1_100_000) });
    expect((await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: huge })).status).toBe(413);
  });
});
