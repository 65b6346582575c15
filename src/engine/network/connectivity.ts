/**
 * Concrete connection evaluation (`tierguard explain`): for one connection, the egress side of
 * the source pod and the ingress side of the destination pod, each decided first by the enforced
 * tiers and then by the namespace's NetworkPolicies. A connection is allowed when both sides
 * allow it; an address end has no side of its own.
 */
import type { Labels } from '../../api/kube.js';
import type { CompiledGuardrail, PolicySet } from '../policy-set.js';
import { ipContains } from './ip-set.js';
import type { CompiledNetworkPolicy, PolicyPeer, PolicyRule } from './network-policy.js';
import { portContains, type Protocol } from './port-set.js';
import type { CompiledNetworkRule, CompiledPeer, CompiledSubject, Direction } from './rules.js';

export interface NamedPort {
  readonly port: number;
  readonly protocol: Protocol;
}

export type Endpoint =
  | {
    readonly kind: 'pod';
    readonly namespace: string;
    /** Includes `kubernetes.io/metadata.name`. */
    readonly namespaceLabels: Labels;
    readonly labels: Labels;
    /** Named container ports, for resolving named ports on a destination pod. */
    readonly ports?: Readonly<Record<string, NamedPort>>;
  }
  | { readonly kind: 'address'; readonly address: { readonly family: 4 | 6; readonly value: bigint } };

export interface Connection {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly protocol: Protocol;
  readonly port: number;
}

export type DecidedBy =
  | { readonly layer: 'tier'; readonly tier: string; readonly guardrail: string; readonly rule: string }
  | { readonly layer: 'networkpolicy'; readonly policies: readonly string[] }
  | { readonly layer: 'default' };

/** One tier rule that applied to the connection, in the order consulted. */
export interface TraceStep {
  readonly tier: string;
  readonly guardrail: string;
  readonly rule: string;
  readonly action: 'Accept' | 'Deny' | 'Pass';
}

export interface SideVerdict {
  readonly allowed: boolean;
  readonly decidedBy: DecidedBy;
  readonly trace: readonly TraceStep[];
}

export interface ConnectionVerdict {
  readonly allowed: boolean;
  readonly egress: SideVerdict;
  readonly ingress: SideVerdict;
}

export interface NetworkContext {
  readonly set: PolicySet;
  readonly policiesByNamespace: ReadonlyMap<string, readonly CompiledNetworkPolicy[]>;
}

export function networkContext(set: PolicySet, policies: readonly CompiledNetworkPolicy[]): NetworkContext {
  const byNamespace = new Map<string, CompiledNetworkPolicy[]>();
  for (const policy of policies) {
    const list = byNamespace.get(policy.namespace) ?? [];
    list.push(policy);
    byNamespace.set(policy.namespace, list);
  }
  return { set, policiesByNamespace: byNamespace };
}

const OPEN: SideVerdict = { allowed: true, decidedBy: { layer: 'default' }, trace: [] };

export function evaluateConnection(context: NetworkContext, connection: Connection): ConnectionVerdict {
  const egress = connection.from.kind === 'pod' ? evaluateSide(context, connection, 'egress') : OPEN;
  const ingress = connection.to.kind === 'pod' ? evaluateSide(context, connection, 'ingress') : OPEN;
  return { allowed: egress.allowed && ingress.allowed, egress, ingress };
}

function evaluateSide(context: NetworkContext, connection: Connection, direction: Direction): SideVerdict {
  const guarded = (direction === 'ingress' ? connection.to : connection.from) as Extract<Endpoint, { kind: 'pod' }>;
  const peer = direction === 'ingress' ? connection.from : connection.to;
  const trace: TraceStep[] = [];
  for (const { tier, guardrails } of context.set.network[direction]) {
    const decided = evaluateTier(guardrails, { connection, direction, guarded, peer, trace });
    if (decided) return { allowed: decided.action === 'Accept', decidedBy: { layer: 'tier', tier: tier.name, guardrail: decided.guardrail, rule: decided.rule }, trace };
  }
  return { ...networkPolicySide(context, connection, direction, guarded, peer), trace };
}

interface SideInput {
  readonly connection: Connection;
  readonly direction: Direction;
  readonly guarded: Extract<Endpoint, { kind: 'pod' }>;
  readonly peer: Endpoint;
  readonly trace: TraceStep[];
}

