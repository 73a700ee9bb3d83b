import { and, eq, gt, isNull, lt, lte, sql } from 'drizzle-orm';
import type { AccessTokenRepository, CNonceRepository, NonceRepository, PreAuthorizedCodeRepository } from '../types';
import { consumeOnce, type Dialect, first, p, touched } from '../dialect';

/** The INSERT of a pre-authorized code (also written with its application: createWithCode). */
export function prepareInsertCode(d: Dialect) {
  const { preAuthorizedCodes } = d.tables;
  return d.prepare(
    'insert_code',
    d.db.insert(preAuthorizedCodes).values({ codeHash: p('codeHash'), applicationId: p('applicationId'), applicantDid: p('applicantDid'), expiresAt: p('expiresAt') }),
  );
}

/** The grant aggregate: pre-authorized codes, the access tokens issued for them, their c_nonces, and Nonce Endpoint nonces. */
export function createGrantRepositories(d: Dialect) {
  const { db, prepare } = d;
  const { preAuthorizedCodes, accessTokens, cNonces, nonces } = d.tables;

  const q = {
    insertCode: prepareInsertCode(d),
    redeemCode: prepare('redeem_code', db
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
      ),
    redeemBoundCode: prepare('redeem_bound_code', db
      .update(preAuthorizedCodes)
      .set({ consumedAt: sql`${p('now')}` })
      .where(and(eq(preAuthorizedCodes.codeHash, p('codeHash')), isNull(preAuthorizedCodes.consumedAt), gt(preAuthorizedCodes.expiresAt, p('now'))))
      .returning()
      ),
    insertAccessToken: prepare('insert_access_token', db
      .insert(accessTokens)
      .values({ jti: p('jti'), applicationId: p('applicationId'), applicantDid: p('applicantDid'), codeHash: p('codeHash'), expiresAt: p('expiresAt'), tokenSha256: p('tokenSha256') })
      ),
    accessTokenByJti: prepare('access_token_by_jti', db.select().from(accessTokens).where(eq(accessTokens.jti, p('jti')))),
    insertCNonce: prepare('insert_c_nonce', db.insert(cNonces).values({ nonce: p('nonce'), accessTokenJti: p('accessTokenJti'), expiresAt: p('expiresAt') })),
    consumeCNonce: prepare('consume_c_nonce', db
      .update(cNonces)
      .set({ consumedAt: sql`${p('now')}` })
      .where(and(eq(cNonces.nonce, p('nonce')), eq(cNonces.accessTokenJti, p('accessTokenJti')), isNull(cNonces.consumedAt), gt(cNonces.expiresAt, p('now'))))
      .returning()
      ),
    consumeNonce: prepare('consume_nonce', db
      .update(nonces)
      .set({ consumedAt: sql`${p('now')}` })
      .where(and(eq(nonces.nonce, p('nonce')), isNull(nonces.consumedAt), gt(nonces.expiresAt, p('now'))))
      .returning()
      ),
  };

  const preAuthorizedCodeRepository: PreAuthorizedCodeRepository = {
    async create(row) {
      await q.insertCode.run(row);
    },
    async redeem(codeHash, applicantDid, now) {
      return consumeOnce(q.redeemCode, { codeHash, applicantDid, now });
    },
    async get(codeHash) {
      return first(db.select().from(preAuthorizedCodes).where(eq(preAuthorizedCodes.codeHash, codeHash)));
    },
    async redeemBound(codeHash, now) {
      return consumeOnce(q.redeemBoundCode, { codeHash, now });
    },
    async deleteExpired(before) {
      return touched(db.delete(preAuthorizedCodes).where(lte(preAuthorizedCodes.expiresAt, before)).returning({ codeHash: preAuthorizedCodes.codeHash }));
    },
  };

  const accessTokenRepository: AccessTokenRepository = {
    async create(row) {
      await q.insertAccessToken.run({ tokenSha256: null, ...row });
    },
    async createWithCNonce(row, cNonce) {
      await d.together([
        { statement: q.insertAccessToken, values: { tokenSha256: null, ...row } },
        { statement: q.insertCNonce, values: cNonce },
      ]);
    },
    async get(jti) {
      return first(q.accessTokenByJti.all({ jti }));
    },
    async revokeByCode(codeHash, now) {
      return touched(db
        .update(accessTokens)
        .set({ revokedAt: now })
        .where(and(eq(accessTokens.codeHash, codeHash), isNull(accessTokens.revokedAt)))
        .returning({ jti: accessTokens.jti }));
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
      return touched(db.delete(cNonces).where(lte(cNonces.expiresAt, now)).returning({ nonce: cNonces.nonce }));
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
      return touched(db.delete(nonces).where(lt(nonces.expiresAt, now)).returning({ nonce: nonces.nonce }));
    },
  };

  return {
    preAuthorizedCodes: preAuthorizedCodeRepository,
    accessTokens: accessTokenRepository,
    cNonces: cNonceRepository,
    nonces: nonceRepository,
  };
}
