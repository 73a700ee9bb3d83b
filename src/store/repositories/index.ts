import type { Dialect } from '../dialect';
import type { Store } from '../types';
import { createApplicationRepositories } from './applications';
import { createAuditRepositories } from './audit';
import { createCredentialRepositories } from './credentials';
import { createGrantRepositories } from './grants';
import { createIdvSessionRepositories } from './idv';
import { createOperatorAccountRepositories } from './operatorAccounts';
import { createOperatorSessionRepositories } from './operatorSessions';
import { createExistingCustomerLinkRepositories } from './existingCustomerLinks';
import { createOutboxRepositories } from './outbox';
import { createTransactionRepositories } from './transactions';

/**
 * Every repository of the Store port, one module per aggregate, written once over a `Dialect`
 * (../dialect.ts): the SQLite/D1 adapter (../sqlite/) and the PostgreSQL adapter (../postgres/)
 * differ only in the dialect they pass. Statements are prepared here, once per store. Every
 * single-use value is consumed by ONE conditional `UPDATE … RETURNING` (`consumeOnce`), and
 * writes that belong together go through `Dialect.together`.
 */
export function createRepositories(d: Dialect): Store {
  return {
    ...createIdvSessionRepositories(d),
    ...createAuditRepositories(d),
    ...createOutboxRepositories(d),
    ...createApplicationRepositories(d),
    ...createGrantRepositories(d),
    ...createTransactionRepositories(d),
    ...createCredentialRepositories(d),
    ...createOperatorSessionRepositories(d),
    ...createOperatorAccountRepositories(d),
    ...createExistingCustomerLinkRepositories(d),
  };
}
