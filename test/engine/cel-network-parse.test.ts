/**
 * `ip()` and `cidr()` parses are remembered across requests (the values are immutable): a text
 * parses to the same answer every time, an invalid one stays invalid, and a full cache or a text
 * too long to keep changes nothing but speed.
 */
import { describe, expect, it } from 'vitest';
import { parseCIDR, parseIP } from '../../src/engine/cel/network.js';

describe('remembered network parses', () => {
  it.each([
    { name: 'an IPv4 address', text: '169.254.170.2', ip: '169.254.170.2', cidr: undefined },
    { name: 'an IPv6 address', text: '2001:db8::1', ip: '2001:db8::1', cidr: undefined },
    { name: 'an IPv4 CIDR', text: '10.0.0.0/8', ip: undefined, cidr: '10.0.0.0/8' },
    { name: 'an IPv6 CIDR', text: 'fd00::/8', ip: undefined, cidr: 'fd00::/8' },
    { name: 'a leading zero', text: '010.0.0.1', ip: undefined, cidr: undefined },
    { name: 'an IPv4-mapped address', text: '::ffff:1.2.3.4', ip: undefined, cidr: undefined },
    { name: 'a text longer than any address', text: `${'1'.repeat(80)}/8`, ip: undefined, cidr: undefined },
  ])('parses $name the same way every time', ({ text, ip, cidr }) => {
    for (let i = 0; i < 3; i++) {
      expect(parseIP(text)?.toString()).toBe(ip);
      expect(parseCIDR(text)?.toString()).toBe(cidr);
    }
  });

  it('gives the same answers after the cache filled and was emptied', () => {
    const first = parseCIDR('192.168.0.0/16');
    for (let i = 0; i < 1200; i++) parseCIDR(`10.${i % 256}.${Math.floor(i / 256)}.0/24`);
    const again = parseCIDR('192.168.0.0/16');
    expect(again?.toString()).toBe(first?.toString());
    expect(again?.containsIP(parseIP('192.168.3.4')!)).toBe(true);
    expect(parseCIDR('10.7.4.0/24')?.prefixLength).toBe(24);
  });
});
