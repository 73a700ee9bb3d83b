import { sql, type SQL } from 'drizzle-orm';
import { p } from '../dialect';

/**
 * A form link takes one answer (a submission or a withdrawal): unsubmitted, pending, unexpired
 * (ApplicationRepository.submitIdv, withdraw). This is that condition as a subquery on the link's
 * application (`:formTokenHash`, `:now`; with `applicationId`, also that it is this application's
 * link), for the writes that commit with the answer and must see the link still open.
 */
export function formLinkOpen(applicationId?: SQL): SQL {
  return sql`EXISTS (SELECT 1 FROM applications a WHERE a.form_token_hash = ${p('formTokenHash')}${applicationId ? sql` AND a.id = ${applicationId}` : sql``}
    AND a.form_submitted_at IS NULL AND a.status = 'pending' AND a.form_expires_at > ${p('now')})`;
}
