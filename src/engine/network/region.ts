/**
 * Sets of connections seen from one guarded pod ("subject"): a union of boxes, each a product of
 * the subject's namespace and labels, the peer (a pod's namespace and labels, a pod in the same
 * namespace, or addresses) and the (protocol, port) pairs. Boxes are intersected and subtracted dimension by dimension, so a
 * region can describe pods and namespaces that do not exist yet.
 */
import { ipContains, ipIntersect, ipIsEmpty, ipsInclude, ipsMeet, ipSubtract, type IpSet } from './ip-set.js';
import { cubeContains, cubeIncludes, cubeIntersect, cubePoint, cubesMeet, cubeSubtract, type LabelCube } from './label-set.js';
import { nsContains, nsIncludes, nsIntersect, nsMeet, nsPoint, nsPointOfBoth, nsSubtract, type NamespacePoint, type NamespaceSet } from './namespaces.js';
import { examplePort, examplePortOfBoth, portContains, portIntersect, portIsEmpty, portsInclude, portsMeet, portSubtract, type PortSet, type Protocol } from './port-set.js';

export interface PodPeerBox {
  readonly kind: 'pod';
  readonly dims: readonly [subjectNamespaces: NamespaceSet, subjectPods: LabelCube, peerNamespaces: NamespaceSet, peerPods: LabelCube, ports: PortSet];
}

export interface AddressPeerBox {
  readonly kind: 'address';
  readonly dims: readonly [subjectNamespaces: NamespaceSet, subjectPods: LabelCube, addresses: IpSet, ports: PortSet];
}

/**
 * A peer pod in the subject's own namespace, when that namespace is unknown: one namespace has
 * one label set, so both ends share a single namespace dimension.
 */
export interface SameNamespaceBox {
  readonly kind: 'same';
  readonly dims: readonly [namespaces: NamespaceSet, subjectPods: LabelCube, peerPods: LabelCube, ports: PortSet];
}

export type Box = PodPeerBox | AddressPeerBox | SameNamespaceBox;
export type Region = readonly Box[];

/** The empty region, shared where a walk needs "no boxes" (no holes, no Pass rules yet). */
export const NO_BOXES: Region = [];

/** What a dimension of a box holds. */
export type DimensionKind = 'namespaces' | 'labels' | 'addresses' | 'ports';

/** The set operations of one dimension of a box (values are that dimension's sets and points). */
export interface Dimension {
  readonly kind: DimensionKind;
  /** One value of a non-empty set (see `boxPoint`). */
  point(a: unknown): unknown;
  /** `point` of the intersection, without building it where that is costly; undefined when the two do not meet. */
  pointOfBoth(a: unknown, b: unknown): unknown;
  contains(a: unknown, point: unknown): boolean;
  /** True when `inner` lies within `outer`; may say false for some subsets (never true for others). */
  includes(outer: unknown, inner: unknown): boolean;
  /** True when the two share a value; cheaper than `intersect`, which builds the result. */
  meet(a: unknown, b: unknown): boolean;
  /** The values in both, or null when there are none. */
  intersect(a: unknown, b: unknown): unknown;
  /** `a` less `b` as disjoint non-empty sets (several only for label cubes). */
  subtract(a: unknown, b: unknown): unknown[];
}

function pointOfIntersection(dimension: Dimension, a: unknown, b: unknown): unknown {
  const both = dimension.intersect(a, b);
  return both === null ? undefined : dimension.point(both);
}

