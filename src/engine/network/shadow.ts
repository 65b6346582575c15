/**
 * Guardrails that can never apply: every one of their network rules covers only connections that
 * earlier enforced rules already decide (Accept or Deny in any earlier tier, or Pass earlier in
 * the same tier). Reported as warnings when a policy set loads or a guardrail is admitted.
 *
 * Region algebra can grow exponentially with guardrails whose selectors, CIDRs and ports are all
 * different, so the analysis has a work bound (box comparisons, not time: the same set always gets
 * the same answer). Guardrails are walked in precedence order and each verdict depends only on
 * earlier guardrails, so when the bound stops the walk every verdict given so far stands and the
 * rest are reported as not analysed. The walk can also be run in steps (`shadowSteps`), so that a
 * server can interleave it with requests.
 */
import type { CompiledGuardrail, PolicySet } from '../policy-set.js';
import { ruleRegion } from './override.js';
import { namespaceUniverse } from './namespaces.js';
import { boxContainsPoint, boxesMeet, boxIncludes, boxPoint, boxSubtract, NO_BOXES, RegionTooLargeError, regionIntersect, type Box } from './region.js';
import type { CompiledNetworkRule, Direction } from './rules.js';

export interface Shadowed {
  readonly guardrail: string;
  /** Earlier guardrails whose rules meet the shadowed one's. */
  readonly by: readonly string[];
}

export interface ShadowAnalysis {
  readonly shadowed: readonly Shadowed[];
  /** Network guardrails the walk reached and judged. */
  readonly analysed: number;
  /** Network guardrails it did not reach because it stopped at its bound (0 when it finished). */
  readonly notAnalysed: number;
  /** The first guardrail not analysed, when the walk stopped early. */
  readonly stoppedAt?: string;
}

/**
 * Box comparisons the analysis may make. The realistic generator's 1,000 independent guardrails
 * finish within it (all 600 network guardrails analysed, 1.7 s at load ~5 on 2 cores).
 */
export const SHADOW_WORK_BOUND = 4_000_000;

export interface ShadowOptions {
  /** Box comparisons allowed (default `SHADOW_WORK_BOUND`). */
  readonly workBound?: number;
}

const NO_NAMESPACES: readonly never[] = [];

