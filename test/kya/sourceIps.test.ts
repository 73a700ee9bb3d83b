import { describe, expect, it } from 'vitest';
import { MAX_SOURCE_IPS, sourceIpProblem, validateSourceIps } from '../../src/protocol/kya/sourceIps';

describe('aid.source_ips entries (seed 002: public IPv4/IPv6 addresses, CIDR ranges, start-end pairs, DNS names)', () => {
  it.each([
    '8.8.8.8',
    '2606:4700:4700::1111',
    '2a00:1450:4001:81c::200e',
    '34.120.0.0/16',
    '2a01:4f8::/32',
    '8.8.8.0-8.8.8.255',
    '8.8.8.0 - 8.8.8.255',
    '2606:4700::-2606:4700::ffff',
    'agents.bank-platform.com',
    'AGENTS.Example.COM.',
    'xn--bcher-kva.ch',
  ])('accepts %s', (entry) => {
    expect(sourceIpProblem(entry)).toBeUndefined();
  });

  it.each([
    ['10.0.0.1', /not a public address/],
    ['127.0.0.1', /not a public address/],
    ['192.168.1.0/24', /not entirely public/],
    ['203.0.113.7', /not a public address/], // TEST-NET-3 (RFC 5737)
    ['::1', /not a public address/],
    ['fe80::1', /not a public address/],
    ['2001:db8::/32', /not entirely public/],
    ['0.0.0.0/0', /not entirely public/],
    ['::/0', /not entirely public/],
    ['8.0.0.0-12.0.0.0', /not entirely public/], // spans 10/8
    ['256.1.1.1', /not a valid IPv4 address/],
    ['08.8.8.8', /not a valid IPv4 address/],
    ['1.2.3', /not a valid IPv4 address/],
    ['8.8.8.8/33', /prefix length must be 0 to 32/],
    ['8.8.8.7/24', /host bits are set/],
    ['8.8.8.8/24/1', /one "\/"/],
    ['8.8.8.9-8.8.8.1', /start is after end/],
    ['8.8.8.8-2606:4700::1', /not both IPv4 or both IPv6/],
    ['8.8.8.8-8.8.8.9-8.8.8.10', /exactly one "-"/],
    ['2606:4700::zz', /not a valid IPv6 address/],
    ['fe80::1%eth0', /not a valid IPv6 address/],
    ['localhost', /at least two labels/],
    ['agent.internal', /do not resolve on the public internet/],
    ['-bad.example.com', /is not a DNS label/],
    ['a..b.com', /no empty labels/],
    ['bücher.ch', /A-labels/],
    ['http://agents.example.com', /a URL/],
    ['', /empty entry/],
  ])('refuses %s', (entry, reason) => {
    expect(sourceIpProblem(entry)).toMatch(reason);
  });

  it('names every bad entry at once, accepts a comma-separated string, and caps the count', () => {
    const bad = validateSourceIps(['8.8.8.8', '10.0.0.0/8', 'not an address', 'x.test']);
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.problems.map((p) => p.entry)).toEqual(['10.0.0.0/8', 'not an address', 'x.test']);
    expect(validateSourceIps('8.8.8.8, 34.120.0.0/16 ,agents.bank-platform.com')).toEqual({
      ok: true,
      entries: ['8.8.8.8', '34.120.0.0/16', 'agents.bank-platform.com'],
    });
    expect(validateSourceIps([42]).ok).toBe(false);
    expect(validateSourceIps({}).ok).toBe(false);
    const many = validateSourceIps(Array.from({ length: MAX_SOURCE_IPS + 1 }, (_, i) => `8.8.${i}.1`));
    expect(many.ok).toBe(false);
    if (!many.ok) expect(many.problems[0].reason).toMatch(/at most 32/);
  });
});
