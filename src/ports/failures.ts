/**
 * What the issuer may say about a failure, in a log line or an answer, without leaking what the
 * failing operation carried. Database drivers put a statement's parameters into their errors
 * (drizzle's "Failed query: … params: …", postgres.js's `parameters` and some PostgreSQL
 * messages quote a value): those are SIOP nonces, codes and tokens, which never belong in logs
 * (SECURITY.md, "Logs"). So a database error is logged by its code and its statement's name.
 */

/**
 * A storage condition the operator must act on; writes cannot succeed until then. `unreachable`:
 * the database cannot be reached or did not answer within its bound (connection refused, reset
 * or timed out, a statement or lock timeout, PostgreSQL shutting down, SQLite's write lock busy
 * past its wait); it passes by itself once the database answers again.
 */
export type StorageCondition = 'disk_full' | 'read_only' | 'io_error' | 'unreachable';

export interface StorageFailure {
  condition: StorageCondition;
  /** The driver's or the system's code (SQLITE_FULL, ENOSPC, 53100, …). */
  code: string;
}

/** What an operator reads in the log line for each condition. */
export const STORAGE_CONDITION_MESSAGES: Record<StorageCondition, string> = {
  disk_full: 'the disk holding the data is full: free space; writes resume by themselves',
  read_only: 'the filesystem holding the data is read-only: check the disk and remount it read-write',
  io_error: 'the disk holding the data failed a write (I/O error): check the disk',
  unreachable:
    'the database is unreachable or did not answer within DATABASE_STATEMENT_TIMEOUT_SECONDS: requests answer 503 until it is back, then recover without a restart',
};

/** Seconds a client is asked to wait (Retry-After) for each condition: an unreachable database usually returns soon. */
export const STORAGE_CONDITION_RETRY_AFTER: Record<StorageCondition, number> = { disk_full: 30, read_only: 30, io_error: 30, unreachable: 5 };

/** Codes that mean the database did not answer, whoever raised them (postgres.js's own, SQLSTATEs, SQLite's busy wait). */
const DATABASE_UNREACHABLE = new Set([
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57014', // query_canceled: statement_timeout
  '55P03', // lock_not_available: lock_timeout
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  'SQLITE_BUSY',
  'SQLITE_BUSY_SNAPSHOT',
  'SQLITE_BUSY_TIMEOUT',
  'SQLITE_LOCKED',
]);
/** System codes that mean the database did not answer only when a database statement carried them (an outbound fetch raises them too). */
const SOCKET_FAILURES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * The property a runtime sets on a driver error once it has found out what an I/O error was (the
 * SQLite runtime probes its directory: src/runtime/sqlite.ts), since SQLITE_IOERR alone does not
 * say whether the disk is full or read-only.
 */
export const STORAGE_CONDITION = 'storageCondition';

/**
 * The property a runtime sets on a driver error to name the statement that failed (its
 * statementName), where the driver's error does not carry it (better-sqlite3's SqliteError).
 */
export const STATEMENT_NAME = 'statementName';

/** The error and its causes (drizzle and the group commit wrap the driver's error), at most 6 deep. */
function* chain(err: unknown): Generator<Record<string, unknown>> {
  let e = err;
  for (let depth = 0; depth < 6 && e !== null && typeof e === 'object'; depth++) {
    yield e as Record<string, unknown>;
    e = (e as { cause?: unknown }).cause;
  }
}

function conditionOfCode(code: string): StorageCondition | undefined {
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT' || code === '53100') return 'disk_full';
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS' || code === '25006') return 'read_only';
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO' || code === '58030') return 'io_error';
  return undefined;
}

/**
 * Whether an error (or one of its causes) means the storage cannot take writes: a full disk
 * (SQLITE_FULL, ENOSPC, EDQUOT, PostgreSQL 53100), a read-only one (SQLITE_READONLY*, EROFS,
 * PostgreSQL 25006: a standby) or a failing one (SQLITE_IOERR*, EIO, PostgreSQL 58030), refined
 * by a runtime's diagnosis (STORAGE_CONDITION). Undefined for anything else.
 */
export function storageFailureOf(err: unknown): StorageFailure | undefined {
  const links = [...chain(err)];
  const database = links.some((e) => typeof e.query === 'string' || /^(SqliteError|PostgresError)$/.test(String(e.name)));
  for (const e of links) {
    if (typeof e.code !== 'string') continue;
    if (DATABASE_UNREACHABLE.has(e.code) || (database && SOCKET_FAILURES.has(e.code))) return { condition: 'unreachable', code: e.code };
  }
  for (const e of links) {
    if (typeof e.code !== 'string') continue;
    const condition = conditionOfCode(e.code);
    if (!condition) continue;
    const diagnosed = e[STORAGE_CONDITION];
    return { condition: diagnosed === 'disk_full' || diagnosed === 'read_only' ? diagnosed : condition, code: e.code };
  }
  return undefined;
}

/**
 * A statement's name from its SQL text: the verb and the first table (`update siop_requests`),
 * never a value (drizzle binds every value as a parameter, but a name is safe whatever the SQL).
 */
export function statementName(sql: string): string {
  const verb = /^\s*(\w+)/.exec(sql)?.[1]?.toLowerCase() ?? 'statement';
  const table = /\b(?:from|into|update|table)\s+["`]?([A-Za-z_]\w*)/i.exec(sql)?.[1];
  return table ? `${verb} ${table}` : verb;
}

/**
 * The fields a log line may carry about an error: its name and code; for a database error the
 * failing statement's name and no message (drivers put parameters in it); for anything else the
 * first 200 characters of its message.
 */
export function errorLogFields(err: unknown): { name: string; code?: string; statement?: string; message?: string } {
  let statement: string | undefined;
  let code: string | undefined;
  let database = false;
  for (const e of chain(err)) {
    // drizzle's DrizzleQueryError and postgres.js's errors carry the statement as `query`.
    if (typeof e.query === 'string') {
      database = true;
      statement ??= statementName(e.query);
    }
    if (typeof e[STATEMENT_NAME] === 'string') statement ??= e[STATEMENT_NAME] as string;
    if (typeof e.code === 'string' || typeof e.code === 'number') code ??= String(e.code);
    if (/^(SqliteError|PostgresError)$/.test(String(e.name))) database = true;
  }
  const top = err instanceof Error ? err : undefined;
  // drizzle's DrizzleQueryError keeps the name `Error`: its class says more.
  const name = top ? (top.name === 'Error' && top.constructor.name !== 'Error' ? top.constructor.name : top.name) : typeof err;
  const fields: { name: string; code?: string; statement?: string; message?: string } = { name };
  if (code !== undefined) fields.code = code;
  if (statement !== undefined) fields.statement = statement;
  if (!database && top) fields.message = top.message.slice(0, 200);
  return fields;
}
