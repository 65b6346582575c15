/** Compiles a Guardrail's `subject`, `ingress` and `egress` into matchers and sets. */
import { ipIntersect, ipIsEmpty, ipSetOf } from '../engine/network/ip-set.js';
import { ANY_LABELS, cubeIntersect, type LabelCube } from '../engine/network/label-set.js';
import type { CompiledGuardrail } from '../engine/policy-set.js';
import { ALL_PORTS, NO_PORTS, portIntersect, portIsEmpty, portRange, portUnion, type PortSet, type Protocol } from '../engine/network/port-set.js';
import { compileBoth, type CompiledNetworkRule, type CompiledNetworkRules, type CompiledPeer, type CompiledSubject, type Direction } from '../engine/network/rules.js';
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

/**
 * Warnings for guardrails of equal priority in one tier whose rules can match the same
 * connection: their order then falls to their names, which is rarely what the author meant.
 * Only guardrails that tie are compared, so this stays linear for sets of distinct priorities.
 */
export function equalPriorityOverlaps(guardrails: readonly CompiledGuardrail[]): { message: string; guardrails: [string, string] }[] {
  const ties = new Map<string, CompiledGuardrail[]>();
  for (const guardrail of guardrails) {
    if (!guardrail.network) continue;
    const key = `${guardrail.tier.name}\u0000${guardrail.priority}`;
    ties.set(key, [...(ties.get(key) ?? []), guardrail]);
  }
  const warnings: { message: string; guardrails: [string, string] }[] = [];
  for (const group of ties.values()) {
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        const a = group[i] as CompiledGuardrail;
        const b = group[j] as CompiledGuardrail;
        const overlap = overlappingRules(a.network as CompiledNetworkRules, b.network as CompiledNetworkRules);
        if (!overlap) continue;
        warnings.push({
          message: `Guardrails ${a.name} and ${b.name} tie at priority ${a.priority} in tier ${a.tier.name}: name order decides between overlapping rules ${a.name}/${overlap[0]} and ${b.name}/${overlap[1]}`,
          guardrails: [a.name, b.name],
        });
      }
    }
  }
  return warnings;
}

function overlappingRules(a: CompiledNetworkRules, b: CompiledNetworkRules): [string, string] | undefined {
  if (!cubesMeet(subjectCubes(a.subject), subjectCubes(b.subject))) return undefined;
  for (const direction of ['ingress', 'egress'] as const) {
    for (const x of a[direction]) {
      for (const y of b[direction]) {
        if (portsMeet(x, y) && x.peers.some((p) => y.peers.some((q) => peersMeet(p, q)))) return [x.id, y.id];
      }
    }
  }
  return undefined;
}

function subjectCubes(subject: CompiledSubject): (LabelCube | null)[] {
  return [subject.namespaces.cube, subject.kind === 'pods' ? subject.pods.cube : ANY_LABELS];
}

function cubesMeet(a: (LabelCube | null)[], b: (LabelCube | null)[]): boolean {
  return a.every((x, i) => {
    const y = b[i];
    return x !== null && y !== null && y !== undefined && cubeIntersect(x, y) !== null;
  });
}

function peersMeet(a: CompiledPeer, b: CompiledPeer): boolean {
  if (a.kind === 'nodes' || b.kind === 'nodes') return false;
  if (a.kind === 'networks' && b.kind === 'networks') return !ipIsEmpty(ipIntersect(a.ips, b.ips));
  if (a.kind === 'networks' || b.kind === 'networks') return false;
  return cubesMeet([a.namespaces.cube, a.kind === 'pods' ? a.pods.cube : ANY_LABELS], [b.namespaces.cube, b.kind === 'pods' ? b.pods.cube : ANY_LABELS]);
}

function portsMeet(a: CompiledNetworkRule, b: CompiledNetworkRule): boolean {
  return a.namedPorts.length > 0 || b.namedPorts.length > 0 || !portIsEmpty(portIntersect(a.ports, b.ports));
}
