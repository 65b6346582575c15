/**
 * Turns findings and rule errors into one admission decision, so the webhook and `tierguard check`
 * agree to the letter: Enforce findings deny, Warn findings warn, Audit findings are only recorded,
 * and rule errors follow the failure mode. An `unproven` finding (a check stopped at a bound) is a
 * finding: its mode decides, the failure mode never does.
 */
import type { FailureMode } from '../api/policy.js';
import { derivedOnce, errorSource, isRequestError, isUnproven, type Finding, type RuleError, type RuleOutcome } from './findings.js';

/** Kubernetes shows warnings on one line each; tierguard keeps them under this many characters. */
export const MAX_WARNING_LENGTH = 119;

export interface Decision {
  readonly allowed: boolean;
  /**
   * 200 allowed, 403 denied by a guardrail (a violation, or a check it could not complete), 500
   * denied because a rule could not be evaluated (failure mode deny).
   */
  readonly code: 200 | 403 | 500;
  /** The denial message, one line per violation; undefined when allowed. */
  readonly message?: string;
  readonly warnings: readonly string[];
  /** The warnings that are not Warn findings: notes and rules skipped by the failure mode. */
  readonly notes: readonly string[];
  readonly findings: readonly Finding[];
  readonly errors: readonly RuleError[];
}

export interface DecideOptions {
  readonly failureMode: FailureMode;
  /** How the object is named in messages, e.g. `Pod payments/api-0`. */
  readonly subject: string;
}

/** What is decided on: the outcome of the rules, hints optional. */
export type DecisionInput = Omit<RuleOutcome, 'hints'> & { readonly hints?: readonly string[] };

export function decide(result: DecisionInput, options: DecideOptions): Decision {
  const enforced = result.findings.filter((finding) => finding.mode === 'Enforce');
  const { findings, errors } = result;
  const findingWarnings = findings.filter((finding) => finding.mode === 'Warn').map(warningFor);
  const notes = result.notes.map(shortWarning);
  if (errors.length > 0 && options.failureMode === 'allow') {
    notes.push(...errors.map((error) => shortWarning(`rule not evaluated, allowed by failure mode: ${errorSource(error)}: ${error.message}`)));
  }
  const warnings = [...findingWarnings, ...notes];
  if (enforced.length > 0) {
    const lines = [...enforced.map(violationLine), ...errors.map(errorLine), ...(result.hints ?? [])];
    const message = `${options.subject} is denied by tierguard (${denialCounts(enforced)}):\n${lines.join('\n')}`;
    return { allowed: false, code: 403, message, warnings, notes, findings, errors };
  }
  if (errors.length > 0 && options.failureMode === 'deny') {
    const message = `${options.subject} is denied by tierguard: ${count(errors.length, 'rule')} could not be evaluated (failure mode deny):\n${errors.map(errorLine).join('\n')}`;
    return { allowed: false, code: 500, message, warnings, notes, findings, errors };
  }
  return { allowed: true, code: 200, warnings, notes, findings, errors };
}

/** The denial line of each shared finding (`isSharedFinding`), kept with it: the same line request after request. */
const keptLines = new WeakMap<Finding, string>();

/** `- path: message (tier t, guardrail g; compliance)` */
export function violationLine(finding: Finding): string {
  return derivedOnce(keptLines, finding, lineOf);
}

function lineOf(finding: Finding): string {
  const where = finding.path ? `${finding.path}: ` : '';
  if (finding.summary) return `- ${where}${finding.summary}`;
  const tags = finding.compliance.length > 0 ? `; ${finding.compliance.join(', ')}` : '';
  return `- ${where}${finding.message} (tier ${finding.tier}, guardrail ${finding.guardrail}${tags})`;
}

function errorLine(error: RuleError): string {
  if (isRequestError(error)) return `- error in the ${error.rule} of every guardrail: ${error.message}`;
  return `- error in tier ${error.tier}, guardrail ${error.guardrail}, rule ${error.rule}: ${error.message}`;
}

/** The warning of each shared Warn finding, kept with it as its denial line is. */
const keptWarnings = new WeakMap<Finding, string>();

function warningFor(finding: Finding): string {
  return derivedOnce(keptWarnings, finding, warningOf);
}

function warningOf(finding: Finding): string {
  return shortWarning(`${finding.guardrail}: ${finding.warning ?? `${finding.path ? `${finding.path}: ` : ''}${finding.message}`}`);
}

/** Cuts a warning to MAX_WARNING_LENGTH characters, marking the cut with an ellipsis. */
export function shortWarning(text: string): string {
  return text.length <= MAX_WARNING_LENGTH ? text : `${text.slice(0, MAX_WARNING_LENGTH - 1)}…`;
}

/** `2 violations`, `override check unproven`, or both. */
function denialCounts(enforced: readonly Finding[]): string {
  const unproven = enforced.filter(isUnproven).length;
  const violations = enforced.length - unproven;
  return [violations > 0 ? count(violations, 'violation') : '', unproven > 0 ? 'override check unproven' : ''].filter(Boolean).join(', ');
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
