import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idvDepsFromSettings } from '../../src/idv/fromSettings';
import { createIncodeProvider } from '../../src/idv/incode';
import { createPiiVault } from '../../src/idv/piiVault';
import type { Logger } from '../../src/ports/logger';
import { startNodeIssuer } from '../../src/runtime/node';
import { WalletClient, WalletError } from '../../src/wallet/client';
import { Holder } from '../../src/wallet/holder';
import { JANE, startFakeIncode, type Outcome } from '../helpers/fakeIncode';
import { openApplication, requestCredential } from '../helpers/idvFlow';
import { ADMIN_TOKEN, makeIssuerKeys } from '../helpers/issuer';

/**
 * Incode's OIDC integration end to end over loopback HTTP: the issuer on Node, Incode as a
 * fake identity provider following its documented endpoints (test/helpers/fakeIncode.ts), the
 * wallet. The webview goes issuer → Incode's authorize endpoint → the issuer's callback with a
 * code; the issuer redeems it with its client secret and trusts only the signed ID token.
 */
const CLIENT_ID = 'kcc-issuer-client';
const CLIENT_SECRET = 'incode-client-secret-0123456789';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('Incode adapter (loopback OIDC provider)', () => {
  let incode: Awaited<ReturnType<typeof startFakeIncode>>;
  let issuer: Awaited<ReturnType<typeof startNodeIssuer>>;
  let dir: string;
  const logged: string[] = [];
  const logger: Logger = {
    info: (event, fields) => logged.push(JSON.stringify({ event, ...fields })),
    warn: (event, fields) => logged.push(JSON.stringify({ event, ...fields })),
    error: (event, fields) => logged.push(JSON.stringify({ event, ...fields })),
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kcc-incode-'));
    incode = await startFakeIncode({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    const provider = createIncodeProvider({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      issuer: incode.issuer,
      fetch: (u, i) => fetch(u, i),
      tier: 'Enhanced',
    });
    issuer = await startNodeIssuer({
      port: 0,
      dataDir: dir,
      keys: await makeIssuerKeys(),
      logger,
      backgroundIntervalMs: 0,
      config: { adminToken: ADMIN_TOKEN, idv: { provider: 'incode' } },
      idv: { vendors: new Map([['incode', provider]]), outboundSecrets: [], vault: await createPiiVault(new Uint8Array(32).fill(7)) },
    });
    incode.registerRedirectUri(`${issuer.url}/idv/callback/incode`);
  });
  afterAll(async () => {
    await issuer?.close();
    await incode?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The applicant's webview: the IDV Request url, then Incode's authorize endpoint, which returns the browser to the callback. */
  async function verifyInWebview(idvUrl: string, outcome: Outcome) {
    const entry = await fetch(idvUrl, { redirect: 'manual' });
    expect(entry.status).toBe(303);
    const authorizeUrl = entry.headers.get('location') as string;
    incode.prepare(outcome);
    const atIncode = await fetch(authorizeUrl, { redirect: 'manual' });
    expect(atIncode.status).toBe(302);
    const callbackUrl = atIncode.headers.get('location') as string;
    const callback = await fetch(callbackUrl, { redirect: 'manual' });
    return { authorizeUrl, callbackUrl, callback };
  }

  async function start() {
    const holder = await Holder.create();
    const client = new WalletClient(holder, (u, i) => fetch(u, i));
    const { pfi, idvRequest } = await openApplication(client, issuer.url);
    const credential = await requestCredential(client, pfi.did, idvRequest);
    expect(credential.first.status).toBe(202);
    return { holder, idvRequest, deferred: credential.deferred };
  }

  /** The application of a state (the one Incode session whose state parameter is `state`). */
  async function applicationByState(state: string) {
    for (const status of ['pending', 'review', 'approved', 'rejected']) {
      const list = (await (await fetch(`${issuer.url}/admin/applications?status=${status}`, { headers: admin })).json()).applications as { id: string }[];
      for (const a of list) {
        const audit = await (await fetch(`${issuer.url}/admin/applications/${a.id}/audit`, { headers: admin })).json();
        if (
          audit.audit.some(
            (e: { action: string; detail?: { vendor_reference?: string } }) => e.action === 'idv.session_created' && e.detail?.vendor_reference === state,
          )
        ) {
          return { ...(await (await fetch(`${issuer.url}/admin/applications/${a.id}`, { headers: admin })).json()), audit };
        }
      }
    }
    throw new Error('no application for that state');
  }

  it('hands the webview to Incode’s authorize endpoint, bound to the application by state and nonce', async () => {
    const { idvRequest } = await start();
    const first = await fetch(idvRequest.url, { redirect: 'manual' });
    const location = new URL(first.headers.get('location') as string);
    expect(`${location.origin}${location.pathname}`).toBe(`${incode.issuer}/oauth2/authorize`);
    const q = location.searchParams;
    expect(q.get('client_id')).toBe(CLIENT_ID);
    expect(q.get('redirect_uri')).toBe(`${issuer.url}/idv/callback/incode`);
    expect(q.get('response_type')).toBe('code');
    expect(q.get('scope')).toBe('openid profile address');
    expect(q.get('state')).toMatch(/^[\w-]{43}$/);
    expect(q.get('nonce')).toMatch(/^[\w-]{43}$/);
    // Opened again: the same session (one per application).
    const again = await fetch(idvRequest.url, { redirect: 'manual' });
    expect(again.headers.get('location')).toBe(first.headers.get('location'));

    // The adapter itself: the same idempotency key yields the same state, another key another.
    const provider = createIncodeProvider({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, issuer: incode.issuer, fetch: (u, i) => fetch(u, i) });
    const request = {
      applicationId: 'app-x',
      idempotencyKey: 'key-x',
      redirectUrl: 'http://x/finish',
      entryUrl: 'http://x',
      callbackUrl: 'http://x/idv/callback/incode',
    };
    const a = await provider.createSession(request);
    expect((await provider.createSession(request)).vendorReference).toBe(a.vendorReference);
    expect((await provider.createSession({ ...request, idempotencyKey: 'key-y' })).vendorReference).not.toBe(a.vendorReference);
  });

  it('OK → approved, a KCC through the OID4VCI endpoints; a replayed callback and a later result change nothing; no PII in the log', async () => {
    const { idvRequest, deferred } = await start();
    expect(await deferred()).toEqual({ pending: true });
    const tokensBefore = incode.tokenRequests().length;
    const { authorizeUrl, callbackUrl, callback } = await verifyInWebview(idvRequest.url, { status: 'OK', person: JANE });
    expect(callback.status).toBe(303);
    expect(callback.headers.get('location')).toBe(`${issuer.url}/idv/finish.html`);
    expect(callback.headers.get('referrer-policy')).toBe('no-referrer');
    expect(
      incode
        .tokenRequests()
        .slice(tokensBefore)
        .map((r) => r.authMethod),
    ).toEqual(['client_secret_post']);

    const issued = await deferred();
    expect(issued.credential).toBeTypeOf('string');
    const vc = decodeJwt(issued.credential as string).vc as { credentialSubject: Record<string, unknown>; evidence: { kind: string; checks: string[] }[] };
    expect(vc.credentialSubject.countryOfResidence).toBe('DE');
    // The provider's tier (Enhanced) is no configured tier: the KCC carries the applied-for one (the tier rule, docs/tiers-and-status.md).
    expect(vc.credentialSubject.tier).toBe('Standard');
    expect(vc.evidence.map((e) => e.kind).sort()).toEqual(['document_verification', 'liveness_check']);

    const state = new URL(authorizeUrl).searchParams.get('state') as string;
    const app = await applicationByState(state);
    expect(app.status).toBe('approved');
    expect(app.idv_provider).toBe('incode');
    const changed = app.audit.audit.find((e: { action: string }) => e.action === 'idv.state_changed');
    expect(changed.detail).toMatchObject({ from: 'created', to: 'approved', reason_codes: ['incode:OK'], final: true });
    expect(changed.detail.vendor_reference).toMatch(/^[0-9a-f]{24}$/);

    // The same callback again (a reload, or a captured URL): acknowledged, Incode not asked again.
    const tokens = incode.tokenRequests().length;
    const replay = await fetch(callbackUrl, { redirect: 'manual' });
    expect(replay.status).toBe(303);
    expect(incode.tokenRequests().length).toBe(tokens);
    // A second verification on the finished application (FAIL this time): nothing changes.
    incode.prepare({ status: 'FAIL', person: JANE });
    const laterCallback = await fetch((await fetch(authorizeUrl, { redirect: 'manual' })).headers.get('location') as string, { redirect: 'manual' });
    expect(laterCallback.status).toBe(303);
    const after = await applicationByState(state);
    expect(after.status).toBe('approved');
    expect(after.audit.idv_events.map((e: { disposition: string }) => e.disposition)).toEqual(['applied']);

    const log = logged.join('\n');
    expect(log).not.toMatch(/JANE|SMITH|1985-06-15/);
    expect(log).not.toContain(new URL(callbackUrl).searchParams.get('code') as string);
  });

  it('FAIL → rejected: the wallet’s deferred request is denied', async () => {
    const { idvRequest, deferred } = await start();
    const { authorizeUrl, callback } = await verifyInWebview(idvRequest.url, { status: 'FAIL', person: JANE });
    expect(callback.status).toBe(303);
    const app = await applicationByState(new URL(authorizeUrl).searchParams.get('state') as string);
    expect(app.status).toBe('rejected');
    const denied = await deferred().catch((e: WalletError) => e);
    expect(denied).toBeInstanceOf(WalletError);
    expect((denied as WalletError).body).toMatchObject({ error: 'credential_request_denied' });
  });

  it('MANUAL_REVIEW → review; without a passed check an operator cannot approve (400 naming it), only reject', async () => {
    const { idvRequest, deferred } = await start();
    const { authorizeUrl, callback } = await verifyInWebview(idvRequest.url, { status: 'MANUAL_REVIEW', person: JANE });
    expect(callback.status).toBe(303);
    const app = await applicationByState(new URL(authorizeUrl).searchParams.get('state') as string);
    expect(app.status).toBe('review');
    expect(await deferred()).toEqual({ pending: true });
    // Incode cannot decide it from the browser any more: only an operator.
    incode.prepare({ status: 'OK', person: JANE });
    const retry = await fetch((await fetch(authorizeUrl, { redirect: 'manual' })).headers.get('location') as string, { redirect: 'manual' });
    expect(retry.status).toBe(303);
    expect((await applicationByState(new URL(authorizeUrl).searchParams.get('state') as string)).status).toBe('review');

    // MANUAL_REVIEW reports no passed check: an operator's approval adds none, so the tier
    // (document_verification) cannot be granted; the answer names the missing check.
    const refused = await fetch(`${issuer.url}/admin/applications/${app.id}/decision`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'approve', reason: 'document checked by hand' }),
    });
    expect(refused.status).toBe(400);
    const error = (await refused.json()) as { error: string; error_description: string };
    expect(error.error).toBe('invalid_request');
    expect(error.error_description).toContain('missing document_verification');
    expect((await applicationByState(new URL(authorizeUrl).searchParams.get('state') as string)).status).toBe('review');
    const decided = await fetch(`${issuer.url}/admin/applications/${app.id}/decision`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'reject', reason: 'document not verified' }),
    });
    expect(decided.status).toBe(200);
    const denied = await deferred().catch((e: WalletError) => e);
    expect((denied as WalletError).body).toMatchObject({ error: 'credential_request_denied' });
  });

  it('refuses forged, unsigned and wrongly authenticated results, and nothing changes', async () => {
    const { idvRequest, deferred } = await start();
    const entry = await fetch(idvRequest.url, { redirect: 'manual' });
    const authorizeUrl = entry.headers.get('location') as string;
    const state = new URL(authorizeUrl).searchParams.get('state') as string;
    const callbackBase = `${issuer.url}/idv/callback/incode`;

    // A webhook claiming the result: Incode documents no signature, so none is accepted.
    expect(await incode.deliverWebhook(`${issuer.url}/idv/webhooks/incode`, { interviewId: 'x', externalId: state, status: 'OK' })).toBe(404);
    expect(await incode.deliverWebhook(`${issuer.url}/idv/webhooks/incode`, { interviewId: 'x', status: 'OK' }, { 'x-incode-signature': 'deadbeef' })).toBe(
      404,
    );

    // Callbacks the browser could forge: no state, an unknown state, a made-up code.
    expect((await fetch(`${callbackBase}?code=abc`, { redirect: 'manual' })).status).toBe(400);
    expect((await fetch(`${callbackBase}?code=abc&state=not-a-session`, { redirect: 'manual' })).status).toBe(400);
    const madeUp = await fetch(`${callbackBase}?code=code_madeup&state=${state}`, { redirect: 'manual' });
    expect(madeUp.status).toBe(400);
    expect(madeUp.headers.get('content-type')).toMatch(/text\/html/);
    expect((await fetch(`${callbackBase}?error=access_denied&state=${state}`, { redirect: 'manual' })).status).toBe(400);
    // Another application's code injected into this session: its ID token's nonce is not ours.
    const other = await start();
    const otherAuthorize = (await fetch(other.idvRequest.url, { redirect: 'manual' })).headers.get('location') as string;
    incode.prepare({ status: 'OK', person: JANE });
    const stolen = new URL((await fetch(otherAuthorize, { redirect: 'manual' })).headers.get('location') as string).searchParams.get('code') as string;
    expect((await fetch(`${callbackBase}?code=${stolen}&state=${state}`, { redirect: 'manual' })).status).toBe(400);

    // Tokens Incode would never issue: signed by another key, for another client, from another
    // issuer, expired, with another nonce; attributes about someone else.
    for (const tamper of ['attacker_key', 'wrong_audience', 'wrong_issuer', 'expired', 'wrong_nonce', 'userinfo_other_subject'] as const) {
      incode.prepare({ status: 'OK', person: JANE, tamper });
      const callbackUrl = (await fetch(authorizeUrl, { redirect: 'manual' })).headers.get('location') as string;
      expect({ tamper, status: (await fetch(callbackUrl, { redirect: 'manual' })).status }).toEqual({ tamper, status: 400 });
    }

    const app = await applicationByState(state);
    expect(app.status).toBe('pending');
    expect(app.audit.idv_events).toEqual([]);
    expect(app.audit.audit.map((e: { action: string }) => e.action)).not.toContain('idv.state_changed');
    expect(await deferred()).toEqual({ pending: true });
    expect(logged.join('\n')).toMatch(/idv_callback_rejected/);
  });

  it('an unknown outcome, or document data the form would refuse, goes to review, never approved', async () => {
    const cases: { outcome: Outcome; reason: string }[] = [
      { outcome: { status: 'PENDING', person: JANE }, reason: 'incode:unrecognised_status' },
      { outcome: { status: '', person: JANE }, reason: 'incode:unrecognised_status' },
      { outcome: { status: 'OK', person: { ...JANE, birthdate: '2999-01-01' } }, reason: 'incode:claim:birthdate:date_in_future' },
      { outcome: { status: 'OK', person: { ...JANE, name: 'JANE <script>' } }, reason: 'incode:claim:name:invalid_format' },
      { outcome: { status: 'OK', person: { ...JANE, country: 'XX' } }, reason: 'incode:claim:country_of_residence:unknown_country' },
      { outcome: { status: 'OK', person: { name: JANE.name, birthdate: JANE.birthdate } }, reason: 'kcc:missing_country_of_residence' },
    ];
    for (const { outcome, reason } of cases) {
      const { idvRequest, deferred } = await start();
      const { authorizeUrl, callback } = await verifyInWebview(idvRequest.url, outcome);
      expect(callback.status).toBe(303);
      const app = await applicationByState(new URL(authorizeUrl).searchParams.get('state') as string);
      expect({ reason, status: app.status }).toEqual({ reason, status: 'review' });
      const changed = app.audit.audit.find((e: { action: string }) => e.action === 'idv.state_changed');
      expect(changed.detail.reason_codes).toContain(reason);
      expect(await deferred()).toEqual({ pending: true });
    }
  });

  it('redeems with Client Secret Basic when configured', async () => {
    const provider = createIncodeProvider({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      issuer: incode.issuer,
      tokenAuthMethod: 'client_secret_basic',
      fetch: (u, i) => fetch(u, i),
    });
    const callbackUrl = 'http://127.0.0.1:9/idv/callback/incode';
    incode.registerRedirectUri(callbackUrl);
    const session = await provider.createSession({
      applicationId: 'app-b',
      idempotencyKey: 'key-b',
      redirectUrl: 'http://x/finish',
      entryUrl: 'http://x',
      callbackUrl,
    });
    incode.prepare({ status: 'OK', person: JANE });
    const code = new URL((await fetch(session.url, { redirect: 'manual' })).headers.get('location') as string).searchParams.get('code') as string;
    const redeemed = await provider.completeCallback!({ code, vendorReference: session.vendorReference, callbackUrl }, Date.now());
    expect(redeemed.result).toMatchObject({ state: 'approved', final: true, countryOfResidence: 'DE' });
    expect(incode.tokenRequests().at(-1)?.authMethod).toBe('client_secret_basic');
  });

  it('bad settings fail at start, naming the variable', async () => {
    const key = new Uint8Array(32).fill(1);
    await expect(idvDepsFromSettings({ INCODE_CLIENT_ID: 'x' }, key)).rejects.toThrow(/INCODE_CLIENT_SECRET is required/);
    await expect(idvDepsFromSettings({ INCODE_CLIENT_SECRET: 'x' }, key)).rejects.toThrow(/INCODE_CLIENT_ID is required/);
    const both = { INCODE_CLIENT_ID: 'x', INCODE_CLIENT_SECRET: 'y' };
    await expect(idvDepsFromSettings({ ...both, INCODE_ISSUER: 'http://auth.incode.com' }, key)).rejects.toThrow(/INCODE_ISSUER must be an https URL/);
    await expect(idvDepsFromSettings({ ...both, INCODE_ISSUER: 'auth.incode.com' }, key)).rejects.toThrow(/INCODE_ISSUER must be an absolute URL/);
    await expect(idvDepsFromSettings({ ...both, INCODE_TOKEN_AUTH_METHOD: 'client_secret_jwt' }, key)).rejects.toThrow(
      /INCODE_TOKEN_AUTH_METHOD must be one of/,
    );
    await expect(idvDepsFromSettings({ ...both, INCODE_SCOPE: 'profile email' }, key)).rejects.toThrow(/INCODE_SCOPE must/);
    // IDV_PROVIDER=incode without Incode settings: the issuer refuses to start.
    const emptyDir = mkdtempSync(join(tmpdir(), 'kcc-incode-bad-'));
    try {
      await expect(
        startNodeIssuer({
          port: 0,
          dataDir: emptyDir,
          keys: await makeIssuerKeys(),
          logger,
          backgroundIntervalMs: 0,
          config: { idv: { provider: 'incode' } },
          idvEnv: { PII_DATA_KEY: 'AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE' },
        }),
      ).rejects.toThrow(/IDV_PROVIDER incode is not configured/);
    } finally {
      rmSync(emptyDir, { recursive: true, force: true });
    }
  });
});
