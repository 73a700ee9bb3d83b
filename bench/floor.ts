/**
 * The floor of a flow, measured in the same run as the issuer (docs/performance.md): the work a
 * flow cannot avoid, each piece timed as process CPU on this machine now.
 *   - an Ed25519 signature and a verification with node:crypto KeyObjects (the issuer makes 3 of
 *     each per flow: request object, access token, KCC; ID token, access token, proof);
 *   - one bare node:http exchange (a createServer answering {"ok":true}) per request the flow makes,
 *     driven by the same load generator at the same concurrency, measured in its own process;
 *   - a durable SQLite transaction of 2 row-writes (WAL, synchronous=NORMAL, a file), 5 per flow:
 *     nonce stored; nonce consumed with application and code; IDV result; code redeemed with token;
 *     c_nonce consumed with the credential record.
 *
 * `node --import tsx bench/floor.ts` is the child: it measures crypto and SQLite in-process, prints
 * them as one JSON line, then serves the bare exchange on the port it prints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LeanHttp } from './leanHttp';

export interface FloorPieces {
  /** µs of CPU per Ed25519 signature / verification / 2-write durable transaction / bare exchange. */
  signUs: number;
  verifyUs: number;
  transactionUs: number;
  exchangeUs: number;
}

/** A flow's floor in ms from its pieces and counts. */
export function floorMs(p: FloorPieces, counts: { signs: number; verifies: number; exchanges: number; transactions: number }): number {
  return (counts.signs * p.signUs + counts.verifies * p.verifyUs + counts.exchanges * p.exchangeUs + counts.transactions * p.transactionUs) / 1000;
}

export const FLOW_COUNTS = { signs: 3, verifies: 3, exchanges: 10, transactions: 5 };
/** Token + credential, the offer made beforehand (`npm run bench -- --pairs`). */
export const PAIR_COUNTS = { signs: 2, verifies: 2, exchanges: 2, transactions: 2 };

function cpuUs(run: () => void, iterations: number): number {
  for (let i = 0; i < Math.min(200, iterations); i++) run(); // warm up
  const t0 = process.cpuUsage();
  for (let i = 0; i < iterations; i++) run();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / iterations;
}

async function measureInProcess(): Promise<Omit<FloorPieces, 'exchangeUs'>> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  // About the size of a signing input the issuer signs (header + payload, base64url).
  const data = Buffer.from('x'.repeat(600));
  const signature = sign(null, data, privateKey);
  const signUs = cpuUs(() => sign(null, data, privateKey), 3000);
  const verifyUs = cpuUs(() => verify(null, data, publicKey, signature), 3000);
  const { default: Database } = await import('better-sqlite3');
  const dir = mkdtempSync(join(tmpdir(), 'kcc-floor-'));
  try {
    const db = new Database(join(dir, 'floor.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE a (id TEXT PRIMARY KEY, v TEXT NOT NULL); CREATE TABLE b (id TEXT PRIMARY KEY, v TEXT NOT NULL)');
    const insertA = db.prepare('INSERT INTO a (id, v) VALUES (?, ?)');
    const insertB = db.prepare('INSERT INTO b (id, v) VALUES (?, ?)');
    let n = 0;
    const value = 'v'.repeat(200);
    const pair = db.transaction(() => {
      n++;
      insertA.run(`a${n}`, value);
      insertB.run(`b${n}`, value);
    });
    const transactionUs = cpuUs(() => pair(), 3000);
    db.close();
    return { signUs, verifyUs, transactionUs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU time (ms) a process has used so far, from /proc (Linux); undefined elsewhere. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

/** A process's write system calls and bytes written (Linux /proc/<pid>/io: every write, writev and pwrite, sockets included). */
export function processIo(pid: number): { syscw: number; wchar: number } | undefined {
  try {
    const fields = Object.fromEntries(
      readFileSync(`/proc/${pid}/io`, 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(': ')),
    );
    return { syscw: Number(fields.syscw), wchar: Number(fields.wchar) };
  } catch {
    return undefined;
  }
}

/**
 * Starts the floor child, reads its in-process figures, and measures the bare exchange: `seconds`
 * of GETs at `concurrency` through the benchmark's own client, the child's CPU per exchange.
 */
export async function measureFloor(http: LeanHttp, options: { concurrency: number; seconds: number }): Promise<FloorPieces> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', new URL('./floor.ts', import.meta.url).pathname, '--child'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const lines: string[] = [];
    let buffered = '';
    const nextLine = () =>
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const line = lines.shift();
          if (line !== undefined) return resolve(line);
          child.stdout!.once('data', check);
        };
        child.once('exit', (code) => reject(new Error(`floor child exited (${code})`)));
        check();
      });
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
        lines.push(buffered.slice(0, i));
        buffered = buffered.slice(i + 1);
      }
    });
    const inProcess = JSON.parse(await nextLine()) as Omit<FloorPieces, 'exchangeUs'>;
    const { port } = JSON.parse(await nextLine()) as { port: number };
    const url = `http://127.0.0.1:${port}/`;
    let stop = false;
    let exchanges = 0;
    let counting = false;
    const worker = async () => {
      while (!stop) {
        await http.send('GET', url, {}, undefined, 'floor');
        if (counting) exchanges++;
      }
    };
    const workers = Array.from({ length: options.concurrency }, worker);
    await new Promise((r) => setTimeout(r, 500));
    counting = true;
    const cpu0 = processCpuMs(child.pid!);
    await new Promise((r) => setTimeout(r, options.seconds * 1000));
    const cpu1 = processCpuMs(child.pid!);
    counting = false;
    stop = true;
    await Promise.all(workers);
    if (cpu0 === undefined || cpu1 === undefined || exchanges === 0) throw new Error('could not measure the bare exchange');
    return { ...inProcess, exchangeUs: ((cpu1 - cpu0) * 1000) / exchanges };
  } finally {
    child.kill('SIGTERM');
  }
}

if (process.argv.includes('--child')) {
  const pieces = await measureInProcess();
  process.stdout.write(`${JSON.stringify(pieces)}\n`);
  const body = JSON.stringify({ ok: true });
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`));
}
