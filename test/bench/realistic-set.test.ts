/**
 * The bench's realistic policy set generator (issue 11): deterministic, valid for tierguard, with
 * selectors, CIDRs and ports drawn per guardrail, and the asked number of guardrails able to apply
 * to a namespace. The set is compiled in parts for validity: the whole set's load-time warnings
 * are what issue 11 measures, not what this test is about.
 *
 * Its rules can be complied with, as a real platform team's can: objects with the labels an
 * application team sets are admitted in `payments` through tierguard's engine (mutation, then
 * validation, as `tierguard check` and the webhook run them), while the bench's captured fixtures,
 * which carry none of those labels, are still denied.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateRealisticSet, selectorMatches } from '../../bench/realistic-set.mjs';
import type { GeneratedObject, RealisticSet } from '../../bench/realistic-set.mjs';
import { checkManifests, type CheckResult } from '../../src/cli/check.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { loadPolicySet } from '../../src/policy/load.js';
import { readManifests } from '../../src/policy/manifests.js';
import { formatProblem } from '../../src/policy/problems.js';
import { REPO_DIR, review } from '../helpers/fixtures.js';
import { benchDeployment, benchNetworkPolicy, benchPod } from '../../bench/admitted-objects.mjs';

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

/** The generated set compiled whole (without the shadowing analysis, a load-time warning only). */
function compileWhole(set: RealisticSet) {
  const documents = [...set.tiers, ...set.guardrails, ...set.namespaces].map((value, i) => ({ source: { file: 'generated', document: i + 1 }, value }));
  const result = compilePolicySet({ documents }, { generation: 1, shadows: 'none' });
  expect(result.problems.map(formatProblem)).toEqual([]);
  return { set: result.set!, namespaces: result.namespaces };
}

/** Every object as a CREATE through mutation and validation, as `tierguard check` runs them. */
function check(compiled: ReturnType<typeof compileWhole>, objects: readonly unknown[]): Promise<CheckResult[]> {
  const documents = objects.map((value, i) => ({ source: { file: 'objects', document: i + 1 }, value }));
  return checkManifests({ ...compiled, documents, engine: { excludedNamespaces: new Set() }, failureMode: 'deny' });
}

/** What keeps an object out: its Enforce violations and errors, one line each. */
const blockers = (result: CheckResult) => [
  ...result.violations.filter((v) => v.mode === 'Enforce').map((v) => `${v.guardrail} ${v.path}: ${v.message}`),
  ...(result.error ? [result.error] : []),
];

/** The label keys a patch adds (`/metadata/labels/a~1b` is `a/b`). */
const injectedKeys = (result: CheckResult) => new Set(result.patch.map((op) => op.path.split('/').pop()!.replaceAll('~1', '/').replaceAll('~0', '~')));

/** An object in `namespace` with no labels at all (its own name kept). */
function unlabelled<T extends { metadata: object }>(object: T, namespace: string): T {
  return { ...object, metadata: { ...object.metadata, namespace, labels: {} } };
}

describe('the realistic policy set can be complied with', () => {
  it('admits the bench\'s Pod, NetworkPolicy and Deployment in payments, with defaults injected, under the set of seed 1', async () => {
    // the API-latency driver creates the first two; the bench's `*-admitted` scenarios send all three
    const results = await check(compileWhole(generateRealisticSet()), [benchPod, benchNetworkPolicy, benchDeployment]);
    expect(results.map((result) => ({ kind: result.kind, blockers: blockers(result), allowed: result.allowed }))).toEqual([
      { kind: 'Pod', blockers: [], allowed: true },
      { kind: 'NetworkPolicy', blockers: [], allowed: true },
      { kind: 'Deployment', blockers: [], allowed: true },
    ]);
    // env (and for the NetworkPolicy cost-center) come from the namespace: the mutating webhook's work is measured too
    for (const result of results) expect(result.patch.length).toBeGreaterThan(0);
  });

  it('admits the same objects under examples/policies, the API-latency section\'s other set', async () => {
    const loaded = await loadPolicySet([path.join(REPO_DIR, 'examples', 'policies')], { generation: 1 });
    const manifests = await readManifests([path.join(REPO_DIR, 'examples', 'manifests', 'namespaces.yaml')]);
    const documents = [...manifests.documents, ...[benchPod, benchNetworkPolicy, benchDeployment].map((value, i) => ({ source: { file: 'objects', document: i + 1 }, value }))];
    const results = await checkManifests({ set: loaded.set!, documents, namespaces: loaded.namespaces, engine: { excludedNamespaces: new Set() }, failureMode: 'deny' });
    expect(results.filter((result) => result.kind !== 'Namespace').map((result) => [result.kind, blockers(result)])).toEqual([['Pod', []], ['NetworkPolicy', []], ['Deployment', []]]);
  });

  it('still denies the bench\'s /validate fixtures as captured: they carry none of the labels', async () => {
    const fixtures = ['validate-create-pod', 'validate-create-networkpolicy', 'validate-create-deployment'].map((name) => review(name).request.object);
    const results = await check(compileWhole(generateRealisticSet()), fixtures);
    for (const result of results) {
      expect(result.allowed, `${result.kind} ${result.name}`).toBe(false);
      expect(result.violations.some((v) => v.mode === 'Enforce' && v.message.startsWith('missing required label')), `${result.kind} ${result.name}`).toBe(true);
    }
  });

  // Without network guardrails (a NetworkPolicy's traffic is another question): the label and
  // CEL rules of 300 guardrails, enough that every CEL template is drawn several times.
  it.each([1, 2, 3, 4, 5].map((seed) => ({ name: `seed ${seed}`, seed })))('$name: an object with every conventional label is admitted in payments, and no injected default breaks a rule anywhere', async ({ seed }) => {
    const generated = generateRealisticSet({ seed, guardrails: 300, namespaces: 300, mix: { network: 0, labels: 0.7, cel: 0.3 } });
    const compiled = compileWhole(generated);
    const withNamespaceLabels = (object: typeof benchPod | typeof benchNetworkPolicy) => ({ ...object, metadata: { ...object.metadata, labels: { ...object.metadata.labels, env: 'prod', 'cost-center': 'cc-4410' } } });
    const admitted = await check(compiled, [withNamespaceLabels(benchPod), withNamespaceLabels(benchNetworkPolicy)]);
    expect(admitted.map(blockers)).toEqual([[], []]);

    // In every namespace, a label a default put there is never the one a rule rejects.
    const bare = generated.namespaces.flatMap((ns) => [unlabelled(benchPod, ns.metadata.name), unlabelled(benchNetworkPolicy, ns.metadata.name)]);
    const rejectedDefaults = (await check(compiled, bare)).flatMap((result) => {
      const injected = injectedKeys(result);
      return result.violations
        .filter((v) => v.rule.startsWith('label:') && injected.has(v.rule.slice('label:'.length)))
        .map((v) => `${result.namespace}/${result.kind}: ${v.guardrail} ${v.message}`);
    });
    expect(rejectedDefaults).toEqual([]);
  });
});
