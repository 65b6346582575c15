/**
 * The symbolic override check (DESIGN §2): does a NetworkPolicy allow any connection that the
 * tiers decide Deny? For each policy rule, the set of connections it allows is walked through the
 * enforced tier chain as a region — earlier Accept and Pass rules carve traffic out, each Deny
 * rule that still meets some of it is a finding with one concrete example. The answer holds for
 * pods and namespaces that do not exist yet: known namespaces keep their labels, any other
 * namespace may carry any labels.
 */
import { NAMESPACE_NAME_LABEL, type NamespaceInfo } from '../../api/kube.js';
import type { Mode } from '../../api/policy.js';
import type { CompiledGuardrail, PolicySet } from '../policy-set.js';
import { ALL_IPS, exampleCidr } from './ip-set.js';
import { ABSENT, ANY_LABELS, cubeIntersect, exampleLabels, formatLabels, type LabelCube } from './label-set.js';
import { compileNetworkPolicy, type CompiledNetworkPolicy, type PolicyRule } from './network-policy.js';
import { namespaceNamed, namespacesExcept, namespacesMatching, namespaceUniverse, nsIntersect, type NamespaceSet, type NamespaceUniverse } from './namespaces.js';
import { ALL_PORTS, allPortsOf, examplePort, NO_PORTS, portRange, portUnion, type PortSet } from './port-set.js';
import { candidateEntries } from './chain-index.js';
import { RegionTooLargeError, regionIntersect, regionSubtract, type Box, type Region } from './region.js';
import type { CompiledNetworkRule, Direction } from './rules.js';

export interface OverrideInput {
  /** The NetworkPolicy object under review. */
  readonly policy: unknown;
  /** The policy's namespace; `known: false` when tierguard has no record of it. */
  readonly namespace: { readonly name: string; readonly labels: Readonly<Record<string, string>>; readonly known: boolean };
  /** Every namespace tierguard knows (their labels are taken as fixed). */
  readonly knownNamespaces: readonly NamespaceInfo[];
  /** True once the check has run out of time; asked between rules (the engine has no clock). */
  readonly expired?: () => boolean;
}

/** The check ran past its time bound (`expired` said so); what it has not walked is unproven. */
export class OverrideTimeoutError extends Error {
  constructor() {
    super('the override check ran out of time');
    this.name = 'OverrideTimeoutError';
  }
}

export interface OverrideFinding {
  readonly direction: Direction;
  readonly ruleIndex: number;
  readonly tier: string;
  readonly guardrail: string;
  readonly rule: string;
  readonly mode: Mode;
  readonly compliance: readonly string[];
  /** Field path of the offending policy rule, e.g. `spec.ingress[0]`. */
  readonly path: string;
  readonly message: string;
  /** `ingress[0] allows TCP 5432 from namespaces {env=dev}`: short enough for a kubectl warning. */
  readonly short: string;
}

/** A bound of the override check: its time (`expired`) or the size of its regions (`MAX_REGION_BOXES`). */
export type OverrideBound = { readonly kind: 'time' } | { readonly kind: 'size'; readonly limit: number };

/** The check stopped at a bound before it could prove anything about the rest of the policy. */
export interface UnprovenOverride {
  readonly bound: OverrideBound;
  /** Field path of the policy rule the check was on, e.g. `spec.egress[12]`. */
  readonly path: string;
  /**
   * Every guardrail that could apply to the policy, in precedence order: after a bound none of
   * their verdicts is known. Empty when no guardrail can select the policy's pods (nothing to prove).
   */
  readonly guardrails: readonly CompiledGuardrail[];
}

export interface OverrideCheck {
  /** The overrides found before the check stopped (all of them when it did not). */
  readonly findings: readonly OverrideFinding[];
  readonly unproven?: UnprovenOverride;
}

/**
 * Every (policy rule, guardrail rule) pair where the policy allows traffic the guardrail denies.
 * A bound that stops the check is returned as `unproven`, never thrown: the caller decides (an
 * unproven check is not a rule error, and must not follow `--failure-mode`).
 */
