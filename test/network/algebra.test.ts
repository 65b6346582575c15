/** The set algebra under the override check: intervals, CIDRs, ports, label cubes, namespaces. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LabelSelector } from '../../src/api/kube.js';
import { containsValue, intersectIntervals, leastOfBoth, normalize, subtractIntervals, type Intervals } from '../../src/engine/network/intervals.js';
import { formatAddress } from '../../src/engine/network/kube-cidr.js';
import { cidrSet, exampleCidr, formatCidr, ipBlockSet, ipContains, ipIntersect, ipIsEmpty, ipSubtract, parseIp } from '../../src/engine/network/ip-set.js';
import { ABSENT, ANY_LABELS, cubeContains, cubeIntersect, cubeSubtract, exampleLabels, selectorCube, type LabelCube } from '../../src/engine/network/label-set.js';
import { lastingSet, namespacesMatching, namespaceNamed, namespaceUniverse, nsIntersect, nsKnownIncluded, nsMeet, nsSubtract, type NamespaceSet } from '../../src/engine/network/namespaces.js';
import { boxContainsPoint, boxesMeet, boxIncludes, boxIntersect, boxPoint, boxPointOfBoth, DIMENSIONS, type Box, type BoxPoint } from '../../src/engine/network/region.js';
import { namespaceSelectorArb, podSelectorArb } from './generators.js';
import { ALL_PORTS, examplePort, examplePortOfBoth, portContains, portIntersect, portRange, portSubtract, portUnion, type PortSet } from '../../src/engine/network/port-set.js';

const iv = (...pairs: [number, number][]): Intervals => pairs.map(([a, b]) => [BigInt(a), BigInt(b)] as const);

describe('intervals', () => {
  it.each([
    { name: 'merges overlapping and adjacent', op: () => normalize(iv([5, 9], [1, 3], [4, 4], [20, 30], [25, 26])), out: iv([1, 9], [20, 30]) },
    { name: 'intersects', op: () => intersectIntervals(iv([1, 10], [20, 30]), iv([5, 25])), out: iv([5, 10], [20, 25]) },
    { name: 'subtracts a hole', op: () => subtractIntervals(iv([1, 10]), iv([4, 6])), out: iv([1, 3], [7, 10]) },
    { name: 'subtracts across intervals', op: () => subtractIntervals(iv([1, 10], [20, 30]), iv([5, 25])), out: iv([1, 4], [26, 30]) },
    { name: 'subtracts everything', op: () => subtractIntervals(iv([1, 10]), iv([0, 11])), out: [] },
    { name: 'subtracts nothing when disjoint', op: () => subtractIntervals(iv([1, 10]), iv([11, 20])), out: iv([1, 10]) },
    { name: 'subtracts at the edges', op: () => subtractIntervals(iv([1, 10]), iv([1, 1], [10, 10])), out: iv([2, 9]) },
  ])('$name', ({ op, out }) => {
    expect(op()).toEqual(out);
  });
});

describe('the shortcuts the override check takes for every pair of boxes', () => {
  // Small bounds, so that sets overlap, touch and miss each other often.
  const intervals = fc.array(fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 8 })), { maxLength: 4 })
    .map((pairs) => normalize(pairs.map(([lo, width]) => [BigInt(lo), BigInt(lo + width)] as const)));
  const ports: fc.Arbitrary<PortSet> = fc.record({ TCP: intervals, UDP: intervals, SCTP: intervals });

  it('leastOfBoth is the least value of the intersection, without building it', () => {
    fc.assert(fc.property(intervals, intervals, (a, b) => {
      expect(leastOfBoth(a, b)).toBe(intersectIntervals(a, b)[0]?.[0]);
    }));
  });

  it('examplePortOfBoth is the example port of the intersection', () => {
    fc.assert(fc.property(ports, ports, (a, b) => {
      expect(examplePortOfBoth(a, b)).toEqual(examplePort(portIntersect(a, b)));
    }));
  });

  it('boxesMeet, boxContainsPoint, boxIncludes and boxPointOfBoth, written out per kind of box, answer as the loop over DIMENSIONS', () => {
    // The references: each dimension's own operation, in the order of `dims`.
    const each = (a: Box, b: Box, op: 'meet' | 'includes') => a.kind === b.kind && DIMENSIONS[a.kind].every((dim, i) => dim[op](a.dims[i], b.dims[i]));
    const boxesMeetByDimension = (a: Box, b: Box) => each(a, b, 'meet');
    const boxIncludesByDimension = (outer: Box, inner: Box) => each(outer, inner, 'includes');
    const boxContainsPointByDimension = (box: Box, point: BoxPoint) => box.kind === point.kind && DIMENSIONS[box.kind].every((dim, i) => dim.contains(box.dims[i], point.values[i]));
    const boxPointOfBothByDimension = (a: Box, b: Box): BoxPoint | undefined => {
      if (a.kind !== b.kind) return undefined;
      const values = DIMENSIONS[a.kind].map((dim, i) => dim.pointOfBoth(a.dims[i], b.dims[i]));
      return values.some((value) => value === null || value === undefined) ? undefined : { kind: a.kind, values };
    };
    const universe = namespaceUniverse([
      { name: 'payments', labels: { env: 'prod' }, annotations: {} },
      { name: 'sandbox', labels: { env: 'dev', team: 'a' }, annotations: {} },
    ]);
    const cube = podSelectorArb.map((selector) => selectorCube(selector as LabelSelector) ?? ANY_LABELS);
    const namespaces = fc.oneof(
      namespaceSelectorArb.map((selector) => namespacesMatching(universe, selectorCube(selector as LabelSelector))),
      fc.constantFrom('payments', 'sandbox', 'monitoring').map((name) => namespaceNamed(universe, name)),
    );
    const ips = fc.constantFrom('10.0.0.0/8', '10.1.0.0/16', '192.168.1.0/24', '0.0.0.0/0', 'fd00::/8').map((cidr) => cidrSet(cidr));
    const box: fc.Arbitrary<Box> = fc.oneof(
      fc.tuple(namespaces, cube, namespaces, cube, ports).map((dims) => ({ kind: 'pod' as const, dims })),
      fc.tuple(namespaces, cube, ips, ports).map((dims) => ({ kind: 'address' as const, dims })),
      fc.tuple(namespaces, cube, cube, ports).map((dims) => ({ kind: 'same' as const, dims })),
    );
    let met = 0;
    let held = 0;
    let included = 0;
    fc.assert(fc.property(box, box, (a, b) => {
      const meet = boxesMeet(a, b);
      expect(meet).toBe(boxesMeetByDimension(a, b));
      expect(boxPointOfBoth(a, b)).toEqual(boxPointOfBothByDimension(a, b));
      if (meet) met++;
      // `a` in `b`, mostly no; their intersection in `a`, mostly yes; `a` with one dimension of
      // `b` in `a`: only that dimension decides.
      const swapped = a.kind === b.kind ? a.dims.map((_, i) => ({ kind: a.kind, dims: a.dims.map((dim, j) => (j === i ? b.dims[j] : dim)) }) as unknown as Box) : [];
      for (const [outer, inner] of [[b, a], [a, boxIntersect(a, b)], ...swapped.map((one) => [a, one] as const)] as const) {
        if (!inner) continue;
        const includes = boxIncludes(outer, inner);
        expect(includes).toBe(boxIncludesByDimension(outer, inner));
        if (includes) included++;
      }
      // A point of either box in `a`: one of `a` tests the way in, one of `b` mostly the ways out;
      // and `a`'s point in `a` with one dimension of `b`: only that dimension decides.
      const pointOfA = boxPoint(a);
      const cases = [[a, pointOfA], [a, boxPoint(b)], ...swapped.map((one) => [one, pointOfA] as const)] as const;
      for (const [box, point] of cases) {
        if (!point) continue;
        const contains = boxContainsPoint(box, point);
        expect(contains).toBe(boxContainsPointByDimension(box, point));
        if (contains) held++;
      }
    }), { numRuns: 2000 });
    // Both answers were seen both ways: the property was not decided by empty or disjoint boxes only.
    expect(met).toBeGreaterThan(20);
    expect(held).toBeGreaterThan(20);
    expect(included).toBeGreaterThan(20);
  });

  it('containsValue reads a number as the bigint of the same value', () => {
    fc.assert(fc.property(intervals, fc.integer({ min: -1, max: 50 }), (a, value) => {
      expect(containsValue(a, value)).toBe(containsValue(a, BigInt(value)));
      expect(containsValue(a, value)).toBe(a.some(([lo, hi]) => lo <= BigInt(value) && BigInt(value) <= hi));
    }));
  });
});

describe('CIDR sets', () => {
  it('except is set difference, IPv4 and IPv6 apart', () => {
    const block = ipBlockSet('10.0.0.0/8', ['10.1.0.0/16']);
    expect(ipContains(block, parseIp('10.0.255.255'))).toBe(true);
    expect(ipContains(block, parseIp('10.1.0.0'))).toBe(false);
    expect(ipContains(block, parseIp('10.1.255.255'))).toBe(false);
    expect(ipContains(block, parseIp('10.2.0.0'))).toBe(true);
    // ::ffff:10.0.0.1 would be 10.0.0.1, as Kubernetes reads it (test/network/kube-cidr.test.ts).
    expect(ipContains(block, parseIp('::a00:1'))).toBe(false);
    expect(ipIsEmpty(ipIntersect(cidrSet('0.0.0.0/0'), cidrSet('::/0')))).toBe(true);
    expect(ipIsEmpty(ipSubtract(cidrSet('10.1.0.0/16'), block))).toBe(false);
    expect(ipIsEmpty(ipSubtract(ipBlockSet('10.1.2.0/24'), cidrSet('10.1.0.0/16')))).toBe(true);
  });

  it.each([
    { name: 'a whole block', set: cidrSet('10.0.0.0/8'), cidr: '10.0.0.0/8' },
    { name: 'the largest block at the start of a hole-punched range', set: ipBlockSet('10.0.0.0/8', ['10.0.0.0/16']), cidr: '10.1.0.0/16' },
    { name: 'IPv6', set: cidrSet('2001:db8::/32'), cidr: '2001:db8::/32' },
    { name: 'the whole IPv4 space', set: cidrSet('0.0.0.0/0'), cidr: '0.0.0.0/0' },
    { name: 'a single address', set: cidrSet('192.168.1.7/32'), cidr: '192.168.1.7/32' },
  ])('examples: $name', ({ set, cidr }) => {
    expect(exampleCidr(set)).toBe(cidr);
  });

  // The reference: grow the block while it stays aligned at `lo` and inside [lo, hi], then print it with ipaddr.js.
  const grown = (family: 4 | 6, lo: bigint, hi: bigint): string => {
    const width = family === 4 ? 32n : 128n;
    let bits = 0n;
    while (bits < width && (lo & ((1n << (bits + 1n)) - 1n)) === 0n && lo + (1n << (bits + 1n)) - 1n <= hi) bits++;
    return `${formatAddress(family, lo)}/${width - bits}`;
  };

  it('an IPv4 example is the largest block at the start of the range, as growing it bit by bit finds', () => {
    // Ranges ending anywhere, starting at addresses with few or many trailing zero bits.
    const address = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }).chain((zeros) => fc.integer({ min: 0, max: 0xffffffff }).map((n) => Number(BigInt(n) >> BigInt(zeros) << BigInt(zeros)))));
    fc.assert(fc.property(address, address, (a, b) => {
      const [lo, hi] = a <= b ? [BigInt(a), BigInt(b)] : [BigInt(b), BigInt(a)];
      expect(formatCidr(4, lo, hi)).toBe(grown(4, lo, hi));
    }), { numRuns: 5000 });
    expect(formatCidr(4, 0n, 0xffffffffn)).toBe('0.0.0.0/0');
    expect(formatCidr(4, 0xffffffffn, 0xffffffffn)).toBe('255.255.255.255/32');
    expect(formatCidr(4, 0x80000000n, 0xffffffffn)).toBe('128.0.0.0/1');
  });

  it('so is an IPv6 example', () => {
    const max = (1n << 128n) - 1n;
    const address = fc.oneof(
      fc.bigInt({ min: 0n, max }),
      fc.tuple(fc.bigInt({ min: 0n, max }), fc.integer({ min: 0, max: 128 })).map(([n, zeros]) => n >> BigInt(zeros) << BigInt(zeros)),
    );
    fc.assert(fc.property(address, address, (a, b) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      expect(formatCidr(6, lo, hi)).toBe(grown(6, lo, hi));
    }), { numRuns: 3000 });
    expect(formatCidr(6, 0n, max)).toBe('::/0');
    expect(formatCidr(6, max, max)).toBe('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128');
    expect(formatCidr(6, 1n << 127n, max)).toBe('8000::/1');
  });
});

describe('port sets', () => {
  it('keeps protocols apart and ranges inclusive', () => {
    const set = portUnion(portRange('TCP', 8000, 9000), portRange('UDP', 53, 53));
    expect(portContains(set, 'TCP', 8000)).toBe(true);
    expect(portContains(set, 'TCP', 9000)).toBe(true);
    expect(portContains(set, 'TCP', 9001)).toBe(false);
    expect(portContains(set, 'UDP', 8000)).toBe(false);
    expect(portContains(set, 'UDP', 53)).toBe(true);
    const rest = portSubtract(ALL_PORTS, set);
    expect(portContains(rest, 'TCP', 7999)).toBe(true);
    expect(portContains(rest, 'TCP', 8500)).toBe(false);
    expect(portContains(rest, 'SCTP', 8500)).toBe(true);
  });
});

const cube = (selector: LabelSelector) => selectorCube(selector) as LabelCube;

describe('label cubes follow selector semantics, for label sets that do not exist yet', () => {
  it.each<{ name: string; selector: LabelSelector; labels: Record<string, string>; inside: boolean }>([
    { name: 'NotIn holds for a missing key', selector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] }, labels: {}, inside: true },
    { name: 'NotIn excludes its values', selector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] }, labels: { env: 'dev' }, inside: false },
    { name: 'Exists needs the key', selector: { matchExpressions: [{ key: 'env', operator: 'Exists' }] }, labels: {}, inside: false },
    { name: 'DoesNotExist', selector: { matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, labels: { team: 'x' }, inside: true },
    { name: 'matchLabels and In on one key intersect', selector: { matchLabels: { env: 'prod' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'dev'] }] }, labels: { env: 'prod' }, inside: true },
  ])('$name', ({ selector, labels, inside }) => {
    expect(cubeContains(cube(selector), labels)).toBe(inside);
  });

  it('an unsatisfiable selector is no cube at all', () => {
    expect(selectorCube({ matchLabels: { env: 'prod' }, matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] })).toBeNull();
    expect(selectorCube({ matchExpressions: [{ key: 'env', operator: 'Exists' }, { key: 'env', operator: 'DoesNotExist' }] })).toBeNull();
  });

  it('a selector on another label intersects: team=x may also be env=dev', () => {
    const both = cubeIntersect(cube({ matchLabels: { team: 'x' } }), cube({ matchLabels: { env: 'dev' } }));
    expect(both).not.toBeNull();
    expect(exampleLabels(both as LabelCube).labels).toEqual({ env: 'dev', team: 'x' });
  });

  it('subtraction yields disjoint pieces covering exactly the difference', () => {
    const all = cube({});
    const prodWeb = cube({ matchLabels: { env: 'prod', app: 'web' } });
    const pieces = cubeSubtract(all, prodWeb);
    const samples: Record<string, string>[] = [{}, { env: 'prod' }, { app: 'web' }, { env: 'prod', app: 'web' }, { env: 'dev', app: 'web' }, { env: 'prod', app: 'db' }];
    for (const labels of samples) {
      const count = pieces.filter((piece) => cubeContains(piece, labels)).length;
      expect(count).toBe(cubeContains(prodWeb, labels) ? 0 : 1);
    }
  });

  it('subtracting an Exists leaves only absence', () => {
    const [rest, ...more] = cubeSubtract(cube({}), cube({ matchExpressions: [{ key: 'quarantine', operator: 'Exists' }] }));
    expect(more).toEqual([]);
    expect(rest?.get('quarantine')).toEqual({ kind: 'in', values: new Set([ABSENT]) });
  });
});

describe('namespace sets: known namespaces keep their labels, unknown ones may have any', () => {
  const universe = namespaceUniverse([
    { name: 'payments', labels: { env: 'prod', 'kubernetes.io/metadata.name': 'payments' }, annotations: {} },
    { name: 'sandbox', labels: { env: 'dev', 'kubernetes.io/metadata.name': 'sandbox' }, annotations: {} },
  ]);

  it('matches known namespaces by their labels and leaves room for unknown ones', () => {
    const dev = namespacesMatching(universe, selectorCube({ matchLabels: { env: 'dev' } }));
    expect([...dev.known]).toEqual(['sandbox']);
    expect(dev.unknown).toHaveLength(1);
  });

  it('a known namespace by name cannot be relabelled by reasoning', () => {
    const payments = namespaceNamed(universe, 'payments');
    const dev = namespacesMatching(universe, selectorCube({ matchLabels: { env: 'dev' } }));
    expect(nsIntersect(payments, dev)).toBeNull();
  });

  it('an unknown namespace by name may carry any labels', () => {
    const monitoring = namespaceNamed(universe, 'monitoring');
    const dev = namespacesMatching(universe, selectorCube({ matchLabels: { env: 'dev' } }));
    expect(nsIntersect(monitoring, dev)?.unknown).toHaveLength(1);
  });

  it('lasting sets meet and hold each other by their bits as sets without bits do by name', () => {
    // 70 namespaces: names in three words of bits, the last one partly used.
    const many = namespaceUniverse(Array.from({ length: 70 }, (_, i) => ({
      name: `ns-${i}`,
      labels: { env: ['a', 'b'][i % 2] as string, team: ['a', 'b', 'c'][i % 3] as string, ...(i % 5 === 0 ? { 'kubernetes.io/metadata.name': `ns-${i}` } : {}) },
      annotations: {},
    })));
    const lasting = fc.oneof(
      namespaceSelectorArb.map((selector) => namespacesMatching(many, selectorCube(selector as LabelSelector))),
      fc.integer({ min: 0, max: 69 }).map((i) => lastingSet(namespaceNamed(many, `ns-${i}`), many)),
    );
    const plain = (set: NamespaceSet): NamespaceSet => ({ known: new Set(set.known), unknown: set.unknown });
    let met = 0;
    let held = 0;
    fc.assert(fc.property(lasting, lasting, (a, b) => {
      // Every set but the empty one of a selector nothing can match (NO_NAMESPACES) is lasting.
      for (const set of [a, b]) if (set.known.size + set.unknown.length > 0) expect(set.bits).toBeDefined();
      const meet = nsMeet(a, b);
      expect(meet).toBe(nsMeet(plain(a), plain(b)));
      expect(nsMeet(a, plain(b))).toBe(meet);
      const holds = nsKnownIncluded(a, b);
      expect(holds).toBe(nsKnownIncluded(plain(a), plain(b)));
      expect(holds).toBe([...b.known].every((name) => a.known.has(name)));
      if (meet) met++;
      if (holds) held++;
    }), { numRuns: 1000 });
    expect(met).toBeGreaterThan(50);
    expect(held).toBeGreaterThan(50);
  });

  it('subtracts known names and unknown label sets', () => {
    const all = namespacesMatching(universe, selectorCube({}));
    const rest = nsSubtract(all, namespacesMatching(universe, selectorCube({ matchLabels: { env: 'dev' } })));
    expect([...rest!.known]).toEqual(['payments']);
    expect(rest!.unknown.every((piece) => !cubeContains(piece, { env: 'dev', 'kubernetes.io/metadata.name': 'new' }))).toBe(true);
    expect(rest!.unknown.some((piece) => cubeContains(piece, { env: 'qa', 'kubernetes.io/metadata.name': 'new' }))).toBe(true);
    expect(rest!.unknown.some((piece) => cubeContains(piece, { env: 'qa', 'kubernetes.io/metadata.name': 'sandbox' }))).toBe(false);
  });
});
