/**
 * The override check's answers remembered across reviews (src/engine/network/remembered-overrides.ts):
 * a NetworkPolicy reviewed again with nothing changed gets the answer it got, and any change to
 * what the check reads — the policy's spec or name, its namespace's labels, the other namespaces'
 * labels, the policy set — gets a new one. An answer stopped at a bound is never kept.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NAMESPACE_NAME_LABEL, type NamespaceInfo } from '../../src/api/kube.js';
import { decide } from '../../src/engine/decision.js';
import { validate, type EngineRequest } from '../../src/engine/evaluate.js';
import { isSharedFinding, type Finding } from '../../src/engine/findings.js';
import { rememberedOverrides, sameJson } from '../../src/engine/network/remembered-overrides.js';
import type { PolicySet } from '../../src/engine/policy-set.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { parseManifestText } from '../../src/policy/manifests.js';
import { REPO_DIR } from '../helpers/fixtures.js';

/** The example set's Tiers and network Guardrails (prod-isolation: ingress from env=dev namespaces is denied). */
const GUARDRAILS = ['tiers.yaml', 'network-tiers.yaml'].map((file) => readFileSync(path.join(REPO_DIR, 'examples', 'policies', file), 'utf8')).join('\n---\n');
const PROD_ISOLATION = '  description: Prod workloads never accept traffic from dev\n';
const DENY_FROM_DEV = '- name: deny-from-dev\n      action: Deny';

function compile(yaml: string): PolicySet {
  const result = compilePolicySet(parseManifestText(yaml, 'test.yaml'), { generation: 1 });
  expect(result.problems).toEqual([]);
  return result.set as PolicySet;
}

function namespaces(labels: Record<string, Record<string, string>>): NamespaceInfo[] {
  return Object.entries(labels).map(([name, own]) => ({ name, labels: { ...own, [NAMESPACE_NAME_LABEL]: name }, annotations: {} }));
}

/** A NetworkPolicy in payments that lets in the namespace `from` (by name): an override when `from` is labelled env=dev. */
function networkPolicy(from: string, name = 'allow-from') {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: 'payments' },
    spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: from } } }] }] },
  };
}

function request(object: unknown, known: readonly NamespaceInfo[]): EngineRequest {
  const own = known.find((ns) => ns.name === 'payments')!;
  return {
    operation: 'CREATE',
    kind: { group: 'networking.k8s.io', kind: 'NetworkPolicy' },
    namespace: { name: own.name, labels: own.labels, known: true },
    knownNamespaces: known,
    object,
  };
}

const options = { excludedNamespaces: new Set<string>() };
const overrides = (set: PolicySet, object: unknown, known: readonly NamespaceInfo[]) => validate(set, request(object, known), options).findings.map((f) => f.message);

