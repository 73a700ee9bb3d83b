import { mkdtempSync, rmSync, statSync } from 'node:fs';
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

  it('are not started for an in-memory database', async () => {
    const database = openSqlite(':memory:', { backgroundCheckpoints: true });
    expect(database.sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    await database.close();
  });
});
