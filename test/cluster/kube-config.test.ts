/** Choosing the cluster: `--kubeconfig`, in-cluster, or none; errors say which and why. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../src/cluster/kube-config.js';
import { createKubeClient } from '../../src/cluster/kube-client.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';

let fake: FakeApiServer;
let dir: string;

beforeAll(async () => {
  fake = await startFakeApiServer();
  dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-kubeconfig-'));
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('loadKubeConfig', () => {
  it('means no cluster when neither --kubeconfig nor in-cluster is asked for', async () => {
    expect(await loadKubeConfig({})).toBeUndefined();
  });

  it('reads --kubeconfig and talks to its current cluster', async () => {
    const file = path.join(dir, 'config');
    writeFileSync(file, fake.kubeConfig().exportConfig());
    const kubeConfig = await loadKubeConfig({ kubeconfig: file, inCluster: true });
    fake.create('namespaces', { metadata: { name: 'payments' } });
    const answer = await createKubeClient({ kubeConfig: kubeConfig! }).get('/api/v1/namespaces/payments') as any;
    expect(answer.metadata.name).toBe('payments');
  });

  it.each([
    { name: 'a missing kubeconfig file', choice: { kubeconfig: '/nonexistent/kubeconfig' }, error: /cannot load --kubeconfig \/nonexistent\/kubeconfig/ },
    { name: 'in-cluster outside a cluster', choice: { inCluster: true }, error: /the in-cluster service account/ },
  ])('fails clearly for $name', async ({ choice, error }) => {
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    delete process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_PORT;
    try {
      await expect(loadKubeConfig(choice)).rejects.toThrow(error);
    } finally {
      if (saved.host !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.host;
      if (saved.port !== undefined) process.env.KUBERNETES_SERVICE_PORT = saved.port;
    }
  });
});
