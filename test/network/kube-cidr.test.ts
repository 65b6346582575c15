/**
 * CIDRs and addresses read as Kubernetes reads them (src/engine/network/kube-cidr.ts): NetworkPolicy
 * `ipBlock` as `netutils.ParseCIDRSloppy` + `ValidateIPBlock` (Kubernetes 1.26), guardrail
 * `networks` as `netip.ParsePrefix` (the CEL `isCIDR()` of ClusterNetworkPolicy). Each row names
 * the spelling; where ipaddr.js, inet_aton or Go's netip read it otherwise, the name says so. The
 * `[cluster]` suite sends every NetworkPolicy row to a real v1.26 kube-apiserver, which must accept
 * and refuse exactly what `readIpBlock` does, at the same field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipBlockSet, ipContains, parseIp } from '../../src/engine/network/ip-set.js';
import { formatAddress, formatPrefix, parseKubeAddress, parseKubeCidr, readIpBlock, readPrefix, type Reading } from '../../src/engine/network/kube-cidr.js';
import { cidrProblem } from '../../src/policy/schema.js';
import { CLUSTER_START_TIMEOUT_MS, startCluster, type TestCluster } from '../helpers/kube-cluster.js';
import { describeCluster } from '../helpers/describe-cluster.js';

/** The network read, as text, or `error: <reason>`. */
function shown<T>(read: Reading<T>, format: (value: T) => string): string {
  return read.ok ? format(read.value) : `error: ${read.reason}`;
}

