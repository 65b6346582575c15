/**
 * Cluster mode end to end against the fake API server: Tier and Guardrail objects (plus
 * `--config` files) become the policy set of a real admission handler; readiness, hot swaps,
 * the last good set, status conditions written back, and namespace labels from the watch cache.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAdmissionHandler } from '../../src/admission/handler.js';
import { startPolicyRuntime, type PolicyRuntime } from '../../src/cluster/policy-runtime.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../../src/telemetry/metrics.js';
import { startFakeApiServer, type FakeApiServer, type FakeObject } from '../helpers/fake-apiserver.js';
import { review } from '../helpers/fixtures.js';
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
const teamLabel = (options: { name?: string; tier?: string; priority?: number } = {}): FakeObject => ({
  apiVersion: 'tierguard.dev/v1alpha1',
  kind: 'Guardrail',
  metadata: { name: options.name ?? 'team-label' },
  spec: { tier: options.tier ?? 'security', priority: options.priority ?? 10, labels: { match: { resources: ['Pod'], namespaces: { matchLabels: { env: 'prod' } } }, required: [{ key: 'team' }] } },
});

async function start(setup: (server: FakeApiServer) => void, configPaths: string[] = []): Promise<PolicyRuntime> {
  fake = await startFakeApiServer({ certificates: certs });
  setup(fake);
  metrics = createMetrics();
  runtime = startPolicyRuntime({ configPaths, kubeConfig: fake.kubeConfig(), metrics, logger: silentLogger, debounceMs: 10, backoff: FAST_BACKOFF });
  return runtime;
}

/** Validates the captured Pod CREATE in `payments` through a real admission handler wired to the runtime. */
async function validatePod(source: PolicyRuntime): Promise<{ allowed: boolean; message: string }> {
  const handler = createAdmissionHandler({ policy: source.policy, policyDocuments: source.policyDocuments, namespaces: source.namespaces, engine: { excludedNamespaces: new Set(['kube-system']) }, failureMode: 'deny', metrics, logger: silentLogger });
  const { review: answer } = await handler('validate', JSON.stringify(review('validate-create-pod')));
  return { allowed: answer.response?.allowed ?? false, message: answer.response?.status?.message ?? '' };
}

async function reloads(result: 'success' | 'failure'): Promise<number> {
  return (await metrics.reloads.get()).values.find((value) => value.labels.result === result)?.value ?? 0;
}