export function checkOverrides(set: PolicySet, input: OverrideInput): OverrideCheck {
  const findings: OverrideFinding[] = [];
  if (set.network.ingress.length === 0 && set.network.egress.length === 0) return { findings };
  const policy = compileNetworkPolicy(input.policy, input.namespace.name);
  const universe = namespaceUniverse(withOwnNamespace(input));
  const expired = input.expired ?? never;
  let path = 'spec';
  try {
    for (const direction of ['ingress', 'egress'] as const) {
      for (const rule of policy[direction] ?? []) {
        path = `spec.${direction}[${rule.index}]`;
        if (expired()) throw new OverrideTimeoutError();
        const allowed = policyRuleRegion(policy, rule, direction, universe);
        if (allowed.region.length === 0) continue;
        walkChain(set, { policy, rule, direction, universe, region: allowed.region, notes: allowed.notes, expired, found: findings });
      }
    }
  } catch (error) {
    const bound = boundOf(error);
    if (!bound) throw error;
    return { findings, unproven: { bound, path, guardrails: applicableGuardrails(set, policy, universe) } };
  }
  return { findings };
}

/**
 * As `checkOverrides`, for callers that treat a bound as an exception: throws
 * `OverrideTimeoutError` or `RegionTooLargeError` when the check stops at one.
 */
export function findOverrides(set: PolicySet, input: OverrideInput): OverrideFinding[] {
  const { findings, unproven } = checkOverrides(set, input);
  if (unproven) throw unproven.bound.kind === 'time' ? new OverrideTimeoutError() : new RegionTooLargeError(unproven.bound.limit);
  return [...findings];
}

function boundOf(error: unknown): OverrideBound | undefined {
  if (error instanceof OverrideTimeoutError) return { kind: 'time' };
  if (error instanceof RegionTooLargeError) return { kind: 'size', limit: error.limit };
  return undefined;
}

/** The guardrails whose subject can select the policy's pods, in a direction the policy has rules for. */
function applicableGuardrails(set: PolicySet, policy: CompiledNetworkPolicy, universe: NamespaceUniverse): CompiledGuardrail[] {
  const own = universe.known.get(policy.namespace);
  const found = new Set<CompiledGuardrail>();
  for (const direction of ['ingress', 'egress'] as const) {
    if ((policy[direction] ?? []).length === 0) continue;
    for (const { guardrail } of candidateEntries(set.networkIndex[direction], own?.labels)) {
      if (guardrail.network[direction].length > 0 && subjectCanMeet(guardrail, { policy, universe })) found.add(guardrail);
    }
  }
  return [...found];
}

/** The known namespaces, with the policy's own namespace in them when the caller knows it. */
function withOwnNamespace(input: OverrideInput): readonly NamespaceInfo[] {
  if (!input.namespace.known || input.knownNamespaces.some((ns) => ns.name === input.namespace.name)) return input.knownNamespaces;
  return [...input.knownNamespaces, { name: input.namespace.name, labels: input.namespace.labels, annotations: {} }];
}

interface RuleWalk {
  readonly policy: CompiledNetworkPolicy;
  readonly rule: PolicyRule;
  readonly direction: Direction;
  readonly universe: NamespaceUniverse;
  readonly region: Region;
  readonly notes: readonly string[];
  readonly expired: () => boolean;
  /** Where findings are collected, so that those found before a bound stops the walk stand. */
  readonly found: OverrideFinding[];
}

const never = (): boolean => false;

/** Walks one policy rule through the chain, adding to `walk.found` as it goes. */
function walkChain(set: PolicySet, walk: RuleWalk): void {
  const findings = walk.found;
  const own = walk.universe.known.get(walk.policy.namespace);
  let undecided: Region = walk.region;
  let passed: Box[] = [];
  let tierIndex = -1;
  for (const { guardrail, tierIndex: entryTier } of candidateEntries(set.networkIndex[walk.direction], own?.labels)) {
    if (entryTier !== tierIndex) {
      undecided = [...undecided, ...passed];
      passed = [];
      tierIndex = entryTier;
    }
    if (undecided.length === 0 || !subjectCanMeet(guardrail, walk)) continue;
    if (guardrail.mode !== 'Enforce') {
      virtualFindings(guardrail, undecided, walk);
      continue;
    }
    for (const rule of guardrail.network[walk.direction]) {
      if (walk.expired()) throw new OverrideTimeoutError();
      const match = ruleRegion(guardrail, rule, walk.universe);
      const hit = regionIntersect(undecided, match);
      if (hit.length === 0) continue;
      if (rule.action === 'Deny') findings.push(finding(guardrail, rule, hit[0] as Box, walk));
      if (rule.action === 'Pass') passed.push(...hit);
      undecided = regionSubtract(undecided, match);
      if (undecided.length === 0) break;
    }
  }
}