const CIDR_ROWS = [
  { name: 'plain IPv4', input: '10.0.0.0/8', expected: '10.0.0.0/8' },
  { name: 'leading zero is decimal, not octal (ipaddr.js and inet_aton: 8.0.0.0/8)', input: '010.0.0.0/8', expected: '10.0.0.0/8' },
  { name: 'leading zeros in every field', input: '010.001.002.003/32', expected: '10.1.2.3/32' },
  { name: 'many leading zeros', input: '0000000010.0.0.0/8', expected: '10.0.0.0/8' },
  { name: 'a leading zero that is not octal', input: '09.0.0.0/8', expected: '9.0.0.0/8' },
  { name: 'host bits set mean the network (Kubernetes 1.26 accepts them)', input: '10.1.2.3/8', expected: '10.0.0.0/8' },
  { name: 'prefix length with a leading zero (netip refuses it)', input: '10.0.0.0/08', expected: '10.0.0.0/8' },
  { name: 'the whole IPv4 space', input: '0.0.0.0/0', expected: '0.0.0.0/0' },
  { name: 'IPv4-mapped IPv6 is the IPv4 prefix it maps', input: '::ffff:10.0.0.0/104', expected: '10.0.0.0/8' },
  { name: 'IPv4-mapped, uppercase', input: '::FFFF:10.0.0.0/104', expected: '10.0.0.0/8' },
  { name: 'IPv4-mapped, written in hex', input: '::ffff:a00:0/104', expected: '10.0.0.0/8' },
  { name: 'IPv4-mapped, written in full', input: '0:0:0:0:0:ffff:10.0.0.0/104', expected: '10.0.0.0/8' },
  { name: 'IPv4-mapped with a leading zero, decimal too', input: '::ffff:010.0.0.0/104', expected: '10.0.0.0/8' },
  { name: 'IPv4-mapped /96 is every IPv4 address', input: '::ffff:0.0.0.0/96', expected: '0.0.0.0/0' },
  { name: 'IPv4-mapped with host bits', input: '::ffff:10.1.2.3/104', expected: '10.0.0.0/8' },
  { name: 'IPv4-mapped below /96 loses the ffff and stays IPv6 (as in Go)', input: '::ffff:10.0.0.0/80', expected: '::/80' },
  { name: 'IPv4-compatible ::a.b.c.d is IPv6 (ipaddr.js: IPv4-mapped)', input: '::10.0.0.0/104', expected: '::a00:0/104' },
  { name: 'IPv6 with an embedded IPv4 part', input: '64:ff9b::10.0.0.0/120', expected: '64:ff9b::a00:0/120' },
  { name: 'uppercase IPv6', input: '2001:DB8::/32', expected: '2001:db8::/32' },
  { name: 'IPv6 group of more than 4 digits that fits 16 bits (Go 1.16 xtoi)', input: '2001:00000db8::/32', expected: '2001:db8::/32' },
  { name: 'IPv6 host bits', input: '2001:db8::1/32', expected: '2001:db8::/32' },
  { name: 'the whole IPv6 space', input: '::/0', expected: '::/0' },
  { name: 'rejects a prefix longer than 32', input: '1.2.3.4/33', expected: 'error: prefix length 33 is out of range 0-32' },
  { name: 'rejects a prefix longer than 128', input: '::/129', expected: 'error: prefix length 129 is out of range 0-128' },
  { name: 'rejects fewer than 4 fields (inet_aton: 0.0.0.10/8)', input: '10/8', expected: 'error: IPv4 address "10" must be 4 decimal fields (a.b.c.d)' },
  { name: 'rejects 3 fields', input: '10.1.2/24', expected: 'error: IPv4 address "10.1.2" must be 4 decimal fields (a.b.c.d)' },
  { name: 'rejects 5 fields', input: '10.0.0.0.0/8', expected: 'error: IPv4 address "10.0.0.0.0" must be 4 decimal fields (a.b.c.d)' },
  { name: 'rejects hex (inet_aton and ipaddr.js: 10.0.0.0/8)', input: '0x0a.0.0.0/8', expected: 'error: IPv4 field "0x0a" is not decimal' },
  { name: 'rejects a field over 255', input: '256.0.0.0/8', expected: 'error: IPv4 field "256" is greater than 255' },
  { name: 'rejects a negative field', input: '10.0.0.-1/8', expected: 'error: IPv4 address "10.0.0.-1" must be 4 decimal fields (a.b.c.d)' },
  { name: 'rejects an address without prefix length', input: '10.0.0.0', expected: 'error: no "/" and prefix length' },
  { name: 'rejects an empty string', input: '', expected: 'error: no "/" and prefix length' },
  { name: 'rejects an empty prefix length', input: '10.0.0.0/', expected: 'error: prefix length "" is not a decimal number' },
  { name: 'rejects a + in the prefix length (netip before Go 1.22 took it)', input: '10.0.0.0/+8', expected: 'error: prefix length "+8" is not a decimal number' },
  { name: 'rejects a space in the prefix length', input: '10.0.0.0/ 8', expected: 'error: prefix length " 8" is not a decimal number' },
  { name: 'rejects a leading space', input: ' 10.0.0.0/8', expected: 'error: IPv4 address " 10.0.0.0" must be 4 decimal fields (a.b.c.d)' },
  { name: 'rejects a trailing space', input: '10.0.0.0/8 ', expected: 'error: prefix length "8 " is not a decimal number' },
  { name: 'rejects a second slash', input: '10.0.0.0/8/8', expected: 'error: prefix length "8/8" is not a decimal number' },
  { name: 'rejects an IPv6 zone (ipaddr.js keeps it)', input: 'fe80::%eth0/64', expected: 'error: IPv6 zone "%eth0" is not allowed' },
  { name: 'rejects an embedded IPv4 that does not end the address', input: '1.2.3.4::/64', expected: 'error: an embedded IPv4 address must be the last part of an IPv6 address' },
  { name: 'rejects an embedded IPv4 in hex', input: '::ffff:0x0a.0.0.0/104', expected: 'error: embedded IPv4 field "0x0a" is not decimal' },
  { name: 'rejects an embedded IPv4 with too many groups before it', input: '1:2:3:4:5:6:7:1.2.3.4/128', expected: 'error: "1:2:3:4:5:6:7:1.2.3.4" is not a valid IPv6 address' },
  { name: 'rejects an IPv6 group over ffff', input: '2001:10000::/32', expected: 'error: IPv6 group "10000" is greater than ffff' },
  { name: 'rejects two ::', input: '1::2::3/64', expected: 'error: "1::2::3" is not a valid IPv6 address' },
  { name: 'rejects :: standing for no group', input: '1:2:3:4:5:6:7::8/128', expected: 'error: "1:2:3:4:5:6:7::8" is not a valid IPv6 address' },
  { name: 'rejects a digit that is not ASCII', input: '\uff11.2.3.4/8', expected: 'error: IPv4 address "\uff11.2.3.4" must be 4 decimal fields (a.b.c.d)' },
];

describe('NetworkPolicy ipBlock CIDRs (ParseCIDRSloppy)', () => {
  it.each(CIDR_ROWS)('$name', ({ input, expected }) => {
    expect(shown(parseKubeCidr(input), formatPrefix)).toBe(expected);
  });
});

