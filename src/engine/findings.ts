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
  /**
   * `unproven`: the network override check stopped at one of its bounds (time or size) before it
   * could prove the object breaks no rule of this guardrail. Decided by `mode` like a violation
   * (an Enforce guardrail denies), never by `--failure-mode`, and counted as
   * `tierguard_admission_errors_total{reason="check_bound"}` rather than as a violation.
   * Absent for violations.
   */
  readonly kind?: 'violation' | 'unproven';
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
export interface RuleError {
  readonly tier: string;
  readonly guardrail: string;
  readonly rule: string;
  readonly message: string;
}

/** A default label the mutating webhook injects. */
export interface AppliedDefault {
  readonly guardrail: string;
  readonly path: string;
  readonly key: string;
  readonly value: string;
}
