/**
 * PostgreSQL figures for `npm run bench` with DATABASE_URL (or BENCH_POSTGRES=1): what the
 * database server did per flow, read from the server itself, so every statement any instance
 * sends is counted whatever code path sent it:
 *  - statements, from pg_stat_statements (loaded by the bench's own cluster; on another server
 *    the line says how to load it). Each is one round trip: the issuer awaits every statement's
 *    answer before it sends the next one of the same request (none are pipelined);
 *  - WAL records and bytes (the rows and index entries written), from the same view;
 *  - the top statements by calls per flow, to see which request makes several;
 *  - CPU of the server's processes: its postmaster and every child (backends, WAL writer,
 *    checkpointer, autovacuum), including children that exited during the run (the postmaster's
 *    cutime/cstime), from /proc on this machine.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';

export interface PostgresSnapshot {
  statements?: Map<string, { calls: number; walRecords: number; walBytes: number }>;
  cpuMs?: number;
}

/** Connects to the bench's database; `ok` says whether pg_stat_statements can be read there. */
export async function openPostgresFigures(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  let statementsReason: string | undefined;
  try {
    await sql`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`;
    await sql`SELECT pg_stat_statements_reset()`;
  } catch (e) {
    statementsReason = `statements not counted: ${(e as Error).message.slice(0, 120)} (load it: shared_preload_libraries = 'pg_stat_statements'; BENCH_POSTGRES=1 does)`;
  }
  let postmasterPid: number | undefined;
  try {
    const [{ data_directory: dataDir }] = await sql<{ data_directory: string }[]>`SELECT current_setting('data_directory') AS data_directory`;
    postmasterPid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    postmasterPid = undefined; // not this machine's, or not readable: no CPU figure
  }

  async function snapshot(): Promise<PostgresSnapshot> {
    const out: PostgresSnapshot = { cpuMs: postmasterPid ? clusterCpuMs(postmasterPid) : undefined };
    if (statementsReason) return out;
    // The bench's own queries (this view, the extension) are left out by their text.
    const rows = await sql<{ query: string; calls: string; wal_records: string; wal_bytes: string }[]>`
      SELECT query, calls::text, wal_records::text, wal_bytes::text FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE '%current_setting(%'`;
    out.statements = new Map();
    for (const r of rows) {
      const prev = out.statements.get(r.query);
      out.statements.set(r.query, {
        calls: Number(r.calls) + (prev?.calls ?? 0),
        walRecords: Number(r.wal_records) + (prev?.walRecords ?? 0),
        walBytes: Number(r.wal_bytes) + (prev?.walBytes ?? 0),
      });
    }
    return out;
  }

  /** Lines to print: the figures between two snapshots, per `flows` units. */
  function report(before: PostgresSnapshot, after: PostgresSnapshot, flows: number, unit: string): string[] {
    const lines: string[] = [];
    if (before.cpuMs !== undefined && after.cpuMs !== undefined)
      lines.push(`CPU per ${unit}: PostgreSQL (the cluster's postmaster and every child, from /proc) ${((after.cpuMs - before.cpuMs) / flows).toFixed(2)} ms`);
    if (!before.statements || !after.statements) {
      if (statementsReason) lines.push(statementsReason);
      return lines;
    }
    const delta: { query: string; calls: number; walRecords: number; walBytes: number }[] = [];
    for (const [query, a] of after.statements) {
      const b = before.statements.get(query);
      const calls = a.calls - (b?.calls ?? 0);
      if (calls > 0) delta.push({ query, calls, walRecords: a.walRecords - (b?.walRecords ?? 0), walBytes: a.walBytes - (b?.walBytes ?? 0) });
    }
    const sum = (f: (d: (typeof delta)[number]) => number) => delta.reduce((s, d) => s + f(d), 0);
    lines.push(
      `database per ${unit}: ${(sum((d) => d.calls) / flows).toFixed(2)} statements (each a round trip), ` +
        `${(sum((d) => d.walRecords) / flows).toFixed(1)} WAL records, ${(sum((d) => d.walBytes) / flows / 1024).toFixed(1)} KiB of WAL`,
    );
    lines.push(`statements by calls per ${unit} (pg_stat_statements):`);
    for (const d of delta.sort((x, y) => y.calls - x.calls).slice(0, 40)) {
      const text = d.query.replace(/\s+/g, ' ').trim();
      lines.push(`  ${(d.calls / flows).toFixed(2).padStart(6)}  ${text.length > 150 ? `${text.slice(0, 147)}…` : text}`);
    }
    return lines;
  }

  return { snapshot, report, close: () => sql.end({ timeout: 5 }) };
}

/** CPU (ms) of a PostgreSQL cluster: the postmaster, its exited children (cutime + cstime) and its live ones. */
function clusterCpuMs(postmasterPid: number): number | undefined {
  const stat = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    } catch {
      return undefined;
    }
  };
  const own = stat(postmasterPid);
  if (!own) return undefined;
  // Fields after the command (from 0): 1 ppid, 11 utime, 12 stime, 13 cutime, 14 cstime (clock ticks, USER_HZ 100).
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = stat(Number(entry));
    if (f && Number(f[1]) === postmasterPid) ticks += Number(f[11]) + Number(f[12]);
  }
  return (ticks * 1000) / 100;
}