describe('the override check remembered across reviews', () => {
  const cluster = namespaces({ payments: { env: 'prod' }, sandbox: { env: 'dev' }, billing: { env: 'prod' } });

  it('answers the same review the same way, from memory', () => {
    const set = compile(GUARDRAILS);
    const input = { policy: networkPolicy('sandbox'), namespace: { name: 'payments', labels: cluster[0]!.labels, known: true }, knownNamespaces: cluster };
    const first = rememberedOverrides(set, input);
    expect(first.findings.map((f) => f.message)).toEqual([expect.stringMatching(/^NetworkPolicy payments\/allow-from ingress\[0\] allows .* from namespace sandbox.*denied by tier security, guardrail prod-isolation, rule deny-from-dev/)]);
    // The same policy, parsed again from another request body.
    const again = rememberedOverrides(set, { ...input, policy: JSON.parse(JSON.stringify(networkPolicy('sandbox'))) });
    expect(again).toBe(first);
    expect(Object.isFrozen(again.findings)).toBe(true);
  });

  it('gives the reviews an answer serves from memory the same shared findings, worded as a fresh check words them', () => {
    const set = compile(GUARDRAILS);
    // The same policy, parsed again from each request body.
    const [first, second, again] = [0, 1, 2].map(() => validate(set, request(JSON.parse(JSON.stringify(networkPolicy('sandbox'))), cluster), options).findings) as [Finding[], Finding[], Finding[]];
    // The first review checked: its findings are its own. From the second on, the answer comes from memory.
    expect(isSharedFinding(first[0]!)).toBe(false);
    expect(again).toHaveLength(1);
    expect(again[0]).toBe(second[0]);
    expect(isSharedFinding(again[0]!)).toBe(true);
    expect(again).toEqual(first);
    // The same findings as a set that has never seen the policy, and the same denial and warnings as
    // unshared copies of them get (the lines kept with a shared finding are its own).
    const fresh = validate(compile(GUARDRAILS), request(networkPolicy('sandbox'), cluster), options).findings;
    expect(again).toEqual(fresh);
    const denial = (findings: readonly Finding[]) => decide({ findings, errors: [], notes: [] }, { failureMode: 'deny', subject: 'NetworkPolicy payments/allow-from' });
    const copies = again.map((finding) => ({ ...finding }));
    expect(isSharedFinding(copies[0]!)).toBe(false);
    expect(denial(again)).toEqual(denial(copies));
    expect(denial(again).message).toContain(`- spec.ingress[0]: ${fresh[0]!.message}`);
    // A Warn guardrail's remembered finding warns with the text its copy gets.
    expect(GUARDRAILS).toContain(PROD_ISOLATION);
    const warnSet = compile(GUARDRAILS.replace(PROD_ISOLATION, `${PROD_ISOLATION}  mode: Warn\n`));
    const warned = [0, 1, 2].map(() => validate(warnSet, request(networkPolicy('sandbox'), cluster), options).findings);
    expect(warned[2]![0]).toBe(warned[1]![0]);
    expect(warned[2]![0]!.mode).toBe('Warn');
    expect(denial(warned[2]!).warnings).toEqual(denial(warned[0]!).warnings);
    expect(denial(warned[2]!).warnings).toEqual([expect.stringMatching(/^prod-isolation: ingress\[0\] allows /)]);
  });

  it('shares no finding of a policy checked once: a new name at each review gets findings of its own', () => {
    const set = compile(GUARDRAILS);
    const findings = [0, 1, 2].map((i) => validate(set, request(networkPolicy('sandbox', `allow-${i}`), cluster), options).findings[0]!);
    expect(findings.map((finding) => isSharedFinding(finding))).toEqual([false, false, false]);
    expect(findings.map((finding) => finding.message)).toEqual([0, 1, 2].map((i) => expect.stringMatching(new RegExp(`^NetworkPolicy payments/allow-${i} ingress\\[0\\]`))));
  });

  it('checks again when the spec or the name changes', () => {
    const set = compile(GUARDRAILS);
    expect(overrides(set, networkPolicy('sandbox'), cluster)).toHaveLength(1);
    expect(overrides(set, networkPolicy('billing'), cluster)).toEqual([]);
    expect(overrides(set, networkPolicy('sandbox', 'renamed'), cluster)).toEqual([expect.stringMatching(/^NetworkPolicy payments\/renamed ingress\[0\]/)]);
  });

  it('keeps one answer per policy name: another spec under the name is checked, and so is the first spec when it comes back', () => {
    const set = compile(GUARDRAILS);
    const input = (from: string) => ({ policy: networkPolicy(from, 'edited'), namespace: { name: 'payments', labels: cluster[0]!.labels, known: true }, knownNamespaces: cluster });
    const first = rememberedOverrides(set, input('sandbox'));
    expect(first.findings).toHaveLength(1);
    expect(rememberedOverrides(set, input('billing')).findings).toEqual([]);
    const back = rememberedOverrides(set, input('sandbox'));
    expect(back).not.toBe(first);
    expect(back).toEqual(first);
    expect(rememberedOverrides(set, input('sandbox'))).toBe(back);
  });

  it('checks again a spec or labels written in another key order, and a policy whose spec is changed after its answer was kept', () => {
    const set = compile(GUARDRAILS);
    const policy = networkPolicy('sandbox', 'ordered');
    const input = (object: unknown, labels = cluster[0]!.labels) => ({ policy: object, namespace: { name: 'payments', labels, known: true }, knownNamespaces: cluster });
    const first = rememberedOverrides(set, input(policy));
    const reordered = { ...policy, spec: { ingress: policy.spec.ingress, policyTypes: policy.spec.policyTypes, podSelector: policy.spec.podSelector } };
    const again = rememberedOverrides(set, input(reordered));
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
    const relabelled = Object.fromEntries(Object.entries(cluster[0]!.labels).reverse());
    expect(rememberedOverrides(set, input(reordered, relabelled))).not.toBe(again);
    // The answer keeps copies: the caller's object changed in place is a different policy.
    const kept = rememberedOverrides(set, input(policy));
    policy.spec.ingress[0]!.from[0]!.namespaceSelector.matchLabels[NAMESPACE_NAME_LABEL] = 'billing';
    expect(rememberedOverrides(set, input(policy)).findings).toEqual([]);
    expect(kept.findings).toHaveLength(1);
  });

  it.each([
    { name: 'the same values, keys in the same order', a: { x: [1, 'a', true, null], y: { z: 0 } }, b: { x: [1, 'a', true, null], y: { z: 0 } }, same: true },
    { name: 'keys in another order', a: { x: 1, y: 2 }, b: { y: 2, x: 1 }, same: false },
    { name: 'an item more', a: [1, 2], b: [1, 2, 3], same: false },
    { name: 'a number and its text', a: { port: 80 }, b: { port: '80' }, same: false },
    { name: 'an object and an array', a: {}, b: [], same: false },
    { name: 'a value JSON has no text for', a: { x: undefined }, b: { x: undefined }, same: false },
    { name: 'NaN', a: [Number.NaN], b: [Number.NaN], same: false },
    { name: 'a Date, not a plain object', a: { at: new Date(0) }, b: { at: new Date(1) }, same: false },
  ])('sameJson: $name', ({ a, b, same }) => {
    expect(sameJson(a, b)).toBe(same);
  });

  it('checks again when a namespace is relabelled (a new list of known namespaces)', () => {
    const set = compile(GUARDRAILS);
    expect(overrides(set, networkPolicy('billing'), cluster)).toEqual([]);
    const relabelled = namespaces({ payments: { env: 'prod' }, sandbox: { env: 'dev' }, billing: { env: 'dev' } });
    expect(overrides(set, networkPolicy('billing'), relabelled)).toEqual([expect.stringContaining('from namespace billing')]);
    // and the policy's own namespace: payments no longer prod, the guardrail's subject no longer selects it
    const demoted = namespaces({ payments: { env: 'staging' }, sandbox: { env: 'dev' }, billing: { env: 'dev' } });
    expect(overrides(set, networkPolicy('billing'), demoted)).toEqual([]);
  });

  it('checks again under a new policy set', () => {
    const strict = compile(GUARDRAILS);
    expect(GUARDRAILS).toContain(DENY_FROM_DEV);
    const loose = compile(GUARDRAILS.replace(DENY_FROM_DEV, '- name: deny-from-dev\n      action: Accept'));
    expect(overrides(strict, networkPolicy('sandbox'), cluster)).toHaveLength(1);
    expect(overrides(loose, networkPolicy('sandbox'), cluster)).toEqual([]);
    expect(overrides(strict, networkPolicy('sandbox'), cluster)).toHaveLength(1);
  });

  it('keeps 1,000 answers, dropping the one used least recently', () => {
    const set = compile(GUARDRAILS);
    const input = (name: string) => ({ policy: networkPolicy('sandbox', name), namespace: { name: 'payments', labels: cluster[0]!.labels, known: true }, knownNamespaces: cluster });
    const first = rememberedOverrides(set, input('p-0'));
    const second = rememberedOverrides(set, input('p-1'));
    for (let i = 2; i < 1_000; i++) rememberedOverrides(set, input(`p-${i}`));
    // p-0 used again: p-1 is now the least recently used, and the 1,001st answer pushes it out
    expect(rememberedOverrides(set, input('p-0'))).toBe(first);
    rememberedOverrides(set, input('p-1000'));
    expect(rememberedOverrides(set, input('p-0'))).toBe(first);
    const again = rememberedOverrides(set, input('p-1'));
    expect(again).not.toBe(second);
    expect(again).toEqual(second);
  });

  it('keeps fewer answers when they are large, and none for a policy of more than 16 KiB of JSON', () => {
    const set = compile(GUARDRAILS);
    /** The policy with `ports` numbered ports on its rule: about 31 characters of JSON each. */
    const input = (name: string, ports: number) => {
      const policy = networkPolicy('sandbox', name);
      Object.assign(policy.spec.ingress[0]!, { ports: Array.from({ length: ports }, (_, i) => ({ protocol: 'TCP', port: 1024 + i })) });
      return { policy, namespace: { name: 'payments', labels: cluster[0]!.labels, known: true }, knownNamespaces: cluster };
    };
    expect(JSON.stringify(input('x', 490).policy.spec).length).toBeGreaterThan(15_000);
    expect(JSON.stringify(input('x', 490).policy.spec).length).toBeLessThan(16 * 1024 - 200);
    // 4 Mi characters hold about 270 answers of 15 KB: the first is gone after 300, though 1,000 would fit by count
    const first = rememberedOverrides(set, input('big-0', 490));
    expect(rememberedOverrides(set, input('big-0', 490))).toBe(first);
    for (let i = 1; i < 300; i++) rememberedOverrides(set, input(`big-${i}`, 490));
    expect(rememberedOverrides(set, input('big-299', 490)).findings).toHaveLength(1);
    const recent = rememberedOverrides(set, input('big-299', 490));
    expect(rememberedOverrides(set, input('big-299', 490))).toBe(recent);
    const again = rememberedOverrides(set, input('big-0', 490));
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
    // past 16 KiB: checked at every review, never kept
    const huge = rememberedOverrides(set, input('huge', 560));
    expect(huge.findings).toHaveLength(1);
    expect(rememberedOverrides(set, input('huge', 560))).not.toBe(huge);
  });

  it('never keeps an answer stopped at its time bound: the next review proves it', () => {
    const set = compile(GUARDRAILS);
    const object = networkPolicy('sandbox', 'slow');
    // A clock that moves a second at every read: the check's 100 ms bound has passed at its first question.
    let clock = 0;
    const hurried = validate(set, request(object, cluster), { ...options, networkCheckBudget: { timeoutMs: 100, now: () => (clock += 1000) } });
    expect(hurried.findings).toEqual([expect.objectContaining({ kind: 'unproven', guardrail: 'prod-isolation', mode: 'Enforce' })]);
    const unhurried = validate(set, request(object, cluster), { ...options, networkCheckBudget: { timeoutMs: 100, now: () => 0 } });
    expect(unhurried.findings).toEqual([expect.objectContaining({ guardrail: 'prod-isolation', rule: 'deny-from-dev' })]);
    expect(unhurried.findings[0]).not.toHaveProperty('kind', 'unproven');
  });
});
