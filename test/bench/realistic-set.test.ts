/**
 * The bench's realistic policy set generator (issue 11): deterministic, valid for tierguard, with
 * selectors, CIDRs and ports drawn per guardrail, and the asked number of guardrails able to apply
 * to a namespace. The set is compiled in parts: the whole set's load-time warnings are what
 * issue 11 measures, not what this test is about.
 */
import { describe, expect, it } from 'vitest';
import { generateRealisticSet, selectorMatches } from '../../bench/realistic-set.mjs';
import type { GeneratedObject } from '../../bench/realistic-set.mjs';
import { compilePolicySet } from '../../src/policy/compile.js';
import { formatProblem } from '../../src/policy/problems.js';

function compile(docs: readonly GeneratedObject[]) {
  const result = compilePolicySet({ documents: docs.map((value, i) => ({ source: { file: 'generated', document: i + 1 }, value })) }, { generation: 1 });
  return { ...result, messages: result.problems.map(formatProblem) };
}

describe('the realistic policy set generator', () => {
  it('gives the same documents for the same seed, and others for another seed', () => {
    const a = generateRealisticSet({ seed: 7 });
    expect(JSON.stringify(generateRealisticSet({ seed: 7 }).files)).toBe(JSON.stringify(a.files));
    expect(JSON.stringify(generateRealisticSet({ seed: 8 }).guardrails)).not.toBe(JSON.stringify(a.guardrails));
  });

  it('has the shape issue 11 asks for by default', () => {
    const { stats, tiers, namespaces } = generateRealisticSet();
    expect(stats).toMatchObject({ tiers: 4, guardrails: 100, network: 60, labels: 30, cel: 10, celExpressions: 20, namespaces: 1000 });
    expect(new Set(tiers.map((t) => t.spec.priority)).size).toBe(4);
    expect(Object.values(stats.actions).every((n) => n > 0)).toBe(true);
    expect(Object.values(stats.peers).every((n) => n > 0)).toBe(true);
    const payments = namespaces.find((n) => n.metadata.name === 'payments');
    expect(payments?.metadata.labels).toMatchObject({ env: 'prod', 'segment.tierguard.dev/domain': 'payments' });
    expect(stats.applying.network).toBeGreaterThan(0);
    expect(stats.applying.labels).toBeGreaterThan(0);
  });

  it('is valid for tierguard: each network guardrail with the tiers, and the rest together', () => {
    const set = generateRealisticSet();
    const rest = compile([...set.tiers, ...set.files['guardrails-labels.yaml']!, ...set.files['guardrails-cel.yaml']!, ...set.namespaces]);
    expect(rest.messages).toEqual([]);
    expect(rest.set?.guardrails).toHaveLength(40);
    for (const guardrail of set.files['guardrails-network.yaml']!) {
      expect(compile([...set.tiers, guardrail]).messages).toEqual([]);
    }
  });

  it('draws selectors, CIDRs and ports for each guardrail, not from a few shared values', () => {
    const { stats } = generateRealisticSet({ guardrails: 300 });
    expect(stats.distinctSelectors).toBeGreaterThan(0.8 * (stats.network + stats.peers.namespaces + stats.peers.pods) / 2);
    expect(stats.distinctCidrs).toBeGreaterThan(0.8 * stats.cidrs);
    expect(stats.distinctProtocols).toBeGreaterThan(0.4 * stats.protocols);
  });

  it('makes exactly the asked number of guardrails able to apply to a namespace', () => {
    const set = generateRealisticSet({ guardrails: 1000, applying: { namespace: 'payments', network: 50, labels: 20 } });
    const payments = set.namespaces.find((n) => n.metadata.name === 'payments')!.metadata.labels!;
    const network = set.files['guardrails-network.yaml']!;
    const subjects = network.map((g) => g.spec.subject.namespaces ?? g.spec.subject.pods.namespaceSelector);
    expect(subjects.filter((s) => selectorMatches(s, payments))).toHaveLength(50);
    expect(set.files['guardrails-labels.yaml']!.filter((g) => selectorMatches(g.spec.labels.match.namespaces, payments))).toHaveLength(20);
    expect(set.stats).toMatchObject({ guardrails: 1000, network: 600, applying: { network: 50, labels: 20 } });
  });
});
