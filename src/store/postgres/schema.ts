import { Column, getTableColumns, is, SQL } from 'drizzle-orm';
import { bigint, customType, index, type PgColumnBuilderBase, pgTable, type PgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { getTableConfig, type SQLiteColumn, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as sqlite from '../schema';

/**
 * The PostgreSQL description of the database, derived from the one definition in
 * src/store/schema.ts table for table, column for column and index for index (so the two cannot
 * drift; test/postgres/schema.test.ts checks the derivation). Migrations in drizzle-pg/ are
 * generated from it (`npm run db:generate:pg`) and applied at start (./migrate.ts).
 *
 * What differs, and only here: SQLite's INTEGER is 64-bit, so every integer column is `bigint`
 * (times in ms overflow int4), read as a JS number like SQLite's; an AUTOINCREMENT key is an
 * identity column; JSON-holding columns are `text` holding JSON (`jsonText`), as in SQLite.
 */

/** A `text` column holding JSON, read and written as its value (SQLite's `text({ mode: 'json' })`). */
const jsonText = customType<{ data: unknown; driverData: string }>({
  dataType: () => 'text',
  toDriver: (value) => JSON.stringify(value),
  fromDriver: (value) => JSON.parse(value) as unknown,
});

/** The PostgreSQL column of a SQLite column: same name, nullability, key, default and enum. */
function pgColumn(col: SQLiteColumn): PgColumnBuilderBase {
  // biome-ignore lint/suspicious/noImplicitAnyLet: each modifier changes drizzle's builder type; the function's return type is the contract
  let b;
  switch (col.columnType) {
    case 'SQLiteInteger':
      b = bigint(col.name, { mode: 'number' });
      break;
    case 'SQLiteText':
      b = col.enumValues ? text(col.name, { enum: col.enumValues as [string, ...string[]] }) : text(col.name);
      break;
    case 'SQLiteTextJson':
      b = jsonText(col.name);
      break;
    default:
      throw new Error(`no PostgreSQL column for ${col.columnType} (${col.name})`);
  }
  if (col.primary) b = b.primaryKey();
  if ((col as unknown as { autoIncrement?: boolean }).autoIncrement) b = (b as ReturnType<typeof bigint>).generatedByDefaultAsIdentity();
  if (col.notNull && !col.primary) b = b.notNull();
  if (col.default !== undefined) b = b.default(col.default as never);
  return b;
}

/** The PostgreSQL table of a SQLite table, its indexes included (partial ones with their WHERE). */
function pgTableOf(table: SQLiteTable): PgTable {
  const config = getTableConfig(table);
  const keys = new Map(Object.entries(getTableColumns(table)).map(([key, col]) => [col.name, key]));
  const columns = Object.fromEntries(config.columns.map((col) => [keys.get(col.name)!, pgColumn(col)]));
  return pgTable(config.name, columns, (t) => {
    // A column of the SQLite table (in an index's WHERE) as the same column of this one.
    const own = (chunk: unknown) => (is(chunk, Column) ? t[keys.get(chunk.name)!] : chunk);
    return config.indexes.map(({ config: i }) => {
      const on = i.columns.map((c) => own(c) as (typeof t)[string]);
      const built = (i.unique ? uniqueIndex(i.name) : index(i.name)).on(...(on as [(typeof on)[0], ...typeof on]));
      return i.where ? built.where(new SQL(i.where.queryChunks.map(own) as SQL['queryChunks'])) : built;
    });
  });
}

export const siopRequests = pgTableOf(sqlite.siopRequests);
export const applications = pgTableOf(sqlite.applications);
export const preAuthorizedCodes = pgTableOf(sqlite.preAuthorizedCodes);
export const accessTokens = pgTableOf(sqlite.accessTokens);
export const cNonces = pgTableOf(sqlite.cNonces);
export const transactions = pgTableOf(sqlite.transactions);
export const issuedCredentials = pgTableOf(sqlite.issuedCredentials);
export const issuanceClaims = pgTableOf(sqlite.issuanceClaims);
export const nonces = pgTableOf(sqlite.nonces);
export const notifications = pgTableOf(sqlite.notifications);
export const idvSessions = pgTableOf(sqlite.idvSessions);
export const idvEvents = pgTableOf(sqlite.idvEvents);
export const idvPii = pgTableOf(sqlite.idvPii);
export const presentedClaims = pgTableOf(sqlite.presentedClaims);
export const auditLog = pgTableOf(sqlite.auditLog);
export const outboxEvents = pgTableOf(sqlite.outboxEvents);
export const webhookDeliveries = pgTableOf(sqlite.webhookDeliveries);
export const statusLists = pgTableOf(sqlite.statusLists);
export const statusListCache = pgTableOf(sqlite.statusListCache);
export const credentialStatus = pgTableOf(sqlite.credentialStatus);
export const credentialStatusEvents = pgTableOf(sqlite.credentialStatusEvents);
export const applicationPrefill = pgTableOf(sqlite.applicationPrefill);
export const operatorSessions = pgTableOf(sqlite.operatorSessions);
export const operatorAccounts = pgTableOf(sqlite.operatorAccounts);
export const pendingApprovals = pgTableOf(sqlite.pendingApprovals);
export const existingCustomerLinks = pgTableOf(sqlite.existingCustomerLinks);
export const applicationAssignments = pgTableOf(sqlite.applicationAssignments);
