/**
 * The audit's state counted per guardrail (a Guardrail's `status.audit`) and per series of the
 * `tierguard_audit_violations` gauge (tier, guardrail, mode, kind: bounded by the guardrails in
 * force times the nine kinds audited).
 */
import type { Mode } from '../api/policy.js';
import type { AuditState } from './audit.js';

export interface GuardrailAuditCounts {
  readonly tier: string;
  readonly violations: number;
  readonly violationsByMode: Readonly<Record<Mode, number>>;
  readonly errors: number;
  readonly namespacesNotIsolated: number;
}

export interface ViolationSeries {
  readonly tier: string;
  readonly guardrail: string;
  readonly mode: Mode;
  readonly kind: string;
  readonly count: number;
}

type MutableCounts = { tier: string; violations: number; violationsByMode: Record<Mode, number>; errors: number; notIsolated: Set<string> };

/** Counts by guardrail name; a guardrail with no finding is absent (its counts are zero). */
export function guardrailCounts(state: AuditState): Map<string, GuardrailAuditCounts> {
  const counts = new Map<string, MutableCounts>();
  const of = (tier: string, guardrail: string): MutableCounts => {
    let entry = counts.get(guardrail);
    if (!entry) counts.set(guardrail, (entry = { tier, violations: 0, violationsByMode: { Enforce: 0, Warn: 0, Audit: 0 }, errors: 0, notIsolated: new Set() }));
    return entry;
  };
  for (const result of state.results) {
    // One object counts once per guardrail, however many of its rules it breaks.
    const seen = new Set<string>();
    for (const violation of result.violations) {
      if (seen.has(violation.guardrail)) continue;
      seen.add(violation.guardrail);
      const entry = of(violation.tier, violation.guardrail);
      entry.violations++;
      entry.violationsByMode[violation.mode]++;
    }
    for (const error of result.errors ?? []) {
      const guardrail = /^([^/:\s]+)\//.exec(error)?.[1];
      // An error names the guardrail (`guardrail/rule: message`), not its tier.
      if (guardrail) of(counts.get(guardrail)?.tier ?? '', guardrail).errors++;
    }
  }
  for (const gap of state.isolation) of(gap.tier, gap.guardrail).notIsolated.add(gap.namespace);
  return new Map([...counts].map(([name, entry]) => [name, { tier: entry.tier, violations: entry.violations, violationsByMode: entry.violationsByMode, errors: entry.errors, namespacesNotIsolated: entry.notIsolated.size }]));
}

/** Objects with a violation, by tier, guardrail, mode and kind of object. */
export function violationSeries(state: AuditState): ViolationSeries[] {
  const series = new Map<string, { tier: string; guardrail: string; mode: Mode; kind: string; count: number }>();
  for (const result of state.results) {
    const seen = new Set<string>();
    for (const violation of result.violations) {
      const key = JSON.stringify([violation.tier, violation.guardrail, violation.mode, result.kind]);
      if (seen.has(key)) continue;
      seen.add(key);
      const entry = series.get(key);
      if (entry) entry.count++;
      else series.set(key, { tier: violation.tier, guardrail: violation.guardrail, mode: violation.mode, kind: result.kind, count: 1 });
    }
  }
  return [...series.values()];
}
