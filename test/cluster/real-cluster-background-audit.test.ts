/**
 * The background audit (issue 12) against a real API server, in process: the policy runtime of
 * `serve` watches Tiers, Guardrails, Namespaces and NetworkPolicies, and the audit judges what
 * exists — a NetworkPolicy created before the Guardrail it overrides, Pods that no NetworkPolicy
 * isolates — and follows each change. Reports, status and the Lease are tested through `serve`
 * itself (real-cluster-reports-serve.test.ts).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBackgroundAudit, type BackgroundAudit } from '../../src/cluster/background-audit.js';
import { createKubeClient } from '../../src/cluster/kube-client.js';
import { startPolicyRuntime, type PolicyRuntime } from '../../src/cluster/policy-runtime.js';
import type { AuditState } from '../../src/review/audit.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { describeCluster } from '../helpers/describe-cluster.js';
import { CLUSTER_START_TIMEOUT_MS, startCluster, waitFor, type TestCluster } from '../helpers/kube-cluster.js';
import { fromNamespaces, GUARDRAIL, namespace, pod, TIER } from './audit-objects.js';
import { FAST_BACKOFF, recordingLogger } from './support.js';

describeCluster('background audit against a real API server', () => {
  let cluster: TestCluster;
  let runtime: PolicyRuntime;
  let audit: BackgroundAudit;
  const states: AuditState[] = [];
  const latest = () => states.at(-1);
  const violationsOf = (name: string) => latest()?.results.find((result) => result.name === name)?.violations ?? [];
  const gaps = () => (latest()?.isolation ?? []).map((gap) => `${gap.guardrail} ${gap.namespace} ${gap.direction} ${gap.pods}`).sort();

  beforeAll(async () => {
    cluster = await startCluster();
    await cluster.apply([namespace('payments', { env: 'prod' }), namespace('ledger', { env: 'prod' }), namespace('dev', { env: 'dev' }), TIER]);
    for (const name of ['api-0', 'api-1']) await cluster.apply(pod('payments', name, { app: 'api' }));
    await cluster.apply(pod('ledger', 'ledger-0', { app: 'ledger' }));
    // Created while nothing was there to refuse it: the Guardrail comes later.
    await cluster.apply(fromNamespaces('payments', 'from-dev', 'dev'));

    const kubeConfig = cluster.kubeConfig();
    runtime = startPolicyRuntime({ configPaths: [], kubeConfig, metrics: createMetrics(), logger: recordingLogger(), backoff: FAST_BACKOFF, debounceMs: 20 });
    await runtime.source.firstSet;
    audit = startBackgroundAudit({
      client: createKubeClient({ kubeConfig }),
      logger: recordingLogger(),
      policy: runtime.policy,
      networkPolicies: runtime.networkPolicyCache!,
      engine: { excludedNamespaces: new Set(['kube-system']) },
      intervalMs: 3_600_000,
      publishDelayMs: 20,
      namespaceDelayMs: 50,
      onState: (state) => states.push(state),
      backoff: FAST_BACKOFF,
    });
    runtime.onPolicyChange(() => audit.auditAll('policy set changed'));
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    audit?.stop();
    await runtime?.stop();
    await cluster?.stop();
  });

  it('a NetworkPolicy created before the Guardrail it overrides is reported once the Guardrail exists', async () => {
    await waitFor(() => audit.audits >= 1 && latest(), { what: 'the first full audit' });
    expect(violationsOf('from-dev')).toEqual([]);
    const before = audit.audits;

    await cluster.apply(GUARDRAIL);
    await waitFor(() => audit.audits > before && violationsOf('from-dev').length > 0, { what: 'the override reported after the Guardrail was created' });
    const [violation] = violationsOf('from-dev');
    expect(violation).toMatchObject({ tier: 'security', guardrail: 'no-dev-to-prod', rule: 'deny-dev', mode: 'Enforce', path: 'spec.ingress[0]', compliance: ['PCI-DSS 1.3'] });
    expect(violation?.connection).toBe('ingress[0] allows TCP 5432 from namespace dev');
    expect(latest()?.results.find((result) => result.name === 'from-dev')).toMatchObject({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace: 'payments', uid: expect.any(String) });
  });

  it('shows the namespace whose pods no NetworkPolicy isolates, and only that one', async () => {
    // payments: from-dev selects every pod for Ingress (policyTypes defaulted); ledger: nothing does.
    await waitFor(() => gaps().length > 0, { what: 'isolation coverage' });
    expect(gaps()).toEqual(['no-dev-to-prod ledger Ingress 1']);
    const gap = latest()?.isolation.find((entry) => entry.namespace === 'ledger');
    expect(gap?.example).toEqual({ app: 'ledger' });
  });

  it('follows each change: a fixed NetworkPolicy leaves, a new Pod is counted, a deleted NetworkPolicy opens a gap', async () => {
    await cluster.apply(fromNamespaces('payments', 'from-dev', 'prod'));
    await waitFor(() => violationsOf('from-dev').length === 0 && latest()?.results.every((result) => result.name !== 'from-dev'), { what: 'the fixed NetworkPolicy to leave the results' });

    await cluster.apply(pod('ledger', 'ledger-1', { app: 'ledger', shard: '1' }));
    await waitFor(() => gaps().includes('no-dev-to-prod ledger Ingress 2'), { what: 'the new pod counted' });

    expect((await cluster.kubectl(['delete', 'networkpolicy', 'from-dev', '-n', 'payments'])).code).toBe(0);
    await waitFor(() => gaps().includes('no-dev-to-prod payments Ingress 2'), { what: 'the payments pods no longer isolated' });
  });

  it('a relabelled Namespace has its objects judged again', async () => {
    expect((await cluster.kubectl(['label', 'namespace', 'ledger', 'env=staging', '--overwrite'])).code).toBe(0);
    await waitFor(() => !gaps().some((gap) => gap.includes(' ledger ')), { what: 'ledger to leave the subject of the guardrail' });
    expect(gaps()).toEqual(['no-dev-to-prod payments Ingress 2']);
    // The NetworkPolicies are checked again too: one in a namespace that joins the subject.
    await cluster.apply(fromNamespaces('ledger', 'ledger-from-dev', 'dev'));
    await waitFor(() => latest()?.evaluated.get('ledger') === 3, { what: 'the ledger NetworkPolicy evaluated' });
    expect(violationsOf('ledger-from-dev')).toEqual([]);
    expect((await cluster.kubectl(['label', 'namespace', 'ledger', 'env=prod', '--overwrite'])).code).toBe(0);
    await waitFor(() => violationsOf('ledger-from-dev').length > 0, { what: 'the override reported after the relabel' });
  });

  it('a deleted Guardrail takes its findings with it', async () => {
    expect((await cluster.kubectl(['delete', 'guardrail', 'no-dev-to-prod'])).code).toBe(0);
    await waitFor(() => latest()?.results.length === 0 && latest()?.isolation.length === 0, { what: 'no findings left' });
  });
});