const readyOf = (name: string) => (fake.get('guardrails', name)?.status as any)?.conditions?.find((c: any) => c.type === 'Ready');

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

  it('swaps the policy set when a Guardrail is created, combining it with a Tier from --config; a request keeps the set it read', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-cluster-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'tiers.yaml'), 'apiVersion: tierguard.dev/v1alpha1\nkind: Tier\nmetadata: {name: security}\nspec: {priority: 100}\n');
    const source = await start((server) => { server.create('namespaces', { metadata: { name: 'payments', labels: { env: 'prod' } } }); }, [dir]);
    await waitFor(() => source.ready(), { what: 'readiness' });
    const before = source.policy();
    expect(before?.guardrails).toHaveLength(0);
    expect(await validatePod(source)).toMatchObject({ allowed: true });

    fake.create('guardrails', teamLabel());
    await waitFor(() => source.policy() !== before, { what: 'the swap' });
    expect(source.policy()?.generation).toBe(2);
    expect(source.policyDocuments().map((doc) => doc.source.file)).toEqual([path.join(dir, 'tiers.yaml'), 'cluster:Guardrail/team-label']);
    const denied = await validatePod(source);
    expect(denied.allowed).toBe(false);
    expect(denied.message).toContain('team-label');
    // The set a request read before the swap is untouched (immutable) and still whole.
    expect(before?.guardrails).toHaveLength(0);
    expect(Object.isFrozen(before)).toBe(true);
    expect(await reloads('success')).toBe(2);
  });

  it('sees a relabelled namespace at the next decision', async () => {
    const source = await start((server) => {
      server.create('tiers', tier());
      server.create('guardrails', teamLabel());
      server.create('namespaces', { metadata: { name: 'payments', labels: { env: 'prod' } } });
    });
    await waitFor(() => source.ready(), { what: 'readiness' });
    expect(await validatePod(source)).toMatchObject({ allowed: false });
    fake.update('namespaces', { metadata: { name: 'payments', labels: { env: 'dev' } } });
    await waitFor(() => source.namespaces.list()[0]?.labels.env === 'dev', { what: 'the relabel' });
    expect(await validatePod(source)).toMatchObject({ allowed: true });
  });

  it('keeps each object\'s last good version: a broken or orphaned Guardrail never holds back the others, and each status describes its own object', async () => {
    const source = await start((server) => {
      server.create('tiers', tier());
      server.create('guardrails', teamLabel());
    });
    await waitFor(() => readyOf('team-label')?.status === 'True' && fake.get('tiers', 'security')?.status !== undefined, { what: 'the first status writes' });
    expect(readyOf('team-label')).toMatchObject({ status: 'True', reason: 'Compiled', observedGeneration: 1, message: 'generation 1 is in force' });
    const good = source.policy();

    // A Guardrail whose Tier does not exist is out of force, and says why; the set in force is unchanged.
    fake.create('guardrails', teamLabel({ name: 'orphan', tier: 'nope' }));
    await waitFor(() => readyOf('orphan') !== undefined, { what: 'the orphan guardrail status' });
    expect(readyOf('orphan')).toMatchObject({ status: 'False', reason: 'TierNotFound', observedGeneration: 1, message: 'not in force: tier "nope" does not exist; this Guardrail comes into force when it is created' });
    expect(source.policy()).toBe(good);
    expect(await reloads('failure')).toBe(1);

    // Another object's change still takes effect.
    fake.update('guardrails', teamLabel({ priority: 20 }));
    await waitFor(() => readyOf('team-label')?.observedGeneration === 2, { what: 'the changed guardrail status' });
    expect(readyOf('team-label')).toMatchObject({ status: 'True', reason: 'Compiled', message: 'generation 2 is in force' });
    expect(source.policy()?.guardrails.find((guardrail) => guardrail.name === 'team-label')?.priority).toBe(20);

    // The Tier appears: the orphan comes into force by itself.
    fake.create('tiers', tier('nope', 200));
    await waitFor(() => readyOf('orphan')?.status === 'True', { what: 'the orphan in force' });
    expect(source.policy()?.guardrails.map((guardrail) => guardrail.name).sort()).toEqual(['orphan', 'team-label']);

    // An edit that breaks team-label leaves generation 2 enforcing, and its status says so.
    fake.update('guardrails', { ...teamLabel({ priority: 20 }), spec: { ...teamLabel().spec as object, priority: 20, labels: { match: { resources: ['Pod'] }, required: [{ key: '-bad' }] } } });
    await waitFor(() => readyOf('team-label')?.observedGeneration === 3, { what: 'the broken edit status' });
    expect(readyOf('team-label')).toMatchObject({ status: 'False', reason: 'Invalid' });
    expect(readyOf('team-label').message).toMatch(/^generation 3 is not in force: spec\.labels\.required\[0\]\.key: label key "-bad".*; generation 2 stays in force$/);
    const inForce = source.policy()?.guardrails.find((guardrail) => guardrail.name === 'team-label');
    expect(inForce?.priority).toBe(20);
    expect(inForce?.labels?.required.map((rule) => rule.key)).toEqual(['team']);
    expect(await validatePod(source)).toMatchObject({ allowed: true }); // the namespace is not env=prod
    expect(readyOf('orphan')).toMatchObject({ status: 'True' });

    // No write storm: status writes do not recompile, and a recompile writes nothing unchanged.
    await source.statusWrites();
    const patches = fake.statusPatches.length;
    const compiles = (await reloads('success')) + (await reloads('failure'));
    fake.update('guardrails', { ...(fake.get('guardrails', 'orphan') as FakeObject), metadata: { name: 'orphan', labels: { owner: 'sec' } } });
    await waitFor(async () => (await reloads('success')) + (await reloads('failure')) > compiles, { what: 'the recompile for the new label' });
    await source.statusWrites();
    expect(fake.statusPatches.length).toBe(patches);
    expect(fake.statusPatches.every((patch) => patch.patch.status.conditions.length === 1)).toBe(true);
  });
});

