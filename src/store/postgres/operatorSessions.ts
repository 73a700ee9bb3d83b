import { and, eq, gt, gte, isNotNull, isNull, lt, notInArray, or } from 'drizzle-orm';
import type { OperatorSessionRepository } from '../types';
import type { PostgresDatabase } from './database';
import * as schema from './schema';

/** Review console sessions on PostgreSQL, as src/store/sqlite/operatorSessions.ts: shared by every instance. */
export function createPostgresOperatorSessions(db: PostgresDatabase): OperatorSessionRepository {
  const s = schema.operatorSessions;
  return {
    async create(row) {
      await db.insert(s).values(row);
    },
    async touch(idHash, now, idleSince) {
      // One conditional write: a session that timed out or ended between two requests is never revived.
      const rows = await db
        .update(s)
        .set({ lastSeenAt: now })
        .where(and(eq(s.idHash, idHash), isNull(s.endedAt), gt(s.expiresAt, now), gte(s.lastSeenAt, idleSince)))
        .returning();
      return rows[0];
    },
    async end(idHash, now) {
      await db
        .update(s)
        .set({ endedAt: now })
        .where(and(eq(s.idHash, idHash), isNull(s.endedAt)));
    },
    async endAllFor(operator, now) {
      return (
        await db
          .update(s)
          .set({ endedAt: now })
          .where(and(eq(s.operator, operator), isNull(s.endedAt)))
          .returning({ id: s.idHash })
      ).length;
    },
    async endAllExcept(credentialTags, now) {
      return (
        await db
          .update(s)
          .set({ endedAt: now })
          .where(and(credentialTags.length ? notInArray(s.credentialTag, credentialTags) : undefined, isNull(s.endedAt)))
          .returning({ id: s.idHash })
      ).length;
    },
    async purge(before) {
      return (
        await db
          .delete(s)
          .where(or(and(isNotNull(s.endedAt), lt(s.endedAt, before)), lt(s.expiresAt, before)))
          .returning({ id: s.idHash })
      ).length;
    },
  };
}
