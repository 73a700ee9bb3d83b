import { describe, expect, it } from 'vitest';
import { createPiiVault } from '../../src/idv/piiVault';
import { markAbandonedApplications } from '../../src/issuance/identityVerification';
import { purgeExpiredPii } from '../../src/issuance/personalData';
import { requestCredential } from '../helpers/idvFlow';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { openApplication } from '../helpers/idvFlow';
import { ADMIN_TOKEN, makeTestIssuer, PUBLIC_URL, testClock } from '../helpers/issuer';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

async function loadForm(t: Awaited<ReturnType<typeof makeTestIssuer>>, url: string) {
  const page = await t.app.request(url);
  const html = await page.text();
  return { cookie: (page.headers.get('set-cookie') ?? '').split(';')[0], csrf: /name="csrf_token" value="([^"]+)"/.exec(html)?.[1] as string, page, html };
}

describe('hosted form: CSRF', () => {
  it('sets an HttpOnly SameSite=Strict token cookie and a hidden field; refuses a POST without it, with another, or from another site', async () => {
    const t = await makeTestIssuer();
    const client = new WalletClient(await Holder.create(), t.fetch);
    const { idvRequest } = await openApplication(client, PUBLIC_URL);
    const { cookie, csrf, page } = await loadForm(t, idvRequest.url);
    expect(page.headers.get('set-cookie')).toMatch(/idv_csrf=[\w-]{43}; Max-Age=3600; Path=\/idv\/form; HttpOnly; SameSite=Strict/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const post = (headers: Record<string, string>, fields: Record<string, string>) =>
      t.app.request(idvRequest.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ consent: 'accept', ...fields }).toString(),
      });
    expect((await post({}, SAMPLE_IDENTITY)).status).toBe(403);
    expect((await post({ cookie }, { ...SAMPLE_IDENTITY, csrf_token: 'x'.repeat(43) })).status).toBe(403);
    expect((await post({ cookie, origin: 'https://evil.example' }, { ...SAMPLE_IDENTITY, csrf_token: csrf })).status).toBe(403);
    expect((await post({ cookie, 'sec-fetch-site': 'cross-site' }, { ...SAMPLE_IDENTITY, csrf_token: csrf })).status).toBe(403);
    const ok = await post({ cookie, origin: 'http://issuer.test', 'sec-fetch-site': 'same-origin' }, { ...SAMPLE_IDENTITY, csrf_token: csrf });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe(`${PUBLIC_URL}/idv/approved/finish.html`);
  });

  it('JSON submissions need no token (no cross-site JSON without a preflight) but a foreign or null Origin is refused', async () => {
    const t = await makeTestIssuer();
    const client = new WalletClient(await Holder.create(), t.fetch);
    const { idvRequest } = await openApplication(client, PUBLIC_URL);
    const post = (headers: Record<string, string>) =>
      t.app.request(idvRequest.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ ...SAMPLE_IDENTITY, consent: 'accept' }),
      });
    expect((await post({ origin: 'https://evil.example' })).status).toBe(403);
    expect((await post({ origin: 'null' })).status).toBe(403);
    const ok = await post({});
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'approved' });
  });

  it('keeps the 400-with-errors loop, with a fresh token in the re-rendered form', async () => {
    const t = await makeTestIssuer();
    const client = new WalletClient(await Holder.create(), t.fetch);
    const { idvRequest } = await openApplication(client, PUBLIC_URL);
    const { cookie, csrf } = await loadForm(t, idvRequest.url);
    const bad = await t.app.request(idvRequest.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ ...SAMPLE_IDENTITY, birthdate: '2999-01-01', csrf_token: csrf, consent: 'accept' }).toString(),
    });
    expect(bad.status).toBe(400);
    const html = await bad.text();
    expect(html).toContain('Date of birth cannot be in the future');
    expect(html).toContain(`name="csrf_token" value="${csrf}"`);
    expect(html).not.toContain('name="csrf_token" value="' + 'x');
  });
});

