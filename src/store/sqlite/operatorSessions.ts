import { and, eq, gt, gte, isNotNull, isNull, lt, notInArray, or, sql } from 'drizzle-orm';
import * as schema from '../schema';
import type { OperatorSessionRepository } from '../types';
import type { Database } from './database';
import { p } from './helpers';

/** Review console sessions (server-side; the cookie carries only a random id). */
export function createOperatorSessionRepositories(db: Database) {
  const { operatorSessions: s } = schema;

  const q = {
    insert: db
      .insert(s)
      .values({
        idHash: p('idHash'),
        operator: p('operator'),
        credentialTag: p('credentialTag'),
        createdAt: p('createdAt'),
        lastSeenAt: p('lastSeenAt'),
        expiresAt: p('expiresAt'),
      })
      .prepare(),
    // One conditional write: a session that timed out or ended between two requests is never revived.
    touch: db
      .update(s)
      .set({ lastSeenAt: sql`${p('now')}` })
      .where(and(eq(s.idHash, p('idHash')), isNull(s.endedAt), gt(s.expiresAt, p('now')), gte(s.lastSeenAt, p('idleSince'))))
      .returning()
      .prepare(),
  };

  const operatorSessions: OperatorSessionRepository = {
    async create(row) {
      await q.insert.run(row);
    },
    async touch(idHash, now, idleSince) {
      return (await q.touch.all({ idHash, now, idleSince }))[0];
    },
    async end(idHash, now) {
      await db
        .update(s)
        .set({ endedAt: now })
        .where(and(eq(s.idHash, idHash), isNull(s.endedAt)));
    },
    async endAllFor(operator, now) {
      const rows = await db
        .update(s)
        .set({ endedAt: now })
        .where(and(eq(s.operator, operator), isNull(s.endedAt)))
        .returning({ id: s.idHash });
      return rows.length;
    },
    async endAllExcept(credentialTags, now) {
      const rows = await db
        .update(s)
        .set({ endedAt: now })
        .where(and(credentialTags.length ? notInArray(s.credentialTag, credentialTags) : undefined, isNull(s.endedAt)))
        .returning({ id: s.idHash });
      return rows.length;
    },
    async purge(before) {
      const rows = await db
        .delete(s)
        .where(or(and(isNotNull(s.endedAt), lt(s.endedAt, before)), lt(s.expiresAt, before)))
        .returning({ id: s.idHash });
      return rows.length;
    },
  };

  return { operatorSessions };
}
