import type * as schema from '../schema';
import type * as port from '../types';

/**
 * Compile-time check that the plain record types of src/store/types.ts match what drizzle infers
 * from src/store/schema.ts, both ways: a schema change that the port does not follow (or the
 * reverse) fails `tsc`. Type-only; nothing here runs.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Expect<T extends true> = T;

export type SqliteRecordsMatchPort = [
  Expect<Same<typeof schema.siopRequests.$inferSelect, port.SiopRequest>>,
  Expect<Same<typeof schema.siopRequests.$inferInsert, port.NewSiopRequest>>,
  Expect<Same<typeof schema.applications.$inferSelect, port.Application>>,
  Expect<Same<typeof schema.applications.$inferInsert, port.NewApplication>>,
  Expect<Same<typeof schema.preAuthorizedCodes.$inferSelect, port.PreAuthorizedCode>>,
  Expect<Same<typeof schema.preAuthorizedCodes.$inferInsert, port.NewPreAuthorizedCode>>,
  Expect<Same<typeof schema.accessTokens.$inferSelect, port.AccessTokenRecord>>,
  Expect<Same<typeof schema.accessTokens.$inferInsert, port.NewAccessToken>>,
  Expect<Same<typeof schema.cNonces.$inferSelect, port.CNonce>>,
  Expect<Same<typeof schema.cNonces.$inferInsert, port.NewCNonce>>,
  Expect<Same<typeof schema.transactions.$inferSelect, port.Transaction>>,
  Expect<Same<typeof schema.transactions.$inferInsert, port.NewTransaction>>,
  Expect<Same<typeof schema.issuedCredentials.$inferSelect, port.IssuedCredential>>,
  Expect<Same<typeof schema.issuedCredentials.$inferInsert, port.NewIssuedCredential>>,
  Expect<Same<typeof schema.issuanceClaims.$inferSelect, port.IssuanceClaim>>,
  Expect<Same<typeof schema.issuanceClaims.$inferInsert, port.IssuanceClaim>>,
  Expect<Same<typeof schema.nonces.$inferSelect, port.Nonce>>,
  Expect<Same<typeof schema.nonces.$inferInsert, port.NewNonce>>,
  Expect<Same<typeof schema.notifications.$inferSelect, port.NotificationRecord>>,
  Expect<Same<typeof schema.notifications.$inferInsert, port.NewNotification>>,
  Expect<Same<typeof schema.statusLists.$inferSelect, port.StatusList>>,
  Expect<Same<typeof schema.statusListCache.$inferSelect, port.StatusListCacheEntry>>,
  Expect<Same<typeof schema.statusListCache.$inferInsert, port.StatusListCacheEntry>>,
  Expect<Same<typeof schema.credentialStatus.$inferSelect, port.CredentialStatusRecord>>,
  Expect<Same<typeof schema.credentialStatus.$inferInsert, port.NewCredentialStatus>>,
  Expect<Same<typeof schema.credentialStatusEvents.$inferSelect, port.CredentialStatusEvent>>,
  Expect<Same<typeof schema.credentialStatusEvents.$inferInsert, port.NewCredentialStatusEvent>>,
  Expect<Same<typeof schema.applicationPrefill.$inferSelect, port.ApplicationPrefill>>,
  Expect<Same<typeof schema.applicationPrefill.$inferInsert, port.NewApplicationPrefill>>,
  Expect<Same<typeof schema.idvSessions.$inferSelect, port.IdvSession>>,
  Expect<Same<typeof schema.idvSessions.$inferInsert, port.NewIdvSession>>,
  Expect<Same<typeof schema.idvEvents.$inferSelect, port.IdvEventRecord>>,
  Expect<Same<typeof schema.idvEvents.$inferInsert, port.NewIdvEvent>>,
  Expect<Same<typeof schema.idvPii.$inferSelect, port.PiiRecord>>,
  Expect<Same<typeof schema.idvPii.$inferInsert, port.NewPiiRecord>>,
  Expect<Same<typeof schema.auditLog.$inferSelect, port.AuditEntry>>,
  Expect<Same<typeof schema.outboxEvents.$inferSelect, port.OutboxEvent>>,
  Expect<Same<typeof schema.webhookDeliveries.$inferSelect, port.WebhookDelivery>>,
  Expect<Same<typeof schema.webhookDeliveries.$inferInsert, port.NewWebhookDelivery>>,
  Expect<Same<typeof schema.operatorSessions.$inferSelect, port.OperatorSession>>,
  Expect<Same<typeof schema.operatorSessions.$inferInsert, port.NewOperatorSession>>,
  Expect<Same<typeof schema.operatorAccounts.$inferSelect, port.OperatorAccount>>,
  Expect<Same<typeof schema.pendingApprovals.$inferSelect, port.PendingApproval>>,
];
