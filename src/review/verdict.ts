/**
 * What a review decides, free of any transport: allowed (maybe with a patch), denied, or errored.
 * The webhook encodes a verdict as an AdmissionResponse, `tierguard check` prints it.
 */
import type { AppliedDefault, Finding, RuleError } from '../engine/findings.js';
import type { PatchOperation } from './patch.js';

export type Verdict = Allowed | Denied | Errored;

interface VerdictBase {
  /** How the object is named in messages, e.g. `Pod payments/api-0`. */
  readonly subject: string;
  /** What the API server shows the requester: Warn findings, notes, rules skipped by the failure mode. */
  readonly warnings: readonly string[];
  /** Lines for the requester that are neither findings nor errors (part of `warnings`). */
  readonly notes: readonly string[];
  /** Every finding of the rules that ran, all modes, `unproven` ones included. */
  readonly findings: readonly Finding[];
  /** Rules that could not be evaluated. */
  readonly errors: readonly RuleError[];
  /**
   * The defaults the mutating step injects, as a JSON Patch of the object; empty when nothing
   * changes or no mutation ran. Only an allowed verdict sends it; `check` shows it whatever the verdict.
   */
  readonly patch: readonly PatchOperation[];
  readonly applied: readonly AppliedDefault[];
  /**
   * What failed, when the review itself could not be completed (rule errors are in `errors`):
   * errored, or allowed by `--failure-mode allow`; never on a denial.
   */
  readonly failure?: Failure;
}

export interface Allowed extends VerdictBase {
  readonly outcome: 'allowed';
  /** Why no rule ran (e.g. `operation DELETE`), when none did. */
  readonly skipped?: string;
}

export interface Denied extends VerdictBase {
  readonly outcome: 'denied';
  /** 403 Forbidden by a guardrail; 422 Invalid for a Tier or Guardrail that must not be stored. */
  readonly code: 403 | 422;
  readonly message: string;
}

export interface Errored extends VerdictBase {
  readonly outcome: 'errored';
  /** 400 for a malformed object; 500 when a rule or the review itself could not be evaluated. */
  readonly code: 400 | 500;
  readonly message: string;
}

/** Why a review could not be completed, other than a rule error. */
export interface Failure {
  readonly reason: 'invalid_object' | 'no_policy_set' | 'policy_read' | 'internal';
  /** For logs: the underlying error message. */
  readonly detail: string;
}

const NOTHING = { warnings: [], notes: [], findings: [], errors: [], patch: [], applied: [] } as const;

/** Allowed with no rule run, for the given reason. */
export function skippedVerdict(subject: string, reason: string): Allowed {
  return { outcome: 'allowed', subject, ...NOTHING, skipped: reason };
}

/** Errored before any rule ran. */
export function failedVerdict(subject: string, code: 400 | 500, message: string, failure: Failure): Errored {
  return { outcome: 'errored', subject, ...NOTHING, code, message, failure };
}
