import { describe, expect, it } from 'vitest';
import { compileCel } from '../../src/engine/cel/index.js';
import { fixtureActivation, objectActivation, run, valueOf } from './cel-helpers.js';

const netpol = () => fixtureActivation('validate-create-networkpolicy');
const ipBlock = 'object.spec.ingress[0].from[1].ipBlock';

describe('Kubernetes network functions over a real NetworkPolicy', () => {
  it.each([
    { name: 'isCIDR on an ipBlock', expression: `isCIDR(${ipBlock}.cidr)`, expected: true },
    { name: 'cidr().containsIP(string)', expression: `cidr(${ipBlock}.cidr).containsIP('10.200.0.1')`, expected: true },
    { name: 'cidr().containsIP(ip())', expression: `cidr(${ipBlock}.cidr).containsIP(ip('192.168.0.1'))`, expected: false },
    { name: 'cidr().containsCIDR(except)', expression: `${ipBlock}.except.all(e, cidr(${ipBlock}.cidr).containsCIDR(cidr(e)))`, expected: true },
    { name: 'containsCIDR(string) of a wider block', expression: `cidr(${ipBlock}.cidr).containsCIDR('10.0.0.0/7')`, expected: false },
    { name: 'prefixLength()', expression: `cidr(${ipBlock}.cidr).prefixLength()`, expected: 8n },
    { name: 'ip() of a cidr and its family', expression: `cidr(${ipBlock}.cidr).ip().family()`, expected: 4n },
    { name: 'string(cidr().ip())', expression: `string(cidr(${ipBlock}.cidr).ip())`, expected: '10.0.0.0' },
    { name: 'no ipBlock is wider than /8', expression: 'object.spec.ingress.all(r, !has(r.from) || r.from.all(p, !has(p.ipBlock) || cidr(p.ipBlock.cidr).prefixLength() >= 8))', expected: true },
  ])('$name', ({ expression, expected }) => {
    expect(valueOf(expression, netpol())).toEqual(expected);
  });
});

