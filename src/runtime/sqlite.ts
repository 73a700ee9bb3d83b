import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { closeSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SETTING_DEFAULTS } from '../config';
import * as schema from '../store/schema';
import { createStore, type Database as StoreDatabase } from '../store/sqlite';
import type { Store } from '../store/types';
import type { StorageCondition } from '../ports/failures';
import { enableGroupCommit, withGroupCommit, type GroupCommit, type GroupCommitOptions } from './groupCommit';
import { packageRoot } from './packageRoot';

export const MIGRATIONS_DIR = join(packageRoot(import.meta.url), 'drizzle');

/**
 * Opens (or creates) the SQLite database and applies the drizzle migrations.
 * WAL mode lets readers run beside the writer; `synchronous = NORMAL` in WAL mode never
 * corrupts the database and loses at most the last transactions on power loss (not on a
 * process crash), which is the documented durability trade-off; set FULL for power-loss
 * durability of every commit.
 */
/**
 * drizzle's better-sqlite3 driver compiles (`prepare`s) every query it has not been told to
 * prepare, on every execution. Compiled statements are keyed by their SQL text and reused
 * (bounded), so every query is compiled once per connection. drizzle toggles `raw()` on reader
 * statements when it wants rows as arrays; a reused statement is reset to object rows first.
 */
export function cacheStatements(sqlite: Database.Database, maxStatements = 500): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, Database.Statement>();
  (sqlite as { prepare: (source: string) => Database.Statement }).prepare = (source: string) => {
    let stmt = cache.get(source);
    if (stmt) {
      if (stmt.reader) stmt.raw(false);
      return stmt;
    }
    stmt = prepare(source);
    if (cache.size >= maxStatements) cache.delete(cache.keys().next().value as string);
    cache.set(source, stmt);
    return stmt;
  };
}

/**
 * The Store over a migrated connection; with `groupCommit` (the server's default) concurrent
 * requests' writes share commits (./groupCommit.ts).
 */
export function sqliteStore(
  sqlite: Database.Database,
  db: StoreDatabase,
  options: { groupCommit?: boolean } & GroupCommitOptions = {},
): { store: Store; groupCommit?: GroupCommit } {
  if (options.groupCommit === false) return { store: createStore(db) };
  const groupCommit = enableGroupCommit(sqlite, { diagnose: options.diagnose });
  return { store: withGroupCommit(createStore(db), groupCommit), groupCommit };
}

