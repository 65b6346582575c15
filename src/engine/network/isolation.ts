/**
 * Isolation coverage. A guardrail's Deny is enforced by admission only: the dataplane enforces
 * NetworkPolicies, and a pod that no NetworkPolicy selects for a direction is not isolated in it,
 * so every connection in that direction reaches it (or leaves it), whatever a tier denies. For
 * each guardrail with Deny rules, this finds the namespaces of its subject where some pods are
 * not isolated in the direction of those rules.
 */
import type { Labels, NamespaceInfo } from '../../api/kube.js';
import type { Mode } from '../../api/policy.js';
import { isPlainObject } from '../object.js';
import type { CompiledGuardrail, PolicySet } from '../policy-set.js';
import { compileSelector, type LabelMatcher } from '../selector.js';
import type { Direction } from './rules.js';

/** Pods of one namespace that carry the same labels: only their labels are kept. */
export interface PodGroup {
  readonly labels: Labels;
  readonly count: number;
}

/** What a NetworkPolicy isolates: the pods its selector matches, in the directions of its policy types. */
export interface IsolatingPolicy {
  readonly pods: LabelMatcher;
  readonly ingress: boolean;
  readonly egress: boolean;
}

export interface IsolationGap {
  readonly tier: string;
  readonly guardrail: string;
  readonly mode: Mode;
  readonly namespace: string;
  /** As `policyTypes` names it. */
  readonly direction: 'Ingress' | 'Egress';
  /** Pods of the guardrail's subject in the namespace that no NetworkPolicy isolates in that direction. */
  readonly pods: number;
  /** The labels of one of them. */
  readonly example: Labels;
}

export interface IsolationInput {
  readonly set: PolicySet;
  readonly namespaces: readonly NamespaceInfo[];
  /** Pods by namespace, grouped by labels. */
  readonly pods: ReadonlyMap<string, readonly PodGroup[]>;
  /** NetworkPolicies by namespace. */
  readonly policies: ReadonlyMap<string, readonly IsolatingPolicy[]>;
  readonly excludedNamespaces: ReadonlySet<string>;
}

/**
 * What a NetworkPolicy object isolates, with the API server's defaulting of `policyTypes`
 * (Ingress always, Egress when it has egress rules); undefined when it is not a well-formed one.
 */
export function isolatingPolicy(object: unknown): IsolatingPolicy | undefined {
  const spec = isPlainObject(object) && isPlainObject(object.spec) ? object.spec : undefined;
  if (!spec || !isPlainObject(spec.podSelector)) return undefined;
  const declared = Array.isArray(spec.policyTypes) && spec.policyTypes.length > 0 ? spec.policyTypes : undefined;
  const egressRules = Array.isArray(spec.egress) && spec.egress.length > 0;
  return {
    pods: compileSelector(spec.podSelector),
    ingress: declared ? declared.includes('Ingress') : true,
    egress: declared ? declared.includes('Egress') : egressRules,
  };
}

const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];
const POLICY_TYPE: Readonly<Record<Direction, 'Ingress' | 'Egress'>> = { ingress: 'Ingress', egress: 'Egress' };

/** Every (guardrail with Deny rules in a direction, namespace of its subject) with pods not isolated in that direction. */
export function isolationGaps(input: IsolationInput): IsolationGap[] {
  const gaps: IsolationGap[] = [];
  for (const guardrail of input.set.guardrails) {
    const network = guardrail.network;
    if (!network) continue;
    const directions = DIRECTIONS.filter((direction) => network[direction].some((rule) => rule.action === 'Deny'));
    if (directions.length === 0) continue;
    for (const namespace of input.namespaces) {
      if (input.excludedNamespaces.has(namespace.name) || !network.subject.namespaces.match(namespace.labels)) continue;
      const subject = (input.pods.get(namespace.name) ?? []).filter((group) => network.subject.kind === 'namespaces' || network.subject.pods.match(group.labels));
      for (const direction of directions) {
        const gap = gapIn(guardrail, namespace.name, direction, subject, input.policies.get(namespace.name) ?? []);
        if (gap) gaps.push(gap);
      }
    }
  }
  return gaps;
}

function gapIn(guardrail: CompiledGuardrail, namespace: string, direction: Direction, pods: readonly PodGroup[], policies: readonly IsolatingPolicy[]): IsolationGap | undefined {
  const open = pods.filter((group) => !policies.some((policy) => policy[direction] && policy.pods(group.labels)));
  if (open.length === 0) return undefined;
  return {
    tier: guardrail.tier.name,
    guardrail: guardrail.name,
    mode: guardrail.mode,
    namespace,
    direction: POLICY_TYPE[direction],
    pods: open.reduce((sum, group) => sum + group.count, 0),
    example: (open[0] as PodGroup).labels,
  };
}
