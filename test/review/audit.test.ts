/**
 * Audit (issue 12, part B): existing objects judged as admission would judge their creation,
 * validation only, with the CEL validations that read `request` or `oldObject` left out; and
 * isolation coverage — the namespaces where a guardrail's Deny is not enforced by any
 * NetworkPolicy, because no NetworkPolicy selects some of its subject's pods in that direction.
 */
import { describe, expect, it } from 'vitest';
import { auditObjects } from '../../src/review/audit.js';
import type { ManifestObject } from '../../src/review/manifest-request.js';
import { reviewBoth } from '../../src/review/review.js';
import { staticNamespaceLookup } from '../../src/policy/namespaces.js';
import { namespace, networkPolicy, pod, policySet } from './audit-fixtures.js';

/** The results as JSON output shows them (the text lines are tested through the command). */
const withoutLines = (results: readonly { lines: readonly string[] }[]) => results.map(({ lines: _lines, ...result }) => result);

function audit(objects: readonly object[], excluded: readonly string[] = []) {
  return auditObjects({ set: policySet(), objects: objects as ManifestObject[], namespaces: [], engine: { excludedNamespaces: new Set(excluded) } });
}

describe('audit of existing objects', () => {
  it('reports what breaks a guardrail, leaves compliant objects and unchecked kinds out, and counts them', async () => {
    const report = await audit([
      namespace('shop', { env: 'staging' }),
      pod('shop', 'no-team', {}),
      pod('shop', 'ok', { team: 'a' }),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'shop' } },
    ]);
    expect(withoutLines(report.results)).toEqual([{
      apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'no-team',
      violations: [{ tier: 'security', guardrail: 'team-label', rule: 'label:team', mode: 'Enforce', path: 'metadata.labels[team]', message: 'missing required label team', compliance: [] }],
    }]);
    expect(report).toMatchObject({ evaluated: 3, skipped: 1 });
  });

  it('leaves out the CEL validations that read request or oldObject, which the webhook applies', async () => {
    const object = pod('shop', 'outside', { team: 'a' }, 'docker.io/app:1');
    const report = await audit([namespace('shop', { env: 'staging' }), object]);
    expect(withoutLines(report.results)).toEqual([{
      apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'outside',
      violations: [expect.objectContaining({ guardrail: 'cel', rule: 'validations[0]', mode: 'Warn', message: 'object-only' })],
    }]);
    // The same object at its creation: the webhook's verdict has all three.
    const set = policySet();
    const verdict = await reviewBoth({ policy: () => set, namespaces: staticNamespaceLookup([]), engine: { excludedNamespaces: new Set() }, failureMode: 'deny' }, {
      kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'shop', name: 'outside', operation: 'CREATE', userInfo: {}, object, oldObject: null,
    });
    expect(verdict.findings.map((finding) => finding.message)).toEqual(['object-only', 'reads-request', 'reads-old-object']);
  });

  it('leaves excluded namespaces alone', async () => {
    const report = await audit([namespace('kube-system', { env: 'prod' }), pod('kube-system', 'p', { tier: 'backend' })], ['kube-system']);
    expect(report).toMatchObject({ results: [], isolation: [], evaluated: 0, skipped: 2 });
  });

  it('runs the override check on every NetworkPolicy', async () => {
    const report = await audit([
      namespace('prod-a', { env: 'prod' }),
      networkPolicy('prod-a', 'too-open', { podSelector: {}, policyTypes: ['Egress'], egress: [{}] }),
    ]);
    expect(withoutLines(report.results)).toEqual([{
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace: 'prod-a', name: 'too-open',
      violations: [expect.objectContaining({ guardrail: 'prod-egress', rule: 'no-internet', mode: 'Audit', path: 'spec.egress[0]', connection: expect.stringMatching(/^egress\[0\] allows /) })],
    }]);
  });
});

describe('isolation coverage', () => {
  const prod = namespace('prod-a', { env: 'prod' });
  const backend = (name: string, extra: Record<string, string> = {}) => pod('prod-a', name, { team: 'a', tier: 'backend', ...extra });

  it('names the namespace, direction, number of subject pods not isolated and one example, per guardrail with Deny rules', async () => {
    const report = await audit([prod, backend('b-0'), backend('b-1'), backend('b-2', { app: 'other' }), pod('prod-a', 'f-0', { team: 'a', tier: 'frontend' })]);
    expect(report.isolation).toEqual([
      // prod-isolation's subject is the backend pods: 3 of them, the frontend one is not its business
      { tier: 'security', guardrail: 'prod-isolation', mode: 'Enforce', namespace: 'prod-a', direction: 'Ingress', pods: 3, example: { team: 'a', tier: 'backend' } },
      { tier: 'security', guardrail: 'prod-egress', mode: 'Audit', namespace: 'prod-a', direction: 'Egress', pods: 4, example: { team: 'a', tier: 'backend' } },
    ]);
  });

  it('a NetworkPolicy without policyTypes isolates Ingress, and Egress only when it has egress rules', async () => {
    const ingressOnly = await audit([prod, backend('b-0'), networkPolicy('prod-a', 'np', { podSelector: {}, ingress: [{}] })]);
    expect(ingressOnly.isolation.map((gap) => `${gap.guardrail} ${gap.direction}`)).toEqual(['prod-egress Egress']);
    const both = await audit([prod, backend('b-0'), networkPolicy('prod-a', 'np', { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }] })]);
    expect(both.isolation).toEqual([]);
  });

  it('counts only the pods a NetworkPolicy does not select, in its own namespace', async () => {
    const report = await audit([
      prod, namespace('prod-b', { env: 'prod' }),
      backend('b-0', { app: 'db' }), backend('b-1', { app: 'api' }),
      networkPolicy('prod-a', 'db', { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress', 'Egress'] }),
      networkPolicy('prod-b', 'all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    ]);
    expect(report.isolation.map(({ guardrail, direction, pods, example }) => ({ guardrail, direction, pods, example }))).toEqual([
      { guardrail: 'prod-isolation', direction: 'Ingress', pods: 1, example: { team: 'a', tier: 'backend', app: 'api' } },
      { guardrail: 'prod-egress', direction: 'Egress', pods: 1, example: { team: 'a', tier: 'backend', app: 'api' } },
    ]);
  });

  it('has nothing to say of namespaces outside the subject, of Accept-only guardrails, or of namespaces without pods', async () => {
    const report = await audit([namespace('dev', { env: 'dev' }), pod('dev', 'd-0', { team: 'a', tier: 'backend' }), prod]);
    expect(report.isolation).toEqual([]);
  });
});
