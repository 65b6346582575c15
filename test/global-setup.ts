/**
 * vitest globalSetup:
 * - says once, plainly, whether the tests against a real control plane run. They need the envtest
 *   binaries named by KUBEBUILDER_ASSETS (test/helpers/kube-cluster.ts); without it every
 *   `describeCluster` suite is skipped, and .ci/run fails.
 * - gives the run one temporary directory (TMPDIR, which `os.tmpdir()` reads, in the test
 *   processes and in the servers they start) and removes it when the run ends: the certificates,
 *   private keys, policy files and kubeconfigs the tests write do not pile up in /tmp.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (!assets) {
    process.stderr.write('\ncluster tests skipped: KUBEBUILDER_ASSETS is not set (export KUBEBUILDER_ASSETS=$(../shared/kube/setup.sh); see docs/development.md, "Testing")\n\n');
  } else {
    const missing = ['etcd', 'kube-apiserver'].filter((name) => !existsSync(path.join(assets, name)));
    const state = missing.length === 0 ? 'run' : `will fail: ${missing.join(' and ')} missing there`;
    process.stderr.write(`\ncluster tests ${state}: KUBEBUILDER_ASSETS=${assets}\n\n`);
  }
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-tests-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = runDir;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(runDir, { recursive: true, force: true });
  };
}
