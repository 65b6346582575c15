/**
 * Which cluster `serve` talks to: the file given with `--kubeconfig` (its current context), the
 * pod's service account when running in a cluster, or none (files only). The caller decides
 * whether it is in a cluster (the CLI looks at `KUBERNETES_SERVICE_HOST`); client-node then reads
 * the service account token file on every request, so rotated tokens are picked up.
 *
 * client-node is imported only here and only when a cluster is used, which a standalone server
 * never needs (./client-node.ts says what its loading costs).
 */
import type { KubeConfig } from './client-node.js';

export interface KubeConfigChoice {
  /** Path of a kubeconfig file (`--kubeconfig`); wins over `inCluster`. */
  readonly kubeconfig?: string;
  /** Use the pod's service account (in-cluster configuration). */
  readonly inCluster?: boolean;
}

/**
 * The KubeConfig to use, or undefined when tierguard runs without a cluster.
 * Throws, with the cause, when the kubeconfig cannot be read or has no current cluster.
 *
 * @example
 * const kubeConfig = await loadKubeConfig({ kubeconfig: options.kubeconfig, inCluster: options.inCluster });
 */
export async function loadKubeConfig(choice: KubeConfigChoice): Promise<KubeConfig | undefined> {
  if (!choice.kubeconfig && !choice.inCluster) return undefined;
  const { KubeConfig } = await import('./client-node.js');
  const kubeConfig = new KubeConfig();
  const where = choice.kubeconfig ? `--kubeconfig ${choice.kubeconfig}` : 'the in-cluster service account';
  try {
    if (choice.kubeconfig) kubeConfig.loadFromFile(choice.kubeconfig);
    else kubeConfig.loadFromCluster();
  } catch (error) {
    throw new Error(`cannot load ${where}: ${(error as Error).message}`, { cause: error });
  }
  const cluster = kubeConfig.getCurrentCluster();
  // loadFromCluster without KUBERNETES_SERVICE_HOST/PORT yields `https://undefined:undefined`.
  if (!cluster?.server || cluster.server.includes('undefined')) throw new Error(`cannot use ${where}: it names no API server (current context ${JSON.stringify(kubeConfig.getCurrentContext() ?? '')})`);
  return kubeConfig;
}
