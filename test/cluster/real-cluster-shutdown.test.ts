/**
 * A replica stopped soon after its first start with many Guardrails (a rolling update right after
 * `kubectl create -f` of a large policy folder) has a long queue of status writes. It stops
 * without working through it: the writes not yet started are dropped, and the replica that leads
 * next writes every condition the objects do not carry. Against a real kube-apiserver.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CLUSTER_START_TIMEOUT_MS, startCluster, startTierguard, waitFor, type TestCluster } from '../helpers/kube-cluster.js';
import { describeCluster } from '../helpers/describe-cluster.js';

const API = 'tierguard.dev/v1alpha1';
const GUARDRAILS = 300;

describeCluster('a replica stopped with status writes queued', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster();
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('stops at once, dropping the writes not yet started, and the next replica writes them', async () => {
    const objects = [
      { apiVersion: API, kind: 'Tier', metadata: { name: 'security' }, spec: { priority: 100 } },
      ...Array.from({ length: GUARDRAILS }, (_, i) => ({
        apiVersion: API, kind: 'Guardrail', metadata: { name: `team-label-${i}` },
        spec: { tier: 'security', priority: i + 1, labels: { match: { resources: ['Pod'] }, required: [{ key: `team-${i}` }] } },
      })),
    ];
    const created = await cluster.kubectl(['create', '-f', '-'], { input: objects.map((object) => stringify(object)).join('---\n') });
    expect(created.code, created.stderr).toBe(0);

    const first = await startTierguard(cluster);
    await first.waitReady(60_000, 10);
    await first.stop();
    expect(await first.process.exited).toEqual({ code: 0, signal: null });
    const lines = first.logs().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { msg: string });
    const stopAt = lines.findIndex((line) => line.msg === 'shutting down');
    expect(stopAt).toBeGreaterThan(-1);
    const writtenBefore = lines.slice(0, stopAt).filter((line) => line.msg === 'status written').length;
    const writtenAfter = lines.slice(stopAt).filter((line) => line.msg === 'status written').length;
    // At most the write in progress when the stop came; the queue held the rest of the 301.
    expect(writtenAfter).toBeLessThanOrEqual(1);
    expect(writtenBefore + writtenAfter).toBeLessThan(GUARDRAILS);

    const next = await startTierguard(cluster);
    const notReady = async () => {
      const listed = await cluster.kubectl(['get', 'guardrails,tiers', '-o', 'json']);
      const items = (JSON.parse(listed.stdout) as { items: Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string }> } }> }).items;
      return items.filter((item) => !item.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True')).map((item) => item.metadata.name);
    };
    await waitFor(async () => (await notReady()).length === 0, { what: 'every Tier and Guardrail to carry Ready=True', timeoutMs: 60_000, intervalMs: 500 });
    await next.stop();
  }, 180_000);
});