describe('hosted form: PII at rest, retention, erasure, events', () => {
  it('seals PII with AES-256-GCM; only KCC fields reach applications; purges after decision + N days; erases on request keeping the audit', async () => {
    const clock = testClock(Date.now());
    const key = new Uint8Array(32).fill(9);
    const vault = await createPiiVault(key);
    const t = await makeTestIssuer({ clock, config: { idv: { retentionDays: 7 } }, idv: { vendors: new Map(), outboundSecrets: [], vault } });
    const client = new WalletClient(await Holder.create(), t.fetch);
    const identity = { ...SAMPLE_IDENTITY, family_name: 'Zyxwvutsrq', document_number: 'ZZ99887766' };
    const result = await applyForKcc(client, { issuer: PUBLIC_URL, identity, pollAttempts: 0 });
    expect(result.credential).toBeTypeOf('string');

    // At rest: no plaintext PII anywhere in the database file's tables.
    const dump =
      JSON.stringify(t.sqlite.prepare('SELECT * FROM idv_pii').all()) +
      JSON.stringify(t.sqlite.prepare('SELECT * FROM applications').all()) +
      JSON.stringify(t.sqlite.prepare('SELECT * FROM audit_log').all()) +
      JSON.stringify(t.sqlite.prepare('SELECT * FROM outbox_events').all());
    expect(dump).not.toContain('Zyxwvutsrq');
    expect(dump).not.toContain('ZZ99887766');
    const row = t.sqlite.prepare('SELECT application_id, ciphertext, key_id, purge_after FROM idv_pii').get() as {
      application_id: string;
      ciphertext: string;
      key_id: string;
      purge_after: number;
    };
    expect(row.key_id).toBe(vault.keyId);
    expect(await vault.open(row.application_id, row.ciphertext)).toMatchObject({ family_name: 'Zyxwvutsrq', document_number: 'ZZ99887766' });
    // Bound to its row: the same ciphertext does not open for another application.
    await expect(vault.open('another-application', row.ciphertext)).rejects.toThrow();
    // Rotation: a vault with a new key keeps opening records sealed under the retired one.
    const rotated = await createPiiVault(new Uint8Array(32).fill(10), [key]);
    expect(rotated.keyId).not.toBe(vault.keyId);
    expect(rotated.has(row.key_id)).toBe(true);
    expect(await rotated.open(row.application_id, row.ciphertext, row.key_id)).toMatchObject({ family_name: 'Zyxwvutsrq' });
    await expect((await createPiiVault(new Uint8Array(32).fill(10))).open(row.application_id, row.ciphertext, row.key_id)).rejects.toThrow(/not configured/);
    expect(row.purge_after).toBe(Math.floor(clock() / 1000) + 7 * 86400);

    // Retention: nothing before decision + 7 days, purged after.
    clock.advance(7 * 86400 - 10);
    expect(await purgeExpiredPii(t.deps)).toBe(0);
    clock.advance(20);
    expect(await purgeExpiredPii(t.deps)).toBe(1);
    const purged = t.sqlite.prepare('SELECT ciphertext, erased_reason FROM idv_pii').get();
    expect(purged).toEqual({ ciphertext: null, erased_reason: 'retention' });

    const audit = await (await t.app.request(`${PUBLIC_URL}/admin/applications/${row.application_id}/audit`, { headers: admin })).json();
    expect(audit.audit.map((a: { action: string }) => a.action)).toEqual(['consent.given', 'idv.state_changed', 'pii.purged']);
    expect(audit.audit[1]).toMatchObject({ actor: 'applicant', detail: { from: 'created', to: 'approved' } });

    const types = (await (await t.app.request(`${PUBLIC_URL}/admin/webhooks/events`, { headers: admin })).json()).events.map((e: { type: string }) => e.type);
    expect(types.sort()).toEqual(['application.approved', 'application.submitted', 'credential.issued']);
  });

  it('an operator erases one applicant on request; the application, decision and audit trail stay', async () => {
    const t = await makeTestIssuer();
    const client = new WalletClient(await Holder.create(), t.fetch);
    await applyForKcc(client, { issuer: PUBLIC_URL, identity: { ...SAMPLE_IDENTITY, family_name: 'Review' }, pollAttempts: 0 });
    const [app] = (await (await t.app.request(`${PUBLIC_URL}/admin/applications?status=review`, { headers: admin })).json()).applications;
    const erase = (body: unknown) =>
      t.app.request(`${PUBLIC_URL}/admin/applications/${app.id}/erase-pii`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
    expect((await erase({})).status).toBe(400);
    expect(await (await erase({ reason: 'DSR-1234' })).json()).toEqual({ application_id: app.id, erased: true });
    expect(await (await erase({ reason: 'DSR-1234' })).json()).toEqual({ application_id: app.id, erased: false });
    expect(t.sqlite.prepare('SELECT ciphertext, erased_reason FROM idv_pii').get()).toEqual({ ciphertext: null, erased_reason: 'operator_request' });
    const audit = await (await t.app.request(`${PUBLIC_URL}/admin/applications/${app.id}/audit`, { headers: admin })).json();
    expect(audit.audit.map((a: { action: string; actor: string }) => `${a.actor}:${a.action}`)).toEqual([
      'applicant:consent.given',
      'applicant:idv.state_changed',
      'operator:pii.erased',
      'operator:pii.erase_noop',
    ]);
    expect((await (await t.app.request(`${PUBLIC_URL}/admin/applications/${app.id}`, { headers: admin })).json()).status).toBe('review');
    expect(
      (await t.app.request(`${PUBLIC_URL}/admin/applications/nope/erase-pii`, { method: 'POST', headers: admin, body: JSON.stringify({ reason: 'x' }) }))
        .status,
    ).toBe(404);
  });
});

describe('abandoned applications', () => {
  it('an IDV link that expires unused ends the deferred wait with credential_request_denied', async () => {
    const clock = testClock(Date.now());
    const t = await makeTestIssuer({ clock });
    const client = new WalletClient(await Holder.create(), t.fetch);
    const { pfi, idvRequest } = await openApplication(client, PUBLIC_URL);
    const { first, deferred } = await requestCredential(client, pfi.did, idvRequest);
    expect(first.status).toBe(202);
    expect(await markAbandonedApplications(t.deps)).toBe(0);
    clock.advance(t.deps.config.ttl.idvForm + 1);
    expect(await markAbandonedApplications(t.deps)).toBe(1);
    expect(await markAbandonedApplications(t.deps)).toBe(0);
    await expect(deferred()).rejects.toMatchObject({ status: 400, body: { error: 'credential_request_denied' } });
    const types = (await (await t.app.request(`${PUBLIC_URL}/admin/webhooks/events`, { headers: admin })).json()).events.map((e: { type: string }) => e.type);
    expect(types).toEqual(['application.rejected']);
  });
});
