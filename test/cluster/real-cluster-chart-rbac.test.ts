/**
 * `serve` as the chart's ServiceAccount, under the chart's own RBAC (rendered by a real Helm),
 * against a real kube-apiserver's RBAC authorizer: what a replica does in a cluster — its watches,
 * the Lease, the background audit, the reports of both formats, the Tier and Guardrail status,
 * admission in a namespace created after it started and of a Guardrail change — works with what an
 * install grants, and nothing it does is refused. (Self-managed certificates under the same RBAC:
 * real-cluster-certificates.) The namespace cache's read of one namespace by name happens on a
 * miss: a review of an object in a namespace that does not exist brings one about on demand.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { applyChartRbac, CHART_RELEASE, chartServiceAccountKubeconfig } from '../helpers/chart-identity.js';
import { CLUSTER_START_TIMEOUT_MS, installCrds, SHARED_CRDS, startCluster, startTierguard, waitFor, type TestCluster, type TierguardProcess } from '../helpers/kube-cluster.js';
import { describeCluster } from '../helpers/describe-cluster.js';
import { review } from '../helpers/fixtures.js';
import { request } from '../helpers/https.js';
import { fromNamespaces, GUARDRAIL, namespace, pod, TIER } from './audit-objects.js';

const NAMESPACE = 'tierguard';
const REPORT_CRDS = ['wgpolicyk8s.io_policyreports.yaml', 'wgpolicyk8s.io_clusterpolicyreports.yaml', 'openreports.io_reports.yaml', 'openreports.io_clusterreports.yaml'];

interface LogLine { level: string; msg: string; [field: string]: unknown }

/** The lines at warn or error that say the API server refused a call (403, `forbidden`). */
function refusals(tierguard: TierguardProcess): LogLine[] {
  return tierguard.logs().split('\n').filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine)
    .filter((line) => (line.level === 'warn' || line.level === 'error') && /forbidden|\b403\b/i.test(JSON.stringify(line)));
}