describe('guardrail networks (netip.ParsePrefix, strict)', () => {
  it.each([
    { name: 'plain IPv4', input: '10.0.0.0/8', expected: '10.0.0.0/8' },
    { name: 'refuses a leading zero, naming both readings', input: '010.0.0.0/8', expected: 'error: IPv4 field "010" has a leading zero (NetworkPolicy reads it as decimal 10, inet_aton as octal 8)' },
    { name: 'refuses a leading zero that is not octal', input: '10.0.0.09/32', expected: 'error: IPv4 field "09" has a leading zero (NetworkPolicy reads it as decimal 9)' },
    { name: 'refuses a prefix length with a leading zero', input: '10.0.0.0/08', expected: 'error: prefix length "08" has a leading zero' },
    { name: 'refuses an IPv6 group of more than 4 digits', input: '2001:00db8::/32', expected: 'error: IPv6 group "00db8" has more than 4 hex digits' },
    { name: 'refuses an embedded IPv4 with a leading zero', input: '64:ff9b::010.0.0.0/120', expected: 'error: embedded IPv4 field "010" has a leading zero (NetworkPolicy reads it as decimal 10, inet_aton as octal 8)' },
    { name: 'reads an IPv6 ending in IPv4 that is not mapped', input: '::1.2.3.4/128', expected: '::102:304/128' },
  ])('$name', ({ input, expected }) => {
    expect(shown(readPrefix(input, 'strict'), formatPrefix)).toBe(expected);
  });

  it.each([
    { name: 'a canonical CIDR', input: '10.0.0.0/8', expected: undefined },
    { name: 'a leading zero: what to write', input: '010.0.0.0/8', expected: '"010.0.0.0/8" is not a valid IPv4 or IPv6 CIDR: IPv4 field "010" has a leading zero (NetworkPolicy reads it as decimal 10, inet_aton as octal 8); write 10.0.0.0/8 for what a NetworkPolicy reads' },
    { name: 'a long IPv6 group: what to write', input: '2001:00db8::/32', expected: '"2001:00db8::/32" is not a valid IPv4 or IPv6 CIDR: IPv6 group "00db8" has more than 4 hex digits; write 2001:db8::/32 for what a NetworkPolicy reads' },
    { name: 'IPv4-mapped: write the IPv4 prefix', input: '::ffff:10.0.0.0/104', expected: '"::ffff:10.0.0.0/104" is an IPv4-mapped IPv6 address, which guardrails do not accept; write the IPv4 prefix 10.0.0.0/8' },
    { name: 'IPv4-mapped below /96', input: '::ffff:0:0/64', expected: '"::ffff:0:0/64" is an IPv4-mapped IPv6 address, which guardrails do not accept; write an IPv4 prefix' },
    { name: 'hex, which no Kubernetes reading takes', input: '0x0a.0.0.0/8', expected: '"0x0a.0.0.0/8" is not a valid IPv4 or IPv6 CIDR' },
    { name: 'an IPv6 zone', input: 'fe80::%eth0/64', expected: '"fe80::%eth0/64" is not a valid IPv4 or IPv6 CIDR' },
    { name: 'host bits', input: '10.1.2.3/8', expected: '"10.1.2.3/8" has host bits set; did you mean 10.0.0.0/8?' },
  ])('cidrProblem: $name', ({ input, expected }) => {
    expect(cidrProblem(input)).toBe(expected);
  });
});

describe('explain addresses (ParseIPSloppy, IPv4-mapped taken as IPv4)', () => {
  it.each([
    { name: 'IPv4', input: '10.0.0.1', expected: '10.0.0.1' },
    { name: 'leading zeros are decimal', input: '010.000.000.001', expected: '10.0.0.1' },
    { name: 'IPv4-mapped is IPv4', input: '::ffff:10.0.0.1', expected: '10.0.0.1' },
    { name: 'IPv4-compatible stays IPv6', input: '::a00:1', expected: '::a00:1' },
    { name: 'uppercase IPv6', input: '2001:DB8::1', expected: '2001:db8::1' },
    { name: 'rejects a zone', input: 'fe80::1%eth0', expected: 'error: IPv6 zone "%eth0" is not allowed' },
    { name: 'rejects a field over 255', input: '10.0.0.256', expected: 'error: IPv4 field "256" is greater than 255' },
    { name: 'rejects two fields (inet_aton: 10.0.0.1)', input: '10.1', expected: 'error: IPv4 address "10.1" must be 4 decimal fields (a.b.c.d)' },
  ])('$name', ({ input, expected }) => {
    expect(shown(parseKubeAddress(input), (address) => formatAddress(address.family, address.value))).toBe(expected);
  });
});

