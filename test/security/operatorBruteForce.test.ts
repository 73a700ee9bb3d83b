import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config';
import type { Logger } from '../../src/http/context';
import { addOperatorAccount } from '../../src/issuance/operatorAccounts';
import { createNodeMetrics } from '../../src/runtime/metrics';
import { ADMIN_TOKEN, PUBLIC_URL, makeTestIssuer, testClock } from '../helpers/issuer';

/** Guessing the operator credential: limited per client address and in total, logged without the guesses. */
const byHeader = (c: { req: { header: (n: string) => string | undefined } }) => c.req.header('x-test-ip');

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (event: string, fields?: Record<string, unknown>) => lines.push(JSON.stringify({ level, event, ...fields }));
  return { lines, info: log('info'), warn: log('warn'), error: log('error') };
}

async function setup(limits: { failuresPerIp?: number; failuresGlobal?: number; failuresPerAccount?: number; globalFailureDelayMs?: number } = {}) {
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

  it('120 wrong tokens from 12 addresses (10 each) do not lock out the right ADMIN_TOKEN: the global count only slows failures and alerts', async () => {
    const { t, api, loginAs, logger } = await setup({ globalFailureDelayMs: 40 });
    const metrics = createNodeMetrics({ processMetrics: false });
    t.deps.metrics = metrics;
    for (let a = 0; a < 12; a++) {
      const statuses = await Promise.all(Array.from({ length: 10 }, (_, i) => Promise.resolve(api(`192.0.2.${a}`, `wrong-${a}-${i}`)).then((r) => r.status)));
      expect(statuses).toEqual(Array(10).fill(401));
    }
    // Each guessing address is held at its own limit…
    expect((await api('192.0.2.0', ADMIN_TOKEN)).status).toBe(429);
    // …but the operator, from its own address, gets in: API and console.
    expect((await api('198.51.100.20', ADMIN_TOKEN)).status).toBe(200);
    expect((await loginAs('198.51.100.21', ADMIN_TOKEN)).status).toBe(303);
    // Past the global count a failure is slowed, still answered 401, and alerts once per window.
    const started = Date.now();
    expect((await api('198.51.100.22', 'one-more-wrong')).status).toBe(401);
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    const alerts = logger.lines.filter((l) => l.includes('"operator_auth_global_alert"'));
    expect(alerts).toHaveLength(1);
    expect(JSON.parse(alerts[0])).toMatchObject({ level: 'error', failures: 101, windowSeconds: 60 });
    const body = (await metrics.scrape()).body;
    expect(body).toMatch(/kcc_operator_auth_failures_total\{via="api",over_global="true"\} 21/);
    expect(body).toMatch(/kcc_operator_auth_failures_total\{via="api",over_global="false"\} 100/);
    expect(logger.lines.join('\n')).not.toContain('wrong-');
  });

  it('console sign-in: failures are throttled per account name too, but a clean address is always checked', async () => {
    const { t, clock } = await setup({ failuresPerAccount: 5 });
    const secret = await addAccount(t, 'ana');
    const login = (ip: string, name: string, token: string) =>
      t.app.request(`${PUBLIC_URL}/console/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-test-ip': ip },
        body: new URLSearchParams({ operator: name, token }).toString(),
      });
    for (let i = 0; i < 5; i++) expect((await login(`192.0.2.${i}`, 'ana', `guess-${i}`)).status).toBe(401);
    // The account name is over its limit: an address that already failed against it is refused unchecked…
    expect((await login('192.0.2.0', 'Ana', secret)).status).toBe(429);
    // …while a clean address is still checked: a wrong secret is 401, the right one signs in.
    expect((await login('198.51.100.30', 'ana', 'another-guess')).status).toBe(401);
    expect((await login('198.51.100.31', 'ana', secret)).status).toBe(303);
    // Other account names are not affected by ana's count.
    expect((await login('192.0.2.1', 'bob', 'x')).status).toBe(401);
    clock.advance(61);
    expect((await login('192.0.2.0', 'ana', secret)).status).toBe(303);
  });

  it('refuses to start with an ADMIN_TOKEN shorter than 32 characters', async () => {
    expect(() => resolveConfig({ publicUrl: PUBLIC_URL, adminToken: 'short-token-0123456789' })).toThrow(/ADMIN_TOKEN/);
    await expect(makeTestIssuer({ config: { adminToken: 'x'.repeat(31) } })).rejects.toThrow(/ADMIN_TOKEN.*32/);
    expect(resolveConfig({ publicUrl: PUBLIC_URL, adminToken: 'x'.repeat(32) }).adminToken).toBe('x'.repeat(32));
  });
});

async function addAccount(t: Awaited<ReturnType<typeof makeTestIssuer>>, name: string): Promise<string> {
  return (await addOperatorAccount(t.deps, { name, role: 'reviewer', actor: 'test' })).secret;
}
