import { NAMESPACE_NAME_LABEL, type NamespaceInfo } from '../api/kube.js';

/**
 * Where namespace labels come from. Standalone, from Namespace objects in `--config` (and, for
 * `check`, in the manifests); in a cluster, from a watch cache. A lookup may answer later
 * (a direct API read for a namespace the cache has not seen yet).
 */
export interface NamespaceLookup {
  get(name: string): NamespaceInfo | undefined | Promise<NamespaceInfo | undefined>;
  /** Every namespace known now; the same array until something changes (the engine memoizes on it). */
  list(): readonly NamespaceInfo[];
}

/** A lookup over a fixed list of namespaces. */
export function staticNamespaceLookup(namespaces: readonly NamespaceInfo[]): NamespaceLookup {
  const byName = new Map(namespaces.map((namespace) => [namespace.name, namespace]));
  return { get: (name) => byName.get(name), list: () => namespaces };
}

/** The labels to evaluate for a namespace: its own, or only its name label when it is unknown. */
export function namespaceLabels(name: string, info: NamespaceInfo | undefined): Readonly<Record<string, string>> {
  return info ? info.labels : { [NAMESPACE_NAME_LABEL]: name };
}
