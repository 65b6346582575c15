/**
 * vitest globalSetup: says once, plainly, whether the tests against a real control plane run.
 * They need the envtest binaries named by KUBEBUILDER_ASSETS (test/helpers/kube-cluster.ts);
 * without it every `describeCluster` suite is skipped, and .ci/run fails.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export default function setup(): void {
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (!assets) {
    process.stderr.write('\ncluster tests skipped: KUBEBUILDER_ASSETS is not set (export KUBEBUILDER_ASSETS=$(../shared/kube/setup.sh); see docs/development.md, "Testing")\n\n');
    return;
  }
  const missing = ['etcd', 'kube-apiserver'].filter((name) => !existsSync(path.join(assets, name)));
  const state = missing.length === 0 ? 'run' : `will fail: ${missing.join(' and ')} missing there`;
  process.stderr.write(`\ncluster tests ${state}: KUBEBUILDER_ASSETS=${assets}\n\n`);
}
