/**
 * The symbolic override check (DESIGN §2): does a NetworkPolicy allow any connection that the
 * tiers decide Deny? For each policy rule, the set of connections it allows (a region) is walked
 * through the tier chain. A Deny rule is a finding when some connection of that region it matches
 * is decided by no earlier rule. Earlier rules are kept as written — an Accept or Deny with the Pass
 * rules before it in its tier as holes, a Pass of the current tier — and the test is depth first
 * from one plain witness connection (as in ./shadow.ts): it never builds the fragments that
 * independent guardrails multiply. Each finding then gets one concrete example. The answer holds
 * for pods and namespaces that do not exist yet: known namespaces keep their labels, any other
 * namespace may carry any labels. Bounds: `expired` is asked before each policy rule and every
 * `STEPS_PER_CLOCK_READ` steps (`step`); a policy rule of more than `MAX_REGION_BOXES` connection
 * sets is refused once a guardrail rule meets it.
 */
import { NAMESPACE_NAME_LABEL, type NamespaceInfo } from '../../api/kube.js';
import type { Mode } from '../../api/policy.js';
import type { CompiledGuardrail, PolicySet } from '../policy-set.js';
import { ALL_IPS, exampleCidr } from './ip-set.js';
import { ABSENT, ANY_LABELS, cubeContains, cubesMeet, exampleLabels, formatLabels, type LabelCube } from './label-set.js';
import { compileNetworkPolicy, type CompiledNetworkPolicy, type PolicyRule } from './network-policy.js';
import { lastingSet, namespaceNamed, namespacesExcept, namespacesMatching, namespaceUniverse, nsIntersect, nsPoint, nsPointOfBoth, type NamespacePoint, type NamespaceSet, type NamespaceUniverse } from './namespaces.js';
import { ALL_PORTS, allPortsOf, examplePort, NO_PORTS, portRange, portUnion, type PortSet } from './port-set.js';
import { candidateEntries, type ChainEntry } from './chain-index.js';
import { boxContainsPoint, boxesMeet, boxIncludes, boxIntersect, boxPoint, boxPointOfBoth, DIMENSIONS, MAX_REGION_BOXES, NO_BOXES, RegionTooLargeError, regionsMeet, type Box, type BoxPoint, type Dimension, type Region } from './region.js';
import type { CompiledNetworkRule, CompiledSelector, Direction } from './rules.js';

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
  const chains = applicableChains(set, { policy, universe });
  const expired = input.expired ?? never;
  const work = { untilRead: STEPS_PER_CLOCK_READ };
  let path = 'spec';
  try {
    for (const direction of ['ingress', 'egress'] as const) {
      for (const rule of policy[direction] ?? []) {
        path = `spec.${direction}[${rule.index}]`;
        if (expired()) throw new OverrideTimeoutError();
        const allowed = policyRuleRegion(policy, rule, direction, universe);
        if (allowed.region.length === 0) continue;
        walkChain(chains[direction], { policy, rule, direction, universe, region: allowed.region, notes: allowed.notes, expired, work, found: findings, settledBy: {} });
      }
    }
  } catch (error) {
    const bound = boundOf(error);
    if (!bound) throw error;
    return { findings, unproven: { bound, path, guardrails: [...new Set([...chains.ingress, ...chains.egress].map((entry) => entry.guardrail))] } };
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

/**
 * Per direction the policy has rules for, the chain entries whose subject can select the policy's
 * pods, in precedence order: the only guardrails a walk visits, and the ones an unproven check names.
 */
function applicableChains(set: PolicySet, context: Pick<RuleWalk, 'policy' | 'universe'>): Record<Direction, readonly ChainEntry[]> {
  const chains = chainsFor(set, context);
  const { policy } = context;
  return { ingress: (policy.ingress ?? []).length > 0 ? chains.ingress : [], egress: (policy.egress ?? []).length > 0 ? chains.egress : [] };
}

type Chains = Record<Direction, readonly ChainEntry[]>;
const chainMemos = new WeakMap<PolicySet, WeakMap<Readonly<Record<string, string>>, Map<string, Chains>>>();
/** Pod selectors remembered per namespace; past this the memo starts over. */
const CHAIN_MEMO_SIZE = 1_000;

/** Both directions' chains for the policy's namespace and pod selector, remembered per known namespace. */
function chainsFor(set: PolicySet, context: Pick<RuleWalk, 'policy' | 'universe'>): Chains {
  const labels = context.universe.known.get(context.policy.namespace)?.labels;
  const build = (): Chains => {
    const chain = (direction: Direction) => candidateEntries(set.networkIndex[direction], labels)
      .filter(({ guardrail }) => guardrail.network[direction].length > 0 && subjectCanMeet(guardrail, context));
    return { ingress: chain('ingress'), egress: chain('egress') };
  };
  if (!labels) return build();
  let byLabels = chainMemos.get(set);
  if (!byLabels) chainMemos.set(set, (byLabels = new WeakMap()));
  let bySelector = byLabels.get(labels);
  if (!bySelector) byLabels.set(labels, (bySelector = new Map()));
  const key = JSON.stringify(context.policy.podSelector.selector);
  let chains = bySelector.get(key);
  if (!chains) {
    if (bySelector.size >= CHAIN_MEMO_SIZE) bySelector.clear();
    chains = build();
    bySelector.set(key, chains);
  }
  return chains;
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
  /**
   * Steps left before `expired` is asked again (`step`): a search step is one, a guardrail rule
   * visited is one per box of the policy rule's region (what comparing them costs), so that a
   * region of thousands of boxes asks at every rule. A clock read (`performance.now()`) costs ~60
   * ns here; asked at every rule, it was 2–3% of a check of the bench's policies, which visit 140
   * rules (median) to 1,450 with regions of a few boxes.
   */
  readonly work: { untilRead: number };
  /** Where findings are collected, so that those found before a bound stops the walk stand. */
  readonly found: OverrideFinding[];
  /** The entry that last decided all of a (policy box, Deny box) pair: tried first for the next. */
  readonly settledBy: { entry?: Entry };
}

const never = (): boolean => false;
const STEPS_PER_CLOCK_READ = 64;

/** Counts `cost` steps of the walk; every `STEPS_PER_CLOCK_READ` of them, throws once `expired` says so. */
function step(walk: RuleWalk, cost: number): void {
  walk.work.untilRead -= cost;
  if (walk.work.untilRead > 0) return;
  walk.work.untilRead = STEPS_PER_CLOCK_READ;
  if (walk.expired()) throw new OverrideTimeoutError();
}

/**
 * What an earlier rule that meets the policy rule decides, as written: its region less its
 * `holes`, the Pass rules before it in its tier. A Pass rule of the current tier has none: the
 * traffic it matches skips the rest of the tier.
 */
interface Entry {
  readonly boxes: Region;
  readonly holes: Region;
  /** A Pass rule of the current tier. */
  readonly pass?: boolean;
}

/** What the walk of one policy rule knows of the enforced rules before its position. */
interface ChainState {
  /** Accept and Deny rules of earlier tiers and of this one, and this tier's Pass rules. */
  entries: Entry[];
  /** The boxes of this tier's Pass rules so far: the holes of its later rules (a new array at each Pass). */
  passHoles: Region;
}

/** Walks one policy rule through the chain, adding to `walk.found` as it goes. */
function walkChain(chain: readonly ChainEntry[], walk: RuleWalk): void {
  const state: ChainState = { entries: [], passHoles: NO_BOXES };
  let tierIndex = -1;
  for (const { guardrail, tierIndex: entryTier } of chain) {
    if (entryTier !== tierIndex) {
      // The traffic a Pass rule matched goes on to the next tier: it is undecided again.
      if (state.passHoles.length > 0) state.entries = state.entries.filter((entry) => !entry.pass);
      state.passHoles = NO_BOXES;
      tierIndex = entryTier;
    }
    guardrailRules(guardrail, state, walk);
  }
}

/**
 * The rules of one guardrail that meet the policy rule, in order: each Deny rule that traffic no
 * earlier rule decides reaches is a finding. An Enforce guardrail's rules join the chain; a Warn or
 * Audit guardrail is evaluated as if it were enforced in its place, and changes nothing after it.
 */
function guardrailRules(guardrail: CompiledGuardrail, state: ChainState, walk: RuleWalk): void {
  const enforced = guardrail.mode === 'Enforce';
  let entries = state.entries;
  const rules = guardrail.network?.[walk.direction] ?? NO_RULES;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as CompiledNetworkRule;
    step(walk, walk.region.length);
    const match = ruleRegion(guardrail, rule, walk.universe);
    if (!regionsMeet(walk.region, match)) continue;
    boundSize(walk);
    if (rule.action === 'Deny') {
      const example = deniedExample(match, entries, walk);
      if (example) walk.found.push(finding(guardrail, rule, example, walk));
    }
    if (!enforced) {
      // Any earlier rule of the guardrail, Pass included, keeps what it matches from the later ones.
      if (entries === state.entries) entries = [...entries];
      entries.push({ boxes: match, holes: NO_BOXES });
    } else if (rule.action === 'Pass') {
      state.entries.push({ boxes: match, holes: NO_BOXES, pass: true });
      state.passHoles = [...state.passHoles, ...match];
    } else {
      state.entries.push({ boxes: match, holes: state.passHoles });
    }
  }
}