type IpBlockRow = {
  name: string;
  input: { cidr: string; except: string[] };
  expected: { in: string[]; out: string[] } | { field: string; reason: string };
};

const IPBLOCK_ROWS: IpBlockRow[] = [
  { name: 'a strict subset', input: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] }, expected: { in: ['10.0.0.1', '10.2.0.0'], out: ['10.1.2.3', '11.0.0.0'] } },
  { name: 'leading zeros in cidr and except, decimal', input: { cidr: '010.0.0.0/8', except: ['010.001.0.0/16'] }, expected: { in: ['10.0.0.1'], out: ['8.0.0.1', '10.1.0.1'] } },
  { name: 'except with host bits is its network', input: { cidr: '10.0.0.0/8', except: ['10.1.2.3/16'] }, expected: { in: ['10.0.0.1'], out: ['10.1.0.0'] } },
  { name: 'IPv4-mapped cidr and except are IPv4', input: { cidr: '::ffff:10.0.0.0/104', except: ['::ffff:10.1.0.0/112'] }, expected: { in: ['10.0.0.1', '::ffff:10.2.0.1'], out: ['10.1.0.1', '::a00:1'] } },
  {
    name: 'an IPv4-mapped except under an IPv4 cidr (accepted: /8 < /101) is not subtracted',
    input: { cidr: '8.0.0.0/8', except: ['::ffff:8.0.0.0/101'] },
    expected: { in: ['8.1.2.3'], out: [] },
  },
  { name: 'refuses an empty cidr', input: { cidr: '', except: [] }, expected: { field: 'cidr', reason: 'is required' } },
  { name: 'refuses a bad cidr', input: { cidr: '10.0.0.0/33', except: [] }, expected: { field: 'cidr', reason: '"10.0.0.0/33" is not a valid CIDR: prefix length 33 is out of range 0-32' } },
  { name: 'refuses the first bad except', input: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16', '10.2/16', 'x'] }, expected: { field: 'except[1]', reason: '"10.2/16" is not a valid CIDR: IPv4 address "10.2" must be 4 decimal fields (a.b.c.d)' } },
  { name: 'refuses an except equal to cidr', input: { cidr: '10.0.0.0/8', except: ['10.0.0.0/8'] }, expected: { field: 'except[0]', reason: '"10.0.0.0/8" must be a strict subset of cidr "10.0.0.0/8"' } },
  { name: 'refuses an except equal to cidr once read', input: { cidr: '10.0.0.0/8', except: ['010.0.0.0/8'] }, expected: { field: 'except[0]', reason: '"010.0.0.0/8" must be a strict subset of cidr "10.0.0.0/8"' } },
  { name: 'refuses an except outside cidr', input: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] }, expected: { field: 'except[0]', reason: '"11.0.0.0/16" must be a strict subset of cidr "10.0.0.0/8"' } },
  { name: 'refuses an except wider than cidr', input: { cidr: '10.1.0.0/16', except: ['10.0.0.0/8'] }, expected: { field: 'except[0]', reason: '"10.0.0.0/8" must be a strict subset of cidr "10.1.0.0/16"' } },
  {
    name: 'refuses an except of the other family',
    input: { cidr: '10.0.0.0/8', except: ['2001:db8::/32'] },
    expected: { field: 'except[0]', reason: '"2001:db8::/32" must be a strict subset of cidr "10.0.0.0/8" (Kubernetes compares the prefix lengths as written, /8 and /32: write both as IPv4 or both as IPv6)' },
  },
  {
    name: 'refuses an IPv4 except under an IPv4-mapped cidr (/104 >= /16)',
    input: { cidr: '::ffff:10.0.0.0/104', except: ['10.1.0.0/16'] },
    expected: { field: 'except[0]', reason: '"10.1.0.0/16" must be a strict subset of cidr "::ffff:10.0.0.0/104" (Kubernetes compares the prefix lengths as written, /104 and /16: write both as IPv4 or both as IPv6)' },
  },
  { name: 'an octal reading would not contain the except: refused', input: { cidr: '010.0.0.0/8', except: ['8.1.0.0/16'] }, expected: { field: 'except[0]', reason: '"8.1.0.0/16" must be a strict subset of cidr "010.0.0.0/8"' } },
  { name: 'an IPv4-mapped except inside an IPv4 cidr is accepted, not subtracted', input: { cidr: '10.0.0.0/8', except: ['::ffff:10.1.0.0/112'] }, expected: { in: ['10.1.0.1'], out: [] } },
  { name: 'IPv4-mapped /96 is every IPv4 address', input: { cidr: '::ffff:1.2.3.4/96', except: ['::ffff:8.8.8.0/120'] }, expected: { in: ['1.1.1.1'], out: ['8.8.8.8'] } },
  { name: 'IPv4-compatible ::a.b.c.d is inside an IPv6 cidr', input: { cidr: '::/96', except: ['::1.2.3.4/128'] }, expected: { in: ['::1.2.3.5'], out: ['::1.2.3.4', '1.2.3.4'] } },
  { name: 'refuses an IPv4-compatible except under an IPv4 cidr', input: { cidr: '0.0.0.0/0', except: ['::1.2.3.4/128'] }, expected: { field: 'except[0]', reason: '"::1.2.3.4/128" must be a strict subset of cidr "0.0.0.0/0" (Kubernetes compares the prefix lengths as written, /0 and /128: write both as IPv4 or both as IPv6)' } },
  { name: 'refuses an IPv4-mapped except under ::/0 (IPv6 only)', input: { cidr: '::/0', except: ['::ffff:10.0.0.0/104'] }, expected: { field: 'except[0]', reason: '"::ffff:10.0.0.0/104" must be a strict subset of cidr "::/0"' } },
  { name: 'refuses an IPv4-mapped except under a mapped cidr below /96 (IPv6)', input: { cidr: '::ffff:10.0.0.0/80', except: ['::ffff:10.0.0.0/104'] }, expected: { field: 'except[0]', reason: '"::ffff:10.0.0.0/104" must be a strict subset of cidr "::ffff:10.0.0.0/80"' } },
  { name: 'a long IPv6 group of zeros', input: { cidr: '0000000000000000000000001::/16', except: ['1::/17'] }, expected: { in: ['1:8000::1'], out: ['1::1'] } },
];