/** The deciding Accept/Deny in one tier, or undefined when the tier passes or does not apply. */
function evaluateTier(guardrails: readonly CompiledGuardrail[], input: SideInput): { action: 'Accept' | 'Deny'; guardrail: string; rule: string } | undefined {
  for (const guardrail of guardrails) {
    if (guardrail.mode !== 'Enforce' || !guardrail.network || !subjectMatches(guardrail.network.subject, input.guarded)) continue;
    for (const rule of guardrail.network[input.direction]) {
      if (!ruleMatches(rule, input)) continue;
      input.trace.push({ tier: guardrail.tier.name, guardrail: guardrail.name, rule: rule.id, action: rule.action });
      if (rule.action === 'Pass') return undefined;
      return { action: rule.action, guardrail: guardrail.name, rule: rule.id };
    }
  }
  return undefined;
}

function subjectMatches(subject: CompiledSubject, pod: Extract<Endpoint, { kind: 'pod' }>): boolean {
  if (!subject.namespaces.match(pod.namespaceLabels)) return false;
  return subject.kind === 'namespaces' || subject.pods.match(pod.labels);
}

function ruleMatches(rule: CompiledNetworkRule, { connection, peer }: SideInput): boolean {
  if (!rule.peers.some((candidate) => peerMatches(candidate, peer))) return false;
  if (portContains(rule.ports, connection.protocol, connection.port)) return true;
  return rule.namedPorts.some((name) => namedPortMatches(connection, name, connection.protocol));
}

function peerMatches(peer: CompiledPeer, endpoint: Endpoint): boolean {
  switch (peer.kind) {
    case 'networks':
      return endpoint.kind === 'address' && ipContains(peer.ips, endpoint.address);
    case 'namespaces':
      return endpoint.kind === 'pod' && peer.namespaces.match(endpoint.namespaceLabels);
    case 'pods':
      return endpoint.kind === 'pod' && peer.namespaces.match(endpoint.namespaceLabels) && peer.pods.match(endpoint.labels);
    case 'nodes':
      return false;
  }
}

/** A named port matches only through the destination pod's ports, with the same protocol. */
function namedPortMatches(connection: Connection, name: string, protocol: Protocol): boolean {
  if (connection.to.kind !== 'pod') return false;
  const named = connection.to.ports?.[name];
  return named !== undefined && named.protocol === protocol && named.port === connection.port;
}

function networkPolicySide(
  context: NetworkContext,
  connection: Connection,
  direction: Direction,
  guarded: Extract<Endpoint, { kind: 'pod' }>,
  peer: Endpoint,
): Omit<SideVerdict, 'trace'> {
  const selecting = (context.policiesByNamespace.get(guarded.namespace) ?? [])
    .filter((policy) => policy[direction] !== undefined && policy.podSelector.match(guarded.labels));
  if (selecting.length === 0) return { allowed: true, decidedBy: { layer: 'default' } };
  const allowing = selecting.filter((policy) => (policy[direction] as readonly PolicyRule[]).some((rule) => policyRuleMatches(policy, rule, connection, peer)));
  const named = (allowing.length > 0 ? allowing : selecting).map((policy) => `${policy.namespace}/${policy.name}`);
  return { allowed: allowing.length > 0, decidedBy: { layer: 'networkpolicy', policies: named } };
}

function policyRuleMatches(policy: CompiledNetworkPolicy, rule: PolicyRule, connection: Connection, peer: Endpoint): boolean {
  if (rule.peers && !rule.peers.some((candidate) => policyPeerMatches(policy, candidate, peer))) return false;
  if (!rule.ports) return true;
  return rule.ports.some((entry) => {
    if (entry.protocol !== connection.protocol) return false;
    if (entry.port === undefined) return true;
    if (typeof entry.port === 'string') return namedPortMatches(connection, entry.port, entry.protocol);
    return entry.endPort === undefined ? connection.port === entry.port : connection.port >= entry.port && connection.port <= entry.endPort;
  });
}

function policyPeerMatches(policy: CompiledNetworkPolicy, peer: PolicyPeer, endpoint: Endpoint): boolean {
  if (peer.kind === 'ipBlock') return endpoint.kind === 'address' && ipContains(peer.ips, endpoint.address);
  if (endpoint.kind !== 'pod') return false;
  const namespaceOk = peer.namespaces ? peer.namespaces.match(endpoint.namespaceLabels) : endpoint.namespace === policy.namespace;
  return namespaceOk && (peer.pods ? peer.pods.match(endpoint.labels) : true);
}
