import { is, SQL } from 'drizzle-orm';
import { getTableConfig as pgTableConfig, PgTable } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { describe, expect, it } from 'vitest';
import * as pgSchema from '../../src/store/postgres/schema';
import * as sqliteSchema from '../../src/store/schema';

/**
 * The SQLite schema (src/store/schema.ts) and its PostgreSQL mirror (src/store/postgres/schema.ts)
 * describe one database: the same tables under the same export names, the same columns (name,
 * JS type, nullability, primary key, default, enum values, generated ids) and the same indexes.
 */
type Described = Record<string, unknown>;

/** A default as data: a literal, or an SQL expression's text. */
const defaultOf = (value: unknown) => (value === undefined ? null : is(value, SQL) ? `sql:${JSON.stringify(value.queryChunks)}` : value);
/** JSON held in text: SQLite's `text({ mode: 'json' })` is dataType json; the PostgreSQL mirror's `jsonText` a custom text type. */
const pgDataType = (col: { dataType: string; getSQLType(): string; columnType: string }) =>
  col.columnType === 'PgCustomColumn' && col.getSQLType() === 'text' ? 'json' : col.dataType;

function describeSqlite(): Record<string, Described> {
  const out: Record<string, Described> = {};
  for (const [exportName, table] of Object.entries(sqliteSchema)) {
    if (!is(table, SQLiteTable)) continue;
    const c = sqliteTableConfig(table);
    out[exportName] = {
      name: c.name,
      columns: c.columns.map((col) => ({
        name: col.name,
        dataType: col.dataType,
        notNull: col.notNull,
        primary: col.primary,
        default: defaultOf(col.default),
        enumValues: col.enumValues ?? null,
        generatedId: (col as unknown as { autoIncrement?: boolean }).autoIncrement === true,
      })),
      indexes: c.indexes.map((i) => ({ name: i.config.name, unique: i.config.unique, on: i.config.columns.map((x) => (x as { name: string }).name) })),
    };
  }
  return out;
}

function describePg(): Record<string, Described> {
  const out: Record<string, Described> = {};
  for (const [exportName, table] of Object.entries(pgSchema)) {
    if (!is(table, PgTable)) continue;
    const c = pgTableConfig(table);
    out[exportName] = {
      name: c.name,
      columns: c.columns.map((col) => ({
        name: col.name,
        dataType: pgDataType(col),
        notNull: col.notNull,
        primary: col.primary,
        default: defaultOf(col.default),
        enumValues: col.enumValues ?? null,
        generatedId: col.generatedIdentity !== undefined,
      })),
      indexes: c.indexes.map((i) => ({ name: i.config.name, unique: i.config.unique, on: i.config.columns.map((x) => (x as { name: string }).name) })),
    };
  }
  return out;
}

describe('the PostgreSQL schema mirrors the SQLite schema', () => {
  it('has the same tables, columns, nullability, keys, defaults and indexes', () => {
    const sqlite = describeSqlite();
    const pg = describePg();
    expect(Object.keys(sqlite).length).toBeGreaterThan(15);
    expect(Object.keys(pg).sort()).toEqual(Object.keys(sqlite).sort());
    for (const name of Object.keys(sqlite)) expect(pg[name], name).toEqual(sqlite[name]);
  });

  it('notices a difference (the comparison is not vacuous)', () => {
    const sqlite = describeSqlite();
    const pg = describePg();
    const columns = (pg.applications.columns as Array<{ name: string; notNull: boolean }>).map((c) => (c.name === 'tier' ? { ...c, notNull: true } : c));
    expect({ ...pg.applications, columns }).not.toEqual(sqlite.applications);
  });
});