const NO_RULES: readonly CompiledNetworkRule[] = [];

/** A policy rule of more connection sets than the bound is refused once some guardrail rule meets it. */
function boundSize(walk: RuleWalk): void {
  if (walk.region.length > MAX_REGION_BOXES) throw new RegionTooLargeError(MAX_REGION_BOXES);
}

// ---------------------------------------------------------------- search

/**
 * A box of connections that the policy rule allows, the Deny rule `deny` matches and no entry
 * decides, or undefined when there is none. Usually the plain connection of a policy box and a Deny
 * box (the one `boxPoint` picks in their intersection) is decided by no entry, which settles it
 * without building the intersection; otherwise the intersection is searched depth first.
 */
function deniedExample(deny: Region, entries: readonly Entry[], walk: RuleWalk): Box | undefined {
  for (const allowed of walk.region) {
    for (const denied of deny) {
      if (!boxesMeet(allowed, denied)) continue;
      const point = boxPointOfBoth(allowed, denied);
      if (!point) continue;
      // The entry that settled the last pair often settles this one too (a broad earlier rule).
      const hint = walk.settledBy.entry;
      if (hint && decides(hint, point) && holdsBoth(hint, allowed, denied) && entries.includes(hint)) continue;
      let held = false;
      let settled = false;
      for (const entry of entries) {
        if (!decides(entry, point)) continue;
        held = true;
        if (holdsBoth(entry, allowed, denied)) {
          walk.settledBy.entry = entry;
          settled = true;
          break;
        }
      }
      if (!held) return exampleAround({ box: boxAround(allowed, denied, point), point }, entries);
      if (settled) continue;
      const both = boxIntersect(allowed, denied);
      if (!both) continue;
      const near = entries.filter((entry) => entry.boxes.some((box) => boxesMeet(box, both)));
      const witness = uncovered({ box: both, point }, near, walk);
      if (witness) return exampleAround(witness, near);
    }
  }
  return undefined;
}

