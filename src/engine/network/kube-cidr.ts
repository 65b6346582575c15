/**
 * IP addresses and CIDRs read exactly as Kubernetes reads them, so that no spelling means one
 * network to tierguard and another to the cluster. Two readings, each after its Go source:
 *
 * - `sloppy`: NetworkPolicy `ipBlock.cidr` / `ipBlock.except` (and `tierguard explain` addresses).
 *   Kubernetes 1.26 `ValidateIPBlock` (pkg/apis/networking/validation/validation.go) reads them with
 *   `apivalidation.ValidateCIDR` = `netutils.ParseCIDRSloppy` (k8s.io/utils/net/parse.go): Go 1.16's
 *   `net.ParseCIDR`, forked in k8s.io/utils/internal/third_party/forked/golang/net/ip.go with Go
 *   1.17's leading-zero check commented out (kubernetes#100895). So `010.0.0.0/8` is 10.0.0.0/8:
 *   leading zeros are DECIMAL, where inet_aton and ipaddr.js read octal 8.0.0.0/8.
 * - `strict`: Go's `net/netip` `ParseAddr` / `ParsePrefix`, which the Kubernetes CEL library's
 *   `ip()`, `cidr()` and `isCIDR()` use (k8s.io/apiserver/pkg/cel/library), and so ClusterNetworkPolicy
 *   `networks`: no leading zeros, at most 4 hex digits per IPv6 group, no sign or leading zero in
 *   the prefix length (Go >= 1.22).
 *
 * Both refuse IPv6 zones (`%eth0`), spaces, `+`, hex or octal IPv4 fields (`0x0a`, which inet_aton
 * takes) and fewer than four IPv4 fields (`10/8`). Only the IPv6 hex groups are left to ipaddr.js,
 * once the embedded IPv4 part, which it reads its own way (`::1.2.3.4` as `::ffff:1.2.3.4`, `0x0a`
 * and leading zeros accepted), has been read here.
 */
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;
export type Strictness = 'sloppy' | 'strict';

export interface Address {
  readonly family: Family;
  readonly value: bigint;
}

/** A CIDR as read: the network it means, and what was written (which Kubernetes' subset check compares). */
export interface Prefix {
  /** 4 for an IPv4-mapped IPv6 network (`::ffff:a.b.c.d/96+`): Go's `IPNet.Contains` and `String` take it as IPv4. */
  readonly family: Family;
  /** The network address: host bits cleared, as `net.ParseCIDR`'s `IPNet.IP`. */
  readonly network: bigint;
  readonly bits: number;
  /** The address (host bits kept) and prefix length as written; `bits` is Go's `IPNet.Mask.Size()`. */
  readonly written: Address & { readonly bits: number };
}

export type Reading<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const ok = <T>(value: T): Reading<T> => ({ ok: true, value });
const fail = <T>(reason: string): Reading<T> => ({ ok: false, reason });

export const WIDTH: Readonly<Record<Family, number>> = { 4: 32, 6: 128 };

/** Whether an IPv6 value is in ::ffff:0:0/96 (RFC 4291 §2.5.5.2), the test of Go's `IP.To4`. */
export function isIPv4Mapped(address: Address): boolean {
  return address.family === 6 && address.value >> 32n === 0xffffn;
}

/** An address and its family as written: IPv6 when it has a colon (Go's `ParseIP` and `netip.ParseAddr`). */
export function readAddress(text: string, strictness: Strictness): Reading<Address> {
  const value = text.includes(':') ? readIPv6(text, strictness) : readIPv4(text, strictness);
  return value.ok ? ok({ family: text.includes(':') ? 6 : 4, value: value.value }) : value;
}

/**
 * An address as `netutils.ParseIPSloppy` reads it, an IPv4-mapped IPv6 address taken as its IPv4
 * address (Go's `IP.To4`, which `IPNet.Contains` applies to the address it tests).
 */
export function parseKubeAddress(text: string): Reading<Address> {
  const read = readAddress(text, 'sloppy');
  if (!read.ok || !isIPv4Mapped(read.value)) return read;
  return ok({ family: 4, value: read.value.value & 0xffffffffn });
}