describe('ipBlock with except (ValidateIPBlock)', () => {
  it.each(IPBLOCK_ROWS)('$name', ({ input, expected }) => {
    const read = readIpBlock(input);
    if ('field' in expected) {
      expect(read).toEqual({ ok: false, ...expected });
      return;
    }
    expect(read.ok).toBe(true);
    const set = ipBlockSet(input.cidr, input.except);
    for (const address of expected.in) expect(ipContains(set, parseIp(address)), address).toBe(true);
    for (const address of expected.out) expect(ipContains(set, parseIp(address)), address).toBe(false);
  });
});

/** Every NetworkPolicy row, as an ipBlock: what `readIpBlock` says, `accepted` or the field refused. */
const BLOCKS = [
  ...CIDR_ROWS.map((row) => ({ name: row.name, cidr: row.input, except: [] as string[] })),
  ...IPBLOCK_ROWS.map((row) => ({ name: row.name, ...row.input })),
].map((block, i) => {
  const read = readIpBlock(block);
  return { ...block, object: `p-${i}`, tierguard: read.ok ? 'accepted' : read.field };
});

describeCluster('ipBlock CIDRs: the real kube-apiserver 1.26 agrees with readIpBlock', () => {
  let cluster: TestCluster;
  const verdicts = new Map<string, string>();

  beforeAll(async () => {
    cluster = await startCluster({ crds: false });
    const items = BLOCKS.map(({ object, cidr, except }) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: object, namespace: 'default' },
      spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr, except } }] }] },
    }));
    // One kubectl for all rows: it goes on after a refused item of the List and reports each.
    const result = await cluster.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
    for (const [, object] of result.stdout.matchAll(/networkpolicy\.networking\.k8s\.io\/(p-\d+) created/g)) verdicts.set(object!, 'accepted');
    for (const [, object, field] of result.stderr.matchAll(/"(p-\d+)" is invalid: \[?spec\.egress\[0\]\.to\[0\]\.ipBlock\.(cidr|except\[\d+\])/g)) verdicts.set(object!, field!);
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it.each(BLOCKS)('$name: $cidr except $except', ({ object, tierguard }) => {
    expect(verdicts.get(object)).toBe(tierguard);
  });
});
