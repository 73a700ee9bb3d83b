import { asc, eq } from 'drizzle-orm';
import type { AuditRepository } from '../types';
import { type Dialect, p } from '../dialect';

/** The audit trail: who did what to an application, when. */
export function createAuditRepositories(d: Dialect) {
  const { db, prepare } = d;
  const { auditLog } = d.tables;

  const q = {
    insertAudit: prepare(
      'insert_audit',
      db.insert(auditLog).values({ applicationId: p('applicationId'), actor: p('actor'), action: p('action'), detail: p('detail'), at: p('at') }),
    ),
  };

  const auditRepository: AuditRepository = {
    async record(row) {
      await q.insertAudit.run({ applicationId: row.applicationId, actor: row.actor, action: row.action, detail: row.detail ?? null, at: row.at });
    },
    async listForApplication(applicationId) {
      return db.select().from(auditLog).where(eq(auditLog.applicationId, applicationId)).orderBy(asc(auditLog.at), asc(auditLog.id));
    },
  };

  return { audit: auditRepository };
}
