/**
 * `describe` for suites that need a real control plane (kube-cluster.ts): titled `[cluster] …`, which
 * .ci/run counts, and skipped with the reason in its title when KUBEBUILDER_ASSETS is not set.
 */
import { describe } from 'vitest';
import { CLUSTER_SKIP_REASON, CLUSTER_SUITE_PREFIX, KUBE_ASSETS } from './kube-cluster.js';

/** `describe` when `KUBEBUILDER_ASSETS` is set, otherwise `describe.skip` with the reason in its title. */
export function describeCluster(name: string, fn: () => void): void {
  if (KUBE_ASSETS) describe(`${CLUSTER_SUITE_PREFIX} ${name}`, fn);
  else describe.skip(`${CLUSTER_SUITE_PREFIX} ${name} (skipped: ${CLUSTER_SKIP_REASON})`, fn);
}
