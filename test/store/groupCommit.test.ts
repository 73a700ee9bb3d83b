import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/runtime/sqlite';

/** src/runtime/groupCommit.ts: concurrent writes share commits; nothing resolves before it is durable. */
describe('group commit', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function open() {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-group-'));
    dirs.push(dir);
    const file = join(dir, 'kcc.db');
    return { file, ...openSqlite(file) };
  }
  const nonce = (i: number) => ({ nonce: `n-${i}`, presentationDefinitionId: null, createdAt: 1, expiresAt: Date.now() + 60_000 });

  it('holds Store calls (not the event loop) until released, then runs them in call order', async () => {
    const { store, groupCommit, sqlite, close } = open();
    const release = groupCommit!.hold();
    const order: string[] = [];
    const calls = [0, 1, 2].map((i) => store.siopRequests.create(nonce(100 + i)).then(() => order.push(`created ${i}`)));
    const consumed = store.siopRequests.consume('n-101', 1).then((row) => order.push(`consumed ${row ? row.nonce : 'none'}`));
    await new Promise((r) => setTimeout(r, 20)); // timers still run: only the Store waits
    expect(order).toEqual([]);
    expect(sqlite.prepare('SELECT count(*) AS n FROM siop_requests').get()).toEqual({ n: 0 });
    expect(release()).toBe(true); // nothing opened a batch while held
    await Promise.all([...calls, consumed]);
    expect(order).toEqual(['created 0', 'created 1', 'created 2', 'consumed n-101']);
    // A write outside the Store during a hold is reported, so the WAL restart does not count on it.
    const again = groupCommit!.hold();
    sqlite.prepare('INSERT INTO siop_requests (nonce, created_at, expires_at) VALUES (?, 1, ?)').run('n-direct', Date.now() + 60_000);
    expect(again()).toBe(false);
    expect(groupCommit!.held).toBeUndefined();
    await close();
  });

  it('joins concurrent writes into few commits, each call resolving only once another connection can read its row', async () => {
    const { file, store, groupCommit, close } = open();
    const reader = new Database(file, { readonly: true });
    const visible = reader.prepare('SELECT count(*) AS n FROM siop_requests WHERE nonce = ?');
    const before = { ...groupCommit!.stats };
    const seenOnResolve: number[] = [];
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        await store.siopRequests.create(nonce(i));
        // Durable means committed: a separate connection sees it the moment the call resolves.
        seenOnResolve.push((visible.get(`n-${i}`) as { n: number }).n);
      }),
    );
    expect(seenOnResolve).toEqual(Array(200).fill(1));
    const batches = groupCommit!.stats.batches - before.batches;
    expect(groupCommit!.stats.statements - before.statements).toBe(200);
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThan(20);
    reader.close();
    await close();
  });

  it('still lets exactly one of many concurrent consumers win', async () => {
    const { store, close } = open();
    await store.siopRequests.create(nonce(1));
    const results = await Promise.all(Array.from({ length: 100 }, () => store.siopRequests.consume('n-1', Date.now())));
    expect(results.filter(Boolean)).toHaveLength(1);
    await close();
  });

  it('rejects every call of a batch whose COMMIT fails, and keeps none of its rows', async () => {
    const { sqlite, store, close } = open();
    // A deferred constraint is checked at COMMIT: one bad row makes the whole batch's COMMIT fail.
    sqlite.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)');
    const calls = Array.from({ length: 5 }, (_, i) => store.siopRequests.create(nonce(100 + i)));
    sqlite.prepare('INSERT INTO child (parent_id) VALUES (42)').run();
    const outcomes = await Promise.allSettled(calls);
    expect(outcomes.map((o) => o.status)).toEqual(Array(5).fill('rejected'));
    expect((outcomes[0] as PromiseRejectedResult).reason.name).toBe('BatchLost');
    expect(sqlite.prepare("SELECT count(*) AS n FROM siop_requests WHERE nonce LIKE 'n-10%'").get()).toEqual({ n: 0 });
    // The next batch is a fresh transaction.
    await store.siopRequests.create(nonce(200));
    expect(sqlite.prepare("SELECT count(*) AS n FROM siop_requests WHERE nonce = 'n-200'").get()).toEqual({ n: 1 });
    await close();
  });

  it('keeps a writeTogether set atomic inside a batch (a savepoint): a failed set rolls back alone', async () => {
    const { sqlite, store, close } = open();
    const now = Date.now();
    const app = (id: string) => ({
      id,
      applicantDid: 'did:jwk:holder',
      credentialConfigurationId: 'KnownCustomerCredential',
      status: 'pending' as const,
      formTokenHash: `form-${id}`,
      formExpiresAt: now + 3600,
      createdAt: now,
      updatedAt: now,
    });
    const code = (id: string, codeHash: string) => ({ codeHash, applicationId: id, applicantDid: 'did:jwk:holder', expiresAt: now + 600 });
    await store.applications.createWithCode(app('a'), code('a', 'code-a'));
    // One batch: b reuses a's code hash (its code insert fails after its application insert), c is fine.
    const [b, c] = await Promise.allSettled([
      store.applications.createWithCode(app('b'), code('b', 'code-a')),
      store.applications.createWithCode(app('c'), code('c', 'code-c')),
    ]);
    expect(b.status).toBe('rejected');
    expect(c.status).toBe('fulfilled');
    const ids = (sqlite.prepare('SELECT id FROM applications ORDER BY id').all() as Array<{ id: string }>).map((r) => r.id);
    expect(ids).toEqual(['a', 'c']);
    await close();
  });
});
