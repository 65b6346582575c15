/**
 * Faults of the cluster policy runtime that a real API server cannot be made to produce on
 * demand, against the fake API server: watches that fail to list, and a watch that lags behind
 * an object just created. What users see in a cluster
 * (swaps, the lifecycle, status conditions, namespace labels) is tested against a real
 * kube-apiserver in real-cluster-*.test.ts.
 */
import { rmSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPolicyRuntime, type PolicyRuntime } from '../../src/cluster/policy-runtime.js';
import { checkPolicyChange } from '../../src/policy/admit.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../../src/telemetry/metrics.js';
import { startFakeApiServer, type FakeApiServer, type FakeObject } from '../helpers/fake-apiserver.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait-for.js';
import { FAST_BACKOFF, sleep } from './support.js';

let certs: TestCertificates;
let fake: FakeApiServer;
let runtime: PolicyRuntime | undefined;
let metrics: Metrics;
const dirs: string[] = [];

beforeAll(() => { certs = testCertificates(); });
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
  await fake?.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const tier = (name = 'security', priority = 100): FakeObject => ({ apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name }, spec: { priority } });
async function start(setup: (server: FakeApiServer) => void, configPaths: string[] = []): Promise<PolicyRuntime> {
  fake = await startFakeApiServer({ certificates: certs });
  setup(fake);
  metrics = createMetrics();
  runtime = startPolicyRuntime({ configPaths, kubeConfig: fake.kubeConfig(), metrics, logger: silentLogger, debounceMs: 10, backoff: FAST_BACKOFF });
  return runtime;
}

/**
 * Ready, and every watch connected: the fake holds back only events for open watches (one opened
 * later replays what it missed), so a test pausing them must wait for all four.
 */
async function waitForOpenWatches(source: PolicyRuntime): Promise<void> {
  await waitFor(() => source.ready() && fake.openWatches >= source.watches.length, { what: 'readiness and every watch open' });
}

async function reloads(result: 'success' | 'failure'): Promise<number> {
  return (await metrics.reloads.get()).values.find((value) => value.labels.result === result)?.value ?? 0;
}

describe('cluster policy runtime', () => {
  it('is ready only once every watch has listed and a policy set is compiled', async () => {
    const source = await start((server) => {
      server.create('tiers', tier());
      server.failNext({ pathPrefix: '/api/v1/namespaces', status: 503, count: 1000 });
    });
    expect(source.ready()).toBe(false);
    await waitFor(() => source.policy() !== undefined, { what: 'the first compile' });
    await sleep(50);
    expect(source.watches.map((watch) => watch.synced)).toEqual([true, true, false, true]);
    expect(source.ready()).toBe(false);
    fake.clearFailures();
    await waitFor(() => source.ready(), { what: 'readiness' });
    expect(source.watches.every((watch) => watch.synced)).toBe(true);
  });

  it('does not compile before the policy watches have listed', async () => {
    const source = await start((server) => {
      server.create('tiers', tier());
      server.failNext({ pathPrefix: '/apis/tierguard.dev/v1alpha1/guardrails', status: 500, count: 1000 });
    });
    await waitFor(() => source.watches[2]?.synced === true && source.watches[0]?.synced === true, { what: 'the other watches' });
    await sleep(50);
    expect(source.policy()).toBeUndefined();
    expect(await reloads('success')).toBe(0);
    fake.clearFailures();
    await waitFor(() => source.ready(), { what: 'readiness' });
  });

  it('settles a Tier priority conflict that admission missed while the watch lagged: the newer Tier stays out of force and says why', async () => {
    const source = await start(() => {});
    await waitForOpenWatches(source);

    // `first` is stored, but tierguard's watch has not delivered it yet.
    fake.pauseWatches();
    fake.create('tiers', tier('first', 800));
    // Admission judges `second` on what the watches have seen: no clash, so it is admitted.
    const judged = checkPolicyChange(await source.currentPolicyDocuments(), { operation: 'CREATE', object: tier('second', 800), oldObject: null });
    expect(judged.problems).toEqual([]);
    fake.create('tiers', tier('second', 800));
    fake.resumeWatches();

    await waitFor(() => source.source.latest()?.outcomes.get('cluster:Tier/second')?.state === 'out', { what: 'the newer Tier out of force' });
    const outcome = source.source.latest()?.outcomes.get('cluster:Tier/second');
    expect(outcome?.state === 'out' && outcome.problems.map((problem) => problem.message)).toEqual([
      expect.stringMatching(/^priority 800 is already used by tier first \(cluster:Tier\/first#1\); tier priorities must be unique$/),
    ]);
    expect(source.source.latest()?.outcomes.get('cluster:Tier/first')).toEqual({ state: 'latest' });
    expect(source.policy()?.tiers.map((t) => t.name)).toEqual(['first']);

    // Once the watch has caught up, the same admission refuses it.
    const again = checkPolicyChange(await source.currentPolicyDocuments(), { operation: 'CREATE', object: tier('third', 800), oldObject: null });
    expect(again.problems.map((problem) => problem.message)).toEqual([expect.stringContaining('priority 800 is already used by tier first')]);
  });

  it('refuses deleting a Tier that a Guardrail the watch has not delivered yet names: a Tier DELETE reads the Guardrails as stored', async () => {
    const guardrail = (name: string, tierName: string): FakeObject => ({
      apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', metadata: { name },
      spec: { tier: tierName, priority: 10, subject: { namespaces: {} }, ingress: [{ name: 'deny-dev', action: 'Deny', from: [{ namespaces: { matchLabels: { env: 'dev' } } }] }] },
    });
    const source = await start((server) => server.create('tiers', tier('doomed', 300)));
    await waitForOpenWatches(source);

    fake.pauseWatches();
    fake.create('guardrails', guardrail('late', 'doomed'));
    const deletion = { kind: 'Tier', operation: 'DELETE' } as const;
    const judged = checkPolicyChange(await source.currentPolicyDocuments(deletion), { operation: 'DELETE', object: null, oldObject: tier('doomed', 300) });
    expect(judged.problems.map((problem) => `${problem.object}: ${problem.path}: ${problem.message}`)).toEqual(['Guardrail late: spec.tier: still names tier "doomed"; delete or move it first']);
    // The watched documents alone would have let it through.
    const watched = checkPolicyChange(await source.currentPolicyDocuments(), { operation: 'DELETE', object: null, oldObject: tier('doomed', 300) });
    expect(watched.problems).toEqual([]);

    // When that read fails, nothing is judged on a guess: the caller refuses (the handler answers 500).
    fake.failNext({ pathPrefix: '/apis/tierguard.dev/v1alpha1/guardrails', status: 503, count: 1 });
    await expect(source.currentPolicyDocuments(deletion)).rejects.toThrow();
    fake.resumeWatches();
  });
});
