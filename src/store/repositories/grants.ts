import { and, eq, inArray, isNull, lt, ne, sql } from 'drizzle-orm';
import type {
  AccessTokenRepository,
  CNonceRepository,
  NonceRepository,
  PreAuthorizedCode,
  PreAuthorizedCodeRepository,
  PresentedCredentialRecord,
  RedeemedCode,
} from '../types';
import { consumeOnce, type Dialect, first, p, placeholders, touched } from '../dialect';
import { deleteExpired, prepareConsume, prepareConsumeReturning, stampOnce } from './singleUse';

/** The INSERT of a pre-authorized code (also written with its application: createWithCode). */
export function prepareInsertCode(d: Dialect) {
  const { preAuthorizedCodes } = d.tables;
  return d.prepare(
    'insert_code',
    d.db
      .insert(preAuthorizedCodes)
      .values({ codeHash: p('codeHash'), applicationId: p('applicationId'), applicantDid: p('applicantDid'), expiresAt: p('expiresAt') }),
  );
}

/** A redeemed code with the presented credentials of its application (JSON text on SQLite, decoded already where the driver does). */
function redeemed(row: (PreAuthorizedCode & { presentedCredentials: unknown }) | undefined): RedeemedCode | undefined {
  if (!row) return undefined;
  const value = row.presentedCredentials;
  const list = typeof value === 'string' ? (JSON.parse(value) as PresentedCredentialRecord[]) : ((value ?? null) as PresentedCredentialRecord[] | null);
  return { ...row, presentedCredentials: list };
}

/** The grant aggregate: pre-authorized codes, the access tokens issued for them, their c_nonces, and Nonce Endpoint nonces. */
export function createGrantRepositories(d: Dialect) {
  const { db, prepare } = d;
  const { preAuthorizedCodes, accessTokens, cNonces, nonces } = d.tables;

  // What the token endpoint re-checks (credentials presented for the application) read by the
  // redemption itself: null without a prefill, else its JSON list. Qualified by hand: drizzle
  // writes an UPDATE's columns unqualified, which inside the subquery would name ap's own.
  const withPresentedCredentials = {
    presentedCredentials: sql`(SELECT ap.presented_credentials FROM application_prefill ap WHERE ap.application_id = pre_authorized_codes.application_id)`,
  };
  const q = {
    insertCode: prepareInsertCode(d),
    redeemCode: prepareConsumeReturning(
      d,
      'redeem_code',
      preAuthorizedCodes,
      withPresentedCredentials,
      eq(preAuthorizedCodes.codeHash, p('codeHash')),
      eq(preAuthorizedCodes.applicantDid, p('applicantDid')),
    ),
    redeemBoundCode: prepareConsumeReturning(
      d,
      'redeem_bound_code',
      preAuthorizedCodes,
      withPresentedCredentials,
      eq(preAuthorizedCodes.codeHash, p('codeHash')),
    ),
    insertAccessToken: prepare(
      'insert_access_token',
      db.insert(accessTokens).values(placeholders('jti', 'applicationId', 'applicantDid', 'codeHash', 'expiresAt', 'tokenSha256')),
    ),
    accessTokenByJti: prepare(
      'access_token_by_jti',
      db
        .select()
        .from(accessTokens)
        .where(eq(accessTokens.jti, p('jti'))),
    ),
    insertCNonce: prepare('insert_c_nonce', db.insert(cNonces).values(placeholders('nonce', 'accessTokenJti', 'expiresAt'))),
    consumeCNonce: prepareConsume(d, 'consume_c_nonce', cNonces, eq(cNonces.nonce, p('nonce')), eq(cNonces.accessTokenJti, p('accessTokenJti'))),
    consumeNonce: prepareConsume(d, 'consume_nonce', nonces, eq(nonces.nonce, p('nonce'))),
    // reissue: the application's earlier grant ends (its tokens revoked, its open codes spent);
    // no RETURNING, as every write run `together` (PostgreSQL adds its own to each CTE).
    revokeApplicationTokens: prepare(
      'revoke_application_tokens',
      db
        .update(accessTokens)
        .set({ revokedAt: sql`${p('now')}` })
        .where(
          and(
            inArray(
              accessTokens.codeHash,
              db
                .select({ codeHash: preAuthorizedCodes.codeHash })
                .from(preAuthorizedCodes)
                .where(eq(preAuthorizedCodes.applicationId, p('applicationId'))),
            ),
            isNull(accessTokens.revokedAt),
          ),
        ),
    ),
    spendApplicationCodes: prepare(
      'spend_application_codes',
      db
        .update(preAuthorizedCodes)
        .set({ consumedAt: sql`${p('now')}` })
        .where(
          and(eq(preAuthorizedCodes.applicationId, p('applicationId')), isNull(preAuthorizedCodes.consumedAt), ne(preAuthorizedCodes.codeHash, p('codeHash'))),
        ),
    ),
  };

  const preAuthorizedCodeRepository: PreAuthorizedCodeRepository = {
    async create(row) {
      await q.insertCode.run(row);
    },
    async redeem(codeHash, applicantDid, now) {
      return redeemed(await consumeOnce(q.redeemCode, { codeHash, applicantDid, now }));
    },
    async get(codeHash) {
      return first(db.select().from(preAuthorizedCodes).where(eq(preAuthorizedCodes.codeHash, codeHash)));
    },
    async redeemBound(codeHash, now) {
      return redeemed(await consumeOnce(q.redeemBoundCode, { codeHash, now }));
    },
    async giveBack(codeHash, consumedAt) {
      const rows = await db
        .update(preAuthorizedCodes)
        .set({ consumedAt: null })
        .where(
          and(
            eq(preAuthorizedCodes.codeHash, codeHash),
            eq(preAuthorizedCodes.consumedAt, consumedAt),
            sql`NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.code_hash = ${codeHash})`,
          ),
        )
        .returning({ codeHash: preAuthorizedCodes.codeHash });
      return rows.length === 1;
    },
    async reissue(code, now) {
      // On PostgreSQL the three are one statement (one snapshot: the new code is not among those
      // spent); on SQLite they run in order, and the new code is excluded by its hash.
      const [revoked] = await d.together([
        { statement: q.revokeApplicationTokens, values: { applicationId: code.applicationId, now } },
        { statement: q.spendApplicationCodes, values: { applicationId: code.applicationId, codeHash: code.codeHash, now } },
        { statement: q.insertCode, values: code },
      ]);
      return revoked ?? 0;
    },
    async deleteExpired(before) {
      return deleteExpired(d, preAuthorizedCodes, before);
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
      return stampOnce(d, accessTokens, 'revokedAt', now, eq(accessTokens.codeHash, codeHash));
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
      return deleteExpired(d, cNonces, now);
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
