import { describe, expect, it } from 'vitest';
import { applyResult } from '../../src/issuance/identityVerification';
import { decideIssuance } from '../../src/issuance/issueCredential';
import type { Application } from '../../src/store/types';
import { SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { makeTestIssuer } from '../helpers/issuer';
import { openApplication } from '../helpers/steps';

/**
 * The credential endpoints' rule as a pure decision (src/issuance/issueCredential.ts), and the
 * writes an IDV result decides committed together or not at all (src/issuance/identityVerification.ts).
 */
describe('decideIssuance', () => {
  const app = (status: Application['status'], countryOfResidence: string | null = 'DE') => ({ status, countryOfResidence });

  it('denies declined and withdrawn applications, defers undecided ones', () => {
    expect(decideIssuance(app('rejected'), undefined)).toEqual({ kind: 'deny', reason: 'identity verification was not successful' });
    expect(decideIssuance(app('withdrawn'), undefined)).toEqual({ kind: 'deny', reason: 'the applicant withdrew the application' });
    expect(decideIssuance(app('pending'), undefined)).toEqual({ kind: 'defer' });
    expect(decideIssuance(app('review', null), 'expired')).toEqual({ kind: 'defer' });
  });

  it('sends an approval without the KCC data to review before anything else, denies a lapsed presented credential, else issues', () => {
    expect(decideIssuance(app('approved', null), undefined)).toEqual({ kind: 'review', problem: 'missing_country_of_residence' });
    expect(decideIssuance(app('approved', 'XX'), 'revoked')).toEqual({ kind: 'review', problem: 'missing_country_of_residence' });
    expect(decideIssuance(app('approved'), 'urn:uuid:1 is revoked')).toEqual({
      kind: 'deny',
      reason: 'a credential presented for this application is no longer valid: urn:uuid:1 is revoked',
    });
    expect(decideIssuance(app('approved'), undefined)).toEqual({ kind: 'issue' });
  });
});

describe('applyResult commits a result with what it decides', () => {
  async function pendingApplication() {
    const t = await makeTestIssuer();
    const now = Math.floor(Date.now() / 1000);
    const id = 'app-commit-1';
    await t.deps.store.applications.create({
      id,
      applicantDid: 'did:jwk:holder',
      credentialConfigurationId: 'KnownCustomerCredential',
      status: 'pending',
      formTokenHash: 'digest-of-form-token',
      formExpiresAt: now + 600,
      createdAt: now,
      updatedAt: now,
    });
    return { t, id };
  }
  const approved = (id: string) => ({
    applicationId: id,
    provider: 'persona',
    result: {
      state: 'approved' as const,
      reasonCodes: [],
      final: true,
      // The tier's required check, passed: an approval without it would go to review (the tier rule).
      checks: [{ kind: 'document' as const, result: 'passed' as const, detail: ['passport'] }],
      countryOfResidence: 'DE',
      vendorReference: 'inq_1',
    },
    eventAt: Date.now(),
    actor: 'idv:persona',
  });

  it('writes nothing when one of the writes fails, and everything once it can', async () => {
    const { t, id } = await pendingApplication();
    // The outbox refuses rows: the session, the status and the audit entry must not commit without them.
    t.sqlite.exec(`CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox_events BEGIN SELECT RAISE(ABORT, 'outbox unavailable'); END`);
    await expect(applyResult(t.deps, approved(id))).rejects.toThrow(/outbox unavailable/);
    expect(await t.deps.store.idvSessions.get(id)).toBeUndefined();
    expect((await t.deps.store.applications.get(id))?.status).toBe('pending');
    expect(await t.deps.store.audit.listForApplication(id)).toEqual([]);

    t.sqlite.exec('DROP TRIGGER refuse_outbox');
    const applied = await applyResult(t.deps, approved(id));
    expect(applied).toMatchObject({
      disposition: 'applied',
      state: 'approved',
      application: { status: 'approved', countryOfResidence: 'DE', decidedBy: 'idv:persona' },
    });
    // The row returned is the row written.
    expect(await t.deps.store.applications.get(id)).toEqual(applied.application);
    expect(await t.deps.store.idvSessions.get(id)).toMatchObject({ state: 'approved', provider: 'persona' });
    expect((await t.deps.store.audit.listForApplication(id)).map((a) => a.action)).toEqual(['idv.state_changed']);
    const events = (await t.deps.store.outbox.list()).map((e) => JSON.parse(e.body));
    expect(events.map((e) => e.type).sort()).toEqual(['application.approved', 'application.submitted']);
    expect(events.find((e) => e.type === 'application.approved').data).toMatchObject({
      application_id: id,
      status: 'approved',
      country_of_residence: 'DE',
      idv_state: 'approved',
    });
  });

  it('an older event than the newest applied changes nothing but the audit trail', async () => {
    const { t, id } = await pendingApplication();
    const first = approved(id);
    await applyResult(t.deps, first);
    const older = { ...first, result: { ...first.result, state: 'declined' as const }, eventAt: first.eventAt - 1000 };
    expect(await applyResult(t.deps, older)).toEqual({ disposition: 'stale', state: 'approved' });
    expect((await t.deps.store.applications.get(id))?.status).toBe('approved');
    expect((await t.deps.store.audit.listForApplication(id)).map((a) => a.action)).toEqual(['idv.state_changed', 'idv.event_stale']);
    expect(await t.deps.store.outbox.pendingCount()).toBe(2);
  });
});

describe("the form link's answer decides nothing without its result's commit", () => {
  it('the hosted form: a result that does not commit leaves the application pending and the link open; the retry is answered and decided once', async () => {
    const t = await makeTestIssuer();
    const { client, idvRequest } = await openApplication(t);
    const applicationId = (await t.deps.store.applications.listForApplicant(client.holder.did))[0].id;
    // The outbox refuses rows: the result's commit, which would take the link's answer, fails whole.
    t.sqlite.exec(`CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox_events BEGIN SELECT RAISE(ABORT, 'outbox unavailable'); END`);
    const failed = await client.submitIdvForm(idvRequest.url, SAMPLE_IDENTITY);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(failed.body).not.toMatch(/outbox unavailable|SQLITE|at .*\.ts/);
    const after = await t.deps.store.applications.get(applicationId);
    expect(after).toMatchObject({ status: 'pending', formSubmittedAt: null, decidedBy: null, tier: null });
    expect(await t.deps.store.idvSessions.get(applicationId)).toBeUndefined();
    expect(await t.deps.store.audit.listForApplication(applicationId)).toEqual([]);
    expect(await t.deps.store.pii.get(applicationId)).toBeUndefined();

    t.sqlite.exec('DROP TRIGGER refuse_outbox');
    const retried = await client.submitIdvForm(idvRequest.url, SAMPLE_IDENTITY);
    expect(retried.status).toBe(200);
    expect(retried.location).toMatch(/approved\/finish\.html$/);
    expect(await t.deps.store.applications.get(applicationId)).toMatchObject({ status: 'approved', decidedBy: 'idv:hosted' });
    expect((await t.deps.store.audit.listForApplication(applicationId)).map((a) => a.action)).toEqual(['consent.given', 'idv.state_changed']);
    // Answered once: a third submission is refused.
    expect((await client.submitIdvForm(idvRequest.url, SAMPLE_IDENTITY)).status).toBe(409);
  });

  it('declined consent: a withdrawal whose commit fails changes nothing, and declining again withdraws once, with its entry and event', async () => {
    const t = await makeTestIssuer();
    const { client, idvRequest } = await openApplication(t);
    const applicationId = (await t.deps.store.applications.listForApplicant(client.holder.did))[0].id;
    t.sqlite.exec(`CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox_events BEGIN SELECT RAISE(ABORT, 'outbox unavailable'); END`);
    const failed = await client.submitIdvForm(idvRequest.url, { consent: 'decline' });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(await t.deps.store.applications.get(applicationId)).toMatchObject({ status: 'pending', formSubmittedAt: null });
    expect(await t.deps.store.audit.listForApplication(applicationId)).toEqual([]);

    t.sqlite.exec('DROP TRIGGER refuse_outbox');
    expect((await client.submitIdvForm(idvRequest.url, { consent: 'decline' })).status).toBe(200);
    expect(await t.deps.store.applications.get(applicationId)).toMatchObject({ status: 'withdrawn', decidedBy: 'applicant' });
    expect((await t.deps.store.audit.listForApplication(applicationId)).map((a) => a.action)).toEqual(['consent.declined']);
    expect((await t.deps.store.outbox.list()).map((e) => e.type)).toEqual(['application.withdrawn']);
    expect((await client.submitIdvForm(idvRequest.url, { consent: 'decline' })).status).toBe(409);
  });
});