const namespaces: Dimension = {
  kind: 'namespaces',
  point: (a) => nsPoint(a as NamespaceSet),
  pointOfBoth: (a, b) => nsPointOfBoth(a as NamespaceSet, b as NamespaceSet)?.point,
  contains: (a, point) => nsContains(a as NamespaceSet, point as NamespacePoint),
  includes: (outer, inner) => nsIncludes(outer as NamespaceSet, inner as NamespaceSet),
  meet: (a, b) => nsMeet(a as NamespaceSet, b as NamespaceSet),
  intersect: (a, b) => nsIntersect(a as NamespaceSet, b as NamespaceSet),
  subtract: (a, b) => { const d = nsSubtract(a as NamespaceSet, b as NamespaceSet); return d ? [d] : []; },
};
const labels: Dimension = {
  kind: 'labels',
  point: (a) => cubePoint(a as LabelCube),
  pointOfBoth: (a, b) => pointOfIntersection(labels, a, b),
  contains: (a, point) => cubeContains(a as LabelCube, point as Record<string, string>),
  includes: (outer, inner) => cubeIncludes(outer as LabelCube, inner as LabelCube),
  meet: (a, b) => cubesMeet(a as LabelCube, b as LabelCube),
  intersect: (a, b) => cubeIntersect(a as LabelCube, b as LabelCube),
  subtract: (a, b) => cubeSubtract(a as LabelCube, b as LabelCube),
};
const ports: Dimension = {
  kind: 'ports',
  point: (a) => examplePort(a as PortSet),
  pointOfBoth: (a, b) => examplePortOfBoth(a as PortSet, b as PortSet),
  contains: (a, point) => portContains(a as PortSet, (point as { protocol: Protocol }).protocol, (point as { port: number }).port),
  includes: (outer, inner) => portsInclude(outer as PortSet, inner as PortSet),
  meet: (a, b) => portsMeet(a as PortSet, b as PortSet),
  intersect: (a, b) => { const p = portIntersect(a as PortSet, b as PortSet); return portIsEmpty(p) ? null : p; },
  subtract: (a, b) => { const p = portSubtract(a as PortSet, b as PortSet); return portIsEmpty(p) ? [] : [p]; },
};
const addresses: Dimension = {
  kind: 'addresses',
  point: (a) => { const set = a as IpSet; const first = set.v4[0] ?? set.v6[0]; return first && { family: set.v4[0] ? 4 : 6, value: first[0] }; },
  pointOfBoth: (a, b) => pointOfIntersection(addresses, a, b),
  contains: (a, point) => ipContains(a as IpSet, point as { family: 4 | 6; value: bigint }),
  includes: (outer, inner) => ipsInclude(outer as IpSet, inner as IpSet),
  meet: (a, b) => ipsMeet(a as IpSet, b as IpSet),
  intersect: (a, b) => { const i = ipIntersect(a as IpSet, b as IpSet); return ipIsEmpty(i) ? null : i; },
  subtract: (a, b) => { const i = ipSubtract(a as IpSet, b as IpSet); return ipIsEmpty(i) ? [] : [i]; },
};

/** The dimensions of each kind of box, in the order of its `dims`. */
export const DIMENSIONS: Readonly<Record<Box['kind'], readonly Dimension[]>> = {
  pod: [namespaces, labels, namespaces, labels, ports],
  address: [namespaces, labels, addresses, ports],
  same: [namespaces, labels, labels, ports],
};

/*
 * boxesMeet, boxContainsPoint, boxIncludes and boxPointOfBoth run for nearly every pair of boxes
 * a check compares. They are written out per kind of box rather than looping over `DIMENSIONS`:
 * each call site then has one target, which V8 can inline, where the loop's one site called four
 * functions. The first three compare ports and addresses first (cheap, and guardrails drawn
 * independently rarely share them) and namespace sets (a product of cubes) last.
 * `test/network/algebra.test.ts` holds each to the loop over `DIMENSIONS`.
 */

/** True when the boxes share a connection: every dimension meets. */
export function boxesMeet(a: Box, b: Box): boolean {
  if (a.kind === 'pod') {
    if (b.kind !== 'pod') return false;
    const x = a.dims;
    const y = b.dims;
    return portsMeet(x[4], y[4]) && cubesMeet(x[1], y[1]) && cubesMeet(x[3], y[3]) && nsMeet(x[0], y[0]) && nsMeet(x[2], y[2]);
  }
  if (a.kind === 'address') {
    if (b.kind !== 'address') return false;
    const x = a.dims;
    const y = b.dims;
    return portsMeet(x[3], y[3]) && ipsMeet(x[2], y[2]) && cubesMeet(x[1], y[1]) && nsMeet(x[0], y[0]);
  }
  if (b.kind !== 'same') return false;
  const x = a.dims;
  const y = b.dims;
  return portsMeet(x[3], y[3]) && cubesMeet(x[1], y[1]) && cubesMeet(x[2], y[2]) && nsMeet(x[0], y[0]);
}

