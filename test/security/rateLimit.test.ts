import { describe, expect, it } from 'vitest';
import { PUBLIC_URL, makeTestIssuer, testClock } from '../helpers/issuer';
import { PRE_AUTH, getSiopRequest, openApplication, tokenRequest, walletFor } from '../helpers/steps';

/** The client address comes from a test header here; on Node it is the socket peer (or X-Forwarded-For with TRUST_PROXY). */
const byHeader = (c: { req: { header: (n: string) => string | undefined } }) => c.req.header('x-test-ip');

describe('rate limits', () => {
  it('per IP on the initiation endpoint: 429 with Retry-After, then open again in the next window', async () => {
    const clock = testClock(Date.UTC(2026, 10, 23, 12, 0, 0));
    const t = await makeTestIssuer({
      clock,
      clientAddress: byHeader,
      config: { publicUrl: PUBLIC_URL, rateLimits: { enabled: true, perIp: 5, perClient: 100, windowSeconds: 60 } },
    });
    const get = (ip: string) => t.fetch(`${PUBLIC_URL}/idv/siopv2/initiate`, { headers: { 'x-test-ip': ip } });
    for (let i = 0; i < 5; i++) expect((await get('203.0.113.7')).status).toBe(200);
    const limited = await get('203.0.113.7');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(((await limited.json()) as any).error).toBe('too_many_requests');
    // Another address is unaffected.
    expect((await get('198.51.100.9')).status).toBe(200);
    clock.advance(61);
    expect((await get('203.0.113.7')).status).toBe(200);
  });

  it('per client (applicant DID) on the token endpoint, whatever the address', async () => {
    const t = await makeTestIssuer({ clientAddress: byHeader, config: { publicUrl: PUBLIC_URL, rateLimits: { enabled: true, perIp: 1000, perClient: 3 } } });
    const { holder } = await openApplication(t);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await t.fetch(`${PUBLIC_URL}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-test-ip': `192.0.2.${i}` },
        body: JSON.stringify({ grant_type: PRE_AUTH, 'pre-authorized_code': `guess-${i}`, client_id: holder.did }),
      });
      statuses.push(r.status);
    }
    expect(statuses).toEqual([400, 400, 400, 429, 429]);
  });

  it('covers the SIOP response, credential and IDV form endpoints too', async () => {
    const t = await makeTestIssuer({ clientAddress: byHeader, config: { publicUrl: PUBLIC_URL, rateLimits: { enabled: true, perIp: 2, perClient: 100 } } });
    for (const [method, path] of [
      ['POST', '/idv/siopv2/response'],
      ['POST', '/oid4vci/credential'],
      ['POST', '/oid4vci/deferred-credential'],
      ['GET', '/idv/form/x'],
      ['POST', '/oauth2/token'],
    ]) {
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await t.fetch(`${PUBLIC_URL}${path}`, {
          method,
          headers: { 'x-test-ip': `10.9.8.${path.length}`, 'content-type': 'application/json' },
          body: method === 'POST' ? '{}' : undefined,
        });
        codes.push(r.status);
      }
      expect({ path, last: codes[2] }).toEqual({ path, last: 429 });
    }
  });

  it('is off when disabled, and never applies without a known address', async () => {
    const t = await makeTestIssuer({ config: { publicUrl: PUBLIC_URL, rateLimits: { enabled: true, perIp: 1, perClient: 1000 } } });
    const { client } = await walletFor(t);
    for (let i = 0; i < 5; i++) await getSiopRequest(t, client);
    const r = await tokenRequest(t, { grant_type: 'x' });
    expect(r.status).toBe(400);
  });
});
