/** Label defaults and requirements in the pure engine, over real YAML policies. */
import { describe, expect, it } from 'vitest';
import { NAMESPACE_NAME_LABEL } from '../../src/api/kube.js';
import { decide, MAX_WARNING_LENGTH } from '../../src/engine/decision.js';
import { mutate, skipReason, validate, type EngineRequest, type NamespaceContext } from '../../src/engine/evaluate.js';
import { isSharedFinding } from '../../src/engine/findings.js';
import { InvalidObjectError } from '../../src/engine/object.js';
import type { PolicySet } from '../../src/engine/policy-set.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { parseManifestText } from '../../src/policy/manifests.js';

function policy(yaml: string): PolicySet {
  const result = compilePolicySet(parseManifestText(yaml, 'test.yaml'), { generation: 1 });
  expect(result.problems).toEqual([]);
  return result.set as PolicySet;
}

const tiers = `apiVersion: tierguard.dev/v1alpha1
kind: Tier
metadata: {name: security}
spec: {priority: 100}
---
apiVersion: tierguard.dev/v1alpha1
kind: Tier
metadata: {name: platform}
spec: {priority: 200}
`;

function guardrail(name: string, tier: string, priority: number, labels: string, mode = 'Enforce'): string {
  return `---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: ${name}}
spec:
  tier: ${tier}
  priority: ${priority}
  mode: ${mode}
  labels:
${labels.replace(/^/gm, '    ')}
`;
}

function namespace(name: string, labels: Record<string, string> = {}, known = true): NamespaceContext {
  return { name, labels: { ...labels, [NAMESPACE_NAME_LABEL]: name }, known };
}

const options = { excludedNamespaces: new Set(['kube-system', 'tierguard']) };

function podRequest(labels: Record<string, string> | undefined, ns = namespace('payments', { env: 'prod', domain: 'payments' })): EngineRequest {
  return {
    operation: 'CREATE',
    kind: { group: '', kind: 'Pod' },
    namespace: ns,
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: ns.name, ...(labels ? { labels } : {}) }, spec: {} },
  };
}

