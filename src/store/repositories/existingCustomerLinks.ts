import { and, asc, eq, ne } from 'drizzle-orm';
import type { ExistingCustomerLinkRepository } from '../types';
import { type Dialect, p } from '../dialect';

/** Existing-customer links (applicant DID ↔ bank subject digest), for the second-DID policy. */
export function createExistingCustomerLinkRepositories(d: Dialect) {
  const { db, prepare } = d;
  const { existingCustomerLinks: l } = d.tables;

  const q = {
    insert: prepare(
      'existing_customer_link_insert',
      db
        .insert(l)
        .values({ applicationId: p('applicationId'), subjectDigest: p('subjectDigest'), applicantDid: p('applicantDid'), createdAt: p('createdAt') })
        .onConflictDoNothing(),
    ),
    otherDids: prepare(
      'existing_customer_link_other_dids',
      db
        .select({ applicantDid: l.applicantDid })
        .from(l)
        .where(and(eq(l.subjectDigest, p('subjectDigest')), ne(l.applicantDid, p('applicantDid'))))
        .orderBy(asc(l.createdAt)),
    ),
  };

  const existingCustomerLinks: ExistingCustomerLinkRepository = {
    async record(row) {
      await q.insert.run(row);
    },
    async otherDids(subjectDigest, applicantDid) {
      const rows = (await q.otherDids.all({ subjectDigest, applicantDid })) as { applicantDid: string }[];
      return [...new Set(rows.map((r) => r.applicantDid))];
    },
  };

  return { existingCustomerLinks };
}
