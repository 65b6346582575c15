/**
 * Guardrails that can never apply: every one of their network rules covers only connections that
 * earlier enforced rules already decide (Accept or Deny in any earlier tier, or Pass earlier in
 * the same tier). Reported as warnings when a policy set loads or a guardrail is admitted.
 */
import type { CompiledGuardrail, PolicySet } from '../policy-set.js';
import { ruleRegion } from './override.js';
import { namespaceUniverse } from './namespaces.js';
import { RegionTooLargeError, regionIntersect, regionSubtract, type Box, type Region } from './region.js';
import type { Direction } from './rules.js';

export interface Shadowed {
  readonly guardrail: string;
  /** Earlier guardrails whose rules meet the shadowed one's. */
  readonly by: readonly string[];
}

const NO_NAMESPACES: readonly never[] = [];

export function shadowedGuardrails(set: PolicySet): Shadowed[] {
  const universe = namespaceUniverse(NO_NAMESPACES);
  const live = new Set<string>();
  const by = new Map<string, Set<string>>();
  const candidates = new Set<string>();
  for (const direction of ['ingress', 'egress'] as const) {
    try {
      walk(set, direction, { universe, live, by, candidates });
    } catch (error) {
      if (!(error instanceof RegionTooLargeError)) throw error;
      return [];
    }
  }
  return [...candidates].filter((name) => !live.has(name)).map((name) => ({ guardrail: name, by: [...(by.get(name) ?? [])].sort() }));
}

interface Walk {
  readonly universe: ReturnType<typeof namespaceUniverse>;
  /** Guardrails with at least one rule that can still apply. */
  readonly live: Set<string>;
  readonly by: Map<string, Set<string>>;
  readonly candidates: Set<string>;
}

interface Decided {
  readonly guardrail: string;
  readonly boxes: Box[];
  readonly requirement: readonly [string, string] | undefined;
}

/**
 * The first `key=value` a guardrail's subject namespace selector requires. Two guardrails that
 * require different values of one key guard disjoint namespaces, so they are never compared:
 * this keeps the walk close to linear for sets of many per-team guardrails.
 */
function requirement(guardrail: CompiledGuardrail): readonly [string, string] | undefined {
  return Object.entries(guardrail.network?.subject.namespaces.selector.matchLabels ?? {})[0];
}

function disjoint(a: Decided['requirement'], b: Decided['requirement']): boolean {
  return a !== undefined && b !== undefined && a[0] === b[0] && a[1] !== b[1];
}

function walk(set: PolicySet, direction: Direction, state: Walk): void {
  const decided: Decided[] = [];
  for (const { guardrails } of set.network[direction]) {
    const passed: Decided[] = [];
    for (const guardrail of guardrails) {
      state.candidates.add(guardrail.name);
      const mine = requirement(guardrail);
      for (const rule of guardrail.network[direction]) {
        const rest = reaching(ruleRegion(guardrail, rule, state.universe), [...decided, ...passed], { state, guardrail, requirement: mine });
        if (rest.length === 0) continue;
        state.live.add(guardrail.name);
        // Only what reaches an enforced rule is decided (or passed) by it; Warn and Audit decide nothing.
        if (guardrail.mode === 'Enforce') (rule.action === 'Pass' ? passed : decided).push({ guardrail: guardrail.name, boxes: rest, requirement: mine });
      }
    }
  }
}

/** The part of a rule's region that no earlier entry decides; records who decides the rest. */
function reaching(region: Region, earlier: readonly Decided[], context: { state: Walk; guardrail: CompiledGuardrail; requirement: Decided['requirement'] }): Box[] {
  let rest: Box[] = [...region];
  for (const entry of earlier) {
    if (disjoint(context.requirement, entry.requirement) || regionIntersect(rest, entry.boxes).length === 0) continue;
    addBy(context.state, context.guardrail, entry.guardrail);
    rest = regionSubtract(rest, entry.boxes);
    if (rest.length === 0) break;
  }
  return rest;
}

function addBy(state: Walk, guardrail: CompiledGuardrail, earlier: string): void {
  if (earlier === guardrail.name) return;
  const set = state.by.get(guardrail.name) ?? new Set<string>();
  set.add(earlier);
  state.by.set(guardrail.name, set);
}
