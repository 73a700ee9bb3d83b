import { and, asc, desc, eq, isNotNull, isNull, lte, sql } from 'drizzle-orm';
import type { CredentialStatusRepository, IssuedCredentialRepository, IssuedCredentialWrite, NotificationRepository, StatusListRepository } from '../types';
import { type Dialect, first, p, placeholders, touched, type Write } from '../dialect';
import { stampOnce } from './singleUse';

/** The credential aggregate: credentials issued, their notifications, status lists and each credential's status. */
export function createCredentialRepositories(d: Dialect) {
  const { db, prepare } = d;
  const {
    issuedCredentials,
    issuanceClaims,
    notifications,
    statusLists,
    statusListCache,
    credentialStatus,
    credentialStatusEvents,
    outboxEvents,
    transactions,
  } = d.tables;

  const q = {
    insertCredential: prepare(
      'insert_credential',
      db.insert(issuedCredentials).values(placeholders('id', 'applicationId', 'subjectDid', 'transactionId', 'jwtSha256', 'issuedAt', 'expiresAt')),
    ),
    claimIssuance: prepare(
      'claim_issuance',
      db
        .insert(issuanceClaims)
        .values({ applicationId: p('applicationId'), credentialId: p('credentialId'), claimedAt: p('now') })
        .onConflictDoNothing()
        .returning({ id: issuanceClaims.applicationId }),
    ),
    statusEntryById: prepare(
      'credential_status_by_id',
      db
        .select()
        .from(credentialStatus)
        .where(eq(credentialStatus.credentialId, p('credentialId'))),
    ),
    // The signed credential kept once, by the claim it names (a racing request reads it back).
    keepSignedClaim: prepare(
      'keep_signed_claim',
      db
        .update(issuanceClaims)
        .set({ jwt: sql`${p('jwt')}` })
        .where(and(eq(issuanceClaims.applicationId, p('applicationId')), eq(issuanceClaims.credentialId, p('credentialId')), isNull(issuanceClaims.jwt)))
        .returning({ jwt: issuanceClaims.jwt }),
    ),
    newestStatusList: prepare('newest_status_list', db.select().from(statusLists).orderBy(desc(statusLists.id)).limit(1)),
    // One slot in the newest list while it is under `maxFill` of its size.
    reserveInNewestStatusList: prepare(
      'reserve_in_newest_status_list',
      db
        .update(statusLists)
        .set({ allocated: sql`${statusLists.allocated} + 1` })
        .where(
          and(sql`${statusLists.id} = (SELECT max(id) FROM status_lists)`, sql`${statusLists.allocated} < ${d.floorTimes(statusLists.size, p('maxFill'))}`),
        )
        .returning({ id: statusLists.id, size: statusLists.size }),
    ),
    reserveStatusSlot: prepare(
      'reserve_status_slot',
      db
        .update(statusLists)
        .set({ allocated: sql`${statusLists.allocated} + 1` })
        .where(and(eq(statusLists.id, p('id')), sql`${statusLists.allocated} < ${p('max')}`))
        .returning({ id: statusLists.id }),
    ),
    allocateStatusIndex: prepare(
      'allocate_status_index',
      db
        .insert(credentialStatus)
        .values(placeholders('credentialId', 'listId', 'listIndex', 'subjectDid', 'tierId', 'evidence', 'issuedAt', 'expiresAt', 'updatedAt'))
        .onConflictDoNothing()
        .returning({ id: credentialStatus.credentialId }),
    ),
  };

  // recordIssued (where the dialect has no statement of its own): with a transaction, every write
  // is conditional on the transaction still being unused, read before the consuming UPDATE that
  // comes LAST in the same transaction (D1: batch), so the record, its event and its notification
  // commit with the consumption or not at all. INSERT … SELECT lists every column in order.
  const transactionUnused = sql`(${p('transactionId')} IS NULL OR EXISTS (SELECT 1 FROM transactions t WHERE t.id = ${p('transactionId')} AND t.consumed_at IS NULL))`;
  const issued = d.recordIssued
    ? undefined
    : {
        credential: prepare(
          'record_issued_credential',
          db
            .insert(issuedCredentials)
            .select(
              sql`SELECT ${p('id')}, ${p('applicationId')}, ${p('subjectDid')}, ${p('transactionId')}, ${p('jwtSha256')}, ${p('issuedAt')}, ${p('expiresAt')}, ${p('format')} WHERE ${transactionUnused}`,
            ),
        ),
        // A further copy of a batch: no transaction of its own, recorded only if the transaction is unused.
        copy: prepare(
          'record_issued_copy',
          db
            .insert(issuedCredentials)
            .select(
              sql`SELECT ${p('id')}, ${p('applicationId')}, ${p('subjectDid')}, NULL, ${p('jwtSha256')}, ${p('issuedAt')}, ${p('expiresAt')}, ${p('format')} WHERE ${transactionUnused}`,
            ),
        ),
        event: prepare(
          'record_issued_event',
          db
            .insert(outboxEvents)
            .select(
              sql`SELECT ${p('eventId')}, ${p('type')}, ${p('body')}, ${p('createdAt')}, 0, ${p('createdAt')}, NULL, NULL, NULL, NULL, ${p('traceParent')} WHERE ${transactionUnused}`,
            )
            .onConflictDoNothing(),
        ),
        notification: prepare(
          'record_issued_notification',
          db
            .insert(notifications)
            .select(
              sql`SELECT ${p('notificationId')}, ${p('applicationId')}, ${p('accessTokenJti')}, ${p('credentialId')}, ${p('createdAt')}, NULL, NULL, NULL WHERE ${transactionUnused}`,
            ),
        ),
        consumeTransaction: prepare(
          'record_issued_consume_transaction',
          db
            .update(transactions)
            .set({ consumedAt: sql`${p('now')}`, credentialId: sql`${p('credentialId')}` })
            .where(and(eq(transactions.id, p('transactionId')), isNull(transactions.consumedAt))),
        ),
      };
  function issuedWrites(statements: NonNullable<typeof issued>, write: IssuedCredentialWrite): Write[] {
    const transactionId = write.transactionId ?? null;
    const writes: Write[] = [
      { statement: statements.credential, values: { format: 'jwt_vc_json', ...write.credential, transactionId } },
      ...(write.copies ?? []).map((copy) => ({ statement: statements.copy, values: { format: 'jwt_vc_json', ...copy, transactionId } })),
      {
        statement: statements.event,
        values: {
          transactionId,
          eventId: write.event.id,
          type: write.event.type,
          body: write.event.body,
          createdAt: write.event.createdAt,
          traceParent: write.event.traceParent ?? null,
        },
      },
    ];
    if (write.notification) {
      const n = write.notification;
      writes.push({
        statement: statements.notification,
        values: {
          transactionId,
          notificationId: n.id,
          applicationId: n.applicationId,
          accessTokenJti: n.accessTokenJti,
          credentialId: n.credentialId,
          createdAt: n.createdAt,
        },
      });
    }
    if (transactionId !== null)
      writes.push({ statement: statements.consumeTransaction, values: { transactionId, credentialId: write.credential.id, now: write.now } });
    return writes;
  }

  const issuedCredentialRepository: IssuedCredentialRepository = {
    async recordIssued(write) {
      if (!issued) return d.recordIssued!(write);
      const changed = await d.together(issuedWrites(issued, write));
      return write.transactionId === undefined || changed[changed.length - 1] === 1;
    },
    async record(row) {
      await q.insertCredential.run({ transactionId: null, ...row });
    },
    async listForApplication(applicationId) {
      return db.select().from(issuedCredentials).where(eq(issuedCredentials.applicationId, applicationId));
    },
    async claim(applicationId, credentialId, now) {
      return (await q.claimIssuance.all({ applicationId, credentialId, now })).length === 1;
    },
    async releaseClaim(applicationId, credentialId) {
      await db.delete(issuanceClaims).where(and(eq(issuanceClaims.applicationId, applicationId), eq(issuanceClaims.credentialId, credentialId)));
    },
    async claimOf(applicationId) {
      return first(db.select().from(issuanceClaims).where(eq(issuanceClaims.applicationId, applicationId)));
    },
    async keepSigned(applicationId, credentialId, jwt) {
      const kept = await q.keepSignedClaim.all({ applicationId, credentialId, jwt });
      if (kept.length === 1) return jwt;
      const claim = await first(
        db
          .select()
          .from(issuanceClaims)
          .where(and(eq(issuanceClaims.applicationId, applicationId), eq(issuanceClaims.credentialId, credentialId))),
      );
      return claim?.jwt ?? undefined;
    },
    async reclaim(applicationId, previousId, credentialId, now) {
      const rows = await db
        .update(issuanceClaims)
        .set({ credentialId, claimedAt: now, jwt: null })
        .where(and(eq(issuanceClaims.applicationId, applicationId), eq(issuanceClaims.credentialId, previousId)))
        .returning({ id: issuanceClaims.applicationId });
      return rows.length === 1;
    },
    async count() {
      const rows = await db.select({ n: sql<number>`count(*)` }).from(issuedCredentials);
      return Number(rows[0]?.n ?? 0);
    },
    async get(id) {
      return first(db.select().from(issuedCredentials).where(eq(issuedCredentials.id, id)));
    },
  };

  const notificationRepository: NotificationRepository = {
    async create(row) {
      await db.insert(notifications).values(row);
    },
    async get(id) {
      return first(db.select().from(notifications).where(eq(notifications.id, id)));
    },
    async forCredential(credentialId) {
      return first(db.select().from(notifications).where(eq(notifications.credentialId, credentialId)).orderBy(asc(notifications.createdAt)).limit(1));
    },
    async recordEvent(id, applicationId, event, now) {
      return first(
        db
          .update(notifications)
          .set({ event: event.event, eventDescription: event.description ?? null, eventAt: now })
          .where(and(eq(notifications.id, id), eq(notifications.applicationId, applicationId)))
          .returning(),
      );
    },
  };

  const statusListRepository: StatusListRepository = {
    async current(size, now) {
      const newest = await first(q.newestStatusList.all());
      if (newest) return newest;
      await db.insert(statusLists).values({ id: 1, size, createdAt: now }).onConflictDoNothing();
      return (await q.newestStatusList.all())[0];
    },
    async open(id, size, now) {
      await db.insert(statusLists).values({ id, size, createdAt: now }).onConflictDoNothing();
      return (await db.select().from(statusLists).where(eq(statusLists.id, id)))[0];
    },
    async get(id) {
      return first(db.select().from(statusLists).where(eq(statusLists.id, id)));
    },
    async reserveInNewest(maxFill) {
      return first(q.reserveInNewestStatusList.all({ maxFill }));
    },
    async reserve(id, max) {
      return (await touched(q.reserveStatusSlot.all({ id, max }))) === 1;
    },
    async bumpVersion(id) {
      await db
        .update(statusLists)
        .set({ version: sql`${statusLists.version} + 1` })
        .where(eq(statusLists.id, id));
    },
    async cached(id, purpose) {
      return first(
        db
          .select({ version: statusListCache.version, jwt: statusListCache.jwt, expiresAt: statusListCache.expiresAt })
          .from(statusListCache)
          .where(and(eq(statusListCache.listId, id), eq(statusListCache.purpose, purpose))),
      );
    },
    async cache(row) {
      await db
        .insert(statusListCache)
        .values(row)
        .onConflictDoUpdate({
          target: [statusListCache.listId, statusListCache.purpose],
          set: { version: row.version, jwt: row.jwt, expiresAt: row.expiresAt },
        });
    },
    async setIndices(id, purpose) {
      const flag = purpose === 'revocation' ? isNotNull(credentialStatus.revokedAt) : isNotNull(credentialStatus.suspendedAt);
      const rows = await db
        .select({ i: credentialStatus.listIndex })
        .from(credentialStatus)
        .where(and(eq(credentialStatus.listId, id), flag));
      return rows.map((r) => r.i);
    },
  };

  const credentialStatusRepository: CredentialStatusRepository = {
    async tryAllocate(row) {
      return (await touched(q.allocateStatusIndex.all(row))) === 1;
    },
    async get(credentialId) {
      return first(q.statusEntryById.all({ credentialId }));
    },
    async listForSubject(subjectDid) {
      // Only credentials that were recorded as issued: a status entry allocated by a request that
      // crashed before recording its credential is no credential (it is taken over by the next
      // request for the application, with the same id), so it never counts as live.
      return db
        .select()
        .from(credentialStatus)
        .where(
          and(eq(credentialStatus.subjectDid, subjectDid), sql`EXISTS (SELECT 1 FROM issued_credentials ic WHERE ic.id = ${credentialStatus.credentialId})`),
        )
        .orderBy(desc(credentialStatus.issuedAt));
    },
    async revoke(credentialId, reason, now) {
      return first(
        db
          .update(credentialStatus)
          .set({ revokedAt: now, revocationReason: reason, updatedAt: now })
          .where(and(eq(credentialStatus.credentialId, credentialId), isNull(credentialStatus.revokedAt)))
          .returning(),
      );
    },
    async suspend(credentialId, reason, now) {
      return first(
        db
          .update(credentialStatus)
          .set({ suspendedAt: now, suspensionReason: reason, updatedAt: now })
          .where(and(eq(credentialStatus.credentialId, credentialId), isNull(credentialStatus.revokedAt), isNull(credentialStatus.suspendedAt)))
          .returning(),
      );
    },
    async reinstate(credentialId, now) {
      return first(
        db
          .update(credentialStatus)
          .set({ suspendedAt: null, suspensionReason: null, updatedAt: now })
          .where(and(eq(credentialStatus.credentialId, credentialId), isNull(credentialStatus.revokedAt), isNotNull(credentialStatus.suspendedAt)))
          .returning(),
      );
    },
    async recordEvent(row) {
      await db.insert(credentialStatusEvents).values(row);
    },
    async events(credentialId) {
      return db.select().from(credentialStatusEvents).where(eq(credentialStatusEvents.credentialId, credentialId)).orderBy(asc(credentialStatusEvents.id));
    },
    async expiredUnannounced(now, limit = 100) {
      return db
        .select()
        .from(credentialStatus)
        .where(and(isNull(credentialStatus.expiryAnnouncedAt), lte(credentialStatus.expiresAt, now), isNull(credentialStatus.revokedAt)))
        .orderBy(asc(credentialStatus.expiresAt))
        .limit(limit);
    },
    async markExpiryAnnounced(credentialId, now) {
      return (await stampOnce(d, credentialStatus, 'expiryAnnouncedAt', now, eq(credentialStatus.credentialId, credentialId))) === 1;
    },
  };

  return {
    issuedCredentials: issuedCredentialRepository,
    notifications: notificationRepository,
    statusLists: statusListRepository,
    credentialStatus: credentialStatusRepository,
  };
}
