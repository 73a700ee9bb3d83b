import type Database from 'better-sqlite3';
import { STATEMENT_NAME, STORAGE_CONDITION, statementName, storageFailureOf, type StorageCondition } from '../ports/failures';
import type { Store } from '../store/types';

/**
 * Group commit for the one better-sqlite3 connection that serves every request (docs/performance.md).
 *
 * The first write outside a transaction opens one (`BEGIN IMMEDIATE`); every statement that runs
 * before the next turn of the event loop's check phase (`setImmediate`) joins it, whichever
 * request it belongs to, and then one COMMIT makes them all durable at once. A commit, its WAL
 * frames and the pages a dozen autocommit writes would each rewrite are paid once per batch
 * instead of once per statement.
 *
 * What does not change:
 * - Statements still run one at a time, in order, at the moment they are called, so a
 *   conditional `UPDATE … WHERE consumed_at IS NULL RETURNING` still decides every race, and a
 *   failing statement still rolls back alone (SQLite's statement atomicity). `writeTogether`'s
 *   transaction becomes a SAVEPOINT inside the batch (better-sqlite3 nests them so), so its
 *   writes still commit or roll back together.
 * - Nothing is acknowledged before it is durable: every Store call that ran while a batch was
 *   open (a write, or a read that may have seen the batch's writes) resolves only after that
 *   batch's COMMIT, and rejects if the batch was lost (a failed COMMIT, or SQLite rolling the
 *   whole transaction back on an I/O error or a full disk). A crash before COMMIT loses only
 *   writes nobody was told about.
 * - With no concurrency a batch is one request's writes and commits within the same loop turn.
 */
export interface GroupCommit {
  /** The number of the batch a statement run now would join (the open one, else the next). */
  readonly current: number;
  /** Resolves once the open batch (if any) is committed; rejects if a batch numbered `since` or later was lost. */
  settled(since: number): Promise<void>;
  /** Whether a batch is open now. */
  readonly pending: boolean;
  /** Commits an open batch now (shutdown). */
  flush(): void;
  /** Batches committed and statements they held, since start (docs/performance.md). */
  readonly stats: { batches: number; statements: number };
  /**
   * Runs `task` when no batch is open: at once if none is, else right after the open batch's
   * COMMIT, before any statement can open the next one (the WAL restart in ./sqlite.ts).
   */
  whenIdle(task: () => void): void;
  /**
   * Holds every Store call made through withGroupCommit (reads too) until the returned function
   * runs; the event loop goes on. Statements already running are not stopped. The WAL restart
   * in ./sqlite.ts holds them while the checkpoint thread makes its last pass. The release
   * answers whether nothing opened a batch meanwhile (a write outside the Store could).
   */
  hold(): () => boolean;
  /** While held: what a Store call waits for before it runs. */
  readonly held: Promise<void> | undefined;
}

class BatchLost extends Error {
  constructor(cause: unknown) {
    super('the database transaction holding this write did not commit', { cause });
    this.name = 'BatchLost';
  }
}

export interface GroupCommitOptions {
  /**
   * What an I/O error on the database's disk means (a write probe in its directory: full or
   * read-only), set on the error for the log line and the 503 (src/ports/failures.ts).
   */
  diagnose?(): StorageCondition | undefined;
}

