/** tierguard's Prometheus metrics (DESIGN §5), on a registry of their own. */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type CounterConfiguration, type LabelValues } from 'prom-client';
import type { Mode } from '../api/policy.js';

export type Webhook = 'mutate' | 'validate';

/** Duration buckets from 0.25 ms to 2.5 s, in seconds. */
export const DURATION_BUCKETS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface Metrics {
  readonly registry: Registry;
  readonly requests: Counter<'webhook' | 'kind' | 'operation' | 'allowed' | 'dry_run'>;
  readonly violations: Counter<'webhook' | 'kind' | 'tier' | 'guardrail' | 'rule' | 'mode' | 'dry_run'>;
  readonly duration: Histogram<'webhook' | 'kind'>;
  readonly errors: Counter<'webhook' | 'reason'>;
  readonly policySetInfo: Gauge<'generation'>;
  readonly guardrails: Gauge<'tier' | 'mode'>;
  readonly reloads: Counter<'result'>;
  readonly certificateExpiry: Gauge;
  readonly auditViolations: Gauge<'tier' | 'guardrail' | 'mode' | 'kind'>;
  readonly auditNotIsolated: Gauge<'tier' | 'guardrail' | 'direction'>;
  readonly auditLastCompleted: Gauge;
  readonly auditIsLeader: Gauge;
}

/** prom-client's default gauges whose names end in `_total`. */
const MISNAMED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

interface Tally<L extends string> {
  readonly labels: LabelValues<L>;
  count: number;
}

/**
 * A Counter for the request path. prom-client's `inc` builds a string of every label and looks
 * it up on each call, about 4 µs with seven labels, paid for each finding of a request (17 for the
 * bench's NetworkPolicy, a tenth of its review). Here `inc` only adds to a tally found through
 * nested maps keyed by the label values, which come from the compiled policy set (the same
 * strings request after request, whose hashes V8 keeps); the tallies go into the counter's series
 * when it is collected: at each scrape, and by `get()`.
 */
function tallyingCounter<L extends string>(config: CounterConfiguration<L> & { readonly labelNames: readonly L[] }): Counter<L> {
  const tallies: Tally<L>[] = [];
  const root = new Map<string, unknown>();
  const counter: Counter<L> = new Counter<L>({
    ...config,
    collect() {
      for (const tally of tallies) {
        if (tally.count === 0) continue;
        add(tally.labels, tally.count);
        tally.count = 0;
      }
    },
  });
  const add = counter.inc.bind(counter) as (labels: LabelValues<L>, value: number) => void;
  const { labelNames } = config;
  const last = labelNames.length - 1;
  counter.inc = ((labels?: LabelValues<L> | number, value?: number): void => {
    if (typeof labels !== 'object' || (value !== undefined && value !== 1)) return add(labels as LabelValues<L>, value as number);
    let node = root;
    for (let i = 0; i < last; i++) {
      const key = String(labels[labelNames[i] as L]);
      let next = node.get(key) as Map<string, unknown> | undefined;
      if (!next) node.set(key, (next = new Map()));
      node = next;
    }
    const key = String(labels[labelNames[last] as L]);
    let tally = node.get(key) as Tally<L> | undefined;
    if (!tally) {
      // Validated and stored once, by prom-client, with a count of 0 until the next collection.
      add(labels, 0);
      node.set(key, (tally = { labels: { ...labels }, count: 0 }));
      tallies.push(tally);
    }
    tally.count += 1;
  }) as Counter<L>['inc'];
  return counter;
}

/**
 * Creates the metrics on a fresh registry; with `processMetrics` also Node's default process
 * metrics (CPU, memory, event loop lag). Nothing is registered globally.
 */

