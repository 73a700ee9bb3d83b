import type { Store } from '../types';
import { createApplicationRepositories } from './applications';
import { createAuditRepositories } from './audit';
import { createCredentialRepositories } from './credentials';
import type { Database } from './database';
import { createGrantRepositories } from './grants';
import { writeTogether } from './helpers';
import { createIdvSessionRepositories } from './idvSessions';
import { createOperatorAccountRepositories } from './operatorAccounts';
import { createOperatorSessionRepositories } from './operatorSessions';
import { createOutboxRepositories } from './outbox';
import { createTransactionRepositories } from './transactions';

export type { Database } from './database';
export { consumeOnce, writeTogether, type Together, type Write } from './helpers';

/**
 * The Store over drizzle's SQLite core, so the same code runs on better-sqlite3 (Node) and D1
 * (Workers). No interactive transactions (D1 has none): every single-use value is consumed by
 * ONE conditional `UPDATE … RETURNING` (`consumeOnce`), and writes that belong together go
 * through `writeTogether` (one transaction / one batch). Statements are prepared here, once per store.
 */
export function createStore(db: Database): Store {
  const together = writeTogether(db);
  return {
    ...createIdvSessionRepositories(db, together),
    ...createAuditRepositories(db),
    ...createOutboxRepositories(db),
    ...createApplicationRepositories(db, together),
    ...createGrantRepositories(db, together),
    ...createTransactionRepositories(db, together),
    ...createCredentialRepositories(db, together),
    ...createOperatorSessionRepositories(db),
    ...createOperatorAccountRepositories(db),
  };
}
