import { describe, expect, it } from 'vitest';
import { SAMPLE_IDENTITY } from '../../../src/wallet/flow';
import { makeTestIssuer } from '../../helpers/issuer';
import { admin, openApplication, submitIdentity } from '../../helpers/steps';

describe('operator API', () => {
  it('is 401 without or with a wrong token, and 404 when ADMIN_TOKEN is unset', async () => {
    const t = await makeTestIssuer();
    expect((await admin(t, 'GET', '/applications', undefined, null)).status).toBe(401);
    expect((await admin(t, 'GET', '/applications', undefined, 'wrong')).status).toBe(401);
    const off = await makeTestIssuer({ config: { adminToken: undefined } });
    const r = await admin(off, 'GET', '/applications', undefined, 'anything');
    expect(r.status).toBe(404);
    expect(r.body.error).toBe('not_found');
  });

  it('lists applications by status, decides reviews, and refuses to decide anything else', async () => {
    const t = await makeTestIssuer();
    const approved = await openApplication(t);
    await submitIdentity(t, approved.client, approved.idvRequest);
    const review = await openApplication(t);
    await submitIdentity(t, review.client, review.idvRequest, { ...SAMPLE_IDENTITY, family_name: 'Review' });
    const list = await admin(t, 'GET', '/applications?status=review');
    expect(list.body.applications).toHaveLength(1);
    const app = list.body.applications[0];
    expect(app).toMatchObject({ applicant_did: review.holder.did, status: 'review', country_of_residence: 'US' });
    expect((await admin(t, 'GET', '/applications?status=approved')).body.applications[0].applicant_did).toBe(approved.holder.did);
    expect((await admin(t, 'GET', '/applications?status=bogus')).status).toBe(400);
    const approvedId = (await admin(t, 'GET', '/applications?status=approved')).body.applications[0].id;
    const conflict = await admin(t, 'POST', `/applications/${approvedId}/decision`, { decision: 'reject' });
    expect(conflict.status).toBe(409);
    expect((await admin(t, 'POST', '/applications/nope/decision', { decision: 'approve' })).status).toBe(404);
    expect((await admin(t, 'POST', `/applications/${app.id}/decision`, { decision: 'maybe' })).status).toBe(400);
    const decided = await admin(t, 'POST', `/applications/${app.id}/decision`, { decision: 'reject', reason: 'mismatch' });
    expect(decided.body).toMatchObject({ status: 'rejected', decision_reason: 'mismatch', decided_by: 'operator' });
    expect((await admin(t, 'POST', `/applications/${app.id}/decision`, { decision: 'approve' })).status).toBe(409);
    expect((await admin(t, 'GET', `/applications/${app.id}`)).body.status).toBe('rejected');
  });
});
