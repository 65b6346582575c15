/**
 * The override check on a large, realistic policy set (issue 11): 1,000 network guardrails drawn
 * independently by the bench's generator (bench/realistic-set.mjs), 50 of them able to apply to
 * `payments`, and a few hundred NetworkPolicies drawn as the bench draws them
 * (bench/sections/override-check.mjs). Every policy gets an answer — findings, or unproven at a
 * bound — and none throws. Nothing is timed: the bounds here count clock reads.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { generateRealisticSet } from '../../bench/realistic-set.mjs';
import type { GeneratedObject } from '../../bench/realistic-set.mjs';
import type { NamespaceInfo } from '../../src/api/kube.js';
import { checkOverrides, type OverrideCheck } from '../../src/engine/network/override.js';
import type { PolicySet } from '../../src/engine/policy-set.js';
import { compilePolicySet } from '../../src/policy/compile.js';

type DrawNetworkPolicies = (options: {
  seed: number | string;
  count: number;
  applying: string;
  applyingShare: number;
  namespaces: readonly GeneratedObject[];
}) => Record<string, any>[];

// The bench section is plain JavaScript without type declarations: imported by a computed path.
const SECTION = '../../bench/sections/override-check.mjs';
const POLICIES = 300;
const APPLYING = 'payments';

/** An `expired` that says yes from the `reads`th time it is asked on (deterministic, unlike a clock). */
function afterReads(reads: number): () => boolean {
  let count = 0;
  return () => ++count >= reads;
}

describe('the override check at 1,000 independent guardrails', () => {
  let set: PolicySet;
  let namespaces: readonly NamespaceInfo[];
  let generated: ReturnType<typeof generateRealisticSet>;
  let draw: DrawNetworkPolicies;

  beforeAll(async () => {
    generated = generateRealisticSet({ seed: 1, guardrails: 1000, mix: { network: 1, labels: 0, cel: 0 }, applying: { namespace: APPLYING, network: 50 } });
    const documents = [...generated.tiers, ...generated.guardrails, ...generated.namespaces].map((value, i) => ({ source: { file: 'realistic', document: i + 1 }, value }));
    const compiled = compilePolicySet({ documents }, { generation: 1 });
    expect(compiled.problems).toEqual([]);
    set = compiled.set!;
    namespaces = compiled.namespaces;
    ({ drawNetworkPolicies: draw } = (await import(SECTION)) as { drawNetworkPolicies: DrawNetworkPolicies });
  }, 300_000);

  const check = (policy: Record<string, any>, expired: () => boolean): OverrideCheck => {
    const own = namespaces.find((ns) => ns.name === policy.metadata.namespace);
    const namespace = own ? { name: own.name, labels: own.labels, known: true } : { name: policy.metadata.namespace, labels: { 'kubernetes.io/metadata.name': policy.metadata.namespace }, known: false };
    return checkOverrides(set, { policy, namespace, knownNamespaces: namespaces, expired });
  };

  it('has exactly 50 network guardrails whose subject can select pods in payments', () => {
    const labels = namespaces.find((ns) => ns.name === APPLYING)!.labels;
    expect(set.guardrails.filter((g) => g.network?.subject.namespaces.match(labels)).length).toBe(50);
  });

  it(`answers each of ${POLICIES} random NetworkPolicies, most in payments, within its bounds`, () => {
    const policies = draw({ seed: 1, count: POLICIES, applying: APPLYING, applyingShare: 0.8, namespaces: generated.namespaces });
    const answers = policies.map((policy) => ({ policy, check: check(policy, afterReads(1_000_000)) }));
    for (const { policy, check: { findings, unproven } } of answers) {
      const rules = new Set([...(policy.spec.ingress ?? []).map((_: unknown, i: number) => `spec.ingress[${i}]`), ...(policy.spec.egress ?? []).map((_: unknown, i: number) => `spec.egress[${i}]`)]);
      for (const finding of findings) {
        expect(rules).toContain(finding.path);
        expect(finding.message).toMatch(new RegExp(`^NetworkPolicy ${policy.metadata.namespace}/${policy.metadata.name} (ingress|egress)\\[\\d+\\] allows `));
      }
      expect(unproven).toBeUndefined();
    }
    expect(answers.filter((a) => a.policy.metadata.namespace === APPLYING).length).toBeGreaterThan(POLICIES / 2);
    expect(answers.filter((a) => a.check.findings.length > 0).length).toBeGreaterThan(POLICIES / 2);
  }, 300_000);

  it('keeps the findings made before a bound stops the check, and names the guardrails that could apply', () => {
    const policies = draw({ seed: 2, count: 20, applying: APPLYING, applyingShare: 1, namespaces: generated.namespaces });
    let stops = 0;
    for (const policy of policies) {
      const full = check(policy, afterReads(Infinity));
      // The clock is read before each policy rule and every 64 steps: the third read stops most checks midway.
      const stopped = check(policy, afterReads(3));
      expect(full.unproven).toBeUndefined();
      if (!stopped.unproven) {
        expect(stopped.findings).toEqual(full.findings);
        continue;
      }
      stops++;
      expect(stopped.unproven.bound).toEqual({ kind: 'time' });
      expect(stopped.unproven.path).toMatch(/^spec\.(ingress|egress)\[\d+\]$/);
      expect(stopped.unproven.guardrails.length).toBeGreaterThan(0);
      expect(full.findings.slice(0, stopped.findings.length)).toEqual(stopped.findings);
    }
    expect(stops).toBeGreaterThan(policies.length / 2);
  }, 120_000);

  it('answers in a namespace it does not know, where every guardrail may apply, or stops at its bound', () => {
    const policies = draw({ seed: 3, count: 5, applying: APPLYING, applyingShare: 1, namespaces: generated.namespaces });
    for (const policy of policies) {
      policy.metadata.namespace = 'not-yet-known';
      const { findings, unproven } = check(policy, afterReads(1_000));
      expect(Array.isArray(findings)).toBe(true);
      if (unproven) expect(unproven.guardrails.length).toBeGreaterThan(50);
    }
  }, 120_000);
});