/** One connection in a box: a concrete value per dimension, picked plainly (`cubePoint`). */
export interface BoxPoint {
  readonly kind: Box['kind'];
  readonly values: readonly unknown[];
}

/** Undefined when the box is empty (some dimension has no value). */
export function boxPoint(box: Box): BoxPoint | undefined {
  const dims = DIMENSIONS[box.kind];
  const values = box.dims.map((dim, i) => (dims[i] as Dimension).point(dim));
  return values.includes(undefined) ? undefined : { kind: box.kind, values };
}

/**
 * `boxPoint(boxIntersect(a, b))` without building the intersection's namespace sets (see
 * `nsPointOfBoth`); undefined when the boxes do not meet.
 */
export function boxPointOfBoth(a: Box, b: Box): BoxPoint | undefined {
  if (a.kind === 'pod') return b.kind === 'pod' ? podPointOfBoth(a.dims, b.dims) : undefined;
  if (a.kind === 'address') return b.kind === 'address' ? addressBoxPointOfBoth(a.dims, b.dims) : undefined;
  return b.kind === 'same' ? samePointOfBoth(a.dims, b.dims) : undefined;
}

function podPointOfBoth(x: PodPeerBox['dims'], y: PodPeerBox['dims']): BoxPoint | undefined {
  const ports = examplePortOfBoth(x[4], y[4]);
  const subjectPods = ports && labelPointOfBoth(x[1], y[1]);
  const peerPods = subjectPods && labelPointOfBoth(x[3], y[3]);
  const subjectNamespace = peerPods && nsPointOfBoth(x[0], y[0])?.point;
  const peerNamespace = subjectNamespace && nsPointOfBoth(x[2], y[2])?.point;
  return peerNamespace && { kind: 'pod', values: [subjectNamespace, subjectPods, peerNamespace, peerPods, ports] };
}

function addressBoxPointOfBoth(x: AddressPeerBox['dims'], y: AddressPeerBox['dims']): BoxPoint | undefined {
  const ports = examplePortOfBoth(x[3], y[3]);
  const address = ports && addressPointOfBoth(x[2], y[2]);
  const subjectPods = address && labelPointOfBoth(x[1], y[1]);
  const subjectNamespace = subjectPods && nsPointOfBoth(x[0], y[0])?.point;
  return subjectNamespace && { kind: 'address', values: [subjectNamespace, subjectPods, address, ports] };
}

function samePointOfBoth(x: SameNamespaceBox['dims'], y: SameNamespaceBox['dims']): BoxPoint | undefined {
  const ports = examplePortOfBoth(x[3], y[3]);
  const subjectPods = ports && labelPointOfBoth(x[1], y[1]);
  const peerPods = subjectPods && labelPointOfBoth(x[2], y[2]);
  const namespace = peerPods && nsPointOfBoth(x[0], y[0])?.point;
  return namespace && { kind: 'same', values: [namespace, subjectPods, peerPods, ports] };
}

function labelPointOfBoth(a: LabelCube, b: LabelCube): Labels | undefined {
  const both = cubeIntersect(a, b);
  return both === null ? undefined : cubePoint(both);
}

function addressPointOfBoth(a: IpSet, b: IpSet): IpPoint | undefined {
  const both = ipIntersect(a, b);
  const first = both.v4[0] ?? both.v6[0];
  return first && { family: both.v4[0] ? 4 : 6, value: first[0] };
}

/** `op` on each dimension of two boxes of one kind, or undefined as soon as one answers null or undefined. */
function eachDimension(a: Box, b: Box, op: (dim: Dimension, x: unknown, y: unknown) => unknown): unknown[] | undefined {
  const dims = DIMENSIONS[a.kind];
  const out: unknown[] = [];
  for (let i = 0; i < dims.length; i++) {
    const value = op(dims[i] as Dimension, a.dims[i], b.dims[i]);
    if (value === null || value === undefined) return undefined;
    out.push(value);
  }
  return out;
}

