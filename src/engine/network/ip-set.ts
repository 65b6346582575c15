/**
 * Sets of IPv4 and IPv6 addresses as interval sets, for CIDR arithmetic: `ipBlock` with `except`,
 * guardrail `networks`, and their intersections and differences. The two families never mix.
 */
import ipaddr from 'ipaddr.js';
import { containsValue, intersectIntervals, subtractIntervals, unionIntervals, type Intervals } from './intervals.js';

export interface IpSet {
  readonly v4: Intervals;
  readonly v6: Intervals;
}

const V4_MAX = (1n << 32n) - 1n;
const V6_MAX = (1n << 128n) - 1n;

export const NO_IPS: IpSet = { v4: [], v6: [] };
export const ALL_IPS: IpSet = { v4: [[0n, V4_MAX]], v6: [[0n, V6_MAX]] };

/** An address as family and number; throws on an invalid address. */
export function parseIp(text: string): { family: 4 | 6; value: bigint } {
  const addr = ipaddr.parse(text);
  const bytes = addr.toByteArray();
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return { family: addr.kind() === 'ipv4' ? 4 : 6, value };
}

/** The addresses of one CIDR; throws on an invalid CIDR. Host bits are ignored, as Kubernetes does. */
export function cidrSet(cidr: string): IpSet {
  const [addr, bits] = ipaddr.parseCIDR(cidr);
  const { family, value } = parseIp(addr.toString());
  const width = family === 4 ? 32n : 128n;
  const hostBits = width - BigInt(bits);
  const lo = (value >> hostBits) << hostBits;
  const hi = lo + (1n << hostBits) - 1n;
  return family === 4 ? { v4: [[lo, hi]], v6: [] } : { v4: [], v6: [[lo, hi]] };
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

export function ipIsEmpty(a: IpSet): boolean {
  return a.v4.length === 0 && a.v6.length === 0;
}

export function ipContains(a: IpSet, address: { family: 4 | 6; value: bigint }): boolean {
  return containsValue(address.family === 4 ? a.v4 : a.v6, address.value);
}

/** `cidr` minus every `except`, normalized. */
export function ipBlockSet(cidr: string, except: readonly string[] = []): IpSet {
  return except.reduce((set, hole) => ipSubtract(set, cidrSet(hole)), cidrSet(cidr));
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

function formatCidr(family: 4 | 6, lo: bigint, hi: bigint): string {
  const width = family === 4 ? 32n : 128n;
  let bits = 0n;
  // Grow the block while it stays aligned at `lo` and inside [lo, hi].
  while (bits < width && (lo & ((1n << (bits + 1n)) - 1n)) === 0n && lo + (1n << (bits + 1n)) - 1n <= hi) bits++;
  return `${formatIp(family, lo)}/${width - bits}`;
}

export function formatIp(family: 4 | 6, value: bigint): string {
  const count = family === 4 ? 4 : 16;
  const bytes: number[] = [];
  for (let i = count - 1; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

