import { describe, expect, it } from 'vitest';
import { isPublicAddress, parseIpLiteral, formatIp } from '../../src/did/addressPolicy.js';

describe('isPublicAddress', () => {
  const refused = [
    '127.0.0.1',
    '127.255.255.254',
    '0.0.0.0',
    '0.1.2.3',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '169.254.0.1',
    '100.64.0.1',
    '100.127.255.255',
    '224.0.0.1',
    '239.255.255.250',
    '255.255.255.255',
    '240.0.0.1',
    '198.18.0.1',
    '198.19.255.255',
    '192.0.2.1',
    '198.51.100.7',
    '203.0.113.9',
    '192.0.0.8',
    '192.88.99.1',
    // numeric IPv4 forms of loopback
    '2130706433',
    '0x7f000001',
    '0177.0.0.1',
    '0x7f.1',
    '127.1',
    '017700000001',
    // IPv6
    '::',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'febf::1',
    'fec0::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '[::ffff:127.0.0.1]',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254',
    '::127.0.0.1',
    '::7f00:1',
    '::ffff:0:127.0.0.1',
    '64:ff9b::10.0.0.1',
    '64:ff9b::7f00:1',
    '64:ff9b:1::1',
    '2002:7f00:1::1',
    '2002:c0a8:101::1',
    '2001:db8::1',
    '2001::1',
    '100::1',
    '3fff::1',
    'fe80::1%eth0',
    // not addresses
    'localhost',
    'example.com',
    '',
    '1.2.3.4.5',
    '256.1.1.1',
    ':::1',
    '1::2::3',
    'g::1',
  ];
  const allowed = [
    '1.1.1.1',
    '8.8.8.8',
    '93.184.216.34',
    '172.32.0.1',
    '172.15.255.255',
    '100.128.0.1',
    '100.63.255.255',
    '169.253.1.1',
    '192.169.0.1',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
    '[2a00:1450::1]',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
    '2002:808:808::1',
    '0x08080808',
    '134744072',
  ];
  it.each(refused)('refuses %s', (ip) => expect(isPublicAddress(ip)).toBe(false));
  it.each(allowed)('allows %s', (ip) => expect(isPublicAddress(ip)).toBe(true));
});

describe('parseIpLiteral', () => {
  it('normalises numeric IPv4 forms', () => {
    for (const h of ['2130706433', '0x7f000001', '0177.0.0.1', '127.0.1', '127.1', '127.0.0.1.']) {
      const lit = parseIpLiteral(h);
      expect(lit && formatIp(lit), h).toBe('127.0.0.1');
    }
  });
  it('parses bracketed and mapped IPv6', () => {
    expect(formatIp(parseIpLiteral('[::1]')!)).toBe('0:0:0:0:0:0:0:1');
    expect(formatIp(parseIpLiteral('::ffff:127.0.0.1')!)).toBe('0:0:0:0:0:ffff:7f00:1');
    expect(formatIp(parseIpLiteral('1:2:3:4:5:6:7:8')!)).toBe('1:2:3:4:5:6:7:8');
    expect(formatIp(parseIpLiteral('1:2:3:4:5:6:1.2.3.4')!)).toBe('1:2:3:4:5:6:102:304');
  });
  it('returns null for names and malformed literals', () => {
    for (const h of ['example.com', 'localhost', '1.2.3.256', '1:2:3:4:5:6:7:8:9', '[::1', '::1::', 'a.b.c.d']) {
      expect(parseIpLiteral(h), h).toBeNull();
    }
  });
});