export function openSqlite(
  file: string,
  options: {
    synchronous?: 'NORMAL' | 'FULL';
    backgroundCheckpoints?: boolean | Pick<CheckpointOptions, 'intervalMs' | 'restartFrames'>;
    groupCommit?: boolean;
    /** SQLite's busy wait for the write lock (DATABASE_STATEMENT_TIMEOUT_SECONDS). */
    busyTimeoutMs?: number;
  } = {},
) {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${options.synchronous ?? SETTING_DEFAULTS.storage.sqliteSynchronous}`);
  sqlite.pragma(`busy_timeout = ${Math.max(1, Math.floor(options.busyTimeoutMs ?? SETTING_DEFAULTS.storage.databaseStatementTimeoutSeconds * 1000))}`);
  sqlite.pragma('foreign_keys = ON');
  // 4 MiB of page cache rather than the driver's 16 MiB: SQLite scans the whole page-cache hash
  // at the end of every write transaction that split a b-tree page (balance_nonroot parks a page
  // at the locking page's number, so pcache1Truncate sees a huge largest key). Here that scan
  // was 2.3 % of the server's CPU at 16 MiB and 0.8 % at 4 MiB (docs/performance.md).
  sqlite.pragma('cache_size = -4096');
  // Temporary b-trees and spilled statement journals in memory: on disk they were a file created,
  // written and unlinked in /var/tmp every other flow under load (strace; docs/performance.md).
  sqlite.pragma('temp_store = MEMORY');
  cacheStatements(sqlite);
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  const diagnose = file === ':memory:' ? undefined : storageProbe(dirname(file));
  const { store, groupCommit } = sqliteStore(sqlite, db as unknown as StoreDatabase, { groupCommit: options.groupCommit, diagnose });
  const whenIdle = groupCommit ? (task: () => void) => groupCommit.whenIdle(task) : (task: () => void) => task();
  const hold = groupCommit ? () => groupCommit.hold() : undefined;
  const checkpoints =
    options.backgroundCheckpoints && file !== ':memory:'
      ? startBackgroundCheckpoints(sqlite, file, {
          ...(typeof options.backgroundCheckpoints === 'object' ? options.backgroundCheckpoints : {}),
          whenIdle,
          hold,
        })
      : undefined;
  return {
    sqlite,
    db: db as unknown as StoreDatabase,
    store,
    groupCommit,
    checkpoints,
    /** Commits an open batch, stops the checkpoint thread (if any) and closes the database. */
    async close() {
      groupCommit?.flush();
      await checkpoints?.stop();
      sqlite.close();
    },
  };
}

/**
 * What an SQLITE_IOERR on the database's disk means: SQLite reports a failed write as an I/O
 * error whatever the errno, so write 4 KiB to a probe file beside the database: EROFS says the
 * filesystem is read-only (ext4 after errors=remount-ro too), ENOSPC/EDQUOT that it is full.
 * At most one probe a second (the answer is kept meanwhile): a failing disk fails every write.
 */
export function storageProbe(dir: string, now: () => number = Date.now): () => StorageCondition | undefined {
  let last: { at: number; condition: StorageCondition | undefined } | undefined;
  return () => {
    if (last && now() - last.at < 1000) return last.condition;
    const file = join(dir, `.write-probe-${process.pid}`);
    let condition: StorageCondition | undefined;
    try {
      const fd = openSync(file, 'w');
      try {
        writeSync(fd, Buffer.alloc(4096));
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      condition = code === 'EROFS' ? 'read_only' : code === 'ENOSPC' || code === 'EDQUOT' ? 'disk_full' : undefined;
    }
    try {
      unlinkSync(file);
    } catch {
      /* not created */
    }
    last = { at: now(), condition };
    return condition;
  };
}

/** How the background checkpoints keep the WAL short (defaults in startBackgroundCheckpoints). */
export interface CheckpointOptions {
  /** Runs a task when no write transaction is open on the request connection (GroupCommit.whenIdle). */
  whenIdle(task: () => void): void;
  /**
   * Holds the Store's calls (not the event loop) until the returned function runs
   * (GroupCommit.hold): then the worker makes the restart's last pass, fsyncs included, and the
   * request connection only rewinds. Without it the request connection checkpoints itself.
   */
  hold?(): () => boolean;
  /** Milliseconds between the worker's checkpoints (500). */
  intervalMs?: number;
  /** WAL length, in frames, at which the request connection restarts it at a quiet moment (16384, 64 MiB of 4 KiB pages). */
  restartFrames?: number;
}

/**
 * WAL checkpoints (copying committed pages from the WAL into the database file, then fsync) on
 * a worker thread with its own connection, every `intervalMs`. Otherwise SQLite runs them inside
 * whichever commit crosses `wal_autocheckpoint` pages: a request that happens to pay for copying
 * a few MiB (a latency spike) on the one thread that serves every request. PASSIVE never blocks
 * readers or writers.
 *
 * A PASSIVE checkpoint alone never lets the WAL start over under steady writes: SQLite rewinds
 * it only when a write transaction begins while every frame is already in the database file,
 * and the worker's copy always trails the newest commits. So once the WAL is `restartFrames`
 * long, right after the worker reports a pass, the Store's calls are held between two batches
 * (`hold`: the event loop goes on) while the worker makes one last pass, which copies what was
 * committed during the one before and does the fsyncs; the next BEGIN then rewinds the WAL. A
 * pass that took long (a large database: its pages are scattered) is first followed by up to
 * four more at once, each copying only what was committed during the one before. Without
 * `hold` the request connection makes the last pass itself, which stalled the request thread
 * 5-15 ms on a fresh database and 38-48 ms with a million rows (the fsyncs), against 15-40 and
 * 52-62 ms when SQLite's own auto-checkpoint did it inside a request's COMMIT at 20,000 frames
 * (docs/performance.md). That auto-checkpoint stays as a backstop at 4x the length.
 *
 * SQLite rewinds a WAL but never shrinks its file, so a burst would leave it at the burst's size
 * for good. Once the WAL is quiet (two periodic passes see the same length, every frame copied),
 * the same hold lets the worker run `wal_checkpoint(TRUNCATE)`: usually nothing is left to copy,
 * so it only cuts the file to zero bytes; either way the copy and its fsync are the worker's. Steady writes are
 * never quiet, so they keep the restart above unchanged. The bounds: docs/operations.md.
 */
export function startBackgroundCheckpoints(
  sqlite: Database.Database,
  file: string,
  options: CheckpointOptions,
): { stop(): Promise<void>; readonly stats: { restarts: number; truncations: number } } {
  const intervalMs = options.intervalMs ?? 500;
  const restartFrames = options.restartFrames ?? 16384;
  /** A pass that took longer than this is followed by another before the restart. */
  const catchUpMs = 5;
  /** The longest the Store is held for the worker's last pass. */
  const holdLimitMs = 250;
  sqlite.pragma(`wal_autocheckpoint = ${restartFrames * 4}`);
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const { statSync } = require('node:fs');
     const Database = require(workerData.driver);
     const db = new Database(workerData.file);
     db.pragma('busy_timeout = 5000');
     db.pragma('synchronous = ' + workerData.synchronous);
     const walBytes = () => { try { return statSync(workerData.file + '-wal').size; } catch { return 0; } };
     const pass = (requested, final) => {
       const started = performance.now();
       try { parentPort.postMessage({ ...db.pragma('wal_checkpoint(PASSIVE)')[0], ms: performance.now() - started, requested, final, walBytes: walBytes() }); }
       catch { if (final) parentPort.postMessage({ busy: 1, final }); /* else busy: next time */ }
     };
     // While the Store is held: copy what is left, then cut the WAL file to zero bytes. A short
     // busy wait, so that a writer outside the Store makes it give up well within the hold.
     const truncate = () => {
       db.pragma('busy_timeout = 100');
       try { parentPort.postMessage({ ...db.pragma('wal_checkpoint(TRUNCATE)')[0], final: true, truncate: true, walBytes: walBytes() }); }
       catch { parentPort.postMessage({ busy: 1, final: true, truncate: true }); }
       db.pragma('busy_timeout = 5000');
     };
     const timer = setInterval(() => pass(false, false), workerData.intervalMs);
     parentPort.on('message', (message) => {
       if (message === 'pass') return pass(true, false);
       if (message === 'final') return pass(true, true);
       if (message === 'truncate') return truncate();
       clearInterval(timer); db.close(); parentPort.close();
     });`,
    {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        file,
        intervalMs,
        synchronous: sqlite.pragma('synchronous', { simple: true }) === 2 ? 'FULL' : 'NORMAL',
      },
    },
  );
  worker.unref();
  const stats = { restarts: 0, truncations: 0 };
  /** The WAL length the last periodic pass reported: the same length twice, all copied, is a quiet WAL. */
  let previousLog: number | undefined;
  let restartPending = false;
  let catchUpPasses = 0;
  /** While the Store is held for the worker's last pass: lets it go, and the fallback timer. */
  let release: (() => boolean) | undefined;
  let holdTimer: ReturnType<typeof setTimeout> | undefined;
  const endHold = (pass?: { busy?: number; log?: number; checkpointed?: number; truncate?: boolean }) => {
    if (!release) return;
    clearTimeout(holdTimer);
    const go = release;
    release = undefined;
    restartPending = false;
    // Nothing was written during the pass (the Store was held, no batch opened) and it copied
    // every frame: the next BEGIN rewinds the WAL (a truncation has already). Else the next report tries again.
    if (go() && pass?.busy === 0 && pass.checkpointed === pass.log) {
      if (pass.truncate) stats.truncations++;
      else stats.restarts++;
    }
  };
  /**
   * A quiet WAL (two passes in a row saw the same length, every frame copied) is cut to zero
   * bytes: otherwise the file keeps the size of the largest burst for good (SQLite rewinds a WAL
   * but never shrinks it). Between two batches with the Store held, like the restart; the worker
   * has usually nothing left to copy (and any copy and fsync are its own, never the request
   * thread's), and under steady writes (never quiet) nothing changes.
   */
  const truncateWhenIdle = () => {
    if (!options.hold) return;
    restartPending = true;
    options.whenIdle(() => {
      if (!sqlite.open || sqlite.inTransaction) {
        restartPending = false;
        return;
      }
      release = options.hold!();
      holdTimer = setTimeout(endHold, holdLimitMs);
      worker.postMessage('truncate');
    });
  };
  worker.on(
    'message',
    (pass: {
      log?: number;
      ms?: number;
      requested?: boolean;
      final?: boolean;
      busy?: number;
      checkpointed?: number;
      walBytes?: number;
      truncate?: boolean;
    }) => {
      if (pass?.final) return endHold(pass);
      if (restartPending || typeof pass?.log !== 'number') return;
      if (!pass.requested) {
        const quiet = pass.busy === 0 && pass.log === pass.checkpointed && pass.log === previousLog && (pass.walBytes ?? 0) > 0;
        previousLog = pass.log;
        if (pass.log < restartFrames) {
          if (quiet) truncateWhenIdle();
          return;
        }
        catchUpPasses = 0;
      }
      // A long pass leaves what was committed meanwhile uncopied: more passes at once, each shorter
      // than the last while copying outruns the writes, so the request connection's share is small.
      if ((pass.ms ?? 0) > catchUpMs && catchUpPasses < 4) {
        catchUpPasses++;
        worker.postMessage('pass');
        return;
      }
      restartPending = true;
      options.whenIdle(() => {
        if (!sqlite.open || sqlite.inTransaction) {
          restartPending = false;
          return;
        }
        if (options.hold) {
          // The fsyncs of the last pass happen on the worker; requests wait only where they touch
          // the Store, and at most holdLimitMs if the worker does not answer.
          release = options.hold();
          holdTimer = setTimeout(endHold, holdLimitMs);
          worker.postMessage('final');
          return;
        }
        restartPending = false;
        try {
          const [result] = sqlite.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
          // Every frame copied: the next BEGIN rewinds the WAL.
          if (result.busy === 0 && result.checkpointed === result.log) stats.restarts++;
        } catch {
          /* busy (the worker is mid-pass): the next report tries again */
        }
      });
    },
  );
  worker.on('error', () => sqlite.pragma('wal_autocheckpoint = 1000')); // back to checkpointing in place
  return {
    stats,
    async stop() {
      endHold();
      // Referenced while stopping: with the worker and the timer both unreferenced, a shutdown
      // that waits here has nothing keeping the event loop alive, and Node would exit before the
      // database is closed (and before the caller's last log line).
      worker.ref();
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('stop');
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
      clearTimeout(timer);
      await worker.terminate();
    },
  };
}