export function enableGroupCommit(sqlite: Database.Database, options: GroupCommitOptions = {}): GroupCommit {
  const begin = sqlite.prepare('BEGIN IMMEDIATE');
  const commit = sqlite.prepare('COMMIT');
  /** The error of the statement after which SQLite rolled the open batch back (the batch's waiters' cause). */
  let rollbackCause: unknown;
  /** Names the failing statement (never its parameters) and, for an I/O error, what the disk says. */
  const annotate = (e: unknown, source: string) => {
    if (e === null || typeof e !== 'object') return;
    const error = e as Record<string, unknown>;
    error[STATEMENT_NAME] ??= statementName(source);
    if (options.diagnose && storageFailureOf(e)?.condition === 'io_error') error[STORAGE_CONDITION] = options.diagnose();
  };
  let open = false;
  /** The open batch's number (or the last one's); the newest lost batch's number. */
  let generation = 0;
  let lost = 0;
  let lostCause: unknown;
  let statementsInBatch = 0;
  let waiters: Array<{ resolve(): void; reject(e: unknown): void }> = [];
  let idleTasks: Array<() => void> = [];
  let held: Promise<void> | undefined;
  const stats = { batches: 0, statements: 0 };

  const runIdleTasks = () => {
    const tasks = idleTasks;
    idleTasks = [];
    for (const task of tasks) task();
  };

  const settle = (error?: unknown) => {
    if (error !== undefined) {
      lost = generation;
      lostCause = error;
    }
    const list = waiters;
    waiters = [];
    for (const w of list) error === undefined ? w.resolve() : w.reject(new BatchLost(error));
  };

  function end() {
    if (!open) return;
    open = false;
    stats.batches++;
    stats.statements += statementsInBatch;
    statementsInBatch = 0;
    if (!sqlite.inTransaction) {
      // SQLite rolled the whole transaction back (I/O error, disk full, …): its writes are gone.
      settle(new Error('transaction rolled back by SQLite', { cause: rollbackCause }));
    } else {
      try {
        commit.run();
        settle();
      } catch (e) {
        annotate(e, 'COMMIT');
        if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
        settle(e);
      }
    }
    rollbackCause = undefined;
    // Before the waiters' continuations (microtasks) can open the next batch.
    if (idleTasks.length > 0) runIdleTasks();
  }

  function ensureOpen() {
    if (open) {
      if (!sqlite.inTransaction) {
        // Lost under us (see end()); whoever waits on it learns now, and a new batch starts.
        end();
      } else return;
    }
    try {
      begin.run();
    } catch (e) {
      annotate(e, 'BEGIN IMMEDIATE');
      throw e;
    }
    generation++;
    open = true;
    // Measured: waiting longer (a 1-3 ms timer) for bigger batches saved nothing here (docs/performance.md).
    setImmediate(end);
  }

  /** Before a write: open a batch, unless it runs inside someone else's explicit transaction (migrations). */
  const joinBatch = () => {
    if (!sqlite.inTransaction || open) ensureOpen();
  };

  // Statements are compiled through `prepare` (cached by cacheStatements in ./sqlite.ts): wrap the
  // writers' execution so the first one opens the batch. Readers run as they are.
  const prepare = sqlite.prepare.bind(sqlite);
  const wrapped = new WeakSet<Database.Statement>();
  (sqlite as { prepare: (source: string) => Database.Statement }).prepare = (source: string) => {
    const stmt = prepare(source);
    if (stmt.readonly || wrapped.has(stmt) || /^\s*(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA)\b/i.test(source)) return stmt;
    wrapped.add(stmt);
    for (const method of ['run', 'get', 'all', 'iterate'] as const) {
      const original = stmt[method] as (...args: unknown[]) => unknown;
      (stmt as unknown as Record<string, unknown>)[method] = function (this: Database.Statement, ...args: unknown[]) {
        joinBatch();
        statementsInBatch++;
        try {
          return original.apply(this, args);
        } catch (e) {
          annotate(e, source);
          // SQLite may have rolled the whole batch back (disk full, I/O error): its other writers learn why.
          if (open && !sqlite.inTransaction) rollbackCause = e;
          throw e;
        }
      };
    }
    return stmt;
  };
  // A `transaction()` function (writeTogether in src/store/sqlite/index.ts) joins the batch too:
  // inside an open transaction better-sqlite3 runs it as a SAVEPOINT, so it still commits or
  // rolls back as a whole.
  const transaction = sqlite.transaction.bind(sqlite);
  (sqlite as { transaction: typeof sqlite.transaction }).transaction = ((fn: (...args: unknown[]) => unknown) => {
    const inner = transaction(fn);
    return (...args: unknown[]) => {
      joinBatch();
      return inner(...args);
    };
  }) as typeof sqlite.transaction;

  return {
    get current() {
      return open ? generation : generation + 1;
    },
    settled(since) {
      if (lost >= since) return Promise.reject(new BatchLost(lostCause ?? new Error('transaction rolled back')));
      if (!open) return Promise.resolve();
      return new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
    },
    get pending() {
      return open;
    },
    flush: end,
    stats,
    whenIdle(task) {
      idleTasks.push(task);
      if (!open) runIdleTasks();
    },
    hold() {
      if (held) return () => false;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      held = gate;
      const since = generation;
      return () => {
        if (held !== gate) return false;
        held = undefined;
        release();
        return generation === since && !open;
      };
    },
    get held() {
      return held;
    },
  };
}

/**
 * The Store with every call held until the batch it ran in is committed (see GroupCommit). A call
 * that ran while no batch was open resolves as before; one that ran while a batch was open waits
 * for that batch's COMMIT (about one event-loop turn) and fails if the batch was lost.
 */
export function withGroupCommit(store: Store, group: GroupCommit): Store {
  const held = <F extends (...args: never[]) => unknown>(fn: F, self: object) =>
    (async (...args: Parameters<F>) => {
      while (group.held) await group.held;
      const since = group.current;
      const result = await fn.apply(self, args);
      await group.settled(since);
      return result;
    }) as unknown as F;
  const out: Record<string, Record<string, unknown>> = {};
  // The Store is one object per repository (src/store/types.ts), each a set of methods.
  for (const [name, repository] of Object.entries(store) as Array<[string, Record<string, unknown>]>) {
    const wrapped: Record<string, unknown> = {};
    for (const [method, fn] of Object.entries(repository))
      wrapped[method] = typeof fn === 'function' ? held(fn as (...args: never[]) => unknown, repository) : fn;
    out[name] = wrapped;
  }
  return out as unknown as Store;
}
