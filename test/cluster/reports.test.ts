/**
 * `buildReports`: the audit's state as PolicyReports and OpenReports, offline. The shape is checked
 * against the CRDs' own schemas (the chart's copies in charts/tierguard/files/report-crds, the versions tierguard writes) with the
 * chart tests' validator; the real API server's verdict is in real-cluster-reports.test.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { IsolationGap } from '../../src/engine/network/isolation.js';
import { buildReports, MAX_RESULTS, TRUNCATED_ANNOTATION, type Report, type ReportFormat } from '../../src/cluster/reports.js';
import type { CustomResourceDefinition } from '../../src/policy/crd.js';
import type { AuditResult, AuditState, AuditViolation } from '../../src/review/audit.js';
import { crdValidator } from '../chart/crd-validator.js';
import { REPO_DIR } from '../helpers/fixtures.js';

const T0 = new Date('2026-05-01T10:00:00.250Z');
const T1 = new Date('2026-05-01T11:00:00.000Z');
const T0_STAMP = { seconds: 1777629600, nanos: 250_000_000 };

const violation = (overrides: Partial<AuditViolation> = {}): AuditViolation => ({
  tier: 'security', guardrail: 'prod-isolation', rule: 'deny-from-dev', mode: 'Enforce', path: 'spec.ingress[0]',
  message: 'NetworkPolicy payments/allow-all ingress[0] allows TCP 5432 from namespaces {env=dev}; denied by tier security, guardrail prod-isolation, rule deny-from-dev (PCI-DSS 1.3.1)',
  compliance: ['PCI-DSS 1.3.1', 'NIST SP 800-53 SC-7'], connection: 'ingress[0] allows TCP 5432 from namespaces {env=dev}',
  ...overrides,
});
const networkPolicy = (overrides: Partial<AuditResult> = {}): AuditResult => ({
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace: 'payments', name: 'allow-all', uid: 'uid-np', violations: [violation()], lines: [], ...overrides,
});
const labelViolation = (overrides: Partial<AuditViolation> = {}): AuditViolation => ({
  tier: 'platform', guardrail: 'domain-labels', rule: 'label:segment.tierguard.dev/domain', mode: 'Enforce', path: 'metadata.labels[segment.tierguard.dev/domain]',
  message: 'missing required label segment.tierguard.dev/domain', compliance: [], ...overrides,
});
const pod = (name: string, overrides: Partial<AuditResult> = {}): AuditResult => ({
  apiVersion: 'v1', kind: 'Pod', namespace: 'payments', name, uid: `uid-${name}`, violations: [labelViolation()], lines: [], ...overrides,
});
const gap = (overrides: Partial<IsolationGap> = {}): IsolationGap => ({
  tier: 'security', guardrail: 'prod-isolation', mode: 'Enforce', namespace: 'payments', direction: 'Ingress', pods: 3, example: { team: 'pay', app: 'api' }, ...overrides,
});
const state = (parts: Partial<AuditState> = {}): AuditState => ({ results: [], isolation: [], evaluated: new Map(), time: T0, ...parts });

/** The CRD file's version tierguard writes, as the only (storage) version, for the offline validator. */
function schemaOf(file: string, version: string): (object: unknown) => string[] {
  const crd = parse(readFileSync(path.join(REPO_DIR, 'charts', 'tierguard', 'files', 'report-crds', file), 'utf8')) as CustomResourceDefinition;
  const only = crd.spec.versions.filter((candidate) => candidate.name === version).map((candidate) => ({ ...candidate, storage: true }));
  // Keywords the validator does not know and that do not constrain these objects.
  const cleaned = JSON.parse(JSON.stringify({ ...crd, spec: { ...crd.spec, versions: only } }), (key, value) => (key === 'x-kubernetes-map-type' ? undefined : key === 'format' && value === 'int32' ? 'int64' : value));
  return crdValidator(cleaned);
}
const SCHEMAS: Record<string, (object: unknown) => string[]> = {
  PolicyReport: schemaOf('wgpolicyk8s.io_policyreports.yaml', 'v1alpha2'),
  ClusterPolicyReport: schemaOf('wgpolicyk8s.io_clusterpolicyreports.yaml', 'v1alpha2'),
  Report: schemaOf('openreports.io_reports.yaml', 'v1alpha1'),
  ClusterReport: schemaOf('openreports.io_clusterreports.yaml', 'v1alpha1'),
};

