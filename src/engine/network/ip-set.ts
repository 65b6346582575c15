/**
 * Sets of IPv4 and IPv6 addresses as interval sets, for CIDR arithmetic: `ipBlock` with `except`,
 * guardrail `networks`, and their intersections and differences. The two families never mix.
 * Addresses and CIDRs are read as Kubernetes reads them (./kube-cidr.ts).
 */
import { containsValue, intersectIntervals, intervalsInclude, intervalsMeet, subtractIntervals, unionIntervals, type Intervals } from './intervals.js';
import { formatAddress, parseKubeAddress, parseKubeCidr, readIpBlock, WIDTH, type Address, type IpBlockReading, type Prefix } from './kube-cidr.js';

export interface IpSet {
  readonly v4: Intervals;
  readonly v6: Intervals;
}

const V4_MAX = (1n << 32n) - 1n;
const V6_MAX = (1n << 128n) - 1n;

export const NO_IPS: IpSet = { v4: [], v6: [] };
export const ALL_IPS: IpSet = { v4: [[0n, V4_MAX]], v6: [[0n, V6_MAX]] };

/**
 * An address as Kubernetes reads it (`parseKubeAddress`: leading zeros decimal, `::ffff:a.b.c.d`
 * is IPv4); throws on an invalid address.
 */
export function parseIp(text: string): Address {
  const read = parseKubeAddress(text);
  if (!read.ok) throw new Error(read.reason);
  return read.value;
}

/** The addresses of one CIDR as Kubernetes reads it (`parseKubeCidr`); throws on an invalid CIDR. */
export function cidrSet(cidr: string): IpSet {
  const read = parseKubeCidr(cidr);
  if (!read.ok) throw new Error(`${JSON.stringify(cidr)} is not a valid CIDR: ${read.reason}`);
  return prefixSet(read.value);
}

function prefixSet(prefix: Prefix): IpSet {
  const size = 1n << BigInt(WIDTH[prefix.family] - prefix.bits);
  const interval: Intervals = [[prefix.network, prefix.network + size - 1n]];
  return prefix.family === 4 ? { v4: interval, v6: [] } : { v4: [], v6: interval };
}

export function ipUnion(a: IpSet, b: IpSet): IpSet {
  return { v4: unionIntervals(a.v4, b.v4), v6: unionIntervals(a.v6, b.v6) };
}

export function ipIntersect(a: IpSet, b: IpSet): IpSet {
  return { v4: intersectIntervals(a.v4, b.v4), v6: intersectIntervals(a.v6, b.v6) };
}

export function ipSubtract(a: IpSet, b: IpSet): IpSet {
  return { v4: subtractIntervals(a.v4, b.v4), v6: subtractIntervals(a.v6, b.v6) };
}

export function ipsInclude(outer: IpSet, inner: IpSet): boolean {
  return intervalsInclude(outer.v4, inner.v4) && intervalsInclude(outer.v6, inner.v6);
}

/** True when some address is in both sets. */
export function ipsMeet(a: IpSet, b: IpSet): boolean {
  return intervalsMeet(a.v4, b.v4) || intervalsMeet(a.v6, b.v6);
}

export function ipIsEmpty(a: IpSet): boolean {
  return a.v4.length === 0 && a.v6.length === 0;
}

export function ipContains(a: IpSet, address: { family: 4 | 6; value: bigint }): boolean {
  return containsValue(address.family === 4 ? a.v4 : a.v6, address.value);
}

/**
 * `cidr` minus every `except`, normalized; throws when Kubernetes would refuse the block
 * (`readIpBlock`).
 */
export function ipBlockSet(cidr: string, except: readonly string[] = []): IpSet {
  const read = readIpBlock({ cidr, except });
  if (!read.ok) throw new Error(`${read.field}: ${read.reason}`);
  return ipBlockSetOf(read);
}

/**
 * The addresses an `ipBlock` Kubernetes accepted may allow. An `except` written in the other family
 * than `cidr` is not subtracted: Kubernetes accepts only one such case, an IPv4 `cidr` with an
 * IPv4-mapped `except` (its subset check compares /8 with /104), which Go's `net.IPNet` dataplanes
 * subtract as IPv4 but `netip`-based ones would not; keeping it means a connection may be reported
 * that some dataplane denies, never one allowed that tierguard did not check.
 */
export function ipBlockSetOf(block: Extract<IpBlockReading, { ok: true }>): IpSet {
  const holes = block.except.filter((hole) => hole.written.family === block.cidr.written.family);
  return holes.reduce((set, hole) => ipSubtract(set, prefixSet(hole)), prefixSet(block.cidr));
}

export function ipSetOf(cidrs: readonly string[]): IpSet {
  return cidrs.reduce((set, cidr) => ipUnion(set, cidrSet(cidr)), NO_IPS);
}

/** The largest CIDR that starts the set (IPv4 first): a concrete, readable example. */
export function exampleCidr(a: IpSet): string | undefined {
  const v4 = a.v4[0];
  if (v4) return formatCidr(4, v4[0], v4[1]);
  const v6 = a.v6[0];
  return v6 ? formatCidr(6, v6[0], v6[1]) : undefined;
}

/** The largest block that starts at `lo` and ends by `hi`, as `a.b.c.d/n` or `x::/n`. */
export function formatCidr(family: 4 | 6, lo: bigint, hi: bigint): string {
  if (family === 4) return formatCidr4(Number(lo), Number(hi));
  // As below, on bigints: the highest bit of the size, and the lowest set bit of `lo`.
  const sizeBits = bitLength(hi - lo + 1n) - 1;
  const alignBits = lo === 0n ? 128 : bitLength(lo & -lo) - 1;
  return `${formatAddress(family, lo)}/${128 - Math.min(sizeBits, alignBits, 128)}`;
}

/** The number of bits of a positive bigint (its highest set bit, plus one). */
function bitLength(value: bigint): number {
  const hex = value.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0] as string, 16)));
}

/**
 * The largest block at `lo` within [lo, hi]: its host bits are as many as `lo`'s trailing zero
 * bits and the range's size allow. IPv4 in numbers, without a bigint per step (a finding's example
 * runs it).
 */
function formatCidr4(lo: number, hi: number): string {
  const size = hi - lo + 1;
  const sizeBits = size > 0xffffffff ? 32 : 31 - Math.clz32(size);
  const alignBits = lo === 0 ? 32 : 31 - Math.clz32(lo & -lo);
  const bits = Math.min(sizeBits, alignBits);
  return `${lo >>> 24}.${(lo >>> 16) & 255}.${(lo >>> 8) & 255}.${lo & 255}/${32 - bits}`;
}
