import type { Mode } from '../api/policy.js';

/** One rule a request breaks. Violations are data: they are collected, never thrown. */
export interface Finding {
  readonly tier: string;
  readonly guardrail: string;
  /** Stable rule id, e.g. `label:segment.tierguard.dev/domain` (used as a metrics label). */
  readonly rule: string;
  readonly mode: Mode;
  /** Kubernetes field path in the object, e.g. `spec.template.metadata.labels[app]`. */
  readonly path: string;
  readonly message: string;
  readonly compliance: readonly string[];
  /** A complete line that already names tier, guardrail and compliance (network findings). */
  readonly summary?: string;
  /** A shorter text for `response.warnings`, when the message is too long for one. */
  readonly warning?: string;
  /** Network findings: the example connection the object allows and the rule denies, e.g. `ingress[0] allows TCP 5432 from namespaces {env=dev}`. */
  readonly connection?: string;
  /**
   * `unproven`: the network override check stopped at one of its bounds (time or size) before it
   * could prove the object breaks no rule of this guardrail. Decided by `mode` like a violation
   * (an Enforce guardrail denies), never by `--failure-mode`, and counted as
   * `tierguard_admission_errors_total{reason="check_bound"}` rather than as a violation.
   * Absent for violations.
   */
  readonly kind?: 'violation' | 'unproven';
}

/**
 * `finding`, marked as made once and given to every request that breaks the rule the same way (a
 * missing required label, a CEL validation's fixed message): it is frozen, and what is derived
 * from it can be kept with it (`isSharedFinding`).
 */
export function sharedFinding(finding: Finding): Finding {
  return Object.freeze(finding);
}

/** True for a finding made by `sharedFinding`; any other finding belongs to its request. */
export function isSharedFinding(finding: Finding): boolean {
  return Object.isFrozen(finding);
}

/**
 * `derive(finding)`, kept in `kept` when the finding is shared (`isSharedFinding`): later requests
 * get the same finding, and the same text from it (a denial line, a warning, log fields).
 */
export function derivedOnce<T>(kept: WeakMap<Finding, T>, finding: Finding, derive: (finding: Finding) => T): T {
  const found = kept.get(finding);
  if (found !== undefined) return found;
  const value = derive(finding);
  if (isSharedFinding(finding)) kept.set(finding, value);
  return value;
}

/** True for a finding that says a check could not be completed, rather than that a rule is broken. */
export function isUnproven(finding: Pick<Finding, 'kind'>): boolean {
  return finding.kind === 'unproven';
}

/**
 * A rule that could not be evaluated (a CEL runtime error, a guardrail that threw, a CEL limit).
 * Not a violation: `--failure-mode` decides. The network override check's bounds are not rule
 * errors but `unproven` findings (see `Finding.kind`).
 */
export type RuleError = GuardrailError | RequestError;

/** One rule of one guardrail could not be evaluated. */
export interface GuardrailError {
  readonly scope?: 'guardrail';
  readonly tier: string;
  readonly guardrail: string;
  readonly rule: string;
  readonly message: string;
}

/**
 * A family of rules could not be evaluated for this request as a whole, whatever the guardrail
 * (e.g. the object is too large for the CEL validations): no tier or guardrail to name.
 */
export interface RequestError {
  readonly scope: 'request';
  /** The family of rules, e.g. `validations`. */
  readonly rule: string;
  readonly message: string;
}

export function isRequestError(error: RuleError): error is RequestError {
  return error.scope === 'request';
}

/** `guardrail/rule`, or the family of rules alone for an error about the whole request. */
export function errorSource(error: RuleError): string {
  return isRequestError(error) ? error.rule : `${error.guardrail}/${error.rule}`;
}

/** What one family of rules (labels, network, CEL, namespace relabelling) makes of a request. */
export interface RuleOutcome {
  readonly findings: readonly Finding[];
  readonly errors: readonly RuleError[];
  /** Lines for the requester that are neither findings nor errors (an unknown namespace, a default not applied). */
  readonly notes: readonly string[];
  /** Lines a denial message ends with: how to get the change done (e.g. ask an admin). */
  readonly hints: readonly string[];
}

export const NO_OUTCOME: RuleOutcome = { findings: [], errors: [], notes: [], hints: [] };

/** The outcomes of several families, in order. Loops, not `flatMap`: this runs on every request. */
export function combineOutcomes(outcomes: readonly RuleOutcome[]): RuleOutcome {
  const findings: Finding[] = [];
  const errors: RuleError[] = [];
  const notes: string[] = [];
  const hints: string[] = [];
  for (const outcome of outcomes) {
    for (const finding of outcome.findings) findings.push(finding);
    for (const error of outcome.errors) errors.push(error);
    for (const note of outcome.notes) notes.push(note);
    for (const hint of outcome.hints) hints.push(hint);
  }
  return { findings, errors, notes, hints };
}

/** A default label the mutating webhook injects. */
export interface AppliedDefault {
  readonly guardrail: string;
  readonly path: string;
  readonly key: string;
  readonly value: string;
}
