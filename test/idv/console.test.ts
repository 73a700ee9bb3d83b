import { describe, expect, it } from 'vitest';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { ADMIN_TOKEN, makeTestIssuer, PUBLIC_URL } from '../helpers/issuer';

/** The review console's protections, without a browser (the browser test covers the happy path). */
describe('review console', () => {
  async function setup() {
    const t = await makeTestIssuer();
    await applyForKcc(new WalletClient(await Holder.create(), t.fetch), {
      issuer: PUBLIC_URL,
      identity: { ...SAMPLE_IDENTITY, family_name: 'Review' },
      pollAttempts: 0,
    });
    const login = await t.app.request(`${PUBLIC_URL}/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ operator: 'Bob', token: ADMIN_TOKEN }).toString(),
    });
    expect(login.status).toBe(303);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    expect(login.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    const queue = await t.app.request(`${PUBLIC_URL}/console?status=review`, { headers: { cookie } });
    const html = await queue.text();
    const id = /\/console\/applications\/([\w-]+)"/.exec(html)?.[1] as string;
    const csrf = /name="csrf_token" value="([0-9a-f]+)"/.exec(html)?.[1] as string;
    return { t, cookie, id, csrf };
  }

  it('needs a session; refuses decisions without the CSRF token or from another site; a forged cookie is no session', async () => {
    const { t, cookie, id, csrf } = await setup();
    expect(queueStatus(await t.app.request(`${PUBLIC_URL}/console`))).toBe('/console/login');
    const forged = `${cookie.slice(0, -2)}${cookie.endsWith('AA') ? 'AB' : 'AA'}`;
    expect(queueStatus(await t.app.request(`${PUBLIC_URL}/console`, { headers: { cookie: forged } }))).toBe('/console/login');
    const decide = (headers: Record<string, string>, fields: Record<string, string>) =>
      t.app.request(`${PUBLIC_URL}/console/applications/${id}/decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...headers },
        body: new URLSearchParams(fields).toString(),
      });
    expect((await decide({}, { decision: 'approve' })).status).toBe(403);
    expect((await decide({ origin: 'https://evil.example' }, { decision: 'approve', csrf_token: csrf })).status).toBe(403);
    expect((await decide({ 'sec-fetch-site': 'cross-site' }, { decision: 'approve', csrf_token: csrf })).status).toBe(403);
    expect((await (await t.app.request(`${PUBLIC_URL}/admin/applications/${id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()).status).toBe(
      'review',
    );
    // Reject with a reason, then an overrule needs a reason and is recorded as a re-decision.
    // Rejecting takes a second step: the first POST shows what will happen and changes nothing.
    const asked = await decide({}, { decision: 'reject', reason: 'blurry document', csrf_token: csrf });
    expect(asked.status).toBe(200);
    expect(await asked.text()).toContain('Reject this application?');
    expect((await (await t.app.request(`${PUBLIC_URL}/admin/applications/${id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()).status).toBe(
      'review',
    );
    expect((await decide({}, { decision: 'reject', reason: 'blurry document', csrf_token: csrf, confirmed: 'yes' })).status).toBe(303);
    expect((await decide({}, { decision: 'approve', overrule: 'true', csrf_token: csrf })).status).toBe(400);
    expect((await decide({}, { decision: 'approve', overrule: 'true', reason: 'second look', csrf_token: csrf })).status).toBe(303);
    const audit = await (await t.app.request(`${PUBLIC_URL}/admin/applications/${id}/audit`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
    expect(audit.audit.map((a: { actor: string; action: string }) => `${a.actor}:${a.action}`)).toEqual([
      'applicant:consent.given',
      'applicant:idv.state_changed',
      'console:Bob:idv.state_changed',
      'console:Bob:pii.viewed',
      'console:Bob:idv.redecision',
    ]);
    const events = (await (await t.app.request(`${PUBLIC_URL}/admin/webhooks/events`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()).events;
    expect(events.map((e: { type: string }) => e.type).sort()).toEqual([
      'application.approved',
      'application.needs_review',
      'application.rejected',
      'application.submitted',
    ]);
  });

  it('is disabled without ADMIN_TOKEN and refuses a wrong token', async () => {
    const off = await makeTestIssuer({ config: { adminToken: '' } });
    expect((await off.app.request(`${PUBLIC_URL}/console/login`)).status).toBe(404);
    const t = await makeTestIssuer();
    const bad = await t.app.request(`${PUBLIC_URL}/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'operator=Eve&token=nope',
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
  });

  it("carries the PFI's name, logo and primary colour in its header, with the logo's origin allowed by the CSP", async () => {
    const t = await makeTestIssuer({
      config: { clientName: 'Acme Bank', clientMetadata: { logoUri: 'https://cdn.acme.example/logo.svg' }, branding: { primaryColor: '#7a1f5c' } },
    });
    const login = await t.app.request(`${PUBLIC_URL}/console/login`);
    const html = await login.text();
    expect(html).toContain('<img src="https://cdn.acme.example/logo.svg" alt="" height="28">');
    expect(html).toContain('Acme Bank · KCC review console');
    expect(login.headers.get('content-security-policy')).toContain("img-src 'self' https://cdn.acme.example");
    const css = await (await t.app.request(`${PUBLIC_URL}/console/console.css`)).text();
    expect(css).toContain('background:#7a1f5c');
    expect(css).not.toContain('#1d4ed8');
  });
});

function queueStatus(res: Response): string | null {
  return res.status === 303 ? new URL(res.headers.get('location') as string, PUBLIC_URL).pathname : String(res.status);
}
