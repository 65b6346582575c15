/**
 * Tier and Guardrail objects from the cluster, as policy documents.
 *
 * Each object becomes one document whose source is `cluster:Guardrail/NAME` (document 1), so a
 * compile problem names the object it belongs to and its status can be written back. The
 * document keeps what the schema reads (apiVersion, kind, name, labels, generation, spec);
 * status, managedFields and annotations are dropped, so a status write is not a policy change.
 */
import type { ManifestDocument } from '../policy/manifests.js';
import { CLUSTER_SOURCE_PREFIX, type SourceRef } from '../policy/problems.js';
import { POLICY_API_VERSION } from '../policy/schema.js';
import type { Logger } from '../telemetry/logger.js';
import type { BackoffOptions } from './backoff.js';
import type { KubeClient } from './kube-client.js';
import { startResilientWatch, type ResilientWatch, type WatchChange } from './resilient-watch.js';

export type PolicyKind = 'Tier' | 'Guardrail';

/** Collection paths of tierguard's resources. */
export const POLICY_PATHS: Readonly<Record<PolicyKind, string>> = {
  Tier: '/apis/tierguard.dev/v1alpha1/tiers',
  Guardrail: '/apis/tierguard.dev/v1alpha1/guardrails',
};

/** `metav1.Condition` of type Ready, as tierguard writes it. */
export interface ReadyCondition {
  readonly type: 'Ready';
  readonly status: 'True' | 'False';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime?: string;
}

export interface ClusterPolicyObject {
  readonly kind: PolicyKind;
  readonly name: string;
  /** `metadata.generation`: bumped by the API server on every spec change. */
  readonly generation: number;
  /** `metadata.creationTimestamp` (RFC 3339, second precision); objects are ordered by it, so the older of two conflicting ones wins. */
  readonly created: string;
  readonly document: ManifestDocument;
  /** The Ready condition the object carries now. */
  readonly ready?: ReadyCondition;
  /** Identity of what is compiled; equal fingerprints mean a status-only or metadata-only change. */
  readonly fingerprint: string;
}

/** Where problems of a cluster object point: `{file: 'cluster:Guardrail/NAME', document: 1}`. */
export function clusterSource(kind: PolicyKind, name: string): SourceRef {
  return { file: `${CLUSTER_SOURCE_PREFIX}${kind}/${name}`, document: 1 };
}

/** The compiled view of a raw Tier or Guardrail; undefined when it has no name. */
export function decodePolicyObject(kind: PolicyKind, raw: unknown): ClusterPolicyObject | undefined {
  const object = raw as { metadata?: { name?: unknown; generation?: unknown; labels?: unknown; creationTimestamp?: unknown }; spec?: unknown; status?: { conditions?: unknown } } | null;
  const name = object?.metadata?.name;
  if (typeof name !== 'string' || name === '') return undefined;
  const generation = typeof object?.metadata?.generation === 'number' ? object.metadata.generation : 0;
  const labels = object?.metadata?.labels;
  const value = { apiVersion: POLICY_API_VERSION, kind, metadata: { name, ...(labels ? { labels } : {}), ...(generation ? { generation } : {}) }, spec: object?.spec };
  const conditions = Array.isArray(object?.status?.conditions) ? (object.status.conditions as ReadyCondition[]) : [];
  const ready = conditions.find((condition) => condition?.type === 'Ready');
  const created = typeof object?.metadata?.creationTimestamp === 'string' ? object.metadata.creationTimestamp : '';
  return { kind, name, generation, created, document: { source: clusterSource(kind, name), value }, fingerprint: JSON.stringify(value), ...(ready ? { ready } : {}) };
}

/** Oldest first, ties by name: when two objects conflict, the later one is left out. */
export function inCreationOrder<T extends Pick<ClusterPolicyObject, 'created' | 'name'>>(objects: readonly T[]): T[] {
  const key = (object: T) => `${object.created}\u0000${object.name}`;
  return [...objects].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

export interface ClusterPoliciesOptions {
  readonly client: KubeClient;
  readonly logger: Logger;
  readonly backoff?: BackoffOptions;
  /** The documents of one kind, sorted by name, after its first list and after each change to what is compiled. */
  readonly onDocuments: (kind: PolicyKind, documents: readonly ManifestDocument[]) => void;
}

export interface ClusterPolicies {
  /** One watch per kind, Tier then Guardrail. */
  readonly watches: readonly ResilientWatch[];
  /** Every object held now, with its current Ready condition. */
  objects(): ClusterPolicyObject[];
  stop(): void;
}

/** Watches Tier and Guardrail objects; each kind reports its documents through `onDocuments`. */
export function watchClusterPolicies(options: ClusterPoliciesOptions): ClusterPolicies {
  const held: Record<PolicyKind, Map<string, ClusterPolicyObject>> = { Tier: new Map(), Guardrail: new Map() };
  const emit = (kind: PolicyKind): void => {
    options.onDocuments(kind, inCreationOrder([...held[kind].values()]).map((object) => object.document));
  };
  const onChange = (kind: PolicyKind) => (change: WatchChange<ClusterPolicyObject>): void => {
    const objects = held[kind];
    if (change.type === 'SYNC') {
      objects.clear();
      for (const object of change.items) objects.set(object.name, object);
      emit(kind);
      return;
    }
    const { object } = change;
    const previous = objects.get(object.name);
    if (change.type === 'DELETED') objects.delete(object.name);
    else objects.set(object.name, object);
    if (change.type === 'DELETED' || previous?.fingerprint !== object.fingerprint) emit(kind);
  };
  const watches = (['Tier', 'Guardrail'] as const).map((kind) => startResilientWatch({
    client: options.client,
    path: POLICY_PATHS[kind],
    decode: (raw) => decodePolicyObject(kind, raw),
    onChange: onChange(kind),
    logger: options.logger,
    ...(options.backoff ? { backoff: options.backoff } : {}),
  }));
  return {
    watches,
    objects: () => [...held.Tier.values(), ...held.Guardrail.values()],
    stop: () => { for (const watch of watches) watch.stop(); },
  };
}
