/**
 * Workloads as users run them (issue 10): with kube-controller-manager running, the Pods of a
 * Deployment are created by the ReplicaSet controller and go through tierguard like any other
 * (there is no kubelet: they stay Pending, but they are real objects). The starter guardrails of
 * policies/default/ are applied as cluster objects; a namespace opts into segmentation with the
 * `segment.tierguard.dev/domain` label.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO_DIR } from '../helpers/fixtures.js';
import {
  CLUSTER_START_TIMEOUT_MS, metricSum, startCluster, startWebhook, waitFor,
  type TestCluster, type TierguardProcess,
} from '../helpers/kube-cluster.js';
import { describeCluster } from '../helpers/describe-cluster.js';

const REQUESTS = 'tierguard_admission_requests_total';
const DOMAIN = 'segment.tierguard.dev/domain';

const namespace = (name: string, labels: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const template = { metadata: { labels: { app: 'web', 'app.kubernetes.io/name': 'web' } }, spec: { containers: [{ name: 'web', image: 'registry.example/web:1' }] } };
const deployment = (options: { namespace: string; replicas: number }) => ({
  apiVersion: 'apps/v1', kind: 'Deployment',
  metadata: { name: 'web', namespace: options.namespace },
  spec: { replicas: options.replicas, selector: { matchLabels: { app: 'web' } }, template },
});

describeCluster('workloads whose Pods the controllers create', () => {
  let cluster: TestCluster;
  let tierguard: TierguardProcess;

  const kubectl = (args: readonly string[], input?: string) => cluster.kubectl(args, input === undefined ? {} : { input });
  const apply = (object: object) => kubectl(['apply', '-f', '-'], JSON.stringify(object));
  const json = async (args: readonly string[]) => {
    const result = await kubectl([...args, '-o', 'json']);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };
  const podLabels = async (ns: string) => (await json(['get', 'pods', '-l', 'app=web', `--namespace=${ns}`])).items.map((pod: any) => pod.metadata.labels);
  const waitForPods = (ns: string, count: number) => waitFor(async () => {
    const labels = await podLabels(ns);
    return labels.length >= count && labels;
  }, { what: `${count} Pods of web in ${ns}`, timeoutMs: 30_000, intervalMs: 200 });

  beforeAll(async () => {
    cluster = await startCluster({ controllerManager: true });
    tierguard = await startWebhook(cluster);
    const policies = await kubectl(['apply', '-f', path.join(REPO_DIR, 'policies', 'default')]);
    if (policies.code !== 0) throw new Error(`policies/default not applied: ${policies.stderr}`);
    const ready = await kubectl(['wait', '--for=condition=Ready', '--timeout=60s', 'guardrails', '--all']);
    if (ready.code !== 0) throw new Error(`guardrails not Ready: ${ready.stderr}\n${tierguard.logs()}`);
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('injects the namespace\'s domain into a Deployment\'s pod template and into the Pods the ReplicaSet controller creates', async () => {
    await cluster.apply(namespace('shop', { [DOMAIN]: 'shop' }));
    const before = await tierguard.metrics();
    const applied = await apply(deployment({ namespace: 'shop', replicas: 2 }));
    expect(applied).toMatchObject({ code: 0, stdout: 'deployment.apps/web created\n', stderr: '' });
    const stored = await json(['get', 'deploy', 'web', '--namespace=shop']);
    expect(stored.spec.template.metadata.labels).toEqual({ app: 'web', 'app.kubernetes.io/name': 'web', [DOMAIN]: 'shop' });

    const pods = await waitForPods('shop', 2);
    expect(pods).toEqual([0, 1].map(() => expect.objectContaining({ app: 'web', [DOMAIN]: 'shop' })));
    const after = await tierguard.metrics();
    for (const webhook of ['mutate', 'validate']) {
      const labels = { webhook, kind: 'Pod', operation: 'CREATE', allowed: 'true', dry_run: 'false' };
      expect(metricSum(after, REQUESTS, labels) - metricSum(before, REQUESTS, labels), `${webhook} Pod CREATE`).toBe(2);
    }
    expect((await json(['get', 'replicasets', '--namespace=shop'])).items).toHaveLength(1);
  });

  it('refuses a Pod the ReplicaSet controller creates when a guardrail added since forbids it, and the ReplicaSet says why', async () => {
    await cluster.apply(namespace('strict', { [DOMAIN]: 'strict' }));
    const replicaSet = {
      apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'batch', namespace: 'strict' },
      spec: { replicas: 0, selector: { matchLabels: { app: 'web' } }, template },
    };
    expect(await apply(replicaSet)).toMatchObject({ code: 0, stderr: '' });
    const guardrail = {
      apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', metadata: { name: 'strict-team' },
      spec: { tier: 'security', priority: 50, labels: { match: { resources: ['Pod'], namespaces: { matchLabels: { 'kubernetes.io/metadata.name': 'strict' } } }, required: [{ key: 'team' }] } },
    };
    expect(await apply(guardrail)).toMatchObject({ code: 0, stderr: '' });
    expect((await kubectl(['wait', '--for=condition=Ready', '--timeout=30s', 'guardrail/strict-team'])).code).toBe(0);

    // The scale subresource is not sent to tierguard; the Pods the controller then creates are.
    expect((await kubectl(['scale', 'replicaset', 'batch', '--replicas=1', '--namespace=strict'])).code).toBe(0);
    const failure = await waitFor(async () => {
      const conditions: Array<{ type: string; message: string }> = (await json(['get', 'replicaset', 'batch', '--namespace=strict'])).status.conditions ?? [];
      return conditions.find((condition) => condition.type === 'ReplicaFailure')?.message;
    }, { what: 'the ReplicaFailure condition of ReplicaSet batch', timeoutMs: 30_000, intervalMs: 200 });
    // The API server has generated the Pod's name (batch-xxxxx) by the time it asks tierguard.
    expect(failure.replace(/batch-[a-z0-9]{5} /, 'batch-NAME ')).toContain([
      'admission webhook "validate.tierguard.dev" denied the request: Pod strict/batch-NAME is denied by tierguard (1 violation):',
      '- metadata.labels[team]: missing required label team (tier security, guardrail strict-team)',
    ].join('\n'));
    expect((await json(['get', 'pods', '--namespace=strict'])).items).toEqual([]);
  });

  // A namespace opting into segmentation after its workloads exist (README: Starter guardrails).
  // The Deployment's template has no domain label; its ReplicaSets must not have one injected
  // either, or the Deployment controller no longer recognises them as its own and makes new ones
  // without end. The Pods get the label when they are created.
  it('scales a Deployment created before its namespace opted in with one ReplicaSet, its Pods labelled', async () => {
    await cluster.apply(namespace('late'));
    expect(await apply(deployment({ namespace: 'late', replicas: 0 }))).toMatchObject({ code: 0, stderr: '' });
    expect((await kubectl(['label', 'namespace', 'late', `${DOMAIN}=late`])).code).toBe(0);
    try {
      expect((await kubectl(['scale', 'deployment', 'web', '--replicas=2', '--namespace=late'])).code).toBe(0);
      const pods = await waitForPods('late', 2);
      expect(pods).toEqual(pods.map(() => expect.objectContaining({ [DOMAIN]: 'late' })));
      const replicaSets = (await json(['get', 'replicasets', '--namespace=late'])).items;
      const status = (await json(['get', 'deploy', 'web', '--namespace=late'])).status;
      const why = `ReplicaSet templates ${JSON.stringify(replicaSets.map((rs: any) => rs.spec.template.metadata.labels))}, not the Deployment's ${JSON.stringify(template.metadata.labels)}`;
      expect({ replicaSets: replicaSets.length, collisionCount: status.collisionCount ?? 0 }, why).toEqual({ replicaSets: 1, collisionCount: 0 });
    } finally {
      // A runaway Deployment controller would load the machine until the cluster stops.
      await kubectl(['delete', 'deployment', 'web', '--namespace=late', '--wait=false']);
    }
  });
});
