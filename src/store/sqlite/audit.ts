import { asc, eq } from 'drizzle-orm';
import * as schema from '../schema';
import type { AuditRepository } from '../types';
import type { Database } from './database';
import { p } from './helpers';

/** The audit trail: who did what to an application, when. */
export function createAuditRepositories(db: Database) {
  const { auditLog } = schema;

  const q = {
    insertAudit: db
      .insert(auditLog)
      .values({ applicationId: p('applicationId'), actor: p('actor'), action: p('action'), detail: p('detail'), at: p('at') })
      .prepare(),
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
