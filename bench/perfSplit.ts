/**
 * `BENCH_PERF=1 npm run bench`: where the server's CPU goes during the timed window, split by
 * kind of code with Linux `perf` (package linux-perf; it samples every thread of the server
 * process, native and kernel code included, which V8's --cpu-prof does not see). The split says
 * how much of a flow is native work a faster JavaScript layer could not remove: Ed25519 and
 * SHA-2 in OpenSSL, SQLite, the kernel's TCP and file writes, malloc (docs/performance.md, "A
 * bound from the profile").
 *
 * The server is started with --perf-basic-prof (V8 writes /tmp/perf-<pid>.map) so that JIT code
 * is named; any code perf cannot place in a library counts as JavaScript.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const PERF_KINDS = [
  'crypto (OpenSSL: Ed25519, SHA-2)',
  'SQLite (native)',
  'kernel (TCP, file writes, scheduling)',
  'libc (malloc/free, memcpy)',
  'JavaScript: JIT code and V8 builtins',
  'V8 runtime in C++ (JSON, strings, property lookups)',
  'V8 compiler',
  'V8 garbage collector',
  'Node and libuv in C++ (llhttp, streams, handles)',
  'workerd in C++ (kj I/O, capnp RPC to D1, HTTP)',
  'other',
] as const;
export type PerfKind = (typeof PERF_KINDS)[number];

/** Which kind of code a `perf report --sort dso,sym` row belongs to. */
export function perfKindOf(dso: string, symbol: string): PerfKind {
  if (dso.startsWith('better_sqlite3')) return 'SQLite (native)';
  // workerd links V8, BoringSSL, SQLite (D1's, local) and its kj/capnp runtime statically, as node does its own.
  if (dso === 'workerd') {
    if (/^sqlite3|^workerd::Sqlite|^pcache|^btree|^vdbe/i.test(symbol)) return 'SQLite (native)';
    if (/^(fiat_|bssl::|x25519_|ED25519_|ed25519_|sha256_block|sha512_block|SHA256|SHA512|EVP_|ec_GFp|bn_|BN_|CRYPTO_|ecp_nistz256|boringssl)/.test(symbol))
      return 'crypto (OpenSSL: Ed25519, SHA-2)';
    if (/^(kj::|capnp::|workerd::|edgeworker::|http_parser|llhttp)/.test(symbol) && !/^workerd::jsg::/.test(symbol))
      return 'workerd in C++ (kj I/O, capnp RPC to D1, HTTP)';
  }
  if (dso.startsWith('[kernel')) return 'kernel (TCP, file writes, scheduling)';
  if (dso.startsWith('libc') || dso.startsWith('libm')) return 'libc (malloc/free, memcpy)';
  if (dso.startsWith('[JIT]') || dso === '[unknown]' || dso.startsWith('perf-')) return 'JavaScript: JIT code and V8 builtins';
  if (dso !== 'node' && dso !== 'workerd' && !dso.startsWith('libstdc++') && !dso.startsWith('libgcc')) return 'other';
  // Node's own binary links OpenSSL, V8, llhttp and libuv statically.
  if (
    /^(fe_|fe51_|ge_|x25519|ed25519|ossl_|sha512|sha256|sha1_|SHA|KECCAK|cmov|slide|table_select|sc_|EVP_|OPENSSL|CRYPTO_|BN_|bn_|ERR_|OBJ_|ASN1_|EC_|ec_|aesni|gcm_|AES_)/.test(
      symbol,
    )
  )
    return 'crypto (OpenSSL: Ed25519, SHA-2)';
  if (symbol.startsWith('Builtins_')) return 'JavaScript: JIT code and V8 builtins';
  if (
    /Scaveng|Marking|MarkCompact|Sweep|Evacuat|Compactor|GCTracer|ArrayBufferSweeper|RememberedSet|SlotSet|MemoryChunk|PagedSpace|NewSpace|Heap::|heap::/.test(
      symbol,
    )
  )
    return 'V8 garbage collector';
  if (/compiler::|maglev::|Maglev|turboshaft|interpreter::|BytecodeGenerator|Parser|Compile|ScopeInfo|Zone|baseline::/.test(symbol)) return 'V8 compiler';
  if (/^(node::|uv_|uv__|llhttp)/.test(symbol)) return 'Node and libuv in C++ (llhttp, streams, handles)';
  if (/v8::|std::|jsg::/.test(symbol)) return 'V8 runtime in C++ (JSON, strings, property lookups)';
  return 'other';
}

/** Parses `perf report --sort dso,sym --stdio` into percent by kind. */
export function splitPerfReport(text: string): Map<PerfKind, number> {
  const split = new Map<PerfKind, number>(PERF_KINDS.map((k) => [k, 0]));
  for (const line of text.split('\n')) {
    const m = line.match(/^\s*([\d.]+)%\s+(\[JIT\] tid \d+|\S+)\s+\[.\]\s+(.*)$/);
    if (!m) continue;
    const kind = perfKindOf(m[2], m[3]);
    split.set(kind, (split.get(kind) ?? 0) + Number(m[1]));
  }
  return split;
}

/** Whether `perf` can sample here (installed, and allowed to attach to a process). */
export function perfAvailable(): boolean {
  return spawnSync('perf', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts sampling the given processes; `stop()` ends it and returns the split by kind. */
export function startPerfRecord(pids: number[], dir: string): { stop(): Promise<Map<PerfKind, number> | undefined> } {
  const data = join(dir, 'perf.data');
  const perf: ChildProcess = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-F', '999', '-p', pids.join(','), '-o', data], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return {
    async stop() {
      const exited = new Promise((r) => perf.once('exit', r));
      perf.kill('SIGINT');
      await exited;
      if (!existsSync(data)) return undefined;
      const report = spawnSync('perf', ['report', '-i', data, '--sort', 'dso,sym', '--stdio', '--percent-limit', '0'], {
        encoding: 'utf8',
        maxBuffer: 256 * 1024 * 1024,
      });
      rmSync(data, { force: true });
      return report.status === 0 ? splitPerfReport(report.stdout) : undefined;
    },
  };
}
