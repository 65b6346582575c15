/**
 * Policy reports in a real API server: objects created in the cluster are audited (read as
 * `tierguard audit --kubeconfig` reads them, judged by `auditObjects`) and the report writer
 * puts the results in as PolicyReports / ClusterPolicyReports, or OpenReports. The API server's
 * schema validation of the report CRDs (the chart's copies of the upstream files) is the point:
 * what it stores is compared with what was built, so a pruned field would show.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createKubeClient, type KubeClient } from '../../src/cluster/kube-client.js';
import { readClusterSnapshot } from '../../src/cluster/audit-snapshot.js';
import { createReportWriter, type ReportWriter } from '../../src/cluster/report-writer.js';
import { buildReports, type ReportFormat } from '../../src/cluster/reports.js';
import type { PolicySet } from '../../src/engine/policy-set.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { parseManifestText } from '../../src/policy/manifests.js';
import { auditObjects, type AuditState } from '../../src/review/audit.js';
import { manifestNamespace, type ManifestObject } from '../../src/review/manifest-request.js';
import { REPO_DIR } from '../helpers/fixtures.js';
import { CLUSTER_START_TIMEOUT_MS, installCrds, startCluster, waitFor, type TestCluster } from '../helpers/kube-cluster.js';
import { describeCluster } from '../helpers/describe-cluster.js';
import { recordingLogger } from './support.js';

const CRD_DIR = path.join(REPO_DIR, 'charts', 'tierguard', 'files', 'report-crds');
const POLICY_REPORT_CRDS = ['wgpolicyk8s.io_policyreports.yaml', 'wgpolicyk8s.io_clusterpolicyreports.yaml'];
const OPEN_REPORTS_CRDS = ['openreports.io_reports.yaml', 'openreports.io_clusterreports.yaml'];
const POLR = '/apis/wgpolicyk8s.io/v1alpha2';
const OPENREPORTS = '/apis/openreports.io/v1alpha1';
const NAMESPACES = new Set(['payments', 'ledger', 'web']);
const FAST_RETRY = { initialMs: 50, maxMs: 200 };

const POLICIES = `
apiVersion: tierguard.dev/v1alpha1
kind: Tier
metadata: {name: security}
spec: {priority: 100}
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: prod-isolation}
spec:
  tier: security
  priority: 1
  compliance: ["PCI-DSS 1.3.1"]
  subject: {namespaces: {matchLabels: {env: prod}}}
  ingress: [{name: deny-from-dev, action: Deny, from: [{namespaces: {matchLabels: {env: dev}}}]}]
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: prod-egress}
spec:
  tier: security
  priority: 2
  mode: Warn
  compliance: ["PCI-DSS 1.3.4"]
  subject: {namespaces: {matchLabels: {env: prod}}}
  egress:
    - {name: allow-internal, action: Accept, to: [{networks: ["10.0.0.0/8"]}]}
    - {name: no-internet, action: Deny, to: [{networks: ["0.0.0.0/0", "::/0"]}]}
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: team-label}
spec:
  tier: security
  priority: 3
  mode: Audit
  labels: {match: {resources: [Pod]}, required: [{key: team}]}
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: ns-owner}
spec:
  tier: security
  priority: 4
  labels: {match: {resources: [Namespace]}, required: [{key: owner}]}
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: ns-contact}
spec:
  tier: security
  priority: 5
  mode: Warn
  validations:
    - {resources: [Namespace], expression: "object.metadata.annotations['contact'] != ''", message: a namespace names its contact}
`;

function policySet(): PolicySet {
  const { set, problems } = compilePolicySet({ documents: parseManifestText(POLICIES, 'policies.yaml').documents }, { generation: 1, shadows: 'none' });
  if (!set) throw new Error(problems.map((problem) => problem.message).join('; '));
  return set;
}

const namespace = (name: string, labels: Record<string, string>, contact?: string) => ({
  apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { env: 'prod', ...labels }, ...(contact ? { annotations: { contact } } : {}) },
});
const pod = (ns: string, name: string, labels: Record<string, string>) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels }, spec: { containers: [{ name: 'c', image: 'registry.example/app:1' }] },
});
const networkPolicy = (ns: string, name: string, spec: object) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec });
const isolateBothWays = (ns: string) => networkPolicy(ns, 'isolate', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });

/** The objects of the test namespaces audited now, as the background audit's state. */
async function auditState(client: KubeClient, set: PolicySet, time: Date): Promise<AuditState> {
  const snapshot = await readClusterSnapshot(client);
  const objects = snapshot.objects.filter((object) => NAMESPACES.has(object.kind === 'Namespace' ? object.metadata?.name ?? '' : manifestNamespace(object)));
  const report = await auditObjects({ set, objects, namespaces: [], engine: { excludedNamespaces: new Set(['kube-system']) } });
  const evaluated = new Map<string, number>();
  for (const object of objects as ManifestObject[]) evaluated.set(manifestNamespace(object), (evaluated.get(manifestNamespace(object)) ?? 0) + 1);
  return { results: report.results, isolation: report.isolation, evaluated, time };
}

