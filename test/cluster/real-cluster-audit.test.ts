/**
 * `tierguard audit` on what a real API server holds (issue 12): objects created while tierguard
 * was not there to judge them — a NetworkPolicy that overrides a tier's Deny, Pods that no
 * NetworkPolicy isolates — exported as docs/command-line.md says (`kubectl get ... -A -o yaml`) and audited
 * offline. The objects carry everything the API server adds (defaulted policyTypes, status,
 * managedFields), so this is the input users give the command.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO_DIR } from '../helpers/fixtures.js';
import { CLUSTER_START_TIMEOUT_MS, startCluster, type TestCluster } from '../helpers/kube-cluster.js';
import { describeCluster } from '../helpers/describe-cluster.js';

const CLI = path.join(REPO_DIR, 'dist', 'cli', 'main.js');
const DOMAIN = 'segment.tierguard.dev/domain';
const LABELS = { [DOMAIN]: 'payments', team: 'pay', 'data.tierguard.dev/classification': 'internal' };

const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'payments', labels: { app: 'api', ...LABELS } }, spec: { containers: [{ name: 'api', image: 'registry.example/api:1' }] } });
const networkPolicy = (name: string, spec: object) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: 'payments', labels: LABELS }, spec });

const EXAMPLES = path.join(REPO_DIR, 'examples', 'policies');

/** `tierguard audit -o json` of a file exported with kubectl (`-f`), or of the cluster itself (`--kubeconfig`). */
function audit(file: string, args: readonly string[] = ['-f', file, '--config', EXAMPLES]): Promise<{ code: number; report: any; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'audit', ...args, '-o', 'json'], { cwd: REPO_DIR, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, report: stdout ? JSON.parse(stdout) : undefined, stderr });
    });
  });
}

describeCluster('tierguard audit of what the API server holds', () => {
  let cluster: TestCluster;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-audit-'));

  /** docs/command-line.md's export command, into a file. */
  async function exportCluster(name: string): Promise<string> {
    const result = await cluster.kubectl(['get', 'namespaces,networkpolicies,pods,deployments,statefulsets,daemonsets,cronjobs', '-A', '-o', 'yaml']);
    if (result.code !== 0) throw new Error(`kubectl get: ${result.stderr}`);
    const file = path.join(dir, `${name}.yaml`);
    writeFileSync(file, result.stdout);
    return file;
  }

  beforeAll(async () => {
    cluster = await startCluster();
    await cluster.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments', labels: { env: 'prod', [DOMAIN]: 'payments' } } });
    for (const name of ['api-0', 'api-1', 'api-2']) await cluster.apply(pod(name));
    // Egress only, to anywhere: created with no webhook to refuse it.
    await cluster.apply(networkPolicy('egress-anywhere', { podSelector: {}, policyTypes: ['Egress'], egress: [{}] }));
    // No policyTypes: the API server defaults them to [Ingress, Egress] (it has egress rules), so
    // these pods are isolated both ways (no ingress rule: nothing in).
    await cluster.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ledger', labels: { env: 'prod', [DOMAIN]: 'payments' } } });
    await cluster.apply({ ...pod('ledger-0'), metadata: { ...pod('ledger-0').metadata, namespace: 'ledger' } });
    await cluster.apply({ ...networkPolicy('defaulted', { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }] }), metadata: { name: 'defaulted', namespace: 'ledger', labels: LABELS } });
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('names the NetworkPolicy that overrides a tier Deny, and the pods no NetworkPolicy isolates for Ingress', async () => {
    const { code, report, stderr } = await audit(await exportCluster('before'));
    expect(stderr).toBe('');
    expect(code).toBe(1);
    expect(report.results).toEqual([{
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace: 'payments', name: 'egress-anywhere', uid: expect.any(String),
      violations: [expect.objectContaining({ tier: 'security', guardrail: 'prod-egress', rule: 'no-internet', mode: 'Enforce', path: 'spec.egress[0]' })],
    }]);
    // payments: Egress only, so Ingress is open; ledger: isolated both ways by the defaulted policyTypes.
    expect(report.isolation).toEqual([
      { tier: 'security', guardrail: 'prod-isolation', mode: 'Enforce', namespace: 'payments', direction: 'Ingress', pods: 3, example: { app: 'api', ...LABELS } },
    ]);
    // Read from the API server directly, read-only: the same report.
    const direct = await audit('', ['--kubeconfig', cluster.kubeconfig.admin, '--config', EXAMPLES]);
    expect(direct).toEqual({ code: 1, report, stderr: '' });
  });

  it('with --kubeconfig and no --config, audits against the Tiers and Guardrails stored in the cluster', async () => {
    const applied = await cluster.kubectl(['apply', '-f', EXAMPLES]);
    expect(applied.code, applied.stderr).toBe(0);
    const fromFiles = await audit(await exportCluster('with-policies'));
    const fromCluster = await audit('', ['--kubeconfig', cluster.kubeconfig.admin]);
    expect(fromCluster.stderr).toBe('');
    expect(fromCluster.report.results).toEqual(fromFiles.report.results);
    expect(fromCluster.report.isolation).toEqual(fromFiles.report.isolation);
    expect(fromCluster.code).toBe(1);
  });

  it('passes once the NetworkPolicy is fixed and the pods are isolated both ways', async () => {
    expect((await cluster.kubectl(['delete', 'networkpolicy', 'egress-anywhere', '-n', 'payments'])).code).toBe(0);
    await cluster.apply(networkPolicy('api', {
      podSelector: { matchLabels: { app: 'api' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: {} }] }],
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }],
    }));
    const { code, report } = await audit(await exportCluster('after'));
    expect(report).toEqual({ results: [], isolation: [] });
    expect(code).toBe(0);
    expect(await audit('', ['--kubeconfig', cluster.kubeconfig.admin])).toEqual({ code: 0, report: { results: [], isolation: [] }, stderr: '' });
  });
});
