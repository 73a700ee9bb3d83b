import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/verifier/cli';

async function cli(args: string[]) {
  const out: string[] = [];
  const code = await runCli(args, {
    out: (l) => out.push(l),
    err: (l) => out.push(l),
    fetch: (async () => new Response('offline', { status: 503 })) as unknown as typeof fetch,
  });
  return { code, out: out.join('\n') };
}

describe('kcc verify --kya: usage and malformed input', () => {
  it('needs --htm and --htu with a proof, and the agent options only with --kya', async () => {
    expect((await cli(['verify', '--kya', 'a.b.c', '--agent-proof', 'd.e.f'])).code).toBe(2);
    expect((await cli(['verify', 'a.b.c', '--htm', 'GET'])).code).toBe(2);
    expect((await cli(['verify', '--kya', 'a.b.c', '--agent-proof', 'no-such-file', '--htm', 'GET', '--htu', 'https://shop.example/'])).code).toBe(2);
  });

  it('reports a token that is not a KYA token as INVALID (format), exit 1', async () => {
    const r = await cli(['verify', '--kya', 'eyJhbGciOiJFZERTQSJ9.e30.AAAA', '--no-agent-proof']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL format\s+typ undefined is not kya\+jwt/);
  });
});
