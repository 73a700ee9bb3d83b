import { describe, expect, it } from 'vitest';
import { PUBLIC_URL, makeTestIssuer, testClock } from '../helpers/issuer';

/** The Nonce Endpoint is open and writes a row per call: a flood from one address must stop at the per-IP limit. */
const byHeader = (c: { req: { header: (n: string) => string | undefined } }) => c.req.header('x-test-ip');

describe('nonce endpoint flood', () => {
  it('is 429 with Retry-After past RATE_LIMIT_PER_IP, and the refused calls write nothing', async () => {
    const clock = testClock(Date.UTC(2026, 10, 23, 12, 0, 0));
    const t = await makeTestIssuer({ clock, clientAddress: byHeader, config: { rateLimits: { enabled: true, perIp: 20, perClient: 100, windowSeconds: 60 } } });
    const post = (ip: string) => t.app.request(`${PUBLIC_URL}/oid4vci/nonce`, { method: 'POST', headers: { 'x-test-ip': ip } });
    const statuses: number[] = [];
    for (let i = 0; i < 400; i++) statuses.push((await post('203.0.113.9')).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
    const limited = await post('203.0.113.9');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const rows = (t.sqlite.prepare('SELECT count(*) AS n FROM nonces').get() as { n: number }).n;
    expect(rows).toBeLessThanOrEqual(20);
    expect((await post('198.51.100.1')).status).toBe(200);
  });
});
