import { and, asc, desc, eq, isNotNull, isNull, lte, sql } from 'drizzle-orm';
import * as schema from '../schema';
import type { CredentialStatusRepository, IssuedCredentialRepository, NotificationRepository, StatusListRepository } from '../types';
import type { Database } from './database';
import { p } from './helpers';

/** The credential aggregate: credentials issued, their notifications, status lists and each credential's status. */
export function createCredentialRepositories(db: Database) {
  const { issuedCredentials, issuanceClaims, notifications, statusLists, statusListCache, credentialStatus, credentialStatusEvents } = schema;

  const q = {
    insertCredential: db
      .insert(issuedCredentials)
      .values({
        id: p('id'),
        applicationId: p('applicationId'),
        subjectDid: p('subjectDid'),
        transactionId: p('transactionId'),
        jwtSha256: p('jwtSha256'),
        issuedAt: p('issuedAt'),
        expiresAt: p('expiresAt'),
      })
      .prepare(),
    claimIssuance: db
      .insert(issuanceClaims)
      .values({ applicationId: p('applicationId'), credentialId: p('credentialId'), claimedAt: p('now') })
      .onConflictDoNothing()
      .returning({ id: issuanceClaims.applicationId })
      .prepare(),
    newestStatusList: db.select().from(statusLists).orderBy(desc(statusLists.id)).limit(1).prepare(),
    // One slot in the newest list while it is under `maxFill` of its size.
    reserveInNewestStatusList: db
      .update(statusLists)
      .set({ allocated: sql`${statusLists.allocated} + 1` })
      .where(
        and(
          sql`${statusLists.id} = (SELECT max(id) FROM status_lists)`,
          sql`${statusLists.allocated} < CAST(${statusLists.size} * ${p('maxFill')} AS INTEGER)`,
        ),
      )
      .returning({ id: statusLists.id, size: statusLists.size })
      .prepare(),
    reserveStatusSlot: db
      .update(statusLists)
      .set({ allocated: sql`${statusLists.allocated} + 1` })
      .where(and(eq(statusLists.id, p('id')), sql`${statusLists.allocated} < ${p('max')}`))
      .returning({ id: statusLists.id })
      .prepare(),
    allocateStatusIndex: db
      .insert(credentialStatus)
      .values({
        credentialId: p('credentialId'),
        listId: p('listId'),
        listIndex: p('listIndex'),
        subjectDid: p('subjectDid'),
        tierId: p('tierId'),
        evidence: p('evidence'),
        issuedAt: p('issuedAt'),
        expiresAt: p('expiresAt'),
        updatedAt: p('updatedAt'),
      })
      .onConflictDoNothing()
      .returning({ id: credentialStatus.credentialId })
      .prepare(),
  };

  const issuedCredentialRepository: IssuedCredentialRepository = {
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
    async count() {
      const rows = await db.select({ n: sql<number>`count(*)` }).from(issuedCredentials);
      return Number(rows[0]?.n ?? 0);
    },
    async get(id) {
      const rows = await db.select().from(issuedCredentials).where(eq(issuedCredentials.id, id));
      return rows[0];
    },
  };

  const notificationRepository: NotificationRepository = {
    async create(row) {
      await db.insert(notifications).values(row);
    },
    async get(id) {
      const rows = await db.select().from(notifications).where(eq(notifications.id, id));
      return rows[0];
    },
    async recordEvent(id, applicationId, event, now) {
      const rows = await db
        .update(notifications)
        .set({ event: event.event, eventDescription: event.description ?? null, eventAt: now })
        .where(and(eq(notifications.id, id), eq(notifications.applicationId, applicationId)))
        .returning();
      return rows[0];
    },
  };

  const statusListRepository: StatusListRepository = {
    async current(size, now) {
      const rows = await q.newestStatusList.all();
      if (rows[0]) return rows[0];
      await db.insert(statusLists).values({ id: 1, size, createdAt: now }).onConflictDoNothing();
      const again = await db.select().from(statusLists).orderBy(desc(statusLists.id)).limit(1);
      return again[0];
    },
    async open(id, size, now) {
      await db.insert(statusLists).values({ id, size, createdAt: now }).onConflictDoNothing();
      const rows = await db.select().from(statusLists).where(eq(statusLists.id, id));
      return rows[0];
    },
    async get(id) {
      const rows = await db.select().from(statusLists).where(eq(statusLists.id, id));
      return rows[0];
    },
    async reserveInNewest(maxFill) {
      return (await q.reserveInNewestStatusList.all({ maxFill }))[0];
    },
    async reserve(id, max) {
      const rows = await q.reserveStatusSlot.all({ id, max });
      return rows.length === 1;
    },
    async bumpVersion(id) {
      await db
        .update(statusLists)
        .set({ version: sql`${statusLists.version} + 1` })
        .where(eq(statusLists.id, id));
    },
    async cached(id, purpose) {
      const rows = await db
        .select({ version: statusListCache.version, jwt: statusListCache.jwt, expiresAt: statusListCache.expiresAt })
        .from(statusListCache)
        .where(and(eq(statusListCache.listId, id), eq(statusListCache.purpose, purpose)));
      return rows[0];
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
      const rows = await q.allocateStatusIndex.all(row);
      return rows.length === 1;
    },
    async get(credentialId) {
      const rows = await db.select().from(credentialStatus).where(eq(credentialStatus.credentialId, credentialId));
      return rows[0];
    },
    async listForSubject(subjectDid) {
      return db.select().from(credentialStatus).where(eq(credentialStatus.subjectDid, subjectDid)).orderBy(desc(credentialStatus.issuedAt));
    },
    async revoke(credentialId, reason, now) {
      const rows = await db
        .update(credentialStatus)
        .set({ revokedAt: now, revocationReason: reason, updatedAt: now })
        .where(and(eq(credentialStatus.credentialId, credentialId), isNull(credentialStatus.revokedAt)))
        .returning();
      return rows[0];
    },
    async suspend(credentialId, reason, now) {
      const rows = await db
        .update(credentialStatus)
        .set({ suspendedAt: now, suspensionReason: reason, updatedAt: now })
        .where(and(eq(credentialStatus.credentialId, credentialId), isNull(credentialStatus.revokedAt), isNull(credentialStatus.suspendedAt)))
        .returning();
      return rows[0];
    },
    async reinstate(credentialId, now) {
      const rows = await db
        .update(credentialStatus)
        .set({ suspendedAt: null, suspensionReason: null, updatedAt: now })
        .where(and(eq(credentialStatus.credentialId, credentialId), isNull(credentialStatus.revokedAt), isNotNull(credentialStatus.suspendedAt)))
        .returning();
      return rows[0];
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
      const rows = await db
        .update(credentialStatus)
        .set({ expiryAnnouncedAt: now })
        .where(and(eq(credentialStatus.credentialId, credentialId), isNull(credentialStatus.expiryAnnouncedAt)))
        .returning({ id: credentialStatus.credentialId });
      return rows.length === 1;
    },
  };

  return {
    issuedCredentials: issuedCredentialRepository,
    notifications: notificationRepository,
    statusLists: statusListRepository,
    credentialStatus: credentialStatusRepository,
  };
}
