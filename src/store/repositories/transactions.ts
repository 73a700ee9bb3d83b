import { and, eq, isNull, sql } from 'drizzle-orm';
import type { TransactionRepository } from '../types';
import { type CompleteTransaction, type Dialect, first, p } from '../dialect';

/** Deferred issuance transactions (OID4VCI §9) and the credential each one ends with. */
export function createTransactionRepositories(d: Dialect) {
  const { db, prepare } = d;
  const { transactions, issuedCredentials } = d.tables;

  // PostgreSQL consumes and records in one statement of its own (Dialect.completeTransaction).
  const q = d.completeTransaction
    ? undefined
    : {
        // The transaction's single-use step, stamped with the credential that completes it.
        consumeTransaction: prepare(
          'consume_transaction',
          db
            .update(transactions)
            .set({ consumedAt: sql`${p('now')}`, credentialId: sql`${p('credentialId')}` })
            .where(and(eq(transactions.id, p('id')), isNull(transactions.consumedAt))),
        ),
        // Takes effect only for the row the UPDATE above just stamped with this credential id (and
        // not on a retry of a completion that already recorded it), so both run in one batch on D1.
        // INSERT … SELECT through the query builder: drizzle prepares it like any other statement.
        recordCredentialOfTransaction: prepare(
          'record_credential_of_transaction',
          db.insert(issuedCredentials).select(
            sql`SELECT ${p('credentialId')}, ${p('applicationId')}, ${p('subjectDid')}, ${p('id')}, ${p('jwtSha256')}, ${p('issuedAt')}, ${p('expiresAt')}
        FROM transactions WHERE id = ${p('id')} AND credential_id = ${p('credentialId')}
        AND NOT EXISTS (SELECT 1 FROM issued_credentials WHERE transaction_id = ${p('id')})`,
          ),
        ),
      };

  const transactionRepository: TransactionRepository = {
    async create(row) {
      await db.insert(transactions).values(row);
    },
    async get(id) {
      return first(db.select().from(transactions).where(eq(transactions.id, id)));
    },
    async completeWithCredential(id, credential, now) {
      const values: CompleteTransaction = {
        id,
        now,
        credentialId: credential.id,
        applicationId: credential.applicationId,
        subjectDid: credential.subjectDid,
        jwtSha256: credential.jwtSha256,
        issuedAt: credential.issuedAt,
        expiresAt: credential.expiresAt,
      };
      if (!q) return d.completeTransaction!(values);
      const [consumed] = await d.together([
        { statement: q.consumeTransaction, values },
        { statement: q.recordCredentialOfTransaction, values },
      ]);
      return consumed === 1;
    },
  };

  return { transactions: transactionRepository };
}
