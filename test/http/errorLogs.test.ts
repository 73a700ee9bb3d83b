import { DrizzleQueryError } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { jsonLogger } from '../../src/ports/logger';
import { errorLogFields, statementName, storageFailureOf } from '../../src/ports/failures';
import { makeTestIssuer } from '../helpers/issuer';
import { getSiopRequest, walletFor } from '../helpers/steps';

/** src/ports/failures.ts and src/http/errors.ts: a failing statement is logged by name, never with its parameters. */
describe('error logs carry no query parameters', () => {
  it('a SIOPv2 response whose nonce consumption fails: 500, and the nonce appears in no log line', async () => {
    const lines: string[] = [];
    const t = await makeTestIssuer({ logger: jsonLogger((l) => lines.push(l)) });
    const { client, holder } = await walletFor(t);
    const request = await getSiopRequest(t, client);
    const nonce = request.nonce;
    expect(nonce.length).toBeGreaterThan(16);
    // A real SQLite failure of the statement that consumes the nonce (its parameters hold the nonce).
    t.sqlite.exec(`CREATE TRIGGER refuse_consume BEFORE UPDATE ON siop_requests BEGIN SELECT RAISE(ABORT, 'refused by test'); END`);
    const res = await t.fetch(request.response_uri, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id_token: await holder.createIdToken({ clientId: request.client_id, nonce }) }),
    });
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).not.toContain(nonce);
    const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ event: 'unhandled_error', name: 'SqliteError', code: 'SQLITE_CONSTRAINT_TRIGGER', statement: 'update siop_requests' });
    expect(errors[0].message).toBeUndefined();
    for (const line of lines) expect(line).not.toContain(nonce);

    // drizzle's wrapper on its asynchronous drivers (PostgreSQL, D1) puts the parameters into its
    // message: "Failed query: … params: <nonce>,…". The same statement, the driver's real error.
    let cause: unknown;
    try {
      t.sqlite.prepare('update "siop_requests" set "consumed_at" = ? where "nonce" = ?').run(1, nonce);
    } catch (e) {
      cause = e;
    }
    const failure = new DrizzleQueryError('update "siop_requests" set "consumed_at" = ? where "nonce" = ?', [1, nonce], cause as Error);
    expect(failure.message).toContain(nonce);
    const fields = errorLogFields(failure);
    expect(fields).toEqual({ name: 'DrizzleQueryError', code: 'SQLITE_CONSTRAINT_TRIGGER', statement: 'update siop_requests' });
    expect(JSON.stringify(fields)).not.toContain(nonce);
  });

  it('names statements without values, and keeps the message of errors that are not the database’s', () => {
    expect(statementName('update "siop_requests" set "consumed_at" = ? where ("siop_requests"."nonce" = ?)')).toBe('update siop_requests');
    expect(statementName('insert into "nonces" ("nonce") values (?)')).toBe('insert nonces');
    expect(statementName('select "a" from "applications" where id = ?')).toBe('select applications');
    expect(statementName('delete from "c_nonces" where "expires_at" <= ?')).toBe('delete c_nonces');
    // postgres.js puts the statement and its parameters on its errors.
    const pg = Object.assign(new Error('invalid input syntax for type uuid: "secret-nonce"'), {
      name: 'PostgresError',
      code: '22P02',
      query: 'select * from "grants" where id = $1',
      parameters: ['secret-nonce'],
    });
    expect(errorLogFields(pg)).toEqual({ name: 'PostgresError', code: '22P02', statement: 'select grants' });
    expect(JSON.stringify(errorLogFields(new Error('wrapped', { cause: pg })))).not.toContain('secret-nonce');
    expect(errorLogFields(new TypeError('x is not a function'))).toEqual({ name: 'TypeError', message: 'x is not a function' });
    // Storage conditions through wrappers.
    const full = Object.assign(new Error('database or disk is full'), { name: 'SqliteError', code: 'SQLITE_FULL' });
    expect(storageFailureOf(new Error('batch lost', { cause: full }))).toEqual({ condition: 'disk_full', code: 'SQLITE_FULL' });
    expect(storageFailureOf(Object.assign(new Error('x'), { code: 'SQLITE_IOERR_WRITE', storageCondition: 'read_only' }))).toEqual({
      condition: 'read_only',
      code: 'SQLITE_IOERR_WRITE',
    });
    expect(storageFailureOf(Object.assign(new Error('x'), { code: 'SQLITE_CONSTRAINT_UNIQUE' }))).toBeUndefined();
  });

  it('classifies an unreachable or too slow database as unreachable (503, a short Retry-After), not an outbound fetch', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    // Through drizzle (the statement carried): the database.
    expect(storageFailureOf(new DrizzleQueryError('select 1', [], refused))).toEqual({ condition: 'unreachable', code: 'ECONNREFUSED' });
    // An outbound fetch refused (did:web, webhooks) is no database failure.
    expect(storageFailureOf(new TypeError('fetch failed', { cause: refused }))).toBeUndefined();
    for (const code of ['CONNECT_TIMEOUT', 'CONNECTION_CLOSED', '57014', '55P03', '57P01', '08006', 'SQLITE_BUSY']) {
      expect(storageFailureOf(new Error('wrapped', { cause: Object.assign(new Error('x'), { code }) }))?.condition).toBe('unreachable');
    }
  });

  it('a database that does not answer makes a request a JSON 503 with Retry-After, never a 500', async () => {
    const t = await makeTestIssuer();
    t.deps.store.nonces.create = async () => {
      throw new DrizzleQueryError('insert into "nonces"', [], Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' }));
    };
    const res = await t.app.request('http://localhost:8787/oid4vci/nonce', { method: 'POST' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as { error: string }).error).toBe('temporarily_unavailable');
  });
});
