import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { traceIdOf } from '../../src/http/app';
import { jsonLogger } from '../../src/ports/logger';
import { nodeLogger } from '../../src/runtime/logger';
import { startNodeIssuer } from '../../src/runtime/node';

/** A pino destination that keeps the lines. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, stream: { write: (chunk: string) => void lines.push(JSON.parse(chunk)) } };
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('logging: pino on Node, the console logger on Workers, the same levels', () => {
  it('each level writes itself and above; silent writes nothing, errors included', () => {
    for (const [level, expected] of [
      ['debug', ['debug', 'info', 'warn', 'error']],
      ['info', ['info', 'warn', 'error']],
      ['warn', ['warn', 'error']],
      ['error', ['error']],
      ['silent', []],
    ] as const) {
      const node = capture();
      const pinoLog = nodeLogger(level, node.stream);
      const workers: string[] = [];
      const consoleLog = jsonLogger((l) => workers.push(l), level);
      for (const log of [pinoLog, consoleLog]) for (const name of ['debug', 'info', 'warn', 'error'] as const) log[name]?.(`e_${name}`, { n: 1 });
      expect(node.lines.map((l) => l.level)).toEqual(expected);
      expect(workers.map((l) => JSON.parse(l).level)).toEqual(expected);
      for (const line of [...node.lines, ...workers.map((l) => JSON.parse(l))]) {
        expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        expect(line.event).toBe(`e_${line.level}`);
        expect(line.n).toBe(1);
      }
    }
  });

  it('traceparent: a valid W3C header gives its trace id, anything else nothing', () => {
    expect(traceIdOf(`00-${TRACE}-00f067aa0ba902b7-01`)).toBe(TRACE);
    expect(traceIdOf(`00-${'0'.repeat(32)}-00f067aa0ba902b7-01`)).toBeUndefined();
    expect(traceIdOf(`00-${TRACE}-${'0'.repeat(16)}-01`)).toBeUndefined();
    expect(traceIdOf(`00-${TRACE.toUpperCase()}-00f067aa0ba902b7-01`)).toBeUndefined();
    expect(traceIdOf('garbage')).toBeUndefined();
    expect(traceIdOf(undefined)).toBeUndefined();
  });

  it('on the server: the request line carries the caller trace id; scheduled jobs log at debug with a time, not at info', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-logging-'));
    for (const level of ['info', 'debug'] as const) {
      const out = capture();
      const issuer = await startNodeIssuer({ dataDir: dir, port: 0, hostname: '127.0.0.1', logger: nodeLogger(level, out.stream), backgroundIntervalMs: 50 });
      try {
        const res = await fetch(`http://127.0.0.1:${issuer.port}/healthz`, { headers: { traceparent: `00-${TRACE}-00f067aa0ba902b7-01` } });
        expect(res.status).toBe(200);
        await new Promise((ok) => setTimeout(ok, 300));
      } finally {
        await issuer.close();
      }
      const request = out.lines.find((l) => l.event === 'request' && l.route === '/healthz');
      expect(request).toMatchObject({ level: 'info', traceId: TRACE, status: 200 });
      const jobs = out.lines.filter((l) => l.event === 'scheduled_job');
      if (level === 'info') expect(jobs).toEqual([]);
      else {
        expect(jobs.length).toBeGreaterThan(0);
        for (const j of jobs) expect(j).toMatchObject({ level: 'debug', time: expect.stringMatching(/^\d{4}-/) });
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
