/**
 * The compiled, immutable policy set the engine evaluates. It is produced by `src/policy`
 * from Tier and Guardrail objects and never changes after compilation: a reload builds a new one.
 */
import type { LabelSelector } from '../api/kube.js';
import type { Mode, RuleResource } from '../api/policy.js';
import type { ChainIndex } from './network/chain-index.js';
import type { CompiledNetworkRules, Direction } from './network/rules.js';
import type { LabelMatcher } from './selector.js';
import type { CompiledValidation } from './validations.js';

export interface CompiledTier {
  readonly name: string;
  /** 0..1000, lower = evaluated first = higher precedence. */
  readonly priority: number;
  readonly description?: string;
}

/** A linear-time string matcher (RE2 semantics), anchored at both ends. */
export interface CompiledPattern {
  readonly source: string;
  test(value: string): boolean;
}

export interface CompiledRequiredLabel {
  readonly key: string;
  readonly values?: ReadonlySet<string>;
  readonly pattern?: CompiledPattern;
  readonly immutable: boolean;
}

export type CompiledDefaultLabel =
  | { readonly key: string; readonly value: string }
  | { readonly key: string; readonly fromNamespaceLabel: string };

export interface CompiledLabelRules {
  readonly resources: ReadonlySet<RuleResource>;
  /** Matches the labels of the object's namespace (which always carry `kubernetes.io/metadata.name`). */
  readonly namespaces: LabelMatcher;
  /** The selector `namespaces` was compiled from (`{}` when absent): which namespace labels it reads. */
  readonly namespaceSelector: LabelSelector;
  readonly required: readonly CompiledRequiredLabel[];
  readonly defaults: readonly CompiledDefaultLabel[];
}

export interface CompiledGuardrail {
  readonly name: string;
  readonly tier: CompiledTier;
  readonly priority: number;
  readonly mode: Mode;
  readonly description?: string;
  readonly compliance: readonly string[];
  readonly labels?: CompiledLabelRules;
  readonly network?: CompiledNetworkRules;
  readonly validations?: readonly CompiledValidation[];
}

/** The guardrails of one tier that have rules in one direction, in precedence order. */
export interface NetworkTier {
  readonly tier: CompiledTier;
  readonly guardrails: readonly (CompiledGuardrail & { readonly network: CompiledNetworkRules })[];
}

export interface PolicySet {
  /** Increases with every compiled set in one process; shown in metrics and logs. */
  readonly generation: number;
  readonly tiers: readonly CompiledTier[];
  /** Every guardrail in precedence order: tier priority, guardrail priority, then name. */
  readonly guardrails: readonly CompiledGuardrail[];
  /** Guardrails with label rules for each resource, in precedence order. */
  readonly labelGuardrails: Readonly<Record<RuleResource, readonly CompiledGuardrail[]>>;
  /** Guardrails with CEL validations for each resource, in precedence order. */
  readonly validationGuardrails: Readonly<Record<RuleResource, readonly CompiledGuardrail[]>>;
  /** Guardrails with network rules, per direction, grouped by tier in precedence order (all modes). */
  readonly network: Readonly<Record<Direction, readonly NetworkTier[]>>;
  /** The same guardrails indexed by the namespace labels their subjects require. */
  readonly networkIndex: Readonly<Record<Direction, ChainIndex>>;
}

/** Sorts guardrails into evaluation order: tier priority, guardrail priority, then name. */
export function byPrecedence(a: CompiledGuardrail, b: CompiledGuardrail): number {
  return a.tier.priority - b.tier.priority || a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
