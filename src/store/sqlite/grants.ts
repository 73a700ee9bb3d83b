import { and, eq, gt, isNull, lt, lte, sql } from 'drizzle-orm';
import * as schema from '../schema';
import type { AccessTokenRepository, CNonceRepository, NonceRepository, PreAuthorizedCodeRepository } from '../types';
import type { Database } from './database';
import { consumeOnce, p, type Together } from './helpers';

/** The grant aggregate: pre-authorized codes, the access tokens issued for them, their c_nonces, and Nonce Endpoint nonces. */
export function createGrantRepositories(db: Database, together: Together) {
  const { preAuthorizedCodes, accessTokens, cNonces, nonces } = schema;

  const q = {
    insertCode: db
      .insert(preAuthorizedCodes)
      .values({ codeHash: p('codeHash'), applicationId: p('applicationId'), applicantDid: p('applicantDid'), expiresAt: p('expiresAt') })
      .prepare(),
    redeemCode: db
      .update(preAuthorizedCodes)
      .set({ consumedAt: sql`${p('now')}` })
      .where(
        and(
          eq(preAuthorizedCodes.codeHash, p('codeHash')),
          eq(preAuthorizedCodes.applicantDid, p('applicantDid')),
          isNull(preAuthorizedCodes.consumedAt),
          gt(preAuthorizedCodes.expiresAt, p('now')),
        ),
      )
      .returning()
      .prepare(),
    redeemBoundCode: db
      .update(preAuthorizedCodes)
      .set({ consumedAt: sql`${p('now')}` })
      .where(and(eq(preAuthorizedCodes.codeHash, p('codeHash')), isNull(preAuthorizedCodes.consumedAt), gt(preAuthorizedCodes.expiresAt, p('now'))))
      .returning()
      .prepare(),
    insertAccessToken: db
      .insert(accessTokens)
      .values({
        jti: p('jti'),
        applicationId: p('applicationId'),
        applicantDid: p('applicantDid'),
        codeHash: p('codeHash'),
        expiresAt: p('expiresAt'),
        tokenSha256: p('tokenSha256'),
      })
      .prepare(),
    accessTokenByJti: db
      .select()
      .from(accessTokens)
      .where(eq(accessTokens.jti, p('jti')))
      .prepare(),
    insertCNonce: db
      .insert(cNonces)
      .values({ nonce: p('nonce'), accessTokenJti: p('accessTokenJti'), expiresAt: p('expiresAt') })
      .prepare(),
    consumeCNonce: db
      .update(cNonces)
      .set({ consumedAt: sql`${p('now')}` })
      .where(and(eq(cNonces.nonce, p('nonce')), eq(cNonces.accessTokenJti, p('accessTokenJti')), isNull(cNonces.consumedAt), gt(cNonces.expiresAt, p('now'))))
      .returning()
      .prepare(),
    consumeNonce: db
      .update(nonces)
      .set({ consumedAt: sql`${p('now')}` })
      .where(and(eq(nonces.nonce, p('nonce')), isNull(nonces.consumedAt), gt(nonces.expiresAt, p('now'))))
      .returning()
      .prepare(),
  };

  const preAuthorizedCodeRepository: PreAuthorizedCodeRepository = {
    async create(row) {
      await q.insertCode.run(row);
    },
    async redeem(codeHash, applicantDid, now) {
      return consumeOnce(q.redeemCode, { codeHash, applicantDid, now });
    },
    async get(codeHash) {
      const rows = await db.select().from(preAuthorizedCodes).where(eq(preAuthorizedCodes.codeHash, codeHash));
      return rows[0];
    },
    async redeemBound(codeHash, now) {
      return consumeOnce(q.redeemBoundCode, { codeHash, now });
    },
    async deleteExpired(before) {
      const rows = await db.delete(preAuthorizedCodes).where(lte(preAuthorizedCodes.expiresAt, before)).returning({ codeHash: preAuthorizedCodes.codeHash });
      return rows.length;
    },
  };

  const accessTokenRepository: AccessTokenRepository = {
    async create(row) {
      await q.insertAccessToken.run({ tokenSha256: null, ...row });
    },
    async createWithCNonce(row, cNonce) {
      await together([
        { statement: q.insertAccessToken, values: { tokenSha256: null, ...row } },
        { statement: q.insertCNonce, values: cNonce },
      ]);
    },
    async get(jti) {
      return (await q.accessTokenByJti.all({ jti }))[0];
    },
    async revokeByCode(codeHash, now) {
      const rows = await db
        .update(accessTokens)
        .set({ revokedAt: now })
        .where(and(eq(accessTokens.codeHash, codeHash), isNull(accessTokens.revokedAt)))
        .returning({ jti: accessTokens.jti });
      return rows.length;
    },
  };

  const cNonceRepository: CNonceRepository = {
    async create(row) {
      await q.insertCNonce.run(row);
    },
    async consume(nonce, accessTokenJti, now) {
      return consumeOnce(q.consumeCNonce, { nonce, accessTokenJti, now });
    },
    async deleteExpired(now) {
      const rows = await db.delete(cNonces).where(lte(cNonces.expiresAt, now)).returning({ nonce: cNonces.nonce });
      return rows.length;
    },
  };

  const nonceRepository: NonceRepository = {
    async create(row) {
      await db.insert(nonces).values(row);
    },
    async consume(nonce, now) {
      return consumeOnce(q.consumeNonce, { nonce, now });
    },
    async pruneExpired(now) {
      const rows = await db.delete(nonces).where(lt(nonces.expiresAt, now)).returning({ nonce: nonces.nonce });
      return rows.length;
    },
  };

  return {
    preAuthorizedCodes: preAuthorizedCodeRepository,
    accessTokens: accessTokenRepository,
    cNonces: cNonceRepository,
    nonces: nonceRepository,
  };
}