/*
 * decides, holdsBoth and containsPoint run for nearly every (policy box, Deny box) pair of a check:
 * they are written as plain loops, without closures, so that they allocate nothing (the garbage
 * they made was a third of a check's, and its collections were most of the check's p99).
 */

function decides(entry: Entry, point: BoxPoint): boolean {
  return containsPoint(entry.boxes, point) && !containsPoint(entry.holes, point);
}

function containsPoint(region: Region, point: BoxPoint): boolean {
  for (let i = 0; i < region.length; i++) if (boxContainsPoint(region[i] as Box, point)) return true;
  return false;
}

/**
 * A cheap sufficient test that the entry decides all of `a` ∩ `b` without building it: one of its
 * boxes holds, dimension by dimension, `a`'s or `b`'s set, and none of its holes meets both.
 */
function holdsBoth(entry: Entry, a: Box, b: Box): boolean {
  for (let i = 0; i < entry.holes.length; i++) {
    const hole = entry.holes[i] as Box;
    if (boxesMeet(hole, a) && boxesMeet(hole, b)) return false;
  }
  for (let i = 0; i < entry.boxes.length; i++) if (holdsBothIn(entry.boxes[i] as Box, a, b)) return true;
  return false;
}

/** Each dimension of `box` includes `a`'s or `b`'s set (the smaller namespace set tried first). */
function holdsBothIn(box: Box, a: Box, b: Box): boolean {
  if (box.kind !== a.kind) return false;
  const dims = DIMENSIONS[a.kind];
  const order = CUT_ORDER[a.kind];
  for (let k = 0; k < order.length; k++) {
    const i = order[k] as number;
    const dim = dims[i] as Dimension;
    const bFirst = dim.kind === 'namespaces' && (a.dims[i] as NamespaceSet).known.size > (b.dims[i] as NamespaceSet).known.size;
    const first = bFirst ? b : a;
    const second = bFirst ? a : b;
    if (!dim.includes(box.dims[i], first.dims[i]) && !dim.includes(box.dims[i], second.dims[i])) return false;
  }
  return true;
}

interface Witness {
  /** The piece of the searched box the connection was found in. */
  readonly box: Box;
  readonly point: BoxPoint;
}