describe('defaults', () => {
  const set = policy(tiers
    + guardrail('domain', 'security', 10, 'match: {resources: [Pod, NetworkPolicy], namespaces: {matchExpressions: [{key: env, operator: Exists}]}}\ndefaults:\n  - {key: domain, fromNamespaceLabel: domain}\n  - {key: owner, fromNamespaceLabel: owner}')
    + guardrail('zz-marker', 'platform', 5, 'match: {resources: [Pod]}\ndefaults:\n  - {key: domain, value: core}\n  - {key: managed, value: "true"}')
    + guardrail('aa-marker', 'platform', 5, 'match: {resources: [Pod]}\ndefaults:\n  - {key: managed, value: "yes"}'));

  it('injects in precedence order: tier priority, then guardrail priority, then name', () => {
    const result = mutate(set, podRequest({ app: 'x' }), options);
    expect((result.object as any).metadata.labels).toEqual({ app: 'x', domain: 'payments', managed: 'yes' });
    expect(result.applied).toEqual([
      { guardrail: 'domain', key: 'domain', value: 'payments', path: 'metadata.labels[domain]' },
      { guardrail: 'aa-marker', key: 'managed', value: 'yes', path: 'metadata.labels[managed]' },
    ]);
  });

  it('never overwrites a label the object has, and leaves the input untouched', () => {
    const request = podRequest({ domain: 'edge', managed: 'no' });
    const snapshot = structuredClone(request.object);
    const result = mutate(set, request, options);
    expect(result.object).toBeUndefined();
    expect(request.object).toEqual(snapshot);
  });

  it('creates the labels map when the object has none', () => {
    const result = mutate(set, podRequest(undefined), options);
    expect((result.object as any).metadata.labels).toEqual({ domain: 'payments', managed: 'yes' });
  });

  it('notes a namespace label that is missing instead of inventing a value, and a lower guardrail may fill in', () => {
    const result = mutate(set, podRequest({}, namespace('scratch', { env: 'dev' })), options);
    expect((result.object as any).metadata.labels).toEqual({ domain: 'core', managed: 'yes' });
    expect(result.notes).toEqual([
      'domain: namespace scratch has no label domain; domain not defaulted',
      'domain: namespace scratch has no label owner; owner not defaulted',
    ]);
  });

  it('scopes guardrails by namespace selector', () => {
    const result = mutate(set, podRequest({}, namespace('other')), options);
    // `domain` selects namespaces with an env label only; `other` has none.
    expect(Object.fromEntries(result.applied.map((a) => [a.key, a.guardrail]))).toEqual({ managed: 'aa-marker', domain: 'zz-marker' });
  });

  it.each([
    { kind: { group: 'apps', kind: 'Deployment' }, at: ['spec', 'template', 'metadata'] },
    { kind: { group: 'apps', kind: 'StatefulSet' }, at: ['spec', 'template', 'metadata'] },
    { kind: { group: 'apps', kind: 'DaemonSet' }, at: ['spec', 'template', 'metadata'] },
    { kind: { group: 'apps', kind: 'ReplicaSet' }, at: ['spec', 'template', 'metadata'] },
    { kind: { group: 'batch', kind: 'Job' }, at: ['spec', 'template', 'metadata'] },
    { kind: { group: 'batch', kind: 'CronJob' }, at: ['spec', 'jobTemplate', 'spec', 'template', 'metadata'] },
  ])('defaults the pod template of a $kind.kind', ({ kind, at }) => {
    const object: any = { metadata: { name: 'w', labels: { top: 'level' } }, spec: {} };
    let node = object;
    for (const step of at.slice(0, -1)) node = node[step] ??= {};
    node.metadata = { labels: { app: 'w' } };
    const result = mutate(set, { operation: 'CREATE', kind, namespace: namespace('payments', { env: 'x', domain: 'd' }), object }, options);
    const mutated: any = result.object;
    expect(at.reduce((n: any, step) => n[step], mutated).labels).toEqual({ app: 'w', domain: 'd', managed: 'yes' });
    expect(mutated.metadata.labels).toEqual({ top: 'level' });
  });

  it('does not invent a pod template that is absent', () => {
    const result = mutate(set, { operation: 'CREATE', kind: { group: 'apps', kind: 'Deployment' }, namespace: namespace('payments'), object: { metadata: { name: 'w' }, spec: {} } }, options);
    expect(result.object).toBeUndefined();
  });

  it('applies NetworkPolicy defaults only from guardrails listing NetworkPolicy', () => {
    const result = mutate(set, { operation: 'CREATE', kind: { group: 'networking.k8s.io', kind: 'NetworkPolicy' }, namespace: namespace('payments', { env: 'p', domain: 'payments' }), object: { metadata: { name: 'np' }, spec: {} } }, options);
    expect((result.object as any).metadata.labels).toEqual({ domain: 'payments' });
  });
});