interface StoredReport {
  metadata: { name: string; namespace?: string; resourceVersion: string; labels?: Record<string, string> };
  results: any[];
  summary: Record<string, number>;
  [field: string]: any;
}

/** What one list of reports holds, by `namespace/name` (`/name` for cluster reports). */
async function stored(client: KubeClient, collection: string): Promise<Map<string, StoredReport>> {
  const list = (await client.get(collection)) as { items: StoredReport[] };
  return new Map(list.items.map((item) => [`${item.metadata.namespace ?? ''}/${item.metadata.name}`, item]));
}

/**
 * The client with its writes counted: the API server does not bump the resourceVersion of an
 * update that changes nothing, so only counting shows that nothing was sent.
 */
function counting(client: KubeClient): KubeClient & { writes: string[] } {
  const writes: string[] = [];
  return {
    ...client,
    writes,
    create: (path, body) => { writes.push(`POST ${path}`); return client.create(path, body); },
    replace: (path, body) => { writes.push(`PUT ${path}`); return client.replace(path, body); },
    delete: (path) => { writes.push(`DELETE ${path}`); return client.delete(path); },
  };
}

/** The entries as a reader scans them. */
const entries = (report: StoredReport | undefined) => report?.results.map((entry) => `${entry.resources[0].kind}/${entry.resources[0].name} ${entry.policy}/${entry.rule} ${entry.result} ${entry.severity ?? '-'} ${entry.category}`);