describe('buildReports', () => {
  it('writes a namespace\'s findings as a PolicyReport: one entry per violation, with tier, mode, compliance, connection and path', () => {
    const desired = buildReports(state({ results: [networkPolicy()], evaluated: new Map([['payments', 4]]) }), 'policyreport');
    expect(desired.cluster).toBeUndefined();
    expect([...desired.namespaced.keys()]).toEqual(['payments']);
    expect(desired.namespaced.get('payments')).toEqual({
      apiVersion: 'wgpolicyk8s.io/v1alpha2',
      kind: 'PolicyReport',
      metadata: { name: 'tierguard', namespace: 'payments', labels: { 'app.kubernetes.io/managed-by': 'tierguard' } },
      results: [{
        source: 'tierguard',
        policy: 'prod-isolation',
        rule: 'deny-from-dev',
        result: 'fail',
        severity: 'high',
        category: 'Network',
        message: violation().message,
        properties: { tier: 'security', mode: 'Enforce', compliance: 'PCI-DSS 1.3.1, NIST SP 800-53 SC-7', connection: 'ingress[0] allows TCP 5432 from namespaces {env=dev}', path: 'spec.ingress[0]' },
        resources: [{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', name: 'allow-all', namespace: 'payments', uid: 'uid-np' }],
        timestamp: T0_STAMP,
        scored: true,
      }],
      summary: { pass: 3, fail: 1, warn: 0, error: 0, skip: 0 },
    });
  });

  it.each([
    { name: 'Enforce: fail, high', violation: violation(), result: 'fail', severity: 'high', category: 'Network' },
    { name: 'Audit: fail, low', violation: violation({ mode: 'Audit' }), result: 'fail', severity: 'low', category: 'Network' },
    { name: 'Warn: warn, medium', violation: violation({ mode: 'Warn' }), result: 'warn', severity: 'medium', category: 'Network' },
    { name: 'an override check stopped at a bound: error, severity by mode', violation: violation({ kind: 'unproven', rule: 'network-override', path: 'spec', connection: undefined, mode: 'Warn' }), result: 'error', severity: 'medium', category: 'Network' },
    { name: 'a NetworkPolicy finding without a connection: Network by its path', violation: violation({ connection: undefined, path: 'spec.egress[2]' }), result: 'fail', severity: 'high', category: 'Network' },
    { name: 'a label rule: Labels', violation: labelViolation(), result: 'fail', severity: 'high', category: 'Labels' },
    { name: 'a CEL validation: CEL', violation: labelViolation({ rule: 'validations[0]', path: '' }), result: 'fail', severity: 'high', category: 'CEL' },
    { name: 'any other rule: Guardrail', violation: labelViolation({ rule: 'namespace-labels', path: 'metadata.labels[env]' }), result: 'fail', severity: 'high', category: 'Guardrail' },
  ])('maps $name', ({ violation: finding, result, severity, category }) => {
    const [entry] = buildReports(state({ results: [networkPolicy({ violations: [finding] })] }), 'policyreport').namespaced.get('payments')!.results;
    expect(entry).toMatchObject({ policy: finding.guardrail, rule: finding.rule, result, severity, category });
  });

  it('leaves empty properties out (no compliance, no connection, no path)', () => {
    const [entry] = buildReports(state({ results: [pod('a', { violations: [labelViolation({ rule: 'validations[1]', path: '' })] })] }), 'policyreport').namespaced.get('payments')!.results;
    expect(entry?.properties).toEqual({ tier: 'platform', mode: 'Enforce' });
  });

  it.each([
    { name: 'guardrail/rule: message', text: 'host-net/validations[0]: no such key: spec', policy: 'host-net', rule: 'validations[0]', message: 'no such key: spec', category: 'CEL' },
    { name: 'a label rule id with a slash', text: 'domain-labels/labels.required: boom', policy: 'domain-labels', rule: 'labels.required', message: 'boom', category: 'Labels' },
    { name: 'a family of rules', text: 'validations: the object has more than 200000 JSON values', policy: 'tierguard', rule: 'validations', message: 'the object has more than 200000 JSON values', category: 'CEL' },
    { name: 'any other text', text: 'metadata.labels must be a map of strings', policy: 'tierguard', rule: 'evaluation', message: 'metadata.labels must be a map of strings', category: 'Guardrail' },
  ])('reports an error string as an error entry: $name', ({ text, policy, rule, message, category }) => {
    const [entry] = buildReports(state({ results: [pod('a', { violations: [], errors: [text] })] }), 'policyreport').namespaced.get('payments')!.results;
    expect(entry).toEqual({ source: 'tierguard', policy, rule, result: 'error', category, message, resources: [expect.objectContaining({ kind: 'Pod', name: 'a' })], timestamp: T0_STAMP, scored: true });
  });

  it('reports an isolation gap against its Namespace', () => {
    const report = buildReports(state({ isolation: [gap(), gap({ direction: 'Egress', mode: 'Warn', pods: 1, example: {} })], evaluated: new Map([['payments', 2]]) }), 'policyreport').namespaced.get('payments')!;
    expect(report.results).toEqual([
      {
        source: 'tierguard', policy: 'prod-isolation', rule: 'isolation:Egress', result: 'warn', severity: 'medium', category: 'Isolation',
        message: '1 pod is selected by no NetworkPolicy for Egress, so the Deny rules of guardrail prod-isolation for Egress are not enforced there (admission checks them, the network does not)',
        properties: { tier: 'security', mode: 'Warn', direction: 'Egress', pods: '1' },
        resources: [{ apiVersion: 'v1', kind: 'Namespace', name: 'payments' }], timestamp: T0_STAMP, scored: true,
      },
      expect.objectContaining({
        rule: 'isolation:Ingress', result: 'fail', severity: 'high',
        message: expect.stringMatching(/^3 pods are selected by no NetworkPolicy for Ingress, so the Deny rules of guardrail prod-isolation for Ingress are not enforced there/),
        properties: { tier: 'security', mode: 'Enforce', direction: 'Ingress', pods: '3', example: 'app=api,team=pay' },
      }),
    ]);
    // Gaps are not objects: every evaluated object without an entry still passes.
    expect(report.summary).toEqual({ pass: 2, fail: 1, warn: 1, error: 0, skip: 0 });
  });

  it('puts Namespaces in the ClusterPolicyReport, and makes no report for a namespace without entries', () => {
    const namespace: AuditResult = { apiVersion: 'v1', kind: 'Namespace', namespace: '', name: 'payments', uid: 'uid-ns', violations: [labelViolation({ path: 'metadata.labels[segment.tierguard.dev/domain]' })], lines: [] };
    const desired = buildReports(state({ results: [namespace], evaluated: new Map([['', 5], ['quiet', 7]]) }), 'policyreport');
    expect([...desired.namespaced.keys()]).toEqual([]);
    expect(desired.cluster).toMatchObject({
      apiVersion: 'wgpolicyk8s.io/v1alpha2', kind: 'ClusterPolicyReport',
      metadata: { name: 'tierguard', labels: { 'app.kubernetes.io/managed-by': 'tierguard' } },
      results: [{ resources: [{ apiVersion: 'v1', kind: 'Namespace', name: 'payments', uid: 'uid-ns' }] }],
      summary: { pass: 4, fail: 1, warn: 0, error: 0, skip: 0 },
    });
    expect(desired.cluster!.metadata).not.toHaveProperty('namespace');
  });

  it('counts per result, and objects with any entry (errors too) are not passes', () => {
    const results = [
      networkPolicy({ violations: [violation(), violation({ mode: 'Warn', rule: 'deny-from-test', path: 'spec.ingress[1]' })] }),
      pod('a'),
      pod('b', { violations: [], errors: ['x/validations[0]: boom'] }),
    ];
    expect(buildReports(state({ results, evaluated: new Map([['payments', 10]]) }), 'policyreport').namespaced.get('payments')!.summary)
      .toEqual({ pass: 7, fail: 2, warn: 1, error: 1, skip: 0 });
  });

  it('writes openreports.io Report and ClusterReport with --reports openreports', () => {
    const namespace: AuditResult = { apiVersion: 'v1', kind: 'Namespace', namespace: '', name: 'payments', violations: [labelViolation()], lines: [] };
    const desired = buildReports(state({ results: [networkPolicy(), namespace] }), 'openreports');
    const policyReport = buildReports(state({ results: [networkPolicy(), namespace] }), 'policyreport');
    expect(desired.namespaced.get('payments')).toEqual({
      ...policyReport.namespaced.get('payments'),
      apiVersion: 'openreports.io/v1alpha1', kind: 'Report', source: 'tierguard', configuration: { limits: { maxResults: MAX_RESULTS } },
    });
    expect(desired.cluster).toMatchObject({ apiVersion: 'openreports.io/v1alpha1', kind: 'ClusterReport', source: 'tierguard' });
  });

  it.each<ReportFormat>(['policyreport', 'openreports'])('%s: every report fits its CRD schema (unknown fields refused)', (format) => {
    const namespace: AuditResult = { apiVersion: 'v1', kind: 'Namespace', namespace: '', name: 'payments', violations: [labelViolation()], errors: ['validations: too big'], lines: [] };
    const desired = buildReports(state({
      results: [networkPolicy(), pod('a', { errors: ['x/validations[0]: boom'] }), namespace, networkPolicy({ violations: [violation({ kind: 'unproven' })] })],
      isolation: [gap()],
      evaluated: new Map([['payments', 9], ['', 3]]),
    }), format, { maxResults: 2 });
    const reports: Report[] = [...desired.namespaced.values(), desired.cluster!];
    for (const report of reports) expect(SCHEMAS[report.kind]!(report), report.kind).toEqual([]);
  });
});

describe('stable reports', () => {
  const findings = () => state({ results: [networkPolicy(), pod('a'), pod('b')], isolation: [gap()], evaluated: new Map([['payments', 5]]) });

  it('a re-audit that finds the same things builds byte-identical reports (timestamps are when first seen)', () => {
    const first = buildReports(findings(), 'policyreport');
    const again = buildReports({ ...findings(), time: T1 }, 'policyreport', { firstSeen: first.firstSeen });
    expect(JSON.stringify([...again.namespaced])).toBe(JSON.stringify([...first.namespaced]));
    expect(again.firstSeen).toEqual(first.firstSeen);
  });

  it('does not depend on the order the audit lists objects and gaps in', () => {
    const reordered = { ...findings(), results: [...findings().results].reverse(), isolation: [gap({ direction: 'Egress' }), gap()] };
    const sorted = { ...findings(), isolation: [gap(), gap({ direction: 'Egress' })] };
    expect(JSON.stringify([...buildReports(reordered, 'policyreport').namespaced])).toBe(JSON.stringify([...buildReports(sorted, 'policyreport').namespaced]));
  });

  it('a new finding gets the new audit\'s time, the others keep theirs; gone entries leave firstSeen', () => {
    const first = buildReports(findings(), 'policyreport');
    const next = buildReports({ ...findings(), results: [networkPolicy(), pod('a'), pod('c')], time: T1 }, 'policyreport', { firstSeen: first.firstSeen });
    const stamps = Object.fromEntries(next.namespaced.get('payments')!.results.map((entry) => [`${entry.resources[0]!.kind}/${entry.resources[0]!.name}/${entry.rule}`, entry.timestamp.seconds]));
    expect(stamps).toEqual({
      'NetworkPolicy/allow-all/deny-from-dev': T0_STAMP.seconds,
      'Pod/a/label:segment.tierguard.dev/domain': T0_STAMP.seconds,
      'Pod/c/label:segment.tierguard.dev/domain': T1.getTime() / 1000,
      'Namespace/payments/isolation:Ingress': T0_STAMP.seconds,
    });
    expect([...next.firstSeen.values()].reduce((sum, seen) => sum + seen.size, 0)).toBe(4);
  });

  it('a recreated object (new uid) is a new finding', () => {
    const first = buildReports(findings(), 'policyreport');
    const next = buildReports({ ...findings(), results: [networkPolicy({ uid: 'uid-np-2' })], time: T1 }, 'policyreport', { firstSeen: first.firstSeen });
    expect(next.namespaced.get('payments')!.results.find((entry) => entry.resources[0]!.kind === 'NetworkPolicy')!.timestamp).toEqual({ seconds: T1.getTime() / 1000, nanos: 0 });
  });
});

describe('bounded reports', () => {
  const pods = (count: number, mode: AuditViolation['mode']) => Array.from({ length: count }, (_, index) => pod(`${mode.toLowerCase()}-${String(index).padStart(4, '0')}`, { violations: [labelViolation({ mode })] }));

  it(`keeps at most ${MAX_RESULTS} entries, fail before warn, says so in an annotation, and the summary counts all`, () => {
    const report = buildReports(state({ results: [...pods(10, 'Warn'), ...pods(995, 'Enforce')], evaluated: new Map([['payments', 1200]]) }), 'policyreport').namespaced.get('payments')!;
    expect(report.results).toHaveLength(MAX_RESULTS);
    expect(report.results.filter((entry) => entry.result === 'warn')).toHaveLength(5);
    expect(report.metadata.annotations).toEqual({ [TRUNCATED_ANNOTATION]: '1000 of 1005 results kept (at most 1000 results and 1000000 bytes of them per report); the summary counts all' });
    expect(report.summary).toEqual({ pass: 195, fail: 995, warn: 10, error: 0, skip: 0 });
  });

  it('keeps the results under a byte bound, whatever their number', () => {
    const long = (index: number) => pod(`p${index}`, { violations: [labelViolation({ message: 'x'.repeat(5000) })] });
    const report = buildReports(state({ results: Array.from({ length: 900 }, (_, index) => long(index)) }), 'policyreport').namespaced.get('payments')!;
    expect(report.results[0]!.message).toHaveLength(1024);
    expect(Buffer.byteLength(JSON.stringify(report))).toBeLessThan(1_100_000);
    expect(report.results.length).toBeLessThan(900);
    expect(report.metadata.annotations?.[TRUNCATED_ANNOTATION]).toMatch(new RegExp(`^${report.results.length} of 900 results kept`));
    expect(report.summary.fail).toBe(900);
  });

  it('has no annotation when nothing is left out', () => {
    expect(buildReports(state({ results: pods(MAX_RESULTS, 'Enforce') }), 'policyreport').namespaced.get('payments')!.metadata).not.toHaveProperty('annotations');
  });
});