describe('requirements', () => {
  const set = policy(tiers
    + guardrail('domain', 'security', 10, 'match: {resources: [Pod]}\nrequired:\n  - {key: domain, values: [payments, core], immutable: true}\n  - {key: team, pattern: "[a-z]+(-[a-z]+)*"}')
    + guardrail('advice', 'platform', 10, 'match: {resources: [Pod]}\nrequired: [{key: owner}]', 'Warn')
    + guardrail('audit', 'platform', 20, 'match: {resources: [Pod], namespaces: {matchLabels: {kubernetes.io/metadata.name: payments}}}\nrequired: [{key: cost-center}]', 'Audit'));

  it('collects every finding of every guardrail, with mode, path and message', () => {
    const result = validate(set, podRequest({ domain: 'edge', team: 'Payments' }), options);
    expect(result.errors).toEqual([]);
    expect(result.findings.map(({ guardrail, rule, mode, path, message }) => ({ guardrail, rule, mode, path, message }))).toEqual([
      { guardrail: 'domain', rule: 'label:domain', mode: 'Enforce', path: 'metadata.labels[domain]', message: 'label domain="edge" is not one of payments, core' },
      { guardrail: 'domain', rule: 'label:team', mode: 'Enforce', path: 'metadata.labels[team]', message: 'label team="Payments" does not match pattern [a-z]+(-[a-z]+)*' },
      { guardrail: 'advice', rule: 'label:owner', mode: 'Warn', path: 'metadata.labels[owner]', message: 'missing required label owner' },
      { guardrail: 'audit', rule: 'label:cost-center', mode: 'Audit', path: 'metadata.labels[cost-center]', message: 'missing required label cost-center' },
    ]);
  });

  it('anchors patterns at both ends', () => {
    const result = validate(set, podRequest({ domain: 'core', team: 'payments-api!', owner: 'a', 'cost-center': '1' }), options);
    expect(result.findings.map((f) => f.rule)).toEqual(['label:team']);
  });

  it('matches patterns in linear time: a catastrophic backtracking pattern finishes at once', () => {
    const evil = policy(tiers + guardrail('evil', 'security', 1, 'match: {resources: [Pod]}\nrequired: [{key: x, pattern: "(a+)+$"}]'));
    // JavaScript's RegExp takes minutes on this input; RE2 semantics make it one linear pass.
    const value = `${'a'.repeat(60)}!`;
    const result = validate(evil, podRequest({ x: value.slice(0, 63) }), options);
    expect(result.findings.map((f) => f.message)).toEqual([`label x="${value}" does not match pattern (a+)+$`]);
  });

  it.each([
    { name: 'changing an immutable label', old: 'payments', now: 'core', message: 'label domain is immutable: it is "payments" and would change to "core"' },
    { name: 'removing an immutable label', old: 'payments', now: undefined, message: 'label domain is immutable: it is "payments" and would be removed' },
    { name: 'keeping it', old: 'payments', now: 'payments', message: undefined },
    { name: 'setting it for the first time on UPDATE', old: undefined, now: 'core', message: undefined },
  ])('UPDATE: $name', ({ old, now, message }) => {
    const labels = (domain: string | undefined) => ({ team: 'a', ...(domain === undefined ? {} : { domain }) });
    const request: EngineRequest = { ...podRequest(labels(now)), operation: 'UPDATE', oldObject: podRequest(labels(old)).object };
    const findings = validate(set, request, options).findings.filter((f) => f.mode === 'Enforce' && f.rule.startsWith('label-immutable'));
    expect(findings.map((f) => f.message)).toEqual(message ? [message] : []);
  });

  it('refuses labels that are not a map of strings as an invalid object', () => {
    const request = { ...podRequest(undefined), object: { metadata: { labels: { a: 1 } } } };
    expect(() => validate(set, request, options)).toThrow(new InvalidObjectError('metadata.labels[a]', 'expected a string value'));
  });

  it('gives every request without a label the same finding, unless its message names the namespace', () => {
    // A missing label's finding is made once per rule and target and shared, so what is derived
    // from it (its log line) can be kept with it. A hint about the namespace is made per request.
    const withHint = policy(tiers + guardrail('domain', 'security', 10, 'match: {resources: [Pod]}\nrequired: [{key: domain}, {key: owner}]\ndefaults: [{key: domain, fromNamespaceLabel: domain}]'));
    const first = validate(withHint, podRequest({}, namespace('payments', {})), options).findings;
    const second = validate(withHint, podRequest({ team: 'x' }, namespace('billing', {})), options).findings;
    expect(first.map((f) => f.message)).toEqual(['missing required label domain (its default comes from namespace label domain, and namespace payments has no such label)', 'missing required label owner']);
    expect(second.map((f) => f.message)).toEqual(['missing required label domain (its default comes from namespace label domain, and namespace billing has no such label)', 'missing required label owner']);
    expect(second[1]).toBe(first[1]);
    expect(second[0]).not.toBe(first[0]);
    expect(second.map(isSharedFinding)).toEqual([false, true]);
    // The same rule on another label target (a Deployment's Pod template) has a finding of its own.
    const deployment = policy(tiers + guardrail('owner', 'security', 10, 'match: {resources: [Pod]}\nrequired: [{key: owner}]'));
    const onPod = validate(deployment, podRequest({}), options).findings[0];
    const onTemplate = validate(deployment, { ...podRequest({}), kind: { group: 'apps', kind: 'Deployment' }, object: { metadata: { name: 'd' }, spec: { template: { metadata: {} } } } }, options).findings[0];
    expect([onPod?.path, onTemplate?.path]).toEqual(['metadata.labels[owner]', 'spec.template.metadata.labels[owner]']);
    expect(validate(deployment, podRequest({ app: 'y' }), options).findings[0]).toBe(onPod);
  });

  it('follows a namespace whose labels change: the guardrails that apply are those of its labels now', () => {
    // The engine keeps the guardrails a namespace's labels select, per labels object; the
    // namespace cache gives a relabelled namespace a new one.
    const scoped = policy(tiers + guardrail('prod-owner', 'security', 10, 'match: {resources: [Pod], namespaces: {matchLabels: {env: prod}}}\nrequired: [{key: owner}]'));
    const prod = namespace('payments', { env: 'prod' });
    const dev = namespace('payments', { env: 'dev' });
    const rules = (ns: NamespaceContext) => validate(scoped, podRequest({}, ns), options).findings.map((finding) => `${finding.guardrail} ${finding.rule}`);
    expect(rules(prod)).toEqual(['prod-owner label:owner']);
    expect(rules(prod)).toEqual(['prod-owner label:owner']);
    expect(rules(dev)).toEqual([]);
    expect(rules(namespace('payments', { env: 'prod' }))).toEqual(['prod-owner label:owner']);
    expect(mutate(policy(tiers + guardrail('prod-team', 'security', 10, 'match: {resources: [Pod], namespaces: {matchLabels: {env: prod}}}\ndefaults: [{key: team, value: core}]')), podRequest({}, dev), options).applied).toEqual([]);
  });

  it('notes that an unknown namespace was matched on its name only', () => {
    const result = validate(set, podRequest({ domain: 'core', team: 'a', owner: 'o' }, namespace('payments', {}, false)), options);
    expect(result.notes).toEqual(['namespace payments is unknown to tierguard: label guardrails matched it on its name label only']);
    expect(result.findings.map((f) => f.guardrail)).toEqual(['audit']);
  });
});

