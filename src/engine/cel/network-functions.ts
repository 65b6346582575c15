/**
 * Registers the Kubernetes CEL network library on an environment: types `net.IP` and `net.CIDR`
 * (no fields; methods only), `ip()`, `cidr()`, `isIP()`, `isCIDR()`, `ip.isCanonical()`,
 * `string()` of both, `==` on both, and the methods listed below.
 */
import { EvaluationError, type Environment } from '@marcbachmann/cel-js';
import { CelCIDR, CelIP, isCanonicalIP, parseCIDR, parseIP } from './network.js';

/** The value of the constant `ip`, so that `ip.isCanonical(s)` resolves as in Kubernetes. */
class IPNamespace {}

// Arguments may come from request data: messages never echo them.
function ipOrThrow(text: string): CelIP {
  const ip = parseIP(text);
  if (ip) return ip;
  throw new EvaluationError({ code: 'invalid_ip', message: 'not a valid IP address (IPv4, or IPv6 without zone or IPv4 mapping)' });
}

function cidrOrThrow(text: string): CelCIDR {
  const cidr = parseCIDR(text);
  if (cidr) return cidr;
  throw new EvaluationError({ code: 'invalid_cidr', message: 'not a valid CIDR (address/prefix-length)' });
}

const sync = { async: false } as const;

function registerIP(env: Environment): void {
  env
    .registerFunction('ip(string): net.IP', ipOrThrow, sync)
    .registerFunction('isIP(string): bool', (text: string) => parseIP(text) !== undefined, sync)
    .registerFunction('net.IPNamespace.isCanonical(string): bool', (_ns: IPNamespace, text: string) => {
      const canonical = isCanonicalIP(text);
      if (canonical === undefined) ipOrThrow(text);
      return canonical;
    }, sync)
    .registerFunction('string(net.IP): string', (ip: CelIP) => ip.toString(), sync)
    .registerFunction('net.IP.family(): int', (ip: CelIP) => BigInt(ip.family), sync)
    .registerFunction('net.IP.isUnspecified(): bool', (ip: CelIP) => ip.isUnspecified(), sync)
    .registerFunction('net.IP.isLoopback(): bool', (ip: CelIP) => ip.isLoopback(), sync)
    .registerFunction('net.IP.isLinkLocalMulticast(): bool', (ip: CelIP) => ip.isLinkLocalMulticast(), sync)
    .registerFunction('net.IP.isLinkLocalUnicast(): bool', (ip: CelIP) => ip.isLinkLocalUnicast(), sync)
    .registerFunction('net.IP.isGlobalUnicast(): bool', (ip: CelIP) => ip.isGlobalUnicast(), sync)
    .registerOperator('net.IP == net.IP', (a: CelIP, b: CelIP) => a.toString() === b.toString());
}

function registerCIDR(env: Environment): void {
  env
    .registerFunction('cidr(string): net.CIDR', cidrOrThrow, sync)
    .registerFunction('isCIDR(string): bool', (text: string) => parseCIDR(text) !== undefined, sync)
    .registerFunction('string(net.CIDR): string', (cidr: CelCIDR) => cidr.toString(), sync)
    .registerFunction('net.CIDR.containsIP(net.IP): bool', (cidr: CelCIDR, ip: CelIP) => cidr.containsIP(ip), sync)
    .registerFunction('net.CIDR.containsIP(string): bool', (cidr: CelCIDR, text: string) => cidr.containsIP(ipOrThrow(text)), sync)
    .registerFunction('net.CIDR.containsCIDR(net.CIDR): bool', (cidr: CelCIDR, other: CelCIDR) => cidr.containsCIDR(other), sync)
    .registerFunction('net.CIDR.containsCIDR(string): bool', (cidr: CelCIDR, text: string) => cidr.containsCIDR(cidrOrThrow(text)), sync)
    .registerFunction('net.CIDR.ip(): net.IP', (cidr: CelCIDR) => cidr.ip, sync)
    .registerFunction('net.CIDR.masked(): net.CIDR', (cidr: CelCIDR) => cidr.masked(), sync)
    .registerFunction('net.CIDR.prefixLength(): int', (cidr: CelCIDR) => BigInt(cidr.prefixLength), sync)
    .registerOperator('net.CIDR == net.CIDR', (a: CelCIDR, b: CelCIDR) => a.toString() === b.toString());
}

export function registerNetworkFunctions(env: Environment): void {
  env
    .registerType('net.IP', { ctor: CelIP, fields: {} })
    .registerType('net.CIDR', { ctor: CelCIDR, fields: {} })
    .registerType('net.IPNamespace', { ctor: IPNamespace, fields: {} })
    .registerConstant('ip', 'net.IPNamespace', new IPNamespace());
  registerIP(env);
  registerCIDR(env);
}
