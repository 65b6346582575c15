/**
 * The request-path counters (`tierguard_admission_requests_total`, `..._violations_total`) keep
 * their increments as tallies and hand them to prom-client when collected: what a scrape or
 * `get()` returns must be exactly what prom-client's own counter would have counted.
 */
import fc from 'fast-check';
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/telemetry/metrics.js';

type ViolationLabels = Parameters<ReturnType<typeof createMetrics>['violations']['inc']>[0] & object;

const label = fc.constantFrom('a', 'b', 'payments', 'label:owner', 'validations[0]', 'with "quotes"', 'x\ny', '');
const violation = fc.record({ webhook: fc.constantFrom('mutate', 'validate'), kind: fc.constantFrom('Pod', 'NetworkPolicy'), tier: label, guardrail: label, rule: label, mode: fc.constantFrom('Enforce', 'Warn', 'Audit'), dry_run: fc.constantFrom('true', 'false') });
/** Increments, with a scrape between some of them. */
const steps = fc.array(fc.oneof(violation.map((labels) => ({ labels })), fc.constant({ scrape: true as const })), { maxLength: 60 });

function plainCounter() {
  const registry = new Registry();
  const counter = new Counter({ name: 'tierguard_admission_violations_total', help: 'Guardrail findings of every mode; denials are mode="Enforce".', labelNames: ['webhook', 'kind', 'tier', 'guardrail', 'rule', 'mode', 'dry_run'], registers: [registry] });
  return { registry, counter };
}

describe('the tallying counters', () => {
  it('expose what prom-client\'s own counter would, whatever the increments and however often they are scraped', async () => {
    await fc.assert(fc.asyncProperty(steps, async (sequence) => {
      const metrics = createMetrics();
      const plain = plainCounter();
      for (const step of sequence) {
        if ('scrape' in step) {
          await metrics.registry.metrics();
          continue;
        }
        metrics.violations.inc(step.labels as ViolationLabels);
        plain.counter.inc(step.labels);
      }
      const ours = (await metrics.violations.get()).values;
      const theirs = (await plain.counter.get()).values;
      expect(ours).toEqual(theirs);
      // A second collection adds nothing.
      expect((await metrics.violations.get()).values).toEqual(theirs);
    }), { numRuns: 200 });
  });

  it('a scrape shows the count of every increment made before it', async () => {
    const metrics = createMetrics();
    const labels = { webhook: 'validate', kind: 'Pod', tier: 'security', guardrail: 'owner-label', rule: 'label:team', mode: 'Enforce', dry_run: 'false' } as const;
    for (let i = 0; i < 3; i++) metrics.violations.inc(labels);
    expect(await metrics.registry.metrics()).toContain('tierguard_admission_violations_total{webhook="validate",kind="Pod",tier="security",guardrail="owner-label",rule="label:team",mode="Enforce",dry_run="false"} 3\n');
    metrics.violations.inc(labels);
    metrics.violations.inc(labels, 2);
    expect(await metrics.registry.metrics()).toContain('guardrail="owner-label",rule="label:team",mode="Enforce",dry_run="false"} 6\n');
  });

  it('refuses a label the counter does not have, at the first increment, as prom-client does', () => {
    const metrics = createMetrics();
    expect(() => metrics.requests.inc({ webhook: 'validate', nope: 'x' } as never)).toThrow(/Added label "nope" is not included in initial labelset/);
  });
});