describe('network functions follow Kubernetes (Go netip) parsing', () => {
  it.each([
    { name: 'IPv4', expression: "isIP('10.1.2.3')", expected: true },
    { name: 'IPv6', expression: "isIP('2001:db8::1')", expected: true },
    { name: 'IPv4 with a leading zero is not an IP', expression: "isIP('10.01.2.3')", expected: false },
    { name: 'short IPv4 is not an IP', expression: "isIP('10.1')", expected: false },
    { name: 'IPv6 zone is not allowed', expression: "isIP('fe80::1%eth0')", expected: false },
    { name: 'IPv4-mapped IPv6 is not allowed', expression: "isIP('::ffff:10.0.0.1')", expected: false },
    { name: 'IPv6 ending in IPv4 that is not mapped is an IPv6 address', expression: "string(ip('::1.2.3.4')) + ' ' + string(cidr('64:ff9b::10.0.0.0/120'))", expected: '::102:304 64:ff9b::a00:0/120' },
    { name: 'an embedded IPv4 with a leading zero or in hex is not an IP', expression: "isIP('1:2:3:4:5:6:010.0.0.1') || isIP('1:2:3:4:5:6:0x0a.0.0.1')", expected: false },
    { name: 'an IPv6 group of more than 4 hex digits is not an IP', expression: "isIP('2001:00db8::1')", expected: false },
    { name: 'isCIDR rejects IPv4-mapped, a sign and a zone', expression: "isCIDR('::ffff:10.0.0.0/104') || isCIDR('10.0.0.0/+8') || isCIDR('fe80::%eth0/64')", expected: false },
    { name: 'family of IPv6', expression: "ip('2001:db8::1').family()", expected: 6n },
    { name: 'canonical IPv6', expression: "ip.isCanonical('2001:db8::1') && !ip.isCanonical('2001:DB8:0::1')", expected: true },
    { name: 'string of IPv6 is canonical', expression: "string(ip('2001:DB8:0:0::1'))", expected: '2001:db8::1' },
    { name: 'ip equality', expression: "ip('2001:db8::1') == ip('2001:0db8::0001') && ip('10.0.0.1') != ip('10.0.0.2')", expected: true },
    { name: 'cidr equality', expression: "cidr('10.0.0.0/8') == cidr('10.0.0.0/8') && cidr('10.0.0.0/8') != cidr('10.0.0.0/9')", expected: true },
    { name: 'isCIDR rejects a prefix too long', expression: "isCIDR('10.0.0.0/33')", expected: false },
    { name: 'isCIDR rejects a prefix with a leading zero', expression: "isCIDR('10.0.0.0/08')", expected: false },
    { name: 'isCIDR rejects a bare address', expression: "isCIDR('10.0.0.0')", expected: false },
    { name: 'unmasked cidr keeps its address, masked() clears host bits', expression: "string(cidr('10.1.2.3/8')) + ' ' + string(cidr('10.1.2.3/8').masked())", expected: '10.1.2.3/8 10.0.0.0/8' },
    { name: '0.0.0.0/0 contains every IPv4 address', expression: "cidr('0.0.0.0/0').containsIP('203.0.113.9')", expected: true },
    { name: 'families never contain each other', expression: "cidr('::/0').containsIP('10.0.0.1') || cidr('0.0.0.0/0').containsCIDR('::/0')", expected: false },
    { name: 'IPv6 containment', expression: "cidr('2001:db8::/32').containsCIDR('2001:db8:1::/48')", expected: true },
    { name: 'address classes', expression: "ip('127.0.0.1').isLoopback() && ip('::1').isLoopback() && ip('169.254.1.1').isLinkLocalUnicast() && ip('fe80::1').isLinkLocalUnicast() && ip('224.0.0.1').isLinkLocalMulticast() && ip('ff02::1').isLinkLocalMulticast() && ip('0.0.0.0').isUnspecified() && ip('::').isUnspecified()", expected: true },
    { name: 'global unicast', expression: "ip('8.8.8.8').isGlobalUnicast() && ip('2001:db8::1').isGlobalUnicast() && !ip('255.255.255.255').isGlobalUnicast() && !ip('10.0.0.1').isLoopback()", expected: true },
  ])('$name', ({ expression, expected }) => {
    expect(valueOf(expression, objectActivation({}))).toEqual(expected);
  });

  it.each([
    { name: 'ip()', expression: "ip('10.0.0.256')", column: 4, message: "ip(): '10.0.0.256' is not a valid IP address" },
    { name: 'cidr()', expression: "object.x || cidr('10.0.0.0/40').prefixLength() > 0", column: 18, message: "cidr(): '10.0.0.0/40' is not a valid CIDR" },
    { name: 'containsIP()', expression: "cidr('10.0.0.0/8').containsIP('10.0.0')", column: 31, message: "containsIP(): '10.0.0' is not a valid IP address" },
    { name: 'containsCIDR()', expression: "cidr('10.0.0.0/8').containsCIDR('10.0.0.0')", column: 33, message: "containsCIDR(): '10.0.0.0' is not a valid CIDR" },
  ])('an invalid literal in $name is a compile error', ({ expression, column, message }) => {
    const compiled = compileCel(expression);
    expect(compiled.ok).toBe(false);
    if (compiled.ok) return;
    expect(compiled.error).toMatchObject({ line: 1, column });
    expect(compiled.error.message).toContain(message);
  });

  it.each([
    { name: 'ip()', expression: 'ip(object.value).family()', error: 'not a valid IP address (IPv4, or IPv6 without zone or IPv4 mapping) (line 1, column 1)' },
    { name: 'cidr()', expression: 'cidr(object.value).prefixLength()', error: 'not a valid CIDR (address/prefix-length) (line 1, column 1)' },
    { name: 'containsIP()', expression: "cidr('10.0.0.0/8').containsIP(object.value)", error: 'not a valid IP address (IPv4, or IPv6 without zone or IPv4 mapping) (line 1, column 1)' },
    { name: 'ip.isCanonical()', expression: 'ip.isCanonical(object.value)', error: 'not a valid IP address (IPv4, or IPv6 without zone or IPv4 mapping) (line 1, column 1)' },
  ])('an invalid computed argument of $name is an evaluation error without the value', ({ expression, error }) => {
    expect(run(expression, objectActivation({ value: 'SECRET-not-an-ip' }))).toEqual({ ok: false, error });
  });

  it('net.IP has methods but no fields', () => {
    const compiled = compileCel("ip('10.0.0.1').family");
    expect(compiled.ok).toBe(false);
  });
});
