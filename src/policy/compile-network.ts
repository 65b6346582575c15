/** Compiles a Guardrail's `subject`, `ingress` and `egress` into matchers and sets. */
import { ipSetOf } from '../engine/network/ip-set.js';
import { ALL_PORTS, NO_PORTS, portRange, portUnion, type PortSet, type Protocol } from '../engine/network/port-set.js';
import { compileBoth, type CompiledNetworkRule, type CompiledNetworkRules, type CompiledPeer, type Direction } from '../engine/network/rules.js';
import type { GuardrailSpec } from './schema.js';

type RuleDoc = NonNullable<GuardrailSpec['ingress']>[number] | NonNullable<GuardrailSpec['egress']>[number];
type PeerDoc = NonNullable<GuardrailSpec['ingress']>[number]['from'][number];
type ProtocolDoc = NonNullable<RuleDoc['protocols']>[number];

export function compileNetworkRules(spec: GuardrailSpec): CompiledNetworkRules {
  const subject = spec.subject?.pods
    ? { kind: 'pods' as const, namespaces: compileBoth(spec.subject.pods.namespaceSelector), pods: compileBoth(spec.subject.pods.podSelector) }
    : { kind: 'namespaces' as const, namespaces: compileBoth(spec.subject?.namespaces) };
  return {
    subject,
    ingress: (spec.ingress ?? []).map((rule, index) => compileRule(rule, rule.from, 'ingress', index)),
    egress: (spec.egress ?? []).map((rule, index) => compileRule(rule, rule.to, 'egress', index)),
  };
}

function compileRule(rule: RuleDoc, peers: readonly PeerDoc[], direction: Direction, index: number): CompiledNetworkRule {
  const { ports, namedPorts } = compileProtocols(rule.protocols);
  return {
    id: rule.name ?? `${direction}[${index}]`,
    direction,
    index,
    action: rule.action,
    peers: peers.map(compilePeer),
    ports,
    namedPorts,
  };
}

function compilePeer(peer: PeerDoc): CompiledPeer {
  if (peer.namespaces) return { kind: 'namespaces', namespaces: compileBoth(peer.namespaces) };
  if (peer.pods) return { kind: 'pods', namespaces: compileBoth(peer.pods.namespaceSelector), pods: compileBoth(peer.pods.podSelector) };
  if (peer.networks) return { kind: 'networks', ips: ipSetOf(peer.networks), cidrs: peer.networks };
  return { kind: 'nodes' };
}

function compileProtocols(entries: readonly ProtocolDoc[] | undefined): { ports: PortSet; namedPorts: string[] } {
  if (!entries) return { ports: ALL_PORTS, namedPorts: [] };
  let ports = NO_PORTS;
  const namedPorts: string[] = [];
  for (const entry of entries) {
    if (entry.destinationNamedPort !== undefined) {
      namedPorts.push(entry.destinationNamedPort);
      continue;
    }
    const protocol: Protocol = entry.tcp ? 'TCP' : entry.udp ? 'UDP' : 'SCTP';
    const port = (entry.tcp ?? entry.udp ?? entry.sctp)?.destinationPort;
    if (!port) continue;
    ports = portUnion(ports, port.range ? portRange(protocol, port.range.start, port.range.end) : portRange(protocol, port.number as number, port.number as number));
  }
  return { ports, namedPorts };
}
