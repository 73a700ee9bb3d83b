import { describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import { runJobs } from '../../src/issuance/jobs';
import { makeTieredIssuer, vcOf } from '../helpers/tiers';

/**
 * Outbound lifecycle events for the PFI's systems (src/issuance/events.ts): a status change by
 * the operator API is `credential.revoked` / `.suspended` / `.reinstated`, and the periodic job
 * announces each credential past its `exp` once as `credential.expired`.
 */
const DAY = 86400;
const expOf = (jwt: string) => decodeJwt(jwt).payload.exp as number;

async function issued() {
  const t = await makeTieredIssuer();
  const kcc = (await t.apply(await t.wallet(), 'kcc-basic')).credential as string;
  const events = async (type: string) =>
    (await t.deps.store.outbox.list(500)).filter((e) => e.type === type).map((e) => ({ id: e.id, ...(JSON.parse(e.body) as { type: string; data: any }) }));
  return { t, kcc, id: vcOf(kcc).id as string, subject: vcOf(kcc).credentialSubject.id as string, events };
}

describe('credential status events', () => {
  it('suspend, reinstate, revoke: one event each, with the credential, subject, new status, reason and actor', async () => {
    const { t, id, subject, events } = await issued();
    const change = (action: string, reason?: string) => t.admin(`/credentials/${encodeURIComponent(id)}/status`, { action, reason });
    expect((await change('suspend', 'document under re-check')).status).toBe(200);
    expect((await change('reinstate')).status).toBe(200);
    expect((await change('revoke', 'account closed')).status).toBe(200);
    const [suspended] = await events('credential.suspended');
    expect(suspended.data).toMatchObject({
      credential_id: id,
      subject_did: subject,
      status: 'suspended',
      reason: 'document under re-check',
      actor: 'operator',
    });
    const [reinstated] = await events('credential.reinstated');
    expect(reinstated.data).toMatchObject({ credential_id: id, subject_did: subject, status: 'active', reason: null, actor: 'operator' });
    const revoked = await events('credential.revoked');
    expect(revoked).toHaveLength(1);
    expect(revoked[0].data).toMatchObject({ credential_id: id, subject_did: subject, status: 'revoked', reason: 'account closed' });
    // A refused change (revoking twice) is no event.
    expect((await change('revoke', 'again')).status).toBe(409);
    expect(await events('credential.revoked')).toHaveLength(1);
  });
});

describe('credential.expired', () => {
  it('is announced once, after exp, by the periodic job; never before', async () => {
    const { t, id, subject, kcc, events } = await issued();
    await runJobs(t.deps, t.clock());
    expect(await events('credential.expired')).toEqual([]);
    t.clock.advance(expOf(kcc) - t.nowSeconds() + 1);
    const first = await runJobs(t.deps, t.clock());
    expect(first.failed).toBe(0);
    expect(first.results.announce_expired_credentials).toEqual({ announced: 1 });
    const expired = await events('credential.expired');
    expect(expired).toHaveLength(1);
    expect(expired[0].data).toEqual({
      credential_id: id,
      subject_did: subject,
      tier_id: 'kcc-basic',
      status: 'active',
      expired_at: new Date(expOf(kcc) * 1000).toISOString(),
    });
    t.clock.advance(DAY);
    expect((await runJobs(t.deps, t.clock())).results.announce_expired_credentials).toEqual({ announced: 0 });
    expect(await events('credential.expired')).toHaveLength(1);
    expect((await t.deps.store.credentialStatus.get(id))?.expiryAnnouncedAt).toBeTypeOf('number');
  });

  it('skips revoked credentials (credential.revoked was their last event)', async () => {
    const { t, id, kcc, events } = await issued();
    expect((await t.admin(`/credentials/${encodeURIComponent(id)}/status`, { action: 'revoke', reason: 'fraud' })).status).toBe(200);
    t.clock.advance(expOf(kcc) - t.nowSeconds() + 1);
    expect((await runJobs(t.deps, t.clock())).results.announce_expired_credentials).toEqual({ announced: 0 });
    expect(await events('credential.expired')).toEqual([]);
  });

  it('announces many in batches', async () => {
    const { t, events } = await issued();
    for (let i = 0; i < 3; i++) await t.apply(await t.wallet(), 'kcc-basic');
    t.clock.advance(400 * DAY);
    const { announceExpiredCredentials } = await import('../../src/issuance/jobs');
    expect(await announceExpiredCredentials(t.deps, t.nowSeconds(), 2)).toBe(4);
    expect(await events('credential.expired')).toHaveLength(4);
  });
});