export function createMetrics(options: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics) {
    collectDefaultMetrics({ register: registry });
    // Gauges named like counters, which `promtool check metrics` refuses; their per-type
    // companions (`nodejs_active_handles{type}`, ...) stay and sum to the same.
    for (const name of MISNAMED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  }
  const registers = [registry];
  return {
    registry,
    requests: tallyingCounter({ name: 'tierguard_admission_requests_total', help: 'Admission requests answered, by outcome.', labelNames: ['webhook', 'kind', 'operation', 'allowed', 'dry_run'], registers }),
    violations: tallyingCounter({ name: 'tierguard_admission_violations_total', help: 'Guardrail findings of every mode; denials are mode="Enforce".', labelNames: ['webhook', 'kind', 'tier', 'guardrail', 'rule', 'mode', 'dry_run'], registers }),
    duration: new Histogram({ name: 'tierguard_admission_duration_seconds', help: 'Time to answer an admission request, from the request to its answer ready to write (the socket write is left out).', labelNames: ['webhook', 'kind'], buckets: DURATION_BUCKETS, registers }),
    errors: new Counter({ name: 'tierguard_admission_errors_total', help: 'Requests that could not be evaluated normally, by reason.', labelNames: ['webhook', 'reason'], registers }),
    policySetInfo: new Gauge({ name: 'tierguard_policy_set_info', help: 'The policy set in force (value 1), by generation.', labelNames: ['generation'], registers }),
    guardrails: new Gauge({ name: 'tierguard_guardrails', help: 'Guardrails in force, by tier and mode.', labelNames: ['tier', 'mode'], registers }),
    reloads: new Counter({ name: 'tierguard_policy_reloads_total', help: 'Policy set loads, by result (success or failure).', labelNames: ['result'], registers }),
    certificateExpiry: new Gauge({ name: 'tierguard_tls_certificate_expiry_timestamp_seconds', help: 'Expiry of the serving certificate, Unix seconds.', registers }),
    auditViolations: new Gauge({ name: 'tierguard_audit_violations', help: 'Existing objects that break a guardrail now, by the kind of object (background audit; the Lease holder only).', labelNames: ['tier', 'guardrail', 'mode', 'kind'], registers }),
    auditNotIsolated: new Gauge({ name: 'tierguard_audit_namespaces_not_isolated', help: 'Namespaces where pods of a guardrail with Deny rules are isolated by no NetworkPolicy in that direction (background audit; the Lease holder only).', labelNames: ['tier', 'guardrail', 'direction'], registers }),
    auditLastCompleted: new Gauge({ name: 'tierguard_audit_last_completed_timestamp_seconds', help: 'When the last full background audit finished, Unix seconds (the Lease holder only).', registers }),
    auditIsLeader: new Gauge({ name: 'tierguard_leader', help: '1 while this replica holds the Lease and writes reports and status, 0 otherwise.', registers }),
  };
}

/** Publishes which policy set is in force and how many guardrails it has per tier and mode. */
export function recordPolicySet(metrics: Metrics, set: { generation: number; guardrails: readonly { tier: { name: string }; mode: Mode }[] }): void {
  metrics.policySetInfo.reset();
  metrics.policySetInfo.set({ generation: String(set.generation) }, 1);
  metrics.guardrails.reset();
  for (const guardrail of set.guardrails) metrics.guardrails.inc({ tier: guardrail.tier.name, mode: guardrail.mode });
}

export interface AuditFigures {
  readonly violations: readonly { tier: string; guardrail: string; mode: Mode; kind: string; count: number }[];
  readonly isolation: readonly { tier: string; guardrail: string; namespace: string; direction: string }[];
  readonly time: Date;
}

/** Publishes what the background audit holds now; series that no longer apply go. Undefined clears them (leadership lost). */
export function recordAudit(metrics: Metrics, figures: AuditFigures | undefined): void {
  metrics.auditViolations.reset();
  metrics.auditNotIsolated.reset();
  metrics.auditLastCompleted.reset();
  if (!figures) return;
  for (const { count, ...labels } of figures.violations) metrics.auditViolations.set(labels, count);
  for (const gap of figures.isolation) metrics.auditNotIsolated.inc({ tier: gap.tier, guardrail: gap.guardrail, direction: gap.direction });
  metrics.auditLastCompleted.set(figures.time.getTime() / 1000);
}