/**
 * A connection of `box` that no entry decides, or undefined when the entries decide all of it.
 * Depth first, as ./shadow.ts `covered`: a plain connection of the box (`boxPoint`) that no entry
 * decides settles it at once; otherwise the part of the box the entry deciding it holds is taken
 * out and what is left is searched in turn. Each step removes the connection it was about.
 */
function uncovered({ box, point = boxPoint(box) }: { box: Box; point?: BoxPoint | undefined }, entries: readonly Entry[], walk: RuleWalk): Witness | undefined {
  step(walk, 1);
  if (!point) return undefined;
  let holder: { entry: Entry; box: Box } | undefined;
  for (const entry of entries) {
    for (const other of entry.boxes) {
      if (!boxContainsPoint(other, point) || entry.holes.some((hole) => boxContainsPoint(hole, point))) continue;
      if (boxIncludes(other, box) && !entry.holes.some((hole) => boxesMeet(hole, box))) return undefined;
      holder ??= { entry, box: other };
    }
  }
  if (!holder) return { box, point };
  for (const piece of outside(box, holder.box)) {
    const found = uncovered({ box: piece }, entries, walk);
    if (found) return found;
  }
  // The parts inside the holder's box that its holes pass on.
  const inside = boxIntersect(box, holder.box);
  for (const piece of holder.entry.holes.flatMap((hole) => (inside && boxIntersect(inside, hole)) ?? [])) {
    const found = uncovered({ box: piece }, entries, walk);
    if (found) return found;
  }
  return undefined;
}

/**
 * `box` less `other` as disjoint pieces, as `boxSubtract` gives them but cutting the cheap
 * dimensions first (`CUT_ORDER`), and built only as the search asks for them: a witness is
 * usually found outside the holder's ports or labels before any namespace set is cut.
 */
function* outside(box: Box, other: Box): Generator<Box> {
  const dims = DIMENSIONS[box.kind];
  let inside = box;
  for (const i of CUT_ORDER[box.kind]) {
    const dim = dims[i] as Dimension;
    for (const rest of dim.subtract(inside.dims[i], other.dims[i])) yield withDimension(inside, i, rest);
    const both = dim.intersect(inside.dims[i], other.dims[i]);
    if (both === null) return;
    inside = withDimension(inside, i, both);
  }
}

// ---------------------------------------------------------------- examples

/** A box around `point` within both boxes: their intersection, with each namespace set narrowed as `nsPointOfBoth` does. */
function boxAround(a: Box, b: Box, point: BoxPoint): Box {
  const dims = DIMENSIONS[a.kind].map((dim, i) => (dim.kind === 'namespaces'
    ? nsPointOfBoth(a.dims[i] as NamespaceSet, b.dims[i] as NamespaceSet)?.set
    : dim.intersect(a.dims[i], b.dims[i])));
  return { kind: point.kind, dims } as unknown as Box;
}

/** The order in which an example's dimensions are cut: cheap ones first, namespace sets last. */
const CUT_ORDER: Readonly<Record<Box['kind'], readonly number[]>> = {
  pod: [4, 3, 1, 2, 0],
  address: [3, 2, 1, 0],
  same: [3, 2, 1, 0],
};

/**
 * The example of a finding: the witness's box with every entry that meets it cut away, so that no
 * connection of it is decided before the Deny rule. A cut keeps the witness and changes one
 * dimension (the cheapest whose value the entry box lacks); when the witness is in one of the
 * entry's holes, the example keeps to that hole instead.
 */
function exampleAround({ box, point }: Witness, entries: readonly Entry[]): Box {
  let example: Box = narrowed(box, point);
  const dims = DIMENSIONS[example.kind];
  for (const entry of entries) {
    for (const other of entry.boxes) {
      if (!boxesMeet(example, other)) continue;
      const cut = firstDimensionLacking(other, point);
      if (cut !== undefined) {
        const dim = dims[cut] as Dimension;
        const kept = dim.subtract(example.dims[cut], other.dims[cut]).find((piece) => dim.contains(piece, point.values[cut]));
        example = withDimension(example, cut, kept);
        continue;
      }
      const hole = entry.holes.find((candidate) => boxContainsPoint(candidate, point));
      const inHole = hole && boxIntersect(example, hole);
      if (inHole) example = inHole;
      break;
    }
  }
  return example;
}

