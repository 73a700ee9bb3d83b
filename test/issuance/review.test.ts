import { describe, expect, it } from 'vitest';
import { eraseApplicantPii } from '../../src/issuance/personalData';
import { reviewApplication } from '../../src/issuance/review';
import { NotFound } from '../../src/protocol/errors';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { makeTestIssuer, PUBLIC_URL } from '../helpers/issuer';

/** The console's application page as a use case (src/issuance/review.ts): reads, PII opening, audit. */
describe('reviewApplication', () => {
  const reviewer = { role: 'reviewer' as const, party: 'account:rita', actor: 'console:rita' };

  it('gathers the application for review and audits every opening of the PII under the reviewer', async () => {
    const t = await makeTestIssuer();
    await applyForKcc(new WalletClient(await Holder.create(), t.fetch), {
      issuer: PUBLIC_URL,
      identity: { ...SAMPLE_IDENTITY, family_name: 'Review' },
      pollAttempts: 0,
    });
    const [application] = await t.deps.store.applications.listByStatus('review');

    const review = await reviewApplication(t.deps, reviewer, application.id);
    expect(review.application).toEqual(application);
    expect(review.pii).toMatchObject({ given_name: 'Alice', family_name: 'Review', document_number: 'X1234567' });
    expect(review.idv).toMatchObject({ state: 'needs_review' });
    expect(review).toMatchObject({ credentials: [], needsCountry: false, pendingApproval: undefined });
    expect(review.tiers.length).toBeGreaterThan(0);
    // The trail returned already holds this viewing: who and when, never what.
    expect(review.audit.at(-1)).toMatchObject({ actor: 'console:rita', action: 'pii.viewed', detail: null });

    await reviewApplication(t.deps, reviewer, application.id);
    const viewings = (await t.deps.store.audit.listForApplication(application.id)).filter((a) => a.action === 'pii.viewed');
    expect(viewings).toHaveLength(2);

    // Erased PII is not opened, so nothing is viewed.
    await eraseApplicantPii(t.deps, application.id, 'console:admin', 'applicant request');
    expect((await reviewApplication(t.deps, reviewer, application.id)).pii).toBe('erased');
    expect((await t.deps.store.audit.listForApplication(application.id)).filter((a) => a.action === 'pii.viewed')).toHaveLength(2);
  });

  it('refuses an unknown application', async () => {
    const t = await makeTestIssuer();
    await expect(reviewApplication(t.deps, reviewer, 'no-such-application')).rejects.toBeInstanceOf(NotFound);
  });
});
