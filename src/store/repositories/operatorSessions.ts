import { and, eq, gt, gte, isNotNull, isNull, lt, notInArray, or, sql } from 'drizzle-orm';
import type { OperatorSessionRepository } from '../types';
import { type Dialect, first, p, touched } from '../dialect';
import { stampOnce } from './singleUse';

/** Review console sessions (server-side; the cookie carries only a random id). */
export function createOperatorSessionRepositories(d: Dialect) {
  const { db, prepare } = d;
  const { operatorSessions: s } = d.tables;

  const q = {
    insert: prepare(
      'insert',
      db.insert(s).values({
        idHash: p('idHash'),
        operator: p('operator'),
        credentialTag: p('credentialTag'),
        role: p('role'),
        displayName: p('displayName'),
        createdAt: p('createdAt'),
        lastSeenAt: p('lastSeenAt'),
        expiresAt: p('expiresAt'),
      }),
    ),
    // One conditional write: a session that timed out or ended between two requests is never revived.
    touch: prepare(
      'touch',
      db
        .update(s)
        .set({ lastSeenAt: sql`${p('now')}` })
        .where(and(eq(s.idHash, p('idHash')), isNull(s.endedAt), gt(s.expiresAt, p('now')), gte(s.lastSeenAt, p('idleSince'))))
        .returning(),
    ),
  };

  const operatorSessions: OperatorSessionRepository = {
    async create(row) {
      await q.insert.run({ role: null, displayName: null, ...row });
    },
    async touch(idHash, now, idleSince) {
      return first(q.touch.all({ idHash, now, idleSince }));
    },
    async end(idHash, now) {
      await stampOnce(d, s, 'endedAt', now, eq(s.idHash, idHash));
    },
    async endAllFor(operator, now) {
      return stampOnce(d, s, 'endedAt', now, eq(s.operator, operator));
    },
    async endAllExcept(credentialTags, now) {
      return stampOnce(d, s, 'endedAt', now, credentialTags.length ? notInArray(s.credentialTag, credentialTags) : undefined);
    },
    async purge(before) {
      return touched(
        db
          .delete(s)
          .where(or(and(isNotNull(s.endedAt), lt(s.endedAt, before)), lt(s.expiresAt, before)))
          .returning({ id: s.idHash }),
      );
    },
  };

  return { operatorSessions };
}