/** The first dimension in `CUT_ORDER` whose value at `point` the box lacks, or undefined when it holds the point. */
function firstDimensionLacking(box: Box, point: BoxPoint): number | undefined {
  const dims = DIMENSIONS[box.kind];
  const order = CUT_ORDER[box.kind];
  for (let k = 0; k < order.length; k++) {
    const i = order[k] as number;
    if (!(dims[i] as Dimension).contains(box.dims[i], point.values[i])) return i;
  }
  return undefined;
}

/** The box with each namespace set narrowed to the witness's namespace: its name, or the first cube that holds it. */
function narrowed(box: Box, point: BoxPoint): Box {
  const kinds = DIMENSIONS[box.kind];
  const dims = box.dims.map((dim, i) => {
    if (kinds[i]?.kind !== 'namespaces') return dim;
    const namespace = point.values[i] as NamespacePoint;
    if ('name' in namespace) return { known: new Set([namespace.name]), unknown: [] };
    return { known: new Set(), unknown: (dim as NamespaceSet).unknown.filter((cube) => cubeContains(cube, namespace.labels)).slice(0, 1) };
  });
  return { kind: box.kind, dims } as unknown as Box;
}

function withDimension(box: Box, index: number, value: unknown): Box {
  return { kind: box.kind, dims: box.dims.map((dim, i) => (i === index ? value : dim)) } as unknown as Box;
}

// ---------------------------------------------------------------- subjects

/** Cheap pre-filter: can the guardrail's subject contain a pod the policy selects at all? */
function subjectCanMeet(guardrail: CompiledGuardrail, walk: Pick<RuleWalk, 'policy' | 'universe'>): boolean {
  const subject = guardrail.network?.subject;
  if (!subject) return false;
  const own = walk.universe.known.get(walk.policy.namespace);
  if (own ? !subject.namespaces.match(own.labels) : subject.namespaces.cube === null) return false;
  if (subject.kind === 'namespaces') return true;
  return subject.pods.cube !== null && walk.policy.podSelector.cube !== null && cubesMeet(subject.pods.cube, walk.policy.podSelector.cube);
}

// ---------------------------------------------------------------- regions

function policyRuleRegion(policy: CompiledNetworkPolicy, rule: PolicyRule, direction: Direction, universe: NamespaceUniverse): { region: Box[]; notes: string[] } {
  const podCube = policy.podSelector.cube;
  if (podCube === null) return { region: [], notes: [] };
  const subjectNamespaces = ownNamespace(universe, policy.namespace);
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
    const peerNamespaces = peer.namespaces ? selectedNamespaces(universe, peer.namespaces) : subjectNamespaces;
    const peerPods = peer.pods ? peer.pods.cube : ANY_LABELS;
    if (peerPods !== null) podPeers(peerNamespaces, peerPods);
  }
  return { region, notes };
}

const ownMemos = new WeakMap<NamespaceUniverse, Map<string, NamespaceSet>>();

/** `namespaceNamed`, remembered per universe (one set object per namespace, which `nsPointOfBoth` remembers by). */
function ownNamespace(universe: NamespaceUniverse, name: string): NamespaceSet {
  let memo = ownMemos.get(universe);
  if (!memo) ownMemos.set(universe, (memo = new Map()));
  let set = memo.get(name);
  if (!set) {
    if (memo.size >= NAMESPACE_MEMO_SIZE) memo.clear();
    set = lastingSet(namespaceNamed(universe, name), universe);
    memo.set(name, set);
  }
  return set;
}

const namespaceMemos = new WeakMap<NamespaceUniverse, Map<string, NamespaceSet>>();
/** Selectors remembered per universe; past this the memo starts over. */
const NAMESPACE_MEMO_SIZE = 10_000;

/**
 * The namespaces a policy peer's selector matches, remembered per universe by the selector as
 * written: a policy's selectors are compiled anew for each check, and matching them against every
 * known namespace is the costly part of reading a policy in a large cluster.
 */
function selectedNamespaces(universe: NamespaceUniverse, selector: CompiledSelector): NamespaceSet {
  let memo = namespaceMemos.get(universe);
  if (!memo) namespaceMemos.set(universe, (memo = new Map()));
  const key = JSON.stringify(selector.selector);
  let set = memo.get(key);
  if (!set) {
    if (memo.size >= NAMESPACE_MEMO_SIZE) memo.clear();
    set = namespacesMatching(universe, selector.cube);
    memo.set(key, set);
  }
  return set;
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
    // The same namespace at both ends must satisfy both namespace selectors at once (kept with the rule's region).
    const same = lastingSet(nsIntersect(subjectNamespaces, peerNamespaces), universe);
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
  const point = nsPoint(set);
  if (point && 'name' in point) return `namespace ${point.name}`;
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