describeCluster('serve as the chart\'s ServiceAccount, under the chart\'s RBAC', () => {
  let cluster: TestCluster;
  let kubeconfig: string;

  const getJson = async (args: readonly string[]): Promise<any> => {
    const result = await cluster.kubectl([...args, '-o', 'json']);
    return result.code === 0 ? JSON.parse(result.stdout) : undefined;
  };
  /** `serve` with the chart's flags that reach the API server: its namespace, Lease and report format. */
  const serveAsChart = (reports: string) => startTierguard(cluster, {
    kubeconfig,
    args: ['--namespace', NAMESPACE, '--lease-name', CHART_RELEASE, '--lease-duration', '4s', '--reports', reports, '--log-level', 'debug'],
  });

  beforeAll(async () => {
    cluster = await startCluster();
    await installCrds(cluster, REPORT_CRDS.map((file) => path.join(SHARED_CRDS, file)));
    await cluster.apply([namespace(NAMESPACE, {}), namespace('payments', { env: 'prod' }), namespace('ledger', { env: 'prod' }), namespace('dev', { env: 'dev' }), TIER, GUARDRAIL]);
    await cluster.apply([pod('payments', 'api-0', { app: 'api' }), pod('ledger', 'ledger-0', { app: 'ledger' })]);
    // Created as the admin, with no webhook registered: an override the audit must report.
    await cluster.apply(fromNamespaces('payments', 'from-dev', 'dev'));
    await applyChartRbac(cluster, NAMESPACE);
    kubeconfig = await chartServiceAccountKubeconfig(cluster, NAMESPACE);
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('policyreport (the default): ready, leads, writes the reports and the status, answers admission, and is refused nothing', async () => {
    // The chart's identity may not write reports of the other format, nor a Guardrail's spec.
    const canChart = async (...args: string[]) => (await cluster.kubectl(['auth', 'can-i', ...args, `--as=system:serviceaccount:${NAMESPACE}:${CHART_RELEASE}`])).stdout.trim();
    expect(await canChart('create', 'reports.openreports.io', '-n', 'payments')).toBe('no');
    expect(await canChart('update', 'guardrails.tierguard.dev')).toBe('no');
    expect(await canChart('create', 'policyreports.wgpolicyk8s.io', '-n', 'payments')).toBe('yes');

    const tierguard = await serveAsChart('policyreport');
    try {
      await tierguard.waitReady();
      await waitFor(async () => (await getJson(['get', 'lease', CHART_RELEASE, '-n', NAMESPACE]))?.spec?.holderIdentity, { what: 'the Lease held' });

      // The audit's findings, written as PolicyReports (override, isolation gap) and as Guardrail status.
      const report = await waitFor(async () => {
        const found = await getJson(['get', 'policyreports.wgpolicyk8s.io', 'tierguard', '-n', 'payments']);
        return found?.results?.some((result: { rule: string }) => result.rule === 'deny-dev') ? found : undefined;
      }, { what: 'the PolicyReport of payments with the override' });
      expect(report.summary).toMatchObject({ fail: 1 });
      await waitFor(async () => ((await getJson(['get', 'policyreports.wgpolicyk8s.io', 'tierguard', '-n', 'ledger']))?.results ?? [])
        .some((result: { rule: string }) => result.rule === 'isolation:Ingress'), { what: 'the isolation entry of ledger' });
      const status = await waitFor(async () => {
        const found = (await getJson(['get', 'guardrail', GUARDRAIL.metadata.name]))?.status;
        return found?.audit?.violations === 1 && found.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') ? found : undefined;
      }, { what: 'the Guardrail status: Ready=True and the audit counts' });
      expect(status.audit).toMatchObject({ violations: 1, namespacesNotIsolated: 1 });
      expect((await getJson(['get', 'tier', TIER.metadata.name]))?.status?.conditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Ready', status: 'True' })]));

      // Admission: the namespace lookup of a namespace created after the start, and a Guardrail change judged on the watched set.
      await cluster.registerWebhooks({ name: 'tierguard', url: tierguard.url, caBundle: tierguard.caCert });
      await cluster.apply(namespace('late', { env: 'prod' }));
      const overriding = await waitFor(async () => {
        const attempt = await cluster.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(fromNamespaces('late', 'late-from-dev', 'dev')) });
        return /denied the request/.test(attempt.stderr) ? attempt : undefined;
      }, { what: 'a dry run of an overriding NetworkPolicy in a new namespace denied through the webhook', timeoutMs: 30_000 });
      expect(overriding.stderr).toContain('denied by tier security, guardrail no-dev-to-prod, rule deny-dev');
      const change = await cluster.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify({ ...GUARDRAIL, metadata: { name: 'no-dev-to-prod-2' } }) });
      expect(change.code, change.stderr).toBe(0);
      await cluster.unregisterWebhooks('tierguard');

      // A namespace no watch can bring, as it does not exist: the cache reads it by name (a GET as
      // the ServiceAccount), the API server answers 404, and the review goes on with the namespace
      // unknown, where any namespace may carry env=prod. Were the GET refused (403), the review
      // would fail, and the failure mode would deny it with a 500.
      const body = review('validate-create-networkpolicy');
      const orphan = fromNamespaces('never-created', 'orphan-from-dev', 'dev');
      Object.assign(body.request, { namespace: 'never-created', name: orphan.metadata.name, object: orphan });
      const answer = (await request({ port: tierguard.port, ca: tierguard.caCert, path: '/validate', body: JSON.stringify(body) })).json();
      expect(answer.response).toMatchObject({ uid: body.request.uid, allowed: false, status: { code: 403 } });
      expect(answer.response.status.message).toContain('denied by tier security, guardrail no-dev-to-prod, rule deny-dev');

      expect(tierguard.logs()).toMatch(/"msg":"policy reports written"/);
      expect(refusals(tierguard)).toEqual([]);
    } finally {
      await tierguard.stop();
    }
    expect(await tierguard.process.exited).toEqual({ code: 0, signal: null });
  });

  it('openreports: with the chart rendered for that format, the Reports are written and nothing is refused', async () => {
    await applyChartRbac(cluster, NAMESPACE, ['reports.format=openreports']);
    const tierguard = await serveAsChart('openreports');
    try {
      await tierguard.waitReady();
      const report = await waitFor(async () => {
        const found = await getJson(['get', 'reports.openreports.io', 'tierguard', '-n', 'payments']);
        return found?.results?.some((result: { rule: string }) => result.rule === 'deny-dev') ? found : undefined;
      }, { what: 'the openreports.io Report of payments with the override' });
      expect(report.summary).toMatchObject({ fail: 1 });
      expect(refusals(tierguard)).toEqual([]);
    } finally {
      await tierguard.stop();
    }
    expect(await tierguard.process.exited).toEqual({ code: 0, signal: null });
  });
});