/**
 * A CIDR as `readAddress` plus a prefix length. `sloppy` splits at the first `/` and takes leading
 * zeros in the length (Go 1.16 `dtoi`); `strict` splits at the last `/` and refuses them
 * (`netip.ParsePrefix`). Host bits are allowed and cleared (Kubernetes 1.26 accepts `10.1.2.3/8` in
 * a NetworkPolicy). A network in ::ffff:0:0/96 is its IPv4 network, prefix length less 96, as
 * `net.ParseCIDR`'s `IPNet` is for `Contains` and `String`; below /96 the masked network has lost
 * the ffff and stays IPv6, as in Go.
 */
export function readPrefix(text: string, strictness: Strictness): Reading<Prefix> {
  const slash = strictness === 'sloppy' ? text.indexOf('/') : text.lastIndexOf('/');
  if (slash < 0) return fail('no "/" and prefix length');
  const address = readAddress(text.slice(0, slash), strictness);
  if (!address.ok) return address;
  const { family, value } = address.value;
  const bits = readBits(text.slice(slash + 1), strictness, WIDTH[family]);
  if (!bits.ok) return bits;
  const hostBits = BigInt(WIDTH[family] - bits.value);
  const network = (value >> hostBits) << hostBits;
  const written = { family, value, bits: bits.value };
  if (isIPv4Mapped({ family, value: network })) return ok({ family: 4, network: network & 0xffffffffn, bits: bits.value - 96, written });
  return ok({ family, network, bits: bits.value, written });
}

/** A NetworkPolicy `ipBlock` CIDR as `netutils.ParseCIDRSloppy` reads it (see `readPrefix`). */
export function parseKubeCidr(text: string): Reading<Prefix> {
  return readPrefix(text, 'sloppy');
}

export type IpBlockReading =
  | { readonly ok: true; readonly cidr: Prefix; readonly except: readonly Prefix[] }
  /** `field` is `cidr` or `except[i]`, relative to the `ipBlock`. */
  | { readonly ok: false; readonly field: string; readonly reason: string };

/**
 * A NetworkPolicy `ipBlock` read and checked as Kubernetes 1.26 `ValidateIPBlock` does: `cidr` is
 * required; `cidr` and each `except` must parse (`ParseCIDRSloppy`); each `except` must be a strict
 * subset of `cidr`, tested as Go does, `cidrIPNet.Contains(exceptCIDR.IP)` (so the families must
 * agree once IPv4-mapped networks are taken as IPv4) and the prefix lengths *as written* compared
 * (`cidrMaskLen >= exceptMaskLen` is refused). The first problem is returned, as Kubernetes stops at
 * the first unparsable `except`.
 */
export function readIpBlock(block: { readonly cidr: string; readonly except: readonly string[] }): IpBlockReading {
  if (block.cidr === '') return { ok: false, field: 'cidr', reason: 'is required' };
  const cidr = parseKubeCidr(block.cidr);
  if (!cidr.ok) return { ok: false, field: 'cidr', reason: `${JSON.stringify(block.cidr)} is not a valid CIDR: ${cidr.reason}` };
  const except: Prefix[] = [];
  for (const [i, text] of block.except.entries()) {
    const hole = parseKubeCidr(text);
    if (!hole.ok) return { ok: false, field: `except[${i}]`, reason: `${JSON.stringify(text)} is not a valid CIDR: ${hole.reason}` };
    if (!prefixContains(cidr.value, hole.value) || cidr.value.written.bits >= hole.value.written.bits) {
      const families = cidr.value.written.family === hole.value.written.family ? ''
        : ` (Kubernetes compares the prefix lengths as written, /${cidr.value.written.bits} and /${hole.value.written.bits}: write both as IPv4 or both as IPv6)`;
      return { ok: false, field: `except[${i}]`, reason: `${JSON.stringify(text)} must be a strict subset of cidr ${JSON.stringify(block.cidr)}${families}` };
    }
    except.push(hole.value);
  }
  return { ok: true, cidr: cidr.value, except };
}

/** Whether `outer` contains the network address of `inner`, as Go's `IPNet.Contains(inner.IP)`. */
export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  const hostBits = BigInt(WIDTH[outer.family] - outer.bits);
  return outer.family === inner.family && inner.network >> hostBits === outer.network >> hostBits;
}

/** The address as ipaddr.js's value (4 or 16 bytes). */
export function toIpaddr(address: Address): ipaddr.IPv4 | ipaddr.IPv6 {
  const bytes: number[] = [];
  for (let i = WIDTH[address.family] / 8 - 1; i >= 0; i--) bytes.push(Number((address.value >> BigInt(i * 8)) & 0xffn));
  return ipaddr.fromByteArray(bytes);
}