export function shadowedGuardrails(set: PolicySet, options: ShadowOptions = {}): ShadowAnalysis {
  const steps = shadowSteps(set, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** The analysis as a generator that yields after each guardrail; its return value is the result. */
export function* shadowSteps(set: PolicySet, options: ShadowOptions = {}): Generator<void, ShadowAnalysis> {
  const state = walkState(options);
  const network = networkGuardrails(set);
  const shadowed: Shadowed[] = [];
  for (let i = 0; i < network.length; i++) {
    const guardrail = network[i] as CompiledGuardrail;
    let live: boolean;
    try {
      live = judge(guardrail, state);
    } catch (error) {
      if (!(error instanceof RegionTooLargeError || error instanceof WorkBoundError)) throw error;
      return { shadowed, analysed: i, notAnalysed: network.length - i, stoppedAt: guardrail.name };
    }
    if (!live) shadowed.push({ guardrail: guardrail.name, by: [...(state.by.get(guardrail.name) ?? [])].sort() });
    yield;
  }
  return { shadowed, analysed: network.length, notAnalysed: 0 };
}

/**
 * Whether one guardrail can never apply, judged against every enforced rule before it without
 * judging those (a rule that cannot apply adds nothing to what earlier rules decide, so it may be
 * counted all the same): what admission of that guardrail needs, in milliseconds at any size.
 * Undefined when it can apply, or when the bound stopped the answer.
 */
export function shadowedGuardrail(set: PolicySet, name: string, options: ShadowOptions = {}): Shadowed | undefined {
  const state = walkState(options);
  try {
    for (const guardrail of networkGuardrails(set)) {
      if (guardrail.name !== name) {
        enter(guardrail, state);
        continue;
      }
      return judge(guardrail, state) ? undefined : { guardrail: name, by: [...(state.by.get(name) ?? [])].sort() };
    }
  } catch (error) {
    if (!(error instanceof RegionTooLargeError || error instanceof WorkBoundError)) throw error;
  }
  return undefined;
}

function walkState(options: ShadowOptions): Walk {
  return { universe: namespaceUniverse(NO_NAMESPACES), work: 0, bound: options.workBound ?? SHADOW_WORK_BOUND, by: new Map(), chains: { ingress: chain(), egress: chain() } };
}

function networkGuardrails(set: PolicySet): CompiledGuardrail[] {
  return set.guardrails.filter((guardrail) => guardrail.network && guardrail.network.ingress.length + guardrail.network.egress.length > 0);
}

/** The message for a shadowed guardrail, as `lint` and admission show it. */
export function shadowWarning({ guardrail, by }: Shadowed): string {
  return `Guardrail ${guardrail} can never apply: earlier rules${by.length ? ` (${by.join(', ')})` : ''} decide everything it matches`;
}

/** What to say when the walk stopped at its bound. */
export function shadowBoundWarning(analysis: ShadowAnalysis): string | undefined {
  if (analysis.notAnalysed === 0) return undefined;
  return `the can-never-apply analysis stopped at its work bound at Guardrail ${analysis.stoppedAt}: ${analysis.notAnalysed} of ${analysis.analysed + analysis.notAnalysed} network guardrails were not analysed (enforcement is not affected)`;
}

class WorkBoundError extends Error {}

/**
 * What an earlier enforced rule takes out of the walk: its region, less the Pass rules before it in
 * its tier (`holes`). Kept as written rather than as the fragments that reached it: the union of
 * what earlier rules decide is the same, and fragments multiply with every rule.
 */
interface Entry {
  readonly guardrail: string;
  readonly boxes: readonly Box[];
  readonly holes: readonly Box[];
  readonly requirement: readonly [string, string] | undefined;
}

/**
 * What earlier rules of one direction decide: Accept and Deny rules of earlier tiers and of this
 * one (`decided`), and Pass rules of this tier (`passed`, undecided again in the next tier).
 */
interface Chain {
  tier: string | undefined;
  readonly decided: Entry[];
  passed: Entry[];
  /**
   * The boxes of `passed`, in order: the holes of the next Accept or Deny rule. A new array at each
   * Pass rule, shared by the rules after it: copied into each rule instead, entering a tier cost its
   * rules times its Pass boxes (a quarter of a Guardrail admission at 1,000 guardrails, issue 11).
   */
  passHoles: readonly Box[];
}

const chain = (): Chain => ({ tier: undefined, decided: [], passed: [], passHoles: NO_BOXES });

interface Walk {
  readonly universe: ReturnType<typeof namespaceUniverse>;
  work: number;
  readonly bound: number;
  readonly by: Map<string, Set<string>>;
  readonly chains: Record<Direction, Chain>;
}

/** Walks one guardrail's rules; true when at least one of them can still apply. */
function judge(guardrail: CompiledGuardrail, state: Walk): boolean {
  const mine = requirement(guardrail);
  let live = false;
  forEachRule(guardrail, state, (rule, current) => {
    const region = ruleRegion(guardrail, rule, state.universe);
    const earlier = [...current.decided, ...current.passed].filter((entry) => !disjoint(mine, entry.requirement));
    const by = new Set<string>();
    // A named port is resolved on the destination pod, so a rule with one may apply to ports its
    // region cannot show (an Accept or Pass region leaves them out): it always counts as live.
    if (rule.namedPorts.length === 0 && !region.some((box) => !covered(box, earlier, { state, by }))) {
      for (const name of by) addBy(state, guardrail.name, name);
      return;
    }
    live = true;
    decide(guardrail, rule, { current, state });
  });
  return live;
}

/** Counts a guardrail's enforced rules as deciding, without judging them. */
function enter(guardrail: CompiledGuardrail, state: Walk): void {
  forEachRule(guardrail, state, (rule, current) => decide(guardrail, rule, { current, state }));
}

function forEachRule(guardrail: CompiledGuardrail, state: Walk, visit: (rule: CompiledNetworkRule, current: Chain) => void): void {
  for (const direction of ['ingress', 'egress'] as const) {
    const current = state.chains[direction];
    const rules = guardrail.network?.[direction] ?? [];
    if (rules.length === 0) continue;
    if (current.tier !== guardrail.tier.name) {
      current.tier = guardrail.tier.name;
      current.passed = [];
      current.passHoles = NO_BOXES;
    }
    for (const rule of rules) visit(rule, current);
  }
}

/** An enforced rule decides its region (a Pass passes it on within its tier); Warn and Audit decide nothing. */
function decide(guardrail: CompiledGuardrail, rule: CompiledNetworkRule, { current, state }: { current: Chain; state: Walk }): void {
  if (guardrail.mode !== 'Enforce') return;
  const boxes = ruleRegion(guardrail, rule, state.universe);
  if (rule.action === 'Pass') {
    current.passed.push({ guardrail: guardrail.name, requirement: requirement(guardrail), boxes, holes: NO_BOXES });
    current.passHoles = current.passHoles.concat(boxes);
  } else {
    current.decided.push({ guardrail: guardrail.name, requirement: requirement(guardrail), boxes, holes: current.passHoles });
  }
}

/**
 * True when `box` lies within the union of what `entries` decide. Depth first: a plain connection
 * of the box (`boxPoint`) that no entry decides settles it at once (the usual case); otherwise the
 * part of the box that an entry deciding that connection holds is taken out, and what is left
 * must be covered in turn. Each step removes the connection it was about, so the search ends.
 */
function covered(box: Box, entries: readonly Entry[], context: { state: Walk; by: Set<string> }): boolean {
  const { state } = context;
  if (state.work > state.bound) throw new WorkBoundError();
  const point = boxPoint(box);
  if (!point) return true;
  let holder: { entry: Entry; box: Box } | undefined;
  for (const entry of entries) {
    for (const other of entry.boxes) {
      state.work++;
      if (!boxContainsPoint(other, point) || entry.holes.some((hole) => boxContainsPoint(hole, point))) continue;
      if (boxIncludes(other, box) && !entry.holes.some((hole) => boxesMeet(hole, box))) {
        context.by.add(entry.guardrail);
        return true;
      }
      holder ??= { entry, box: other };
    }
  }
  if (!holder) return false;
  context.by.add(holder.entry.guardrail);
  const other = holder.box;
  // Left: the box outside the holder's box, and the parts inside it that the holder's holes pass on.
  const left = [...boxSubtract(box, other), ...holder.entry.holes.flatMap((hole) => regionIntersect(regionIntersect([box], [other]), [hole]))];
  return left.every((piece) => covered(piece, entries, context));
}

/**
 * The first `key=value` a guardrail's subject namespace selector requires. Two guardrails that
 * require different values of one key guard disjoint namespaces, so they are never compared:
 * this keeps the walk close to linear for sets of many per-team guardrails.
 */
function requirement(guardrail: CompiledGuardrail): readonly [string, string] | undefined {
  return Object.entries(guardrail.network?.subject.namespaces.selector.matchLabels ?? {})[0];
}

function disjoint(a: Entry['requirement'], b: Entry['requirement']): boolean {
  return a !== undefined && b !== undefined && a[0] === b[0] && a[1] !== b[1];
}

function addBy(state: Walk, guardrail: string, earlier: string): void {
  if (earlier === guardrail) return;
  const set = state.by.get(guardrail) ?? new Set<string>();
  set.add(earlier);
  state.by.set(guardrail, set);
}
