/**
 * Sets of connections seen from one guarded pod ("subject"): a union of boxes, each a product of
 * the subject's namespace and labels, the peer (a pod's namespace and labels, a pod in the same
 * namespace, or addresses) and the (protocol, port) pairs. Boxes are intersected and subtracted dimension by dimension, so a
 * region can describe pods and namespaces that do not exist yet.
 */
import { ipIntersect, ipIsEmpty, ipSubtract, type IpSet } from './ip-set.js';
import { cubeIntersect, cubeSubtract, type LabelCube } from './label-set.js';
import { nsIntersect, nsSubtract, type NamespaceSet } from './namespaces.js';
import { portIntersect, portIsEmpty, portSubtract, type PortSet } from './port-set.js';

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

interface Dimension {
  intersect(a: unknown, b: unknown): unknown;
  subtract(a: unknown, b: unknown): unknown[];
}

const namespaces: Dimension = {
  intersect: (a, b) => nsIntersect(a as NamespaceSet, b as NamespaceSet),
  subtract: (a, b) => { const d = nsSubtract(a as NamespaceSet, b as NamespaceSet); return d ? [d] : []; },
};
const labels: Dimension = {
  intersect: (a, b) => cubeIntersect(a as LabelCube, b as LabelCube),
  subtract: (a, b) => cubeSubtract(a as LabelCube, b as LabelCube),
};
const ports: Dimension = {
  intersect: (a, b) => { const p = portIntersect(a as PortSet, b as PortSet); return portIsEmpty(p) ? null : p; },
  subtract: (a, b) => { const p = portSubtract(a as PortSet, b as PortSet); return portIsEmpty(p) ? [] : [p]; },
};
const addresses: Dimension = {
  intersect: (a, b) => { const i = ipIntersect(a as IpSet, b as IpSet); return ipIsEmpty(i) ? null : i; },
  subtract: (a, b) => { const i = ipSubtract(a as IpSet, b as IpSet); return ipIsEmpty(i) ? [] : [i]; },
};

const dimensions: Record<Box['kind'], readonly Dimension[]> = {
  pod: [namespaces, labels, namespaces, labels, ports],
  address: [namespaces, labels, addresses, ports],
  same: [namespaces, labels, labels, ports],
};

/** Thrown when a region grows past the bound: the check is refused rather than run unbounded. */
export class RegionTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the override check needed more than ${limit} connection sets; simplify the selectors or split the policy`);
    this.name = 'RegionTooLargeError';
  }
}

export const MAX_REGION_BOXES = 20_000;

function boxIntersect(a: Box, b: Box): Box | null {
  if (a.kind !== b.kind) return null;
  const dims = dimensions[a.kind];
  const out: unknown[] = [];
  for (let i = 0; i < dims.length; i++) {
    const both = (dims[i] as Dimension).intersect(a.dims[i], b.dims[i]);
    if (both === null) return null;
    out.push(both);
  }
  return { kind: a.kind, dims: out } as unknown as Box;
}

/** `a` minus `b` as disjoint boxes. */
function boxSubtract(a: Box, b: Box): Box[] {
  if (a.kind !== b.kind) return [a];
  const dims = dimensions[a.kind];
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