/** A Warn or Audit guardrail, evaluated as if it were enforced in its place (it changes nothing). */
function virtualFindings(guardrail: CompiledGuardrail, undecided: Region, walk: RuleWalk): void {
  const findings = walk.found;
  let rest: Region = undecided;
  for (const rule of guardrail.network?.[walk.direction] ?? []) {
    if (walk.expired()) throw new OverrideTimeoutError();
    const match = ruleRegion(guardrail, rule, walk.universe);
    const hit = regionIntersect(rest, match);
    if (hit.length === 0) continue;
    if (rule.action === 'Deny') findings.push(finding(guardrail, rule, hit[0] as Box, walk));
    rest = regionSubtract(rest, match);
    if (rest.length === 0) break;
  }
}

/** Cheap pre-filter: can the guardrail's subject contain a pod the policy selects at all? */
function subjectCanMeet(guardrail: CompiledGuardrail, walk: Pick<RuleWalk, 'policy' | 'universe'>): boolean {
  const subject = guardrail.network?.subject;
  if (!subject) return false;
  const own = walk.universe.known.get(walk.policy.namespace);
  if (own ? !subject.namespaces.match(own.labels) : subject.namespaces.cube === null) return false;
  if (subject.kind === 'namespaces') return true;
  return subject.pods.cube !== null && walk.policy.podSelector.cube !== null && cubeIntersect(subject.pods.cube, walk.policy.podSelector.cube) !== null;
}

// ---------------------------------------------------------------- regions

function policyRuleRegion(policy: CompiledNetworkPolicy, rule: PolicyRule, direction: Direction, universe: NamespaceUniverse): { region: Box[]; notes: string[] } {
  const podCube = policy.podSelector.cube;
  if (podCube === null) return { region: [], notes: [] };
  const subjectNamespaces = namespaceNamed(universe, policy.namespace);
  const { ports, notes } = policyPorts(rule);
  if (ports === NO_PORTS) return { region: [], notes };
  const region: Box[] = [];
  const podPeers = (peerNamespaces: NamespaceSet, peerPods: LabelCube) => region.push(...podPeerBoxes({ universe, namespace: policy.namespace, subjectNamespaces, subjectPods: podCube, peerNamespaces, peerPods, ports }));
  if (!rule.peers) {
    podPeers(namespacesMatching(universe, ANY_LABELS), ANY_LABELS);
    region.push({ kind: 'address', dims: [subjectNamespaces, podCube, ALL_IPS, ports] });
    return { region, notes };
  }
  for (const peer of rule.peers) {
    if (peer.kind === 'ipBlock') {
      region.push({ kind: 'address', dims: [subjectNamespaces, podCube, peer.ips, ports] });
      continue;
    }
    const peerNamespaces = peer.namespaces ? namespacesMatching(universe, peer.namespaces.cube) : subjectNamespaces;
    const peerPods = peer.pods ? peer.pods.cube : ANY_LABELS;
    if (peerPods !== null) podPeers(peerNamespaces, peerPods);
  }
  return { region, notes };
}

interface PodPeers {
  readonly universe: NamespaceUniverse;
  /** The policy's namespace. */
  readonly namespace: string;
  readonly subjectNamespaces: NamespaceSet;
  readonly subjectPods: LabelCube;
  readonly peerNamespaces: NamespaceSet;
  readonly peerPods: LabelCube;
  readonly ports: PortSet;
}

