import { describe, expect, it } from 'vitest';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { ADMIN_TOKEN, PUBLIC_URL, makeTestIssuer } from '../helpers/issuer';
import { admin } from '../helpers/steps';

/** An operator (or a stolen operator credential) must not mint KCCs of a tier the PFI never defined. */
describe('operator decisions take configured tiers only', () => {
  async function inReview() {
    const t = await makeTestIssuer();
    await applyForKcc(new WalletClient(await Holder.create(), t.fetch), {
      issuer: PUBLIC_URL,
      identity: { ...SAMPLE_IDENTITY, family_name: 'Review' },
      pollAttempts: 0,
    });
    const id = ((await admin(t, 'GET', '/applications?status=review')).body as { applications: { id: string }[] }).applications[0].id;
    return { t, id };
  }

  it('API: an unknown tier is 400 and changes nothing; the configured one is accepted', async () => {
    const { t, id } = await inReview();
    for (const tier of ['Platinum', 'standard', 'Standard ', '<script>']) {
      const res = await admin(t, 'POST', `/applications/${id}/decision`, { decision: 'approve', tier });
      expect(res.status).toBe(400);
      expect((res.body as { error: string }).error).toBe('invalid_request');
    }
    expect(((await admin(t, 'GET', `/applications/${id}`)).body as { status: string }).status).toBe('review');
    const ok = await admin(t, 'POST', `/applications/${id}/decision`, { decision: 'approve', tier: 'Standard' });
    expect(ok.status).toBe(200);
    expect((ok.body as { tier: string }).tier).toBe('Standard');
  });

  it('console: an unknown tier is 400 and the application stays in review', async () => {
    const { t, id } = await inReview();
    const login = await t.app.request(`${PUBLIC_URL}/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ operator: 'Bob', token: ADMIN_TOKEN }).toString(),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const page = await (await t.app.request(`${PUBLIC_URL}/console/applications/${id}`, { headers: { cookie } })).text();
    const csrf = /name="csrf_token" value="([0-9a-f]+)"/.exec(page)?.[1] as string;
    expect([...page.matchAll(/<option value="([^"]+)"/g)].map((m) => m[1])).toContain('Standard');
    const res = await t.app.request(`${PUBLIC_URL}/console/applications/${id}/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ decision: 'approve', tier: 'Platinum', csrf_token: csrf }).toString(),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('configured tiers');
    expect(((await admin(t, 'GET', `/applications/${id}`)).body as { status: string }).status).toBe('review');
  });
});