export function boxContainsPoint(box: Box, point: BoxPoint): boolean {
  if (box.kind !== point.kind) return false;
  const v = point.values;
  if (box.kind === 'pod') {
    const x = box.dims;
    return portHolds(x[4], v[4]) && cubeContains(x[1], v[1] as Labels) && cubeContains(x[3], v[3] as Labels)
      && nsContains(x[0], v[0] as NamespacePoint) && nsContains(x[2], v[2] as NamespacePoint);
  }
  if (box.kind === 'address') {
    const x = box.dims;
    return portHolds(x[3], v[3]) && ipContains(x[2], v[2] as IpPoint) && cubeContains(x[1], v[1] as Labels) && nsContains(x[0], v[0] as NamespacePoint);
  }
  const x = box.dims;
  return portHolds(x[3], v[3]) && cubeContains(x[1], v[1] as Labels) && cubeContains(x[2], v[2] as Labels) && nsContains(x[0], v[0] as NamespacePoint);
}

type Labels = Readonly<Record<string, string>>;
type IpPoint = { family: 4 | 6; value: bigint };

function portHolds(ports: PortSet, point: unknown): boolean {
  const { protocol, port } = point as { protocol: Protocol; port: number };
  return portContains(ports, protocol, port);
}

/** True when `inner` lies within `outer` (may say false for some boxes that do). */
export function boxIncludes(outer: Box, inner: Box): boolean {
  if (outer.kind === 'pod') {
    if (inner.kind !== 'pod') return false;
    const x = outer.dims;
    const y = inner.dims;
    return portsInclude(x[4], y[4]) && cubeIncludes(x[1], y[1]) && cubeIncludes(x[3], y[3]) && nsIncludes(x[0], y[0]) && nsIncludes(x[2], y[2]);
  }
  if (outer.kind === 'address') {
    if (inner.kind !== 'address') return false;
    const x = outer.dims;
    const y = inner.dims;
    return portsInclude(x[3], y[3]) && ipsInclude(x[2], y[2]) && cubeIncludes(x[1], y[1]) && nsIncludes(x[0], y[0]);
  }
  if (inner.kind !== 'same') return false;
  const x = outer.dims;
  const y = inner.dims;
  return portsInclude(x[3], y[3]) && cubeIncludes(x[1], y[1]) && cubeIncludes(x[2], y[2]) && nsIncludes(x[0], y[0]);
}

/** True when the regions share a connection: `regionIntersect(a, b).length > 0` without building it. */
export function regionsMeet(region: Region, other: Region): boolean {
  for (const a of region) for (const b of other) if (boxesMeet(a, b)) return true;
  return false;
}

/** Thrown when a region grows past the bound: the check is refused rather than run unbounded. */
export class RegionTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the override check needed more than ${limit} connection sets; simplify the selectors or split the policy`);
    this.name = 'RegionTooLargeError';
  }
}

export const MAX_REGION_BOXES = 20_000;

/** The connections in both boxes, or null when there are none. */
export function boxIntersect(a: Box, b: Box): Box | null {
  if (!boxesMeet(a, b)) return null;
  const dims = eachDimension(a, b, (dim, x, y) => dim.intersect(x, y));
  return dims ? ({ kind: a.kind, dims } as unknown as Box) : null;
}

/** `a` minus `b` as disjoint boxes. */
export function boxSubtract(a: Box, b: Box): Box[] {
  if (!boxesMeet(a, b)) return [a];
  const dims = DIMENSIONS[a.kind];
  const inside: unknown[] = [];
  for (let i = 0; i < dims.length; i++) {
    const both = (dims[i] as Dimension).intersect(a.dims[i], b.dims[i]);
    if (both === null) return [a];
    inside.push(both);
  }
  const pieces: Box[] = [];
  for (let i = 0; i < dims.length; i++) {
    for (const outside of (dims[i] as Dimension).subtract(a.dims[i], b.dims[i])) {
      const piece = [...inside.slice(0, i), outside, ...a.dims.slice(i + 1)];
      pieces.push({ kind: a.kind, dims: piece } as unknown as Box);
    }
  }
  return pieces;
}

export function regionIntersect(region: Region, other: Region): Box[] {
  const out: Box[] = [];
  for (const a of region) {
    for (const b of other) {
      const both = boxIntersect(a, b);
      if (both) out.push(both);
    }
  }
  return out;
}

export function regionSubtract(region: Region, other: Region, limit = MAX_REGION_BOXES): Box[] {
  let out: Box[] = [...region];
  for (const b of other) {
    out = out.flatMap((a) => boxSubtract(a, b));
    if (out.length > limit) throw new RegionTooLargeError(limit);
  }
  return out;
}