describe('what the engine leaves alone', () => {
  it.each([
    { name: 'DELETE', change: { operation: 'DELETE' as const }, reason: 'operation DELETE' },
    { name: 'CONNECT', change: { operation: 'CONNECT' as const }, reason: 'operation CONNECT' },
    { name: 'a subresource', change: { subResource: 'status' }, reason: 'subresource status' },
    { name: 'an unchecked kind', change: { kind: { group: '', kind: 'ConfigMap' } }, reason: 'kind ConfigMap is not checked' },
    { name: 'an excluded namespace', change: { namespace: namespace('kube-system') }, reason: 'namespace kube-system is excluded' },
    { name: 'a Deployment of another group', change: { kind: { group: 'example.com', kind: 'Deployment' } }, reason: 'kind Deployment is not checked' },
  ])('$name', ({ change, reason }) => {
    expect(skipReason({ ...podRequest({}), ...change }, options)).toBe(reason);
  });
});

describe('decisions and the failure mode', () => {
  const error = { tier: 'security', guardrail: 'g', rule: 'labels.required', message: 'boom' };
  const finding = (mode: 'Enforce' | 'Warn' | 'Audit') => ({ tier: 't', guardrail: `g-${mode}`, rule: 'label:x', mode, path: 'metadata.labels[x]', message: 'missing required label x', compliance: [] });

  it('denies on Enforce, warns on Warn, stays silent on Audit', () => {
    const decision = decide({ findings: [finding('Enforce'), finding('Warn'), finding('Audit')], errors: [], notes: [] }, { failureMode: 'deny', subject: 'Pod a/b' });
    expect(decision).toMatchObject({
      allowed: false,
      code: 403,
      message: 'Pod a/b is denied by tierguard (1 violation):\n- metadata.labels[x]: missing required label x (tier t, guardrail g-Enforce)',
      warnings: ['g-Warn: metadata.labels[x]: missing required label x'],
    });
  });

  it('a rule error denies with 500 under failure mode deny', () => {
    const decision = decide({ findings: [finding('Warn')], errors: [error], notes: [] }, { failureMode: 'deny', subject: 'Pod a/b' });
    expect(decision.allowed).toBe(false);
    expect(decision.code).toBe(500);
    expect(decision.message).toBe('Pod a/b is denied by tierguard: 1 rule could not be evaluated (failure mode deny):\n- error in tier security, guardrail g, rule labels.required: boom');
  });

  it('a rule error allows with a warning under failure mode allow', () => {
    const decision = decide({ findings: [], errors: [error], notes: [] }, { failureMode: 'allow', subject: 'Pod a/b' });
    expect(decision).toMatchObject({ allowed: true, code: 200, warnings: ['rule not evaluated, allowed by failure mode: g/labels.required: boom'] });
  });

  it('an Enforce violation denies whatever the failure mode', () => {
    expect(decide({ findings: [finding('Enforce')], errors: [error], notes: [] }, { failureMode: 'allow', subject: 'Pod a/b' }).allowed).toBe(false);
  });

  it('keeps every warning under 120 characters', () => {
    const long = { ...finding('Warn'), message: 'x'.repeat(300) };
    const [warning] = decide({ findings: [long], errors: [], notes: [] }, { failureMode: 'deny', subject: 'Pod a/b' }).warnings;
    expect(warning).toHaveLength(MAX_WARNING_LENGTH);
    expect(warning?.endsWith('…')).toBe(true);
  });
});
