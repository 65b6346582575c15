/**
 * What issue 12 asks to be shown against a real API server, through `tierguard serve` itself (two
 * replicas, as the chart runs them), with the PolicyReport CRDs of ../shared/kube/crds installed:
 *
 * - a NetworkPolicy created before the Guardrail it overrides gets a `fail` entry naming it, its
 *   rule, the guardrail, tier and example connection, within seconds of the Guardrail's creation;
 *   the entry goes when the NetworkPolicy is fixed or deleted;
 * - a namespace with pods that no NetworkPolicy isolates shows up in isolation coverage;
 * - the Guardrail's status counts match; the audit gauge too;
 * - only the Lease holder writes reports and status, and the other replica takes over when it stops;
 * - `--reports openreports` writes openreports.io objects instead.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLUSTER_START_TIMEOUT_MS, installCrds, SHARED_CRDS, startCluster, startTierguard, waitFor, type TestCluster, type TierguardProcess } from '../helpers/kube-cluster.js';
import { describeCluster } from '../helpers/describe-cluster.js';
import { fromNamespaces, GUARDRAIL, namespace, pod, TIER } from './audit-objects.js';

/** Short enough that a takeover is quick, long enough for a loaded machine to renew in time. */
const SERVE_ARGS = ['--lease-duration', '4s', '--log-level', 'debug'];

interface ReportEntry { policy: string; rule: string; result: string; severity?: string; category?: string; properties?: Record<string, string>; resources?: { kind: string; name: string; namespace?: string }[] }

