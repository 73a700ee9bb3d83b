import { and, eq, isNull, sql } from 'drizzle-orm';
import * as schema from '../schema';
import type { TransactionRepository } from '../types';
import type { Database } from './database';
import { p, type Together } from './helpers';

/** Deferred issuance transactions (OID4VCI §9) and the credential each one ends with. */
export function createTransactionRepositories(db: Database, together: Together) {
  const { transactions, issuedCredentials } = schema;

  const q = {
    // The transaction's single-use step, stamped with the credential that completes it.
    consumeTransaction: db
      .update(transactions)
      .set({ consumedAt: sql`${p('now')}`, credentialId: sql`${p('credentialId')}` })
      .where(and(eq(transactions.id, p('id')), isNull(transactions.consumedAt)))
      .prepare(),
    // Takes effect only for the row the UPDATE above just stamped with this credential id (and
    // not on a retry of a completion that already recorded it), so both run in one batch on D1.
    // INSERT … SELECT through the query builder: drizzle prepares it like any other statement.
    recordCredentialOfTransaction: db
      .insert(issuedCredentials)
      .select(
        sql`SELECT ${p('credentialId')}, ${p('applicationId')}, ${p('subjectDid')}, ${p('id')}, ${p('jwtSha256')}, ${p('issuedAt')}, ${p('expiresAt')}
        FROM transactions WHERE id = ${p('id')} AND credential_id = ${p('credentialId')}
        AND NOT EXISTS (SELECT 1 FROM issued_credentials WHERE transaction_id = ${p('id')})`,
      )
      .prepare(),
  };

  const transactionRepository: TransactionRepository = {
    async create(row) {
      await db.insert(transactions).values(row);
    },
    async get(id) {
      const rows = await db.select().from(transactions).where(eq(transactions.id, id));
      return rows[0];
    },
    async completeWithCredential(id, credential, now) {
      const values = {
        id,
        now,
        credentialId: credential.id,
        applicationId: credential.applicationId,
        subjectDid: credential.subjectDid,
        jwtSha256: credential.jwtSha256,
        issuedAt: credential.issuedAt,
        expiresAt: credential.expiresAt,
      };
      const [consumed] = await together([
        { statement: q.consumeTransaction, values },
        { statement: q.recordCredentialOfTransaction, values },
      ]);
      return consumed === 1;
    },
  };

  return { transactions: transactionRepository };
}
