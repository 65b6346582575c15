/** Sets of (protocol, port) pairs: one interval set of ports 1..65535 per protocol. */
import { containsValue, intersectIntervals, intervalsInclude, intervalsMeet, leastOfBoth, subtractIntervals, unionIntervals, type Intervals } from './intervals.js';

export const protocols = ['TCP', 'UDP', 'SCTP'] as const;
export type Protocol = (typeof protocols)[number];

export type PortSet = Readonly<Record<Protocol, Intervals>>;

export const NO_PORTS: PortSet = { TCP: [], UDP: [], SCTP: [] };
const EVERY_PORT: Intervals = [[1n, 65535n]];
export const ALL_PORTS: PortSet = { TCP: EVERY_PORT, UDP: EVERY_PORT, SCTP: EVERY_PORT };

export function portRange(protocol: Protocol, start: number, end: number): PortSet {
  return onlyProtocol(protocol, [[BigInt(start), BigInt(end)]]);
}

export function allPortsOf(protocol: Protocol): PortSet {
  return onlyProtocol(protocol, EVERY_PORT);
}

/**
 * The ports of one protocol, written out rather than spread from NO_PORTS with a computed key: the
 * spread took V8's slow path on every call (part of the 2–10% the override check gained, issue 11).
 */
function onlyProtocol(protocol: Protocol, ports: Intervals): PortSet {
  return { TCP: protocol === 'TCP' ? ports : [], UDP: protocol === 'UDP' ? ports : [], SCTP: protocol === 'SCTP' ? ports : [] };
}

function combine(a: PortSet, b: PortSet, op: (x: Intervals, y: Intervals) => Intervals): PortSet {
  return { TCP: op(a.TCP, b.TCP), UDP: op(a.UDP, b.UDP), SCTP: op(a.SCTP, b.SCTP) };
}

export const portUnion = (a: PortSet, b: PortSet): PortSet => combine(a, b, unionIntervals);
export const portIntersect = (a: PortSet, b: PortSet): PortSet => combine(a, b, intersectIntervals);
export const portSubtract = (a: PortSet, b: PortSet): PortSet => combine(a, b, subtractIntervals);

export function portsInclude(outer: PortSet, inner: PortSet): boolean {
  return intervalsInclude(outer.TCP, inner.TCP) && intervalsInclude(outer.UDP, inner.UDP) && intervalsInclude(outer.SCTP, inner.SCTP);
}

/** True when some (protocol, port) is in both sets. */
export function portsMeet(a: PortSet, b: PortSet): boolean {
  return intervalsMeet(a.TCP, b.TCP) || intervalsMeet(a.UDP, b.UDP) || intervalsMeet(a.SCTP, b.SCTP);
}

export function portIsEmpty(a: PortSet): boolean {
  return a.TCP.length === 0 && a.UDP.length === 0 && a.SCTP.length === 0;
}

export function portContains(a: PortSet, protocol: Protocol, port: number): boolean {
  return containsValue(a[protocol], port);
}

/** `examplePort(portIntersect(a, b))` without building the intersection. */
export function examplePortOfBoth(a: PortSet, b: PortSet): { protocol: Protocol; port: number } | undefined {
  for (const protocol of protocols) {
    const first = leastOfBoth(a[protocol], b[protocol]);
    if (first !== undefined) return { protocol, port: Number(first) };
  }
  return undefined;
}

/** The first (protocol, port) of the set, TCP first. */
export function examplePort(a: PortSet): { protocol: Protocol; port: number } | undefined {
  for (const protocol of protocols) {
    const first = a[protocol][0];
    if (first) return { protocol, port: Number(first[0]) };
  }
  return undefined;
}