describeCluster('serve: background audit, PolicyReports, Guardrail status and one writer by Lease', () => {
  let cluster: TestCluster;
  const replicas: TierguardProcess[] = [];

  const getJson = async (args: readonly string[]): Promise<any> => {
    const result = await cluster.kubectl([...args, '-o', 'json']);
    return result.code === 0 ? JSON.parse(result.stdout) : undefined;
  };
  const entries = async (ns: string, resource = 'policyreports.wgpolicyk8s.io'): Promise<ReportEntry[]> => (await getJson(['get', resource, 'tierguard', '-n', ns]))?.results ?? [];
  const holder = async (): Promise<string> => (await getJson(['get', 'lease', 'tierguard', '-n', 'tierguard']))?.spec?.holderIdentity ?? '';
  const isLeader = async (replica: TierguardProcess): Promise<boolean> => /^tierguard_leader 1$/m.test(await replica.metrics());
  const leaderAndFollower = async (): Promise<[TierguardProcess, TierguardProcess]> => {
    const [a, b] = replicas as [TierguardProcess, TierguardProcess];
    return (await isLeader(a)) ? [a, b] : [b, a];
  };

  beforeAll(async () => {
    cluster = await startCluster();
    await installCrds(cluster, ['wgpolicyk8s.io_policyreports.yaml', 'wgpolicyk8s.io_clusterpolicyreports.yaml'].map((file) => path.join(SHARED_CRDS, file)));
    await cluster.apply([namespace('payments', { env: 'prod' }), namespace('ledger', { env: 'prod' }), namespace('dev', { env: 'dev' }), TIER]);
    for (const name of ['api-0', 'api-1']) await cluster.apply(pod('payments', name, { app: 'api' }));
    await cluster.apply(pod('ledger', 'ledger-0', { app: 'ledger' }));
    // Created before the Guardrail that it overrides: no webhook was there to refuse it.
    await cluster.apply(fromNamespaces('payments', 'from-dev', 'dev'));
    for (let i = 0; i < 2; i++) replicas.push(await startTierguard(cluster, { args: SERVE_ARGS }));
    await Promise.all(replicas.map((replica) => replica.waitReady()));
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.stop()));
    await cluster?.stop();
  });

  it('one replica holds the Lease; both are ready, whoever leads', async () => {
    const name = await waitFor(holder, { what: 'a Lease holder' });
    await waitFor(async () => (await Promise.all(replicas.map(isLeader))).filter(Boolean).length === 1, { what: 'exactly one replica leading' });
    const [leader] = await leaderAndFollower();
    expect(leader.logs()).toContain(name);
  });

  it('a NetworkPolicy created before the Guardrail it overrides gets a fail entry within seconds of the Guardrail', async () => {
    const created = Date.now();
    await cluster.apply(GUARDRAIL);
    const entry = await waitFor(async () => (await entries('payments')).find((result) => result.policy === 'no-dev-to-prod' && result.rule === 'deny-dev'), { what: 'the fail entry of from-dev' });
    const seconds = (Date.now() - created) / 1000;
    expect(entry).toMatchObject({
      result: 'fail', severity: 'high', category: 'Network',
      properties: { tier: 'security', mode: 'Enforce', compliance: 'PCI-DSS 1.3', connection: 'ingress[0] allows TCP 5432 from namespace dev', path: 'spec.ingress[0]' },
      resources: [expect.objectContaining({ kind: 'NetworkPolicy', name: 'from-dev', namespace: 'payments' })],
    });
    // For the note, not an assertion: how long the entry took on this machine.
    console.log(`fail entry written ${seconds.toFixed(1)} s after the Guardrail was created`);
    const report = await getJson(['get', 'policyreports.wgpolicyk8s.io', 'tierguard', '-n', 'payments']);
    expect(report.summary).toMatchObject({ fail: 1, error: 0 });
  });

  it('a namespace with pods no NetworkPolicy isolates is in isolation coverage, and the Guardrail status counts both', async () => {
    const gap = await waitFor(async () => (await entries('ledger')).find((result) => result.rule === 'isolation:Ingress'), { what: 'the isolation entry of ledger' });
    expect(gap).toMatchObject({ policy: 'no-dev-to-prod', result: 'fail', category: 'Isolation', properties: { tier: 'security', direction: 'Ingress', pods: '1', example: 'app=ledger' } });
    const audit = await waitFor(async () => {
      const status = (await getJson(['get', 'guardrail', 'no-dev-to-prod']))?.status?.audit;
      return status?.violations === 1 && status.namespacesNotIsolated === 1 ? status : undefined;
    }, { what: 'the Guardrail status counts' });
    expect(audit).toMatchObject({ violations: 1, violationsByMode: { Enforce: 1, Warn: 0, Audit: 0 }, errors: 0, namespacesNotIsolated: 1, lastAuditTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    const columns = await cluster.kubectl(['get', 'guardrails', '-o', 'wide']);
    expect(columns.stdout).toMatch(/NAME\s+TIER\s+PRIORITY\s+MODE\s+VIOLATIONS\s+NOT-ISOLATED\s+READY/);
    expect(columns.stdout).toMatch(/no-dev-to-prod\s+security\s+10\s+Enforce\s+1\s+1\s+True/);
    const [leader] = await leaderAndFollower();
    expect(await leader.metrics()).toMatch(/^tierguard_audit_violations\{tier="security",guardrail="no-dev-to-prod",mode="Enforce",kind="NetworkPolicy"\} 1$/m);
    expect(await leader.metrics()).toMatch(/^tierguard_audit_namespaces_not_isolated\{tier="security",guardrail="no-dev-to-prod",direction="Ingress"\} 1$/m);
  });

  it('the kubectl commands of docs/audit-and-reports.md read the reports', async () => {
    const list = await cluster.kubectl(['get', 'policyreports', '-A']);
    expect(list.stdout).toMatch(/NAMESPACE\s+NAME\s+PASS\s+FAIL\s+WARN\s+ERROR\s+SKIP\s+AGE/);
    expect(list.stdout).toMatch(/^payments\s+tierguard\s+\d+\s+1\s+0\s+0\s+0\s/m);
    const fails = await cluster.kubectl(['get', 'policyreport', 'tierguard', '-n', 'payments',
      '-o', 'jsonpath={range .results[?(@.result=="fail")]}{.policy}/{.rule}: {.resources[0].kind} {.resources[0].name}: {.properties.connection}{"\\n"}{end}']);
    expect(fails.stdout.trim()).toBe('no-dev-to-prod/deny-dev: NetworkPolicy from-dev: ingress[0] allows TCP 5432 from namespace dev');
    expect((await cluster.kubectl(['get', 'policyreport', 'tierguard', '-n', 'payments', '-o', 'yaml'])).code).toBe(0);
    const status = JSON.parse((await cluster.kubectl(['get', 'guardrail', 'no-dev-to-prod', '-o', 'jsonpath={.status.audit}'])).stdout);
    expect(status).toMatchObject({ violations: 1, namespacesNotIsolated: 1 });
  });

  it('only the Lease holder writes reports and status', async () => {
    const [leader, follower] = await leaderAndFollower();
    expect(leader.logs()).toMatch(/"msg":"policy reports written"/);
    expect(leader.logs()).toMatch(/"msg":"(audit )?status written"/);
    expect(follower.logs()).not.toMatch(/"msg":"policy reports written"/);
    expect(follower.logs()).not.toMatch(/"msg":"(audit )?status written"/);
    expect(follower.logs()).not.toMatch(/"msg":"audit done"/);
    expect(await follower.metrics()).not.toMatch(/^tierguard_audit_violations\{/m);
  });

  it('the entry goes when the NetworkPolicy is fixed, and a deleted NetworkPolicy opens an isolation gap', async () => {
    await cluster.apply(fromNamespaces('payments', 'from-dev', 'prod'));
    await waitFor(async () => !(await entries('payments')).some((result) => result.rule === 'deny-dev'), { what: 'the fixed NetworkPolicy to leave the report' });
    expect((await cluster.kubectl(['delete', 'networkpolicy', 'from-dev', '-n', 'payments'])).code).toBe(0);
    const gap = await waitFor(async () => (await entries('payments')).find((result) => result.rule === 'isolation:Ingress'), { what: 'payments not isolated any more' });
    expect(gap.properties).toMatchObject({ pods: '2' });
    await waitFor(async () => (await getJson(['get', 'guardrail', 'no-dev-to-prod']))?.status?.audit?.violations === 0, { what: 'the status count back to 0 violations' });
  });

  it('when the holder stops, the other replica takes over and follows the next change', async () => {
    const [leader, follower] = await leaderAndFollower();
    const before = await holder();
    await leader.stop();
    replicas.splice(replicas.indexOf(leader), 1);
    await waitFor(async () => (await holder()) !== before && (await isLeader(follower)), { what: 'the other replica to hold the Lease' });
    await cluster.apply(fromNamespaces('ledger', 'ledger-from-dev', 'dev'));
    const entry = await waitFor(async () => (await entries('ledger')).find((result) => result.rule === 'deny-dev'), { what: 'the new leader to report the new override' });
    expect(entry.resources).toEqual([expect.objectContaining({ name: 'ledger-from-dev' })]);
    expect(follower.logs()).toMatch(/"msg":"policy reports written"/);
  });

  it('--reports openreports writes openreports.io Reports instead', async () => {
    await Promise.all(replicas.map((replica) => replica.stop()));
    replicas.length = 0;
    await installCrds(cluster, ['openreports.io_reports.yaml', 'openreports.io_clusterreports.yaml'].map((file) => path.join(SHARED_CRDS, file)));
    replicas.push(await startTierguard(cluster, { args: [...SERVE_ARGS, '--reports', 'openreports'] }));
    const entry = await waitFor(async () => (await entries('ledger', 'reports.openreports.io')).find((result) => result.rule === 'deny-dev'), { what: 'an openreports.io Report with the override' });
    expect(entry).toMatchObject({ policy: 'no-dev-to-prod', result: 'fail', properties: expect.objectContaining({ tier: 'security' }) });
    const report = await getJson(['get', 'reports.openreports.io', 'tierguard', '-n', 'ledger']);
    expect(report).toMatchObject({ apiVersion: 'openreports.io/v1alpha1', kind: 'Report', source: 'tierguard' });
  });

  it('--reports none audits and writes status, but no report', async () => {
    await Promise.all(replicas.map((replica) => replica.stop()));
    replicas.length = 0;
    expect((await cluster.kubectl(['delete', 'reports.openreports.io,policyreports.wgpolicyk8s.io', '--all', '-A'])).code).toBe(0);
    const replica = await startTierguard(cluster, { args: [...SERVE_ARGS, '--reports', 'none'] });
    replicas.push(replica);
    await replica.waitForLog(/"msg":"audit done"/);
    await waitFor(async () => /^tierguard_audit_violations\{tier="security",guardrail="no-dev-to-prod",mode="Enforce",kind="NetworkPolicy"\} 1$/m.test(await replica.metrics()), { what: 'the gauge after the audit' });
    expect((await cluster.kubectl(['get', 'reports.openreports.io,policyreports.wgpolicyk8s.io', '-A', '-o', 'name'])).stdout.trim()).toBe('');
    expect(replica.logs()).not.toMatch(/"msg":"policy reports written"/);
  });
});
