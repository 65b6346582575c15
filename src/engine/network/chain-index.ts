/**
 * An index of the network guardrails of one direction, so that a check only visits guardrails
 * whose subject can select the policy's namespace: guardrails whose subject namespace selector
 * requires some `key=value` are filed under it; the others are always visited.
 */
import type { CompiledGuardrail } from '../policy-set.js';
import type { CompiledNetworkRules } from './rules.js';

export type NetworkGuardrail = CompiledGuardrail & { readonly network: CompiledNetworkRules };

export interface ChainEntry {
  /** Position in precedence order across all tiers. */
  readonly position: number;
  /** Which tier the entry belongs to (entries of one tier are contiguous). */
  readonly tierIndex: number;
  readonly guardrail: NetworkGuardrail;
}

export interface ChainIndex {
  readonly entries: readonly ChainEntry[];
  /** `key\u0000value` → positions of guardrails whose subject requires that label. */
  readonly byLabel: ReadonlyMap<string, readonly number[]>;
  /** Positions of guardrails without such a requirement. */
  readonly open: readonly number[];
}

export function buildChainIndex(tiers: readonly { readonly guardrails: readonly NetworkGuardrail[] }[]): ChainIndex {
  const entries: ChainEntry[] = [];
  const byLabel = new Map<string, number[]>();
  const open: number[] = [];
  tiers.forEach(({ guardrails }, tierIndex) => {
    for (const guardrail of guardrails) {
      const position = entries.length;
      entries.push({ position, tierIndex, guardrail });
      const keys = requiredLabels(guardrail);
      if (keys.length === 0) open.push(position);
      for (const key of keys) byLabel.set(key, [...(byLabel.get(key) ?? []), position]);
    }
  });
  return { entries, byLabel, open };
}

/** The `key=value` choices one of which the subject's namespace must carry, or [] when none is required. */
function requiredLabels(guardrail: NetworkGuardrail): string[] {
  const selector = guardrail.network.subject.namespaces.selector;
  const first = Object.entries(selector.matchLabels ?? {})[0];
  if (first) return [`${first[0]}\u0000${first[1]}`];
  const inExpression = selector.matchExpressions?.find((expression) => expression.operator === 'In');
  return inExpression ? (inExpression.values ?? []).map((value) => `${inExpression.key}\u0000${value}`) : [];
}

const candidateMemos = new WeakMap<ChainIndex, WeakMap<Readonly<Record<string, string>>, readonly ChainEntry[]>>();

/**
 * The entries that may apply to a namespace with these labels, in precedence order; every entry
 * when the namespace's labels are not known. Remembered per labels object: a namespace universe
 * keeps one per namespace, so every check in a namespace reuses the list.
 */
export function candidateEntries(index: ChainIndex, labels: Readonly<Record<string, string>> | undefined): readonly ChainEntry[] {
  if (!labels) return index.entries;
  let memo = candidateMemos.get(index);
  if (!memo) candidateMemos.set(index, (memo = new WeakMap()));
  let entries = memo.get(labels);
  if (!entries) {
    entries = entriesFor(index, labels);
    memo.set(labels, entries);
  }
  return entries;
}

function entriesFor(index: ChainIndex, labels: Readonly<Record<string, string>>): readonly ChainEntry[] {
  const positions = new Set(index.open);
  for (const [key, value] of Object.entries(labels)) {
    for (const position of index.byLabel.get(`${key}\u0000${value}`) ?? []) positions.add(position);
  }
  return [...positions].sort((a, b) => a - b).map((position) => index.entries[position] as ChainEntry);
}
