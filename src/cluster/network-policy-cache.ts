/**
 * The NetworkPolicies of the cluster (the application layer of DESIGN §2), from a watch.
 * Each is kept as `{apiVersion, kind, metadata: {name, namespace, uid, labels}, spec}`; status,
 * managedFields and annotations are dropped. Nothing in the admission path reads them: they are
 * here for whole-cluster checks (what a guardrail change would shadow or break) and for the
 * background audit, which subscribes to their changes.
 */
import type { KubeObject } from '../api/kube.js';
import type { Logger } from '../telemetry/logger.js';
import type { BackoffOptions } from './backoff.js';
import type { KubeClient } from './kube-client.js';
import { startResilientWatch, type ResilientWatch, type WatchChange } from './resilient-watch.js';

export interface NetworkPolicyCacheOptions {
  readonly client: KubeClient;
  readonly logger: Logger;
  readonly backoff?: BackoffOptions;
}

export interface NetworkPolicyCache {
  readonly watch: ResilientWatch;
  /** Every NetworkPolicy held; the same array until one changes. */
  list(): readonly KubeObject[];
  /** Calls `listener` after every change from now on, held state already updated; returns the unsubscribe. */
  subscribe(listener: (change: WatchChange<KubeObject>) => void): () => void;
  stop(): void;
}

/** The trimmed NetworkPolicy; undefined without a name and namespace. */
export function compactNetworkPolicy(raw: unknown): KubeObject | undefined {
  const object = raw as { metadata?: { name?: unknown; namespace?: unknown; uid?: unknown; labels?: unknown }; spec?: unknown } | null;
  const { name, namespace, uid, labels } = object?.metadata ?? {};
  if (typeof name !== 'string' || typeof namespace !== 'string' || !name || !namespace) return undefined;
  return Object.freeze({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace, ...(typeof uid === 'string' ? { uid } : {}), ...(labels && typeof labels === 'object' ? { labels: labels as Record<string, string> } : {}) },
    spec: object?.spec ?? {},
  });
}

/** Starts watching NetworkPolicies in every namespace. */
export function createNetworkPolicyCache(options: NetworkPolicyCacheOptions): NetworkPolicyCache {
  const held = new Map<string, KubeObject>();
  const listeners = new Set<(change: WatchChange<KubeObject>) => void>();
  let listed: readonly KubeObject[] | undefined;
  const key = (policy: KubeObject): string => `${policy.metadata?.namespace}/${policy.metadata?.name}`;
  const onChange = (change: WatchChange<KubeObject>): void => {
    if (change.type === 'SYNC') {
      held.clear();
      for (const policy of change.items) held.set(key(policy), policy);
    } else if (change.type === 'DELETED') {
      held.delete(key(change.object));
    } else {
      held.set(key(change.object), change.object);
    }
    listed = undefined;
    for (const listener of listeners) listener(change);
  };
  const watch = startResilientWatch({
    client: options.client,
    path: '/apis/networking.k8s.io/v1/networkpolicies',
    decode: compactNetworkPolicy,
    onChange,
    logger: options.logger,
    ...(options.backoff ? { backoff: options.backoff } : {}),
  });
  return {
    watch,
    list() {
      listed ??= Object.freeze([...held.values()]);
      return listed;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop: () => watch.stop(),
  };
}
