import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config';
import type { Logger } from '../../src/http/context';
import { ADMIN_TOKEN, PUBLIC_URL, makeTestIssuer, testClock } from '../helpers/issuer';

/** Guessing the operator credential: limited per client address and in total, logged without the guesses. */
const byHeader = (c: { req: { header: (n: string) => string | undefined } }) => c.req.header('x-test-ip');

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (event: string, fields?: Record<string, unknown>) => lines.push(JSON.stringify({ level, event, ...fields }));
  return { lines, info: log('info'), warn: log('warn'), error: log('error') };
}

async function setup(limits: { failuresPerIp?: number; failuresGlobal?: number } = {}) {
  const clock = testClock(Date.UTC(2026, 10, 23, 12, 0, 0));
  const logger = capture();
  const t = await makeTestIssuer({
    clock,
    logger,
    clientAddress: byHeader,
    config: { operatorAuthLimits: { enabled: true, windowSeconds: 60, failuresPerIp: 10, failuresGlobal: 100, ...limits } },
  });
  const loginAs = (ip: string, token: string) =>
    t.app.request(`${PUBLIC_URL}/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-test-ip': ip },
      body: new URLSearchParams({ operator: 'Eve', token }).toString(),
    });
  const api = (ip: string, token: string) =>
    t.app.request(`${PUBLIC_URL}/admin/applications`, { headers: { authorization: `Bearer ${token}`, 'x-test-ip': ip } });
  return { t, clock, logger, loginAs, api };
}

describe('operator brute-force limits', () => {
  it('the 11th failed console login in a minute is 429 with Retry-After, even with the right token; other addresses still sign in', async () => {
    const { clock, logger, loginAs } = await setup();
    for (let i = 0; i < 10; i++) expect((await loginAs('203.0.113.7', `guess-number-${i}`)).status).toBe(401);
    const eleventh = await loginAs('203.0.113.7', 'guess-number-10');
    expect(eleventh.status).toBe(429);
    const retry = Number(eleventh.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(60);
    expect((await loginAs('203.0.113.7', ADMIN_TOKEN)).status).toBe(429);
    expect((await loginAs('198.51.100.9', ADMIN_TOKEN)).status).toBe(303);
    clock.advance(61);
    expect((await loginAs('203.0.113.7', ADMIN_TOKEN)).status).toBe(303);
    const log = logger.lines.join('\n');
    expect(logger.lines.filter((l) => l.includes('"operator_auth_failed"'))).toHaveLength(10);
    expect(log).toContain('operator_auth_throttled');
    expect(log).not.toContain('guess-number');
    expect(log).not.toContain(ADMIN_TOKEN);
  });

  it('the operator API answers 429 after 10 wrong bearer tokens from one address', async () => {
    const { api } = await setup();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await api('203.0.113.8', `wrong-${i}`)).status);
    expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);
    const limited = await api('203.0.113.8', ADMIN_TOKEN);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await limited.json()) as { error: string }).error).toBe('too_many_requests');
  });

  it('a guesser rotating addresses meets the global limit', async () => {
    const { api, loginAs } = await setup({ failuresGlobal: 25 });
    for (let i = 0; i < 25; i++) expect((await api(`192.0.2.${i}`, 'wrong')).status).toBe(401);
    expect((await api('192.0.2.200', 'wrong')).status).toBe(429);
    expect((await loginAs('192.0.2.201', 'wrong')).status).toBe(429);
  });

  it('refuses to start with an ADMIN_TOKEN shorter than 32 characters', async () => {
    expect(() => resolveConfig({ publicUrl: PUBLIC_URL, adminToken: 'short-token-0123456789' })).toThrow(/ADMIN_TOKEN/);
    await expect(makeTestIssuer({ config: { adminToken: 'x'.repeat(31) } })).rejects.toThrow(/ADMIN_TOKEN.*32/);
    expect(resolveConfig({ publicUrl: PUBLIC_URL, adminToken: 'x'.repeat(32) }).adminToken).toBe('x'.repeat(32));
  });
});
