/**
 * The namespace watch cache against the fake API server: what it keeps, relabelling, the stable
 * `list()` array, the one direct lookup for a namespace the watch has not delivered, and memory
 * per namespace at 10,000 namespaces.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKubeClient } from '../../src/cluster/kube-client.js';
import { compactNamespace, createNamespaceCache, type NamespaceCache } from '../../src/cluster/namespace-cache.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait-for.js';
import { FAST_BACKOFF } from './support.js';

let certs: TestCertificates;
let fake: FakeApiServer;
let cache: NamespaceCache | undefined;

beforeAll(() => { certs = testCertificates(); });
afterEach(async () => {
  cache?.stop();
  cache = undefined;
  await fake?.close();
});

async function startCache(setup: (server: FakeApiServer) => void = () => {}): Promise<NamespaceCache> {
  fake = await startFakeApiServer({ certificates: certs });
  setup(fake);
  cache = createNamespaceCache({ client: createKubeClient({ kubeConfig: fake.kubeConfig() }), logger: silentLogger, backoff: FAST_BACKOFF });
  await cache.watch.whenSynced;
  return cache;
}

const caughtUp = () => waitFor(() => cache?.watch.resourceVersion === String(fake.resourceVersion), { what: 'the cache to catch up' });

describe('compactNamespace', () => {
  it('keeps the name, the labels (name label forced) and only tierguard.dev/ annotations, frozen', () => {
    const info = compactNamespace({
      metadata: {
        name: 'payments',
        uid: 'u',
        labels: { env: 'prod', 'kubernetes.io/metadata.name': 'spoofed' },
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":true}', 'tierguard.dev/owner': 'team-a' },
        managedFields: [{ manager: 'kubectl' }],
      },
      status: { phase: 'Active' },
    });
    expect(info).toEqual({ name: 'payments', labels: { env: 'prod', 'kubernetes.io/metadata.name': 'payments' }, annotations: { 'tierguard.dev/owner': 'team-a' } });
    expect(Object.isFrozen(info) && Object.isFrozen(info?.labels) && Object.isFrozen(info?.annotations)).toBe(true);
    const plain = compactNamespace({ metadata: { name: 'a' } });
    const other = compactNamespace({ metadata: { name: 'b', annotations: { unrelated: 'x' } } });
    expect(plain?.annotations).toBe(other?.annotations);
    expect(compactNamespace({ metadata: {} })).toBeUndefined();
  });
});

describe('namespace cache', () => {
  it('sees a relabelled namespace at the next get and list; list() is the same array until something it keeps changes', async () => {
    const namespaces = await startCache((server) => { server.create('namespaces', { metadata: { name: 'payments', labels: { env: 'prod' } } }); });
    expect((await namespaces.get('payments'))?.labels.env).toBe('prod');
    const first = namespaces.list();
    expect(namespaces.list()).toBe(first);
    fake.update('namespaces', { metadata: { name: 'payments', labels: { env: 'prod' }, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } } });
    await caughtUp();
    expect(namespaces.list()).toBe(first);
    fake.update('namespaces', { metadata: { name: 'payments', labels: { env: 'dev' } } });
    await waitFor(() => namespaces.list() !== first, { what: 'the relabel' });
    expect((await namespaces.get('payments'))?.labels.env).toBe('dev');
    expect(namespaces.list().map((info) => info.labels.env)).toEqual(['dev']);
    fake.delete('namespaces', 'payments');
    await waitFor(() => namespaces.list().length === 0, { what: 'the deletion' });
  });

  it('reads a namespace the watch has not delivered once, for all concurrent callers, then answers from the cache', async () => {
    const namespaces = await startCache();
    fake.pauseWatches();
    fake.create('namespaces', { metadata: { name: 'late', labels: { env: 'prod' } } });
    const answers = await Promise.all(Array.from({ length: 5 }, () => namespaces.get('late')));
    expect(answers.map((info) => info?.labels.env)).toEqual(['prod', 'prod', 'prod', 'prod', 'prod']);
    expect(namespaces.get('late')).toBe(answers[0]);
    expect(namespaces.list().map((info) => info.name)).toEqual(['late']);
    expect(fake.count({ method: 'GET', path: '/api/v1/namespaces/late' })).toBe(1);
    fake.resumeWatches();
    await caughtUp();
    expect(fake.count({ method: 'GET', path: '/api/v1/namespaces/late' })).toBe(1);
  });

  it('answers undefined for a namespace the API server does not know, asking once, until the watch brings it', async () => {
    const namespaces = await startCache();
    expect(await Promise.all([namespaces.get('ghost'), namespaces.get('ghost'), namespaces.get('ghost')])).toEqual([undefined, undefined, undefined]);
    expect(await namespaces.get('ghost')).toBeUndefined();
    expect(fake.count({ method: 'GET', path: '/api/v1/namespaces/ghost' })).toBe(1);
    expect(namespaces.get('Not_A_Name')).toBeUndefined();
    expect(fake.requests.some((request) => request.path.includes('Not_A_Name'))).toBe(false);
    fake.create('namespaces', { metadata: { name: 'ghost', labels: { env: 'dev' } } });
    await waitFor(() => namespaces.list().length === 1, { what: 'the ADDED event' });
    expect((await namespaces.get('ghost'))?.labels.env).toBe('dev');
    expect(fake.count({ method: 'GET', path: '/api/v1/namespaces/ghost' })).toBe(1);
  });

  it('rejects when the direct read fails, so the failure mode decides, and asks again next time', async () => {
    const namespaces = await startCache();
    fake.pauseWatches();
    fake.create('namespaces', { metadata: { name: 'flaky' } });
    fake.failNext({ pathPrefix: '/api/v1/namespaces/flaky', status: 500 });
    await expect(namespaces.get('flaky')).rejects.toThrow(/cannot look up namespace flaky: GET \/api\/v1\/namespaces\/flaky: 500/);
    expect((await namespaces.get('flaky'))?.name).toBe('flaky');
    expect(fake.count({ method: 'GET', path: '/api/v1/namespaces/flaky' })).toBe(2);
  });

  it('keeps 10,000 namespaces with realistic labels in at most 1 KB each', async () => {
    const count = 10_000;
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const heap = () => { gc(); gc(); return process.memoryUsage().heapUsed; };
    fake = await startFakeApiServer({ certificates: certs });
    for (let i = 0; i < count; i += 1) fake.create('namespaces', realisticNamespace(i));
    const before = heap();
    cache = createNamespaceCache({ client: createKubeClient({ kubeConfig: fake.kubeConfig() }), logger: silentLogger, backoff: FAST_BACKOFF });
    await cache.watch.whenSynced;
    expect(cache.list()).toHaveLength(count);
    const perNamespace = (heap() - before) / count;
    const full = JSON.stringify(fake.get('namespaces', 'ns-00042')).length;
    console.info(`namespace cache: ${Math.round(perNamespace)} bytes of heap per namespace at ${count} namespaces (the full object is ${full} bytes of JSON)`);
    expect(perNamespace).toBeLessThanOrEqual(1024);
    expect((await cache.get('ns-00042'))?.labels).toMatchObject({ team: 'team-42', 'kubernetes.io/metadata.name': 'ns-00042' });
  });
});

/** A namespace as a real cluster has it: nine labels, last-applied annotation, managedFields. */
function realisticNamespace(i: number) {
  const name = `ns-${String(i).padStart(5, '0')}`;
  const labels: Record<string, string> = {
    'kubernetes.io/metadata.name': name,
    env: ['prod', 'staging', 'dev'][i % 3] as string,
    team: `team-${i % 200}`,
    'segment.tierguard.dev/domain': ['payments', 'core', 'edge', 'data', 'ml', 'web', 'ops', 'sec'][i % 8] as string,
    'app.kubernetes.io/part-of': `product-${i % 50}`,
    'cost-center': `cc-${1000 + (i % 400)}`,
    'pod-security.kubernetes.io/enforce': 'restricted',
    'istio-injection': i % 2 ? 'enabled' : 'disabled',
    owner: `owner-${i % 1500}`,
  };
  return {
    metadata: {
      name,
      labels,
      annotations: {
        'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }),
        'scheduler.alpha.kubernetes.io/node-selector': 'pool=general',
        ...(i % 10 === 0 ? { 'tierguard.dev/owner': `owner-${i % 1500}@example.com` } : {}),
      },
      managedFields: [{ manager: 'kubectl-client-side-apply', operation: 'Update', apiVersion: 'v1', time: '2026-01-01T00:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': Object.fromEntries(Object.keys(labels).map((key) => [`f:${key}`, {}])) } } }],
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}
