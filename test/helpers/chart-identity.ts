/**
 * tierguard's identity in a test cluster as the chart grants it: the ServiceAccount, ClusterRole,
 * Role and bindings of `templates/rbac.yaml`, rendered by a real Helm and applied, and a
 * kubeconfig holding a token of that ServiceAccount (TokenRequest), for `serve --kubeconfig`.
 * tierguard then gets no more than an install grants it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_DIR } from './fixtures.js';
import { helm } from './helm.js';
import type { TestCluster } from './kube-cluster.js';

/** The release name the tests render the chart with: the ServiceAccount's and the Lease's name. */
export const CHART_RELEASE = 'tierguard';

/**
 * Applies the chart's RBAC for a release in `namespace` (which must exist), rendered with the
 * values `set` (`--set` pairs, e.g. `reports.format=openreports`); applying it again with other
 * values replaces the rules. The chart renders only with an image to run; none is pulled here.
 */
export async function applyChartRbac(cluster: TestCluster, namespace: string, set: readonly string[] = []): Promise<void> {
  const values = ['image.repository=registry.example.com/tierguard', ...set].flatMap((pair) => ['--set', pair]);
  const rendered = await helm(['template', CHART_RELEASE, path.join(REPO_DIR, 'charts', 'tierguard'), '--namespace', namespace, ...values, '--show-only', 'templates/rbac.yaml']);
  if (rendered.code !== 0) throw new Error(`helm template of rbac.yaml failed: ${rendered.stderr}`);
  await cluster.apply(rendered.stdout);
}

/** A kubeconfig file (in the cluster's directory) whose user is the chart's ServiceAccount, by a 2-hour token. */
export async function chartServiceAccountKubeconfig(cluster: TestCluster, namespace: string): Promise<string> {
  const token = await cluster.kubectl(['create', 'token', CHART_RELEASE, '-n', namespace, '--duration', '2h']);
  if (token.code !== 0) throw new Error(`kubectl create token failed: ${token.stderr}`);
  const file = path.join(mkdtempSync(path.join(cluster.dir, 'sa-')), 'kubeconfig');
  writeFileSync(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'sa',
    clusters: [{ name: 'test', cluster: { server: cluster.server, 'certificate-authority': cluster.caFile } }],
    users: [{ name: CHART_RELEASE, user: { token: token.stdout.trim() } }],
    contexts: [{ name: 'sa', context: { cluster: 'test', user: CHART_RELEASE } }],
  }), { mode: 0o600 });
  return file;
}