describeCluster('policy reports written to a real API server', () => {
  let cluster: TestCluster;
  let client: KubeClient;
  let writes: string[];
  let set: PolicySet;
  const writers: ReportWriter[] = [];
  const writer = (format: ReportFormat, logger = recordingLogger()) => {
    const counted = counting(client);
    writes = counted.writes;
    const created = createReportWriter({ client: counted, format, logger, retry: FAST_RETRY });
    writers.push(created);
    return created;
  };
  const at = (hour: number) => new Date(`2026-05-01T${String(hour).padStart(2, '0')}:00:00.500Z`);

  beforeAll(async () => {
    cluster = await startCluster({ crds: false });
    client = createKubeClient({ kubeConfig: cluster.kubeConfig() });
    set = policySet();
    await installCrds(cluster, POLICY_REPORT_CRDS.map((file) => path.join(CRD_DIR, file)));
    await cluster.apply([
      namespace('payments', { owner: 'pay' }, 'pay@example.com'),
      namespace('ledger', {}),
      namespace('web', { owner: 'web' }, 'web@example.com'),
      ...['api-0', 'api-1', 'api-2'].map((name) => pod('payments', name, { app: 'api', team: 'pay' })),
      // Egress to anywhere: allows what prod-egress (Warn) would deny; the pods stay open for Ingress.
      networkPolicy('payments', 'egress-anywhere', { podSelector: {}, policyTypes: ['Egress'], egress: [{}] }),
      pod('ledger', 'ledger-0', { app: 'ledger' }),
      isolateBothWays('ledger'),
      pod('web', 'web-0', { app: 'web', team: 'web' }),
      isolateBothWays('web'),
    ]);
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    for (const created of writers) created.stop();
    await cluster?.stop();
  }, 60_000);

  let first: AuditState;

  it('writes a PolicyReport per namespace with findings and a ClusterPolicyReport, stored as built', async () => {
    const logger = recordingLogger();
    const reports = writer('policyreport', logger);
    first = await auditState(client, set, at(10));
    reports.sync(first);
    await reports.idle();
    const namespaced = await stored(client, `${POLR}/policyreports`);
    const clusterWide = await stored(client, `${POLR}/clusterpolicyreports`);
    expect([...namespaced.keys()].sort()).toEqual(['ledger/tierguard', 'payments/tierguard']);
    expect(entries(namespaced.get('payments/tierguard'))).toEqual([
      'Namespace/payments prod-isolation/isolation:Ingress fail high Isolation',
      'NetworkPolicy/egress-anywhere prod-egress/no-internet warn medium Network',
    ]);
    expect(namespaced.get('payments/tierguard')!.summary).toEqual({ pass: 3, fail: 1, warn: 1, error: 0, skip: 0 });
    expect(entries(namespaced.get('ledger/tierguard'))).toEqual(['Pod/ledger-0 team-label/label:team fail low Labels']);
    expect(namespaced.get('ledger/tierguard')!.summary).toEqual({ pass: 1, fail: 1, warn: 0, error: 0, skip: 0 });
    expect(entries(clusterWide.get('/tierguard'))).toEqual([
      'Namespace/ledger ns-contact/validations[0] error - CEL',
      'Namespace/ledger ns-owner/label:owner fail high Labels',
    ]);
    expect(clusterWide.get('/tierguard')!.summary).toEqual({ pass: 2, fail: 1, warn: 0, error: 1, skip: 0 });
    // The API server kept every field: its schema accepts the reports as they are.
    const built = buildReports(first, 'policyreport');
    for (const [ns, report] of built.namespaced) {
      const { results, summary, metadata } = namespaced.get(`${ns}/tierguard`)!;
      expect({ results, summary, labels: metadata.labels }).toEqual({ results: report.results, summary: report.summary, labels: report.metadata.labels });
    }
    expect(clusterWide.get('/tierguard')!.results).toEqual(built.cluster!.results);
    const egress = namespaced.get('payments/tierguard')!.results.find((entry) => entry.policy === 'prod-egress');
    expect(egress).toMatchObject({
      source: 'tierguard', scored: true,
      properties: { tier: 'security', mode: 'Warn', compliance: 'PCI-DSS 1.3.4', path: 'spec.egress[0]', connection: expect.stringContaining('egress[0] allows') },
      resources: [{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', name: 'egress-anywhere', namespace: 'payments', uid: expect.stringMatching(/^[0-9a-f-]{36}$/) }],
      timestamp: { seconds: at(10).getTime() / 1000 - 0.5, nanos: 500_000_000 },
    });
    expect(logger.lines.filter((line) => line.level === 'warn' || line.level === 'error')).toEqual([]);
  });

  it('writes nothing when a later audit finds the same (resourceVersions unchanged)', async () => {
    const reports = writers[0]!;
    const before = [...(await stored(client, `${POLR}/policyreports`)).values(), ...(await stored(client, `${POLR}/clusterpolicyreports`)).values()].map((report) => report.metadata.resourceVersion);
    const written = writes.length;
    reports.sync(await auditState(client, set, at(11)));
    await reports.idle();
    expect(writes.slice(written)).toEqual([]);
    const after = [...(await stored(client, `${POLR}/policyreports`)).values(), ...(await stored(client, `${POLR}/clusterpolicyreports`)).values()].map((report) => report.metadata.resourceVersion);
    expect(after).toEqual(before);
  });

  it('drops an entry when its violation goes; the entries that stay keep their first-seen time', async () => {
    await cluster.apply(networkPolicy('payments', 'egress-anywhere', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }] }));
    const reports = writers[0]!;
    reports.sync(await auditState(client, set, at(12)));
    await reports.idle();
    const payments = (await stored(client, `${POLR}/policyreports`)).get('payments/tierguard')!;
    expect(entries(payments)).toEqual(['Namespace/payments prod-isolation/isolation:Ingress fail high Isolation']);
    expect(payments.summary).toEqual({ pass: 4, fail: 1, warn: 0, error: 0, skip: 0 });
    expect(payments.results[0].timestamp.seconds).toBe(Math.floor(at(10).getTime() / 1000));
  });

  it('deletes the report of a namespace with no entries left', async () => {
    const labelled = await cluster.kubectl(['label', 'pod', 'ledger-0', '-n', 'ledger', 'team=ledger']);
    expect(labelled.code, labelled.stderr).toBe(0);
    const reports = writers[0]!;
    reports.sync(await auditState(client, set, at(13)));
    await reports.idle();
    expect([...(await stored(client, `${POLR}/policyreports`)).keys()]).toEqual(['payments/tierguard']);
    const gone = await cluster.kubectl(['get', 'policyreports.v1alpha2.wgpolicyk8s.io', 'tierguard', '-n', 'ledger']);
    expect(gone.stderr).toMatch(/NotFound/);
  });

  it('a new process, and a writer after reset(), delete the stale reports an earlier one left and rewrite nothing that holds', async () => {
    writers[0]!.stop();
    const stale = (ns: string, name: string, labels: Record<string, string>) => ({ apiVersion: 'wgpolicyk8s.io/v1alpha2', kind: 'PolicyReport', metadata: { name, namespace: ns, labels }, results: [], summary: { pass: 1 } });
    await cluster.apply([stale('web', 'tierguard', { 'app.kubernetes.io/managed-by': 'tierguard' }), stale('web', 'kyverno-report', { 'app.kubernetes.io/managed-by': 'kyverno' })]);
    const before = await stored(client, `${POLR}/policyreports`);
    const state = await auditState(client, set, at(14));
    const next = writer('policyreport');
    next.sync(state);
    await next.idle();
    expect(writes).toEqual([`DELETE ${POLR}/namespaces/web/policyreports/tierguard`]);
    const after = await stored(client, `${POLR}/policyreports`);
    expect([...after.keys()].sort()).toEqual(['payments/tierguard', 'web/kyverno-report']);
    expect(after.get('payments/tierguard')!.metadata.resourceVersion).toBe(before.get('payments/tierguard')!.metadata.resourceVersion);

    // Another replica was leader meanwhile and left a report behind; this one becomes leader again.
    await cluster.apply(stale('ledger', 'tierguard', { 'app.kubernetes.io/managed-by': 'tierguard' }));
    next.reset();
    await next.idle();
    expect(writes.slice(1)).toEqual([`DELETE ${POLR}/namespaces/ledger/policyreports/tierguard`]);
    expect([...(await stored(client, `${POLR}/policyreports`)).keys()].sort()).toEqual(['payments/tierguard', 'web/kyverno-report']);
  });

  it('openreports: warns once per missing CRD, then writes Report and ClusterReport once the CRDs are installed', async () => {
    const logger = recordingLogger();
    const reports = writer('openreports', logger);
    const state = await auditState(client, set, at(15));
    reports.sync(state);
    await reports.idle();
    const warnings = () => logger.lines.filter((line) => line.level === 'warn').map((line) => line.message);
    expect(warnings()).toEqual([
      expect.stringMatching(/^no Report is written: the CRD reports\.openreports\.io is not installed .*reports\.installCRDs=true.*OpenReports/),
      expect.stringMatching(/^no ClusterReport is written: the CRD clusterreports\.openreports\.io is not installed/),
    ]);
    await installCrds(cluster, OPEN_REPORTS_CRDS.map((file) => path.join(CRD_DIR, file)));
    await waitFor(async () => (await stored(client, `${OPENREPORTS}/clusterreports`)).has('/tierguard') && (await stored(client, `${OPENREPORTS}/reports`)).has('payments/tierguard'), { what: 'the OpenReports once their CRDs are installed' });
    await reports.idle();
    const built = buildReports(state, 'openreports', {});
    const report = (await stored(client, `${OPENREPORTS}/reports`)).get('payments/tierguard')!;
    expect({ apiVersion: report.apiVersion, kind: report.kind, source: report.source, configuration: report.configuration, results: report.results, summary: report.summary })
      .toEqual({ apiVersion: 'openreports.io/v1alpha1', kind: 'Report', source: 'tierguard', configuration: { limits: { maxResults: 1000 } }, results: built.namespaced.get('payments')!.results, summary: built.namespaced.get('payments')!.summary });
    expect((await stored(client, `${OPENREPORTS}/clusterreports`)).get('/tierguard')!.results).toEqual(built.cluster!.results);
    expect(warnings()).toHaveLength(2);
  });
  it('a namespace with more findings than a report may hold: the API server stores the bounded report, which says what it left out', async () => {
    // 1,500 Pods in web each breaking a rule, with messages long enough to pass the 1 MB bound first.
    const results = Array.from({ length: 1500 }, (_, i) => ({
      apiVersion: 'v1', kind: 'Pod', namespace: 'web', name: `p-${i}`, uid: `uid-${i}`, lines: [],
      violations: [{ tier: 'security', guardrail: 'prod-isolation', rule: 'label:team', mode: 'Enforce' as const, path: 'metadata.labels[team]', message: `missing required label team (${'x'.repeat(900)}) ${i}`, compliance: [] }],
    }));
    const reports = writer('policyreport');
    reports.sync({ results, isolation: [], evaluated: new Map([['web', 1500]]), time: at(16) });
    await reports.idle();
    const report = (await stored(client, `${POLR}/policyreports`)).get('web/tierguard')!;
    expect(report.summary).toMatchObject({ fail: 1500, pass: 0 });
    expect(report.results.length).toBeGreaterThan(500);
    expect(report.results.length).toBeLessThan(1000);
    expect(Buffer.byteLength(JSON.stringify(report.results))).toBeLessThanOrEqual(1_000_000);
    expect((report.metadata as { annotations?: Record<string, string> }).annotations?.['tierguard.dev/truncated']).toMatch(new RegExp(`^${report.results.length} of 1500 results kept`));
  });
});
