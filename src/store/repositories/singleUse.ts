import { and, getTableColumns, gt, isNull, lte, type SQL, sql } from 'drizzle-orm';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { type Dialect, p, type Preparable, type Prepared, touched } from '../dialect';

/** A table of single-use values: each row answers once (`consumed_at`), before `expires_at`. */
type SingleUseTable = SQLiteTable & { consumedAt: SQLiteColumn; expiresAt: SQLiteColumn };

/**
 * Prepares the one conditional write that consumes a single-use value (SIOP nonce, pre-authorized
 * code, c_nonce, Nonce Endpoint nonce): `UPDATE … SET consumed_at = :now WHERE <key> AND
 * consumed_at IS NULL AND expires_at > :now RETURNING *`, run by `consumeOnce`.
 */
export function prepareConsume<T extends SingleUseTable>(d: Dialect, name: string, table: T, ...key: SQL[]): Prepared<T['$inferSelect']> {
  return prepareConsumeReturning(d, name, table, {}, ...key);
}

/** `prepareConsume` whose RETURNING also answers `also` (scalar subqueries on what the row names): one statement instead of a read after it. */
export function prepareConsumeReturning<T extends SingleUseTable, Also extends Record<string, SQL>>(
  d: Dialect,
  name: string,
  table: T,
  also: Also,
  ...key: SQL[]
): Prepared<T['$inferSelect'] & { [K in keyof Also]: unknown }> {
  // The builder is typed per table; the four tables share these two columns.
  const update = d.db.update(table as SingleUseTable) as unknown as {
    set(v: object): { where(w: SQL | undefined): { returning(fields?: object): Preparable } };
  };
  const where = update.set({ consumedAt: sql`${p('now')}` }).where(and(...key, isNull(table.consumedAt), gt(table.expiresAt, p('now'))));
  const query = Object.keys(also).length ? where.returning({ ...getTableColumns(table), ...also }) : where.returning();
  return d.prepare(name, query) as Prepared<T['$inferSelect'] & { [K in keyof Also]: unknown }>;
}

/** Deletes the rows of a single-use table that expired at or before `before` (used or not); returns how many. */
export function deleteExpired(d: Dialect, table: SingleUseTable, before: number): Promise<number> {
  return touched(d.db.delete(table).where(lte(table.expiresAt, before)).returning({ expiresAt: table.expiresAt }));
}

/**
 * Stamps `column` with `now` on the rows `where` selects whose stamp is still empty (a token
 * revoked, a session ended, an expiry announced), in one conditional UPDATE, so a row is stamped
 * once however many callers race; `also` sets further columns with it. Returns how many it stamped.
 */
export function stampOnce<T extends SQLiteTable>(
  d: Dialect,
  table: T,
  column: keyof T['$inferSelect'] & string,
  now: number,
  where: SQL | undefined,
  also: object = {},
) {
  const stamp = (table as unknown as Record<string, SQLiteColumn>)[column];
  const update = d.db.update(table as SQLiteTable) as unknown as {
    set(v: object): { where(w: SQL | undefined): { returning(f: object): Promise<unknown[]> } };
  };
  return touched(
    update
      .set({ [column]: now, ...also })
      .where(and(where, isNull(stamp)))
      .returning({ stamp }),
  );
}
