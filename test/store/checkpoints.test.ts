import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/runtime/sqlite';

/** src/runtime/sqlite.ts: WAL checkpoints run on a worker thread, not inside a request's commit. */
describe('background WAL checkpoints', () => {
  it('copy committed pages into the database file off the request thread, and stop on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-checkpoint-'));
    try {
      const file = join(dir, 'db.sqlite');
      const database = openSqlite(file, { backgroundCheckpoints: true });
      const { sqlite } = database;
      // SQLite's own auto-checkpoint is only the backstop (4x the WAL length that triggers a restart).
      expect(sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(65536);
      sqlite.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB)');
      const insert = sqlite.prepare('INSERT INTO filler (data) VALUES (?)');
      sqlite.transaction(() => {
        for (let i = 0; i < 3000; i++) insert.run(Buffer.alloc(2000, i % 251));
      })();
      // The ~6 MB just written sit in the WAL: the request connection does not checkpoint them.
      const before = statSync(file).size;
      expect(before).toBeLessThan(2_000_000);
      let after = before;
      for (let i = 0; i < 60 && after < 5_000_000; i++) {
        await new Promise((r) => setTimeout(r, 100));
        after = statSync(file).size;
      }
      expect(after).toBeGreaterThan(5_000_000);
      expect(sqlite.prepare('SELECT count(*) AS n FROM filler').get()).toEqual({ n: 3000 });
      await database.close();
      expect(sqlite.open).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rewind the WAL between two batches once it is long, so steady writes do not grow it without end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-checkpoint-'));
    try {
      const file = join(dir, 'db.sqlite');
      const database = openSqlite(file, { backgroundCheckpoints: { intervalMs: 20, restartFrames: 200 } });
      const { sqlite, store, checkpoints, groupCommit } = database;
      sqlite.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB)');
      const insert = sqlite.prepare('INSERT INTO filler (data) VALUES (?)');
      // Steady writes through the group commit (each turn one batch), as requests make them.
      let written = 0;
      const deadline = Date.now() + 10_000;
      while (checkpoints!.stats.restarts === 0 && Date.now() < deadline) {
        // Requests write through the Store, which waits while the WAL is being restarted.
        while (groupCommit!.held) await groupCommit!.held;
        for (let i = 0; i < 20; i++) insert.run(Buffer.alloc(2000, written++ % 251));
        await store.nonces.consume('none', 0); // a Store call: resolves once the batch is committed
      }
      expect(checkpoints!.stats.restarts).toBeGreaterThan(0);
      // The next batch starts the WAL over: it holds only that batch's frames.
      insert.run(Buffer.alloc(2000, 1));
      await store.nonces.consume('none', 0);
      const [after] = sqlite.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>;
      expect(after.log).toBeLessThan(200);
      expect(sqlite.prepare('SELECT count(*) AS n FROM filler').get()).toEqual({ n: written + 1 });
      await database.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cut a quiet WAL to zero bytes after a burst, on the checkpoint thread, and keep every row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-checkpoint-'));
    try {
      const file = join(dir, 'db.sqlite');
      const database = openSqlite(file, { backgroundCheckpoints: { intervalMs: 20 } });
      const { sqlite, store, checkpoints, groupCommit } = database;
      sqlite.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB)');
      const insert = sqlite.prepare('INSERT INTO filler (data) VALUES (?)');
      const walBytes = () => (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
      // A burst through the group commit, as requests make it: ~8 MB of WAL.
      let written = 0;
      let largest = 0;
      for (let batch = 0; batch < 40; batch++) {
        while (groupCommit!.held) await groupCommit!.held;
        for (let i = 0; i < 100; i++) insert.run(Buffer.alloc(2000, written++ % 251));
        await store.nonces.consume('none', 0);
        largest = Math.max(largest, walBytes());
      }
      expect(largest).toBeGreaterThan(4_000_000);
      // Quiet now: within a few passes the file is cut to nothing.
      const deadline = Date.now() + 10_000;
      while ((walBytes() > 0 || checkpoints!.stats.truncations === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(walBytes()).toBe(0);
      expect(checkpoints!.stats.truncations).toBeGreaterThan(0);
      expect(sqlite.prepare('SELECT count(*) AS n FROM filler').get()).toEqual({ n: written });
      // The next write starts a small WAL again, and it is cut again once quiet.
      insert.run(Buffer.alloc(2000, 1));
      await store.nonces.consume('none', 0);
      expect(walBytes()).toBeGreaterThan(0);
      expect(walBytes()).toBeLessThan(100_000);
      const truncations = checkpoints!.stats.truncations;
      while (checkpoints!.stats.truncations === truncations && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 20));
      expect(walBytes()).toBe(0);
      await database.close();
      // Reopened: every row is there.
      const again = openSqlite(file, { groupCommit: false });
      expect(again.sqlite.prepare('SELECT count(*) AS n FROM filler').get()).toEqual({ n: written + 1 });
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('are not started for an in-memory database', async () => {
    const database = openSqlite(':memory:', { backgroundCheckpoints: true });
    expect(database.sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    await database.close();
  });
});