/**
 * Boxes for peer pods of a policy rule. When the policy's namespace is unknown, a peer in that
 * very namespace shares its (unknown) labels with the subject: it gets a same-namespace box, and
 * the other peers a box that leaves that namespace out.
 */
function podPeerBoxes(peers: PodPeers): Box[] {
  const { universe, namespace, subjectNamespaces, subjectPods, peerNamespaces, peerPods, ports } = peers;
  if (universe.known.has(namespace)) {
    return isEmpty(peerNamespaces) ? [] : [{ kind: 'pod', dims: [subjectNamespaces, subjectPods, peerNamespaces, peerPods, ports] }];
  }
  const boxes: Box[] = [];
  const same = nsIntersect(subjectNamespaces, peerNamespaces);
  if (same) boxes.push({ kind: 'same', dims: [same, subjectPods, peerPods, ports] });
  const others = namespacesExcept(peerNamespaces, namespace);
  if (!isEmpty(others)) boxes.push({ kind: 'pod', dims: [subjectNamespaces, subjectPods, others, peerPods, ports] });
  return boxes;
}

function isEmpty(set: NamespaceSet): boolean {
  return set.known.size === 0 && set.unknown.length === 0;
}

/** The ports a policy rule allows; a named port cannot be resolved at admission: any port of its protocol. */
function policyPorts(rule: PolicyRule): { ports: PortSet; notes: string[] } {
  if (!rule.ports) return { ports: ALL_PORTS, notes: [] };
  let ports = NO_PORTS;
  const notes: string[] = [];
  for (const entry of rule.ports) {
    if (entry.port === undefined) {
      ports = portUnion(ports, allPortsOf(entry.protocol));
    } else if (typeof entry.port === 'string') {
      ports = portUnion(ports, allPortsOf(entry.protocol));
      notes.push(`named port ${entry.port} cannot be resolved at admission, so it was taken as any ${entry.protocol} port`);
    } else {
      ports = portUnion(ports, portRange(entry.protocol, entry.port, entry.endPort ?? entry.port));
    }
  }
  return { ports, notes };
}

const ruleRegions = new WeakMap<CompiledNetworkRule, { universe: NamespaceUniverse; region: Region }>();

/** The connections a guardrail rule applies to, memoized per namespace universe. */
export function ruleRegion(guardrail: CompiledGuardrail, rule: CompiledNetworkRule, universe: NamespaceUniverse): Region {
  const cached = ruleRegions.get(rule);
  if (cached?.universe === universe) return cached.region;
  const subject = guardrail.network?.subject;
  const subjectPods = subject?.kind === 'pods' ? subject.pods.cube : ANY_LABELS;
  const region = subject && subjectPods ? ruleBoxes(rule, namespacesMatching(universe, subject.namespaces.cube), subjectPods, universe) : [];
  ruleRegions.set(rule, { universe, region });
  return region;
}

function ruleBoxes(rule: CompiledNetworkRule, subjectNamespaces: NamespaceSet, subjectPods: LabelCube, universe: NamespaceUniverse): Box[] {
  // A Deny rule's named port may be any port of a destination pod (conservative); an Accept or
  // Pass rule's named port carves nothing out, so it can never hide a denial.
  const namedToPods = rule.action === 'Deny' && rule.namedPorts.length > 0;
  const podPorts = namedToPods ? ALL_PORTS : rule.ports;
  const addressPorts = namedToPods && rule.direction === 'ingress' ? ALL_PORTS : rule.ports;
  const boxes: Box[] = [];
  for (const peer of rule.peers) {
    if (peer.kind === 'networks') {
      if (addressPorts !== NO_PORTS) boxes.push({ kind: 'address', dims: [subjectNamespaces, subjectPods, peer.ips, addressPorts] });
      continue;
    }
    const peerPods = peer.kind === 'pods' ? peer.pods.cube : peer.kind === 'namespaces' ? ANY_LABELS : null;
    if (peer.kind === 'nodes' || !peerPods) continue;
    const peerNamespaces = namespacesMatching(universe, peer.namespaces.cube);
    boxes.push({ kind: 'pod', dims: [subjectNamespaces, subjectPods, peerNamespaces, peerPods, podPorts] });
    // The same namespace at both ends must satisfy both namespace selectors at once.
    const same = nsIntersect(subjectNamespaces, peerNamespaces);
    if (same) boxes.push({ kind: 'same', dims: [same, subjectPods, peerPods, podPorts] });
  }
  return boxes;
}

