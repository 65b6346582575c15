/**
 * The Kubernetes CEL IP and CIDR libraries (`ip()`, `cidr()`, `isIP()`, `isCIDR()`,
 * `ip.isCanonical()` and the `net.IP` / `net.CIDR` methods), parsed as strictly as Go's
 * `netip`: four-part decimal IPv4 without leading zeros, no IPv6 zones, no IPv4-mapped IPv6.
 */
import ipaddr from 'ipaddr.js';
import { isIPv4Mapped, readAddress, toIpaddr } from '../network/kube-cidr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** A CEL `net.IP` value. */
export class CelIP {
  readonly #address: Address;
  constructor(address: Address) {
    this.#address = address;
  }

  get address(): Address {
    return this.#address;
  }

  get family(): 4 | 6 {
    return this.#address.kind() === 'ipv4' ? 4 : 6;
  }

  /** Go's `netip.Addr` classifications, as the Kubernetes `net.IP` methods expose them. */
  isUnspecified(): boolean {
    return this.#address.toByteArray().every((byte) => byte === 0);
  }

  isLoopback(): boolean {
    const bytes = this.#address.toByteArray();
    return this.family === 4 ? bytes[0] === 127 : bytes.every((byte, i) => byte === (i === 15 ? 1 : 0));
  }

  isMulticast(): boolean {
    const first = this.#address.toByteArray()[0] ?? 0;
    return this.family === 4 ? (first & 0xf0) === 0xe0 : first === 0xff;
  }

  isLinkLocalMulticast(): boolean {
    const [a = 0, b = 0, c = 0] = this.#address.toByteArray();
    return this.family === 4 ? a === 224 && b === 0 && c === 0 : a === 0xff && (b & 0x0f) === 0x02;
  }

  isLinkLocalUnicast(): boolean {
    const [a = 0, b = 0] = this.#address.toByteArray();
    return this.family === 4 ? a === 169 && b === 254 : a === 0xfe && (b & 0xc0) === 0x80;
  }

  isGlobalUnicast(): boolean {
    const broadcast = this.family === 4 && this.#address.toByteArray().every((byte) => byte === 255);
    return !broadcast && !this.isUnspecified() && !this.isLoopback() && !this.isMulticast() && !this.isLinkLocalUnicast();
  }

  /** The canonical form: dotted decimal, or RFC 5952 for IPv6 (as Go prints it). */
  toString(): string {
    const address = this.#address;
    return address instanceof ipaddr.IPv6 ? address.toRFC5952String() : address.toString();
  }
}

/** A CEL `net.CIDR` value: an address (not necessarily masked) and a prefix length. */
export class CelCIDR {
  readonly #ip: CelIP;
  readonly #prefixLength: number;
  constructor(ip: CelIP, prefixLength: number) {
    this.#ip = ip;
    this.#prefixLength = prefixLength;
  }

  get ip(): CelIP {
    return this.#ip;
  }

  get prefixLength(): number {
    return this.#prefixLength;
  }

  containsIP(ip: CelIP): boolean {
    return ip.family === this.#ip.family && ip.address.match(this.#ip.address, this.#prefixLength);
  }

  containsCIDR(other: CelCIDR): boolean {
    return other.prefixLength >= this.#prefixLength && this.containsIP(other.ip);
  }

  masked(): CelCIDR {
    const bytes = this.#ip.address.toByteArray();
    bytes.forEach((byte, i) => {
      const keep = Math.min(8, Math.max(0, this.#prefixLength - i * 8));
      bytes[i] = byte & ((0xff << (8 - keep)) & 0xff);
    });
    return new CelCIDR(new CelIP(ipaddr.fromByteArray(bytes)), this.#prefixLength);
  }

  toString(): string {
    return `${this.#ip.toString()}/${this.#prefixLength}`;
  }
}

/**
 * Parses an IP address as Kubernetes' `ip()` does (`netip.ParseAddr`, then no zone and no
 * IPv4-mapped IPv6); undefined when it is not one. Read by `readAddress(..., 'strict')`, not
 * ipaddr.js, whose reading of an embedded IPv4 part differs from Go's: `::1.2.3.4` is ::102:304,
 * not IPv4-mapped, and `1:2:3:4:5:6:010.0.0.1` is refused (leading zero).
 */
export function parseIP(text: string): CelIP | undefined {
  return remembered(parsedIPs, text, readIP);
}

function readIP(text: string): CelIP | undefined {
  const read = readAddress(text, 'strict');
  if (!read.ok || isIPv4Mapped(read.value)) return undefined;
  return new CelIP(toIpaddr(read.value));
}

/** Parses `address/prefix` as Kubernetes' `cidr()` does; undefined when it is not one. */
export function parseCIDR(text: string): CelCIDR | undefined {
  return remembered(parsedCIDRs, text, readCIDR);
}

/**
 * Parses of recent texts. The values are immutable, so one can serve every request: the same
 * literal (`containsIP('169.254.170.2')`) or `ipBlock.cidr` is parsed once, not per expression
 * and request. Emptied when full, as the regex cache is; texts longer than any address are not kept.
 */
const parsedIPs = new Map<string, CelIP | undefined>();
const parsedCIDRs = new Map<string, CelCIDR | undefined>();
const PARSED_CACHE_SIZE = 512;
const MAX_CACHED_TEXT = 64;

function remembered<T>(cache: Map<string, T | undefined>, text: string, parse: (text: string) => T | undefined): T | undefined {
  if (cache.has(text)) return cache.get(text);
  const value = parse(text);
  if (text.length <= MAX_CACHED_TEXT) {
    if (cache.size >= PARSED_CACHE_SIZE) cache.clear();
    cache.set(text, value);
  }
  return value;
}

function readCIDR(text: string): CelCIDR | undefined {
  const slash = text.lastIndexOf('/');
  const bits = text.slice(slash + 1);
  if (slash < 0 || !/^(0|[1-9][0-9]{0,2})$/.test(bits)) return undefined;
  const ip = parseIP(text.slice(0, slash));
  const prefixLength = Number(bits);
  if (!ip || prefixLength > (ip.family === 4 ? 32 : 128)) return undefined;
  return new CelCIDR(ip, prefixLength);
}

/** Whether `text` is an IP address in canonical form (`ip.isCanonical`). */
export function isCanonicalIP(text: string): boolean | undefined {
  const ip = parseIP(text);
  return ip && ip.toString() === text;
}