/** Dotted decimal or RFC 5952 text of an address. */
export function formatAddress(family: Family, value: bigint): string {
  return toIpaddr({ family, value }).toString();
}

export function formatPrefix(prefix: Prefix): string {
  return `${formatAddress(prefix.family, prefix.network)}/${prefix.bits}`;
}

/**
 * Go 1.16 `parseIPv4` as forked by k8s.io/utils (`sloppy`: fields of any number of decimal digits,
 * leading zeros decimal) or `netip.parseIPv4Fields` (`strict`: leading zeros refused). Four fields.
 */
function readIPv4(text: string, strictness: Strictness): Reading<bigint> {
  const fields = text.split('.');
  if (fields.length !== 4 || fields.some((field) => !/^[0-9]+$/.test(field))) {
    const hex = fields.find((field) => /^0x/i.test(field));
    if (hex !== undefined) return fail(`IPv4 field "${hex}" is not decimal`);
    return fail(`IPv4 address "${text}" must be 4 decimal fields (a.b.c.d)`);
  }
  let value = 0n;
  for (const field of fields) {
    if (strictness === 'strict' && field.length > 1 && field.startsWith('0')) return fail(leadingZero(field));
    const number = Number(field);
    if (number > 255) return fail(`IPv4 field "${field}" is greater than 255`);
    value = (value << 8n) | BigInt(number);
  }
  return ok(value);
}

function leadingZero(field: string): string {
  const octal = /^[0-7]+$/.test(field) ? `, inet_aton as octal ${parseInt(field, 8)}` : '';
  return `IPv4 field "${field}" has a leading zero (NetworkPolicy reads it as decimal ${Number(field)}${octal})`;
}

/**
 * Go 1.16 `parseIPv6` (`sloppy`: a group may have more than 4 hex digits while its value fits in 16
 * bits, `xtoi`) or `netip.parseIPv6` (`strict`: at most 4). An embedded IPv4 address must be the last
 * part and is read by `readIPv4` with the same strictness; the hex groups are then ipaddr.js's,
 * whose reading of them (one `::` standing for at least one group, 8 groups) is Go's.
 */
function readIPv6(text: string, strictness: Strictness): Reading<bigint> {
  const zone = text.indexOf('%');
  if (zone >= 0) return fail(`IPv6 zone "${text.slice(zone)}" is not allowed`);
  let hex = text;
  if (text.includes('.')) {
    const head = text.slice(0, text.lastIndexOf(':') + 1);
    if (head.includes('.')) return fail('an embedded IPv4 address must be the last part of an IPv6 address');
    const v4 = readIPv4(text.slice(head.length), strictness);
    if (!v4.ok) return fail(`embedded ${v4.reason}`);
    hex = `${head}${(v4.value >> 16n).toString(16)}:${(v4.value & 0xffffn).toString(16)}`;
  }
  const bad = /[^0-9A-Fa-f:]/.exec(hex);
  if (bad) return fail(`unexpected character ${JSON.stringify(bad[0])}`);
  const groups = hex.split(':');
  const long = groups.find((group) => group.length > 4);
  if (long !== undefined && strictness === 'strict') return fail(`IPv6 group "${long}" has more than 4 hex digits`);
  const trimmed = groups.map((group) => (group.length > 4 ? group.replace(/^0+(?=.)/, '') : group));
  const tooBig = trimmed.find((group) => group.length > 4);
  if (tooBig !== undefined) return fail(`IPv6 group "${tooBig}" is greater than ffff`);
  const normal = trimmed.join(':');
  if (!ipaddr.IPv6.isValid(normal)) return fail(`"${text}" is not a valid IPv6 address`);
  return ok(ipaddr.IPv6.parse(normal).toByteArray().reduce((value, byte) => (value << 8n) | BigInt(byte), 0n));
}

/** Go 1.16 `dtoi` (`sloppy`: leading zeros) or `netip.ParsePrefix` (`strict`: none, no sign). */
function readBits(text: string, strictness: Strictness, width: number): Reading<number> {
  if (!/^[0-9]+$/.test(text)) return fail(`prefix length "${text}" is not a decimal number`);
  if (strictness === 'strict' && text.length > 1 && text.startsWith('0')) return fail(`prefix length "${text}" has a leading zero`);
  const bits = Number(text);
  if (bits > width) return fail(`prefix length ${text} is out of range 0-${width}`);
  return ok(bits);
}
