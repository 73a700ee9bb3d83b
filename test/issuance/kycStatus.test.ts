import { describe, expect, it } from 'vitest';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { ADMIN_TOKEN, makeTestIssuer, PUBLIC_URL, testClock } from '../helpers/issuer';

/** The KYCPort-style status API (seed 000): GET /api/v1/kyc/{subject}/status with a tenant key. */
const KEY = 'tenant-key-0123456789abcdef0123456789';

async function setup(kycApiKeys = [KEY]) {
  const clock = testClock();
  const t = await makeTestIssuer({ clock, config: { kycApiKeys } });
  const status = async (did: string, key = KEY, suffix = '') => {
    const res = await t.app.request(`${PUBLIC_URL}/api/v1/kyc/${encodeURIComponent(did)}/status${suffix}`, { headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };
  const apply = async (familyName: string) => {
    const holder = await Holder.create();
    const client = new WalletClient(holder, t.fetch, { now: () => Math.floor(clock() / 1000) });
    const result = await applyForKcc(client, { issuer: PUBLIC_URL, identity: { ...SAMPLE_IDENTITY, family_name: familyName }, pollAttempts: 0 }).catch(
      (e) => e,
    );
    return { holder, result };
  };
  return { t, clock, status, apply };
}

describe('KYC status API', () => {
  it('answers exactly kyc_status, kyc_tier and aml_clear for each state', async () => {
    const s = await setup();
    expect((await s.status('did:jwk:nobody')).body).toEqual({ kyc_status: 'unverified', kyc_tier: null, aml_clear: false });
    const approved = await s.apply('Doe');
    const verified = await s.status(approved.holder.did);
    expect(verified.status).toBe(200);
    expect(verified.headers.get('cache-control')).toBe('no-store');
    expect(verified.body).toEqual({ kyc_status: 'verified', kyc_tier: 'KnownCustomerCredential', aml_clear: false });
    expect((await s.status(approved.holder.did, KEY, '/')).body.kyc_status).toBe('verified'); // KYCPort's trailing slash
    const review = await s.apply('Review');
    expect((await s.status(review.holder.did)).body).toEqual({ kyc_status: 'pending', kyc_tier: 'KnownCustomerCredential', aml_clear: false });
    const declined = await s.apply('Declined');
    expect((await s.status(declined.holder.did)).body).toEqual({ kyc_status: 'rejected', kyc_tier: 'KnownCustomerCredential', aml_clear: false });
    // Suspended → pending; revoked → rejected.
    const [kcc] = await s.t.deps.store.credentialStatus.listForSubject(approved.holder.did);
    const change = (action: string) =>
      s.t.app.request(`${PUBLIC_URL}/admin/credentials/${encodeURIComponent(kcc.credentialId)}/status`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ action, reason: 'check' }),
      });
    expect((await change('suspend')).status).toBe(200);
    expect((await s.status(approved.holder.did)).body.kyc_status).toBe('pending');
    expect((await change('reinstate')).status).toBe(200);
    expect((await s.status(approved.holder.did)).body.kyc_status).toBe('verified');
    // Past exp → expired.
    s.clock.advance(366 * 86400);
    expect((await s.status(approved.holder.did)).body).toEqual({ kyc_status: 'expired', kyc_tier: 'KnownCustomerCredential', aml_clear: false });
    expect((await change('revoke')).status).toBe(200);
    expect((await s.status(approved.holder.did)).body.kyc_status).toBe('rejected');
  });

  it('refuses a missing or wrong key (401), a subject that is not a DID (400), and is off without keys (404)', async () => {
    const s = await setup();
    expect((await s.status('did:jwk:x', 'wrong')).status).toBe(401);
    const none = await s.t.app.request(`${PUBLIC_URL}/api/v1/kyc/did%3Ajwk%3Ax/status`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as any).error).toBe('unauthorized');
    expect((await s.status('not-a-did')).status).toBe(400);
    expect((await (await setup([])).status('did:jwk:x')).status).toBe(404);
  });
});
