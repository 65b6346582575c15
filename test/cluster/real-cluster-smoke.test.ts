/**
 * The first test against a real control plane (etcd + kube-apiserver from KUBEBUILDER_ASSETS):
 * the chart's CRDs are established, RBAC is enforced, and the built `tierguard serve --kubeconfig`
 * is really called by the API server through webhook configurations like the chart's.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO_DIR } from '../helpers/fixtures.js';
import {
  CLUSTER_START_TIMEOUT_MS, metricSum, startCluster, startWebhook,
  type TestCluster, type TierguardProcess,
} from '../helpers/kube-cluster.js';
import { describeCluster } from '../helpers/describe-cluster.js';

const REQUESTS = 'tierguard_admission_requests_total';

const namespace = {
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name: 'payments', labels: { env: 'prod', 'segment.tierguard.dev/domain': 'payments' } },
};
const networkPolicy = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'allow-api-from-frontend', namespace: 'payments' },
  spec: {
    podSelector: { matchLabels: { app: 'api' } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }],
  },
};
const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'api', namespace: 'payments', labels: { app: 'api' } },
  spec: { containers: [{ name: 'api', image: 'registry.example/api:1' }] },
};

describeCluster('a real API server calls tierguard', () => {
  let cluster: TestCluster;
  let tierguard: TierguardProcess;
  const requests = async (labels: Record<string, string>) => metricSum(await tierguard.metrics(), REQUESTS, labels);

  beforeAll(async () => {
    cluster = await startCluster();
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('has the chart\'s Tier and Guardrail CRDs established', async () => {
    const result = await cluster.kubectl([
      'get', 'crd', 'tiers.tierguard.dev', 'guardrails.tierguard.dev',
      '-o', 'jsonpath={range .items[*]}{.spec.names.kind}={.status.conditions[?(@.type=="Established")].status} {end}',
    ]);
    expect(result).toMatchObject({ code: 0, stdout: 'Tier=True Guardrail=True ' });
  });

  it('lets the admin list tiers', async () => {
    const result = await cluster.kubectl(['get', 'tiers']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/No resources found/);
  });

  it('forbids the ordinary user to create a Tier (RBAC is enforced)', async () => {
    const tier = { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name: 'mine' }, spec: { priority: 500 } };
    const result = await cluster.kubectl(['create', '--dry-run=server', '-f', '-'], { as: 'user', input: JSON.stringify(tier) });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/forbidden: User "jane" cannot create resource "tiers" in API group "tierguard\.dev"/);
  });

  it('sends Namespace, NetworkPolicy and Pod admission to tierguard', async () => {
    tierguard = await startWebhook(cluster);

    // The embedded default policies are not used in cluster mode: install them as objects (they
    // pass tierguard's own policies.tierguard.dev webhook) and wait for tierguard's Ready status.
    const policies = await cluster.kubectl(['apply', '-f', path.join(REPO_DIR, 'policies', 'default')]);
    expect(policies.code, policies.stderr).toBe(0);
    const ready = await cluster.kubectl(['wait', '--for=condition=Ready', '--timeout=60s', 'tiers', '--all']);
    expect(ready.code, ready.stderr).toBe(0);
    const readyGuardrails = await cluster.kubectl(['wait', '--for=condition=Ready', '--timeout=60s', 'guardrails', '--all']);
    expect(readyGuardrails.code, readyGuardrails.stderr).toBe(0);
    expect(await requests({ webhook: 'validate', kind: 'Guardrail', operation: 'CREATE', allowed: 'true' })).toBe(2);

    await cluster.apply(namespace);
    await cluster.apply(networkPolicy);
    const created = await cluster.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: JSON.stringify(pod) });
    expect(created.code, created.stderr).toBe(0);

    expect(await requests({ webhook: 'mutate', kind: 'Namespace', operation: 'CREATE', dry_run: 'false' })).toBe(1);
    expect(await requests({ webhook: 'validate', kind: 'Namespace', operation: 'CREATE', dry_run: 'false', allowed: 'true' })).toBe(1);
    expect(await requests({ webhook: 'validate', kind: 'NetworkPolicy', operation: 'CREATE', allowed: 'true' })).toBe(1);
    expect(await requests({ webhook: 'validate', kind: 'Pod', operation: 'CREATE', dry_run: 'true', allowed: 'true' })).toBe(1);
    // The mutating webhook's patch reached the stored form of the Pod: the default guardrails give
    // Pods of a segmented namespace its domain label.
    expect(JSON.parse(created.stdout).metadata.labels).toEqual({ app: 'api', 'segment.tierguard.dev/domain': 'payments' });
  }, 120_000);
});
