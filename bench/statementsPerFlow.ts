/**
 * `npx tsx bench/statementsPerFlow.ts`: every SQL statement one complete flow runs on the Node
 * server (SQLite as shipped), by request, with the rows it changed; and the statements grouped.
 * What the "rows written per flow" figure of `npm run bench` is made of (docs/performance.md).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** SQL texts drizzle built while the measured flow ran (each a query not prepared once per store). */
const builtPerCall: string[] = [];
const runs: Array<{ sql: string; changes: number; readonly: boolean }> = [];
const originalPrepare = Database.prototype.prepare;
Database.prototype.prepare = function (this: Database.Database, source: string) {
  const stmt = originalPrepare.call(this, source) as Database.Statement;
  for (const method of ['run', 'get', 'all', 'iterate'] as const) {
    const original = stmt[method] as (...args: unknown[]) => unknown;
    (stmt as unknown as Record<string, unknown>)[method] = function (this: Database.Statement, ...args: unknown[]) {
      const result = original.apply(this, args);
      const changes =
        method === 'run'
          ? ((result as { changes: number }).changes ?? 0)
          : Array.isArray(result) && !stmt.readonly
            ? result.length
            : result && !stmt.readonly
              ? 1
              : 0;
      runs.push({ sql: source.replace(/\s+/g, ' ').slice(0, 110), changes, readonly: stmt.readonly });
      // STATEMENT_CALLERS=<text>: where in src/ each statement containing it was called from.
      if (process.env.STATEMENT_CALLERS && source.includes(process.env.STATEMENT_CALLERS))
        console.log(
          'called from:',
          new Error().stack
            ?.split('\n')
            .filter((l) => l.includes('/src/') && !l.includes('/src/store/') && !l.includes('/src/runtime/'))
            .slice(0, 3)
            .map((l) =>
              l
                .trim()
                .replace(/^at /, '')
                .replace(/\(.*\/src\//, '(src/'),
            )
            .join(' < '),
        );
      return result;
    };
  }
  return stmt;
} as typeof Database.prototype.prepare;

// Every SQL text drizzle builds (prepared statements build theirs once, at store creation).
const { SQLiteDialect } = await import('drizzle-orm/sqlite-core');
const originalSqlToQuery = SQLiteDialect.prototype.sqlToQuery;
SQLiteDialect.prototype.sqlToQuery = function (this: unknown, ...args: Parameters<typeof originalSqlToQuery>) {
  const query = originalSqlToQuery.apply(this, args);
  builtPerCall.push(
    query.sql.replace(/\s+/g, ' ').slice(0, 110) +
      `  [${
        new Error().stack
          ?.split('\n')
          .find((l) => l.includes('/src/store/repositories/'))
          ?.trim() ?? ''
      }]`,
  );
  return query;
} as typeof originalSqlToQuery;
const { startNodeIssuer } = await import('../src/runtime/nodeServer');
const { WalletClient } = await import('../src/wallet/client');
const { applyForKcc, SAMPLE_IDENTITY } = await import('../src/wallet/flow');
const { Holder } = await import('../src/wallet/holder');

const dataDir = mkdtempSync(join(tmpdir(), 'kcc-statements-'));
const issuer = await startNodeIssuer({
  dataDir,
  port: 0,
  hostname: '127.0.0.1',
  backgroundIntervalMs: 0,
  logger: { info() {}, warn() {}, error() {}, debug() {} } as never,
});
try {
  const flow = async () => {
    const client = new WalletClient(await Holder.create(), fetch);
    await applyForKcc(client, { issuer: issuer.url, identity: SAMPLE_IDENTITY });
  };
  await flow(); // warm: key and list creation happen once
  await new Promise((r) => setTimeout(r, 50));
  runs.length = 0;
  builtPerCall.length = 0;
  // STATEMENT_CONCURRENCY=N: N wallets at once, 4 flows each, as the bench's load shares its group
  // commits (src/runtime/groupCommit.ts); the counts are then per flow.
  const concurrency = Number(process.env.STATEMENT_CONCURRENCY ?? 1);
  const flows = concurrency > 1 ? concurrency * 4 : 1;
  if (concurrency > 1)
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = 0; i < 4; i++) await flow();
      }),
    );
  else await flow();
  await new Promise((r) => setTimeout(r, 50));
  const writes = runs.filter((r) => !r.readonly && !/^(BEGIN|COMMIT|SAVEPOINT|RELEASE)/.test(r.sql));
  const byStatement = new Map<string, { calls: number; changes: number }>();
  for (const w of runs) {
    const e = byStatement.get(w.sql) ?? { calls: 0, changes: 0 };
    e.calls++;
    e.changes += w.changes;
    byStatement.set(w.sql, e);
  }
  // STATEMENT_ORDER=1: every statement in the order it ran (which commit holds which writes).
  if (process.env.STATEMENT_ORDER) for (const r of runs) console.log(r.readonly ? '  r' : '  W', r.changes, r.sql.slice(0, 90));
  if (flows === 1)
    for (const [sql, e] of [...byStatement].sort((a, b) => b[1].calls - a[1].calls))
      console.log(String(e.calls).padStart(3), String(e.changes).padStart(3), sql);
  // A query built and compiled for each call (not prepared once per store): drizzle builds its SQL each time.
  if (flows === 1) for (const sql of builtPerCall) console.log('built per call:', sql);
  const perFlow = (n: number) => (flows === 1 ? String(n) : (n / flows).toFixed(1));
  console.log(
    `${flows === 1 ? 'one flow' : `per flow (${flows} flows, ${concurrency} at once)`}: statements ${perFlow(runs.length)}, of which writes ${perFlow(writes.length)} changing ${perFlow(writes.reduce((a, w) => a + w.changes, 0))} rows; commits ${perFlow(runs.filter((r) => r.sql.startsWith('COMMIT')).length)}`,
  );
} finally {
  await issuer.close();
  rmSync(dataDir, { recursive: true, force: true });
}