// ---------------------------------------------------------------- messages

function finding(guardrail: CompiledGuardrail, rule: CompiledNetworkRule, example: Box, walk: RuleWalk): OverrideFinding {
  const path = `spec.${walk.direction}[${walk.rule.index}]`;
  const port = examplePort(example.dims[example.kind === 'pod' ? 4 : 3] as PortSet);
  const peer = example.kind === 'pod' ? describePods(example.dims[2], example.dims[3])
    : example.kind === 'same' ? describePods(example.dims[0], example.dims[2])
      : exampleCidr(example.dims[2]) ?? 'an address';
  const subjectLabels = exampleLabels(example.dims[1]);
  const subject = Object.keys(subjectLabels.labels).length + subjectLabels.absent.length > 0 ? `pods ${formatLabels(subjectLabels)}` : undefined;
  const [near, far] = walk.direction === 'ingress' ? ['from', 'to'] : ['to', 'from'];
  const what = `${port?.protocol ?? 'TCP'} ${port?.port ?? ''} ${near} ${peer}${subject ? ` ${far} ${subject}` : ''}`;
  const tags = guardrail.compliance.length > 0 ? ` (${guardrail.compliance.join(', ')})` : '';
  const verdict = guardrail.mode === 'Enforce'
    ? `denied by tier ${guardrail.tier.name}, guardrail ${guardrail.name}, rule ${rule.id}${tags}`
    : `would be denied by tier ${guardrail.tier.name}, guardrail ${guardrail.name}, rule ${rule.id}${tags} if it were enforced (mode ${guardrail.mode})`;
  const notes = [...walk.notes];
  if (rule.namedPorts.length > 0 && rule.action === 'Deny') notes.push(`the guardrail's named port ${rule.namedPorts.join(', ')} was taken as any port`);
  return {
    direction: walk.direction,
    ruleIndex: walk.rule.index,
    tier: guardrail.tier.name,
    guardrail: guardrail.name,
    rule: rule.id,
    mode: guardrail.mode,
    compliance: guardrail.compliance,
    path,
    short: `${walk.direction}[${walk.rule.index}] allows ${what}`,
    message: `NetworkPolicy ${walk.policy.namespace}/${walk.policy.name} ${walk.direction}[${walk.rule.index}] allows ${what}; ${verdict}${notes.length ? `; ${notes.join('; ')}` : ''}`,
  };
}

/** `pods {role=debug} in namespace monitoring`, `namespaces {env=dev}`, `any pod`. */
function describePods(namespaces: NamespaceSet, pods: LabelCube): string {
  const podExample = exampleLabels(pods);
  const podPart = Object.keys(podExample.labels).length + podExample.absent.length > 0 ? `pods ${formatLabels(podExample)}` : undefined;
  const nsPart = describeNamespaces(namespaces);
  if (!podPart) return nsPart === 'any namespace' ? 'any pod' : nsPart;
  return nsPart === 'any namespace' ? `${podPart} in any namespace` : `${podPart} in ${nsPart}`;
}

function describeNamespaces(set: NamespaceSet): string {
  const known = [...set.known].sort()[0];
  if (known !== undefined) return `namespace ${known}`;
  const cube = set.unknown[0];
  if (!cube) return 'no namespace';
  const name = cube.get(NAMESPACE_NAME_LABEL);
  const example = exampleLabels(cube);
  const others = formatLabels(example, [NAMESPACE_NAME_LABEL]);
  if (name?.kind === 'in') {
    const pinned = [...name.values].filter((v) => v !== ABSENT).sort()[0];
    return others === '{}' ? `namespace ${pinned}` : `namespace ${pinned} with ${others}`;
  }
  return others === '{}' ? 'any namespace' : `namespaces ${others}`;
}
