/** The IDV record types, now declared in ./types.ts; kept so that existing imports keep working. */
export type { AuditEntry, IdvEventRecord, IdvSession, OutboxEvent, PiiRecord, WebhookDelivery } from './types';
