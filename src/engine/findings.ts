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
}

/** A rule that could not be evaluated. Not a violation: `--failure-mode` decides. */
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
