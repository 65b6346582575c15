/**
 * The audit's state counted per guardrail (a Guardrail's `status.audit`) and per series of the
 * `tierguard_audit_violations` gauge (tier, guardrail, mode, kind: bounded by the guardrails in
 * force times the nine kinds audited). `createAuditTally` keeps both current one result at a time
 * (the background audit's ledger), so a change costs what it touches, not what the cluster holds;
 * `guardrailCounts` and `violationSeries` count a whole state at once.
 */
import type { Mode } from '../api/policy.js';
import type { AuditResult, AuditState } from './audit.js';

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

/** Counts of results (not of isolation, which is counted from the gaps of a state). */
export interface AuditTally {
  /** Adds (1) or takes away (-1) what one object's result counts. */
  account(result: AuditResult, sign: 1 | -1): void;
  /** The counts by guardrail, with the namespaces not isolated of `isolation`. */
  counts(isolation: AuditState['isolation']): Map<string, GuardrailAuditCounts>;
  series(): ViolationSeries[];
}

type GuardrailTally = { tier: string; violations: number; violationsByMode: Record<Mode, number>; errors: number };
type SeriesTally = { tier: string; guardrail: string; mode: Mode; kind: string; count: number };

export function createAuditTally(): AuditTally {
  const guardrails = new Map<string, GuardrailTally>();
  const seriesByKey = new Map<string, SeriesTally>();
  const guardrailOf = (tier: string, name: string): GuardrailTally => {
    let entry = guardrails.get(name);
    if (!entry) guardrails.set(name, (entry = { tier, violations: 0, violationsByMode: { Enforce: 0, Warn: 0, Audit: 0 }, errors: 0 }));
    if (!entry.tier) entry.tier = tier;
    return entry;
  };
  return {
    account(result, sign) {
      // One object counts once per guardrail (and so once per series: a guardrail has one tier and
      // one mode), however many of its rules it breaks.
      const seen: string[] = [];
      for (const violation of result.violations) {
        if (seen.includes(violation.guardrail)) continue;
        seen.push(violation.guardrail);
        const entry = guardrailOf(violation.tier, violation.guardrail);
        entry.violations += sign;
        entry.violationsByMode[violation.mode] += sign;
        const key = `${violation.guardrail}\u0000${violation.mode}\u0000${result.kind}`;
        let series = seriesByKey.get(key);
        if (!series) seriesByKey.set(key, (series = { tier: violation.tier, guardrail: violation.guardrail, mode: violation.mode, kind: result.kind, count: 0 }));
        series.count += sign;
        if (series.count === 0) seriesByKey.delete(key);
      }
      for (const error of result.errors ?? []) {
        // An error names the guardrail (`guardrail/rule: message`), not its tier.
        const guardrail = /^([^/:\s]+)\//.exec(error)?.[1];
        if (guardrail) guardrailOf('', guardrail).errors += sign;
      }
    },
    counts(isolation) {
      const notIsolated = new Map<string, { tier: string; namespaces: Set<string> }>();
      for (const gap of isolation) {
        let entry = notIsolated.get(gap.guardrail);
        if (!entry) notIsolated.set(gap.guardrail, (entry = { tier: gap.tier, namespaces: new Set() }));
        entry.namespaces.add(gap.namespace);
      }
      const counts = new Map<string, GuardrailAuditCounts>();
      for (const [name, entry] of guardrails) {
        if (entry.violations === 0 && entry.errors === 0) continue;
        counts.set(name, { tier: entry.tier, violations: entry.violations, violationsByMode: { ...entry.violationsByMode }, errors: entry.errors, namespacesNotIsolated: 0 });
      }
      for (const [name, { tier, namespaces }] of notIsolated) {
        const found = counts.get(name);
        counts.set(name, found ? { ...found, namespacesNotIsolated: namespaces.size } : { tier, violations: 0, violationsByMode: { Enforce: 0, Warn: 0, Audit: 0 }, errors: 0, namespacesNotIsolated: namespaces.size });
      }
      return counts;
    },
    series: () => [...seriesByKey.values()].map((entry) => ({ ...entry })),
  };
}

/** Counts by guardrail name; a guardrail with no finding is absent (its counts are zero). */
export function guardrailCounts(state: AuditState): Map<string, GuardrailAuditCounts> {
  return tallyOf(state).counts(state.isolation);
}

/** Objects with a violation, by tier, guardrail, mode and kind of object. */
export function violationSeries(state: AuditState): ViolationSeries[] {
  return tallyOf(state).series();
}

function tallyOf(state: AuditState): AuditTally {
  const tally = createAuditTally();
  for (const result of state.results) tally.account(result, 1);
  return tally;
}
