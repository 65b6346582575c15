/**
 * The AdmissionRequest the API server would send for creating an object read from a manifest
 * (or listed from a cluster): what `check` and `audit` review.
 */
import type { NamespaceInfo } from '../api/kube.js';
import { staticNamespaceLookup, type NamespaceLookup } from '../policy/namespaces.js';
import { namespaceInfo } from '../policy/read-document.js';
import type { ReviewRequest } from './resolve.js';
import { objectName } from './subject.js';

export interface ManifestObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { readonly name?: string; readonly generateName?: string; readonly namespace?: string };
}

/** Cluster-scoped kinds tierguard may meet in manifests; everything else defaults to namespace `default`. */
const CLUSTER_SCOPED = new Set(['Namespace', 'Node', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PersistentVolume', 'StorageClass', 'Tier', 'Guardrail', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'PriorityClass', 'IngressClass']);

/** The namespace an object of a manifest lives in: none for a cluster-scoped kind, `default` when it names none. */
export function manifestNamespace(object: ManifestObject): string {
  return CLUSTER_SCOPED.has(object.kind) ? '' : object.metadata?.namespace ?? 'default';
}

/** A CREATE by nobody in particular, not a dry run. A Namespace's request names itself, as the API server's does. */
export function createRequest(object: ManifestObject): ReviewRequest {
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] as string : '';
  const kind = { group, version: object.apiVersion.split('/').pop() as string, kind: object.kind };
  const namespace = object.kind === 'Namespace' ? objectName(object) : manifestNamespace(object);
  const name = typeof object.metadata?.name === 'string' && object.metadata.name ? { name: object.metadata.name } : {};
  return { kind, namespace, ...name, operation: 'CREATE', userInfo: {}, object, oldObject: null, dryRun: false };
}

/** The namespaces `known` (from policy files) and the Namespace objects among `objects`, which take precedence. */
export function manifestNamespaces(known: readonly NamespaceInfo[], objects: readonly unknown[]): NamespaceLookup {
  const namespaces = new Map(known.map((namespace) => [namespace.name, namespace]));
  for (const value of objects) {
    const object = value as { kind?: unknown; metadata?: { name?: unknown } } | null;
    if (object?.kind === 'Namespace' && typeof object.metadata?.name === 'string') {
      namespaces.set(object.metadata.name, namespaceInfo(value as Parameters<typeof namespaceInfo>[0]));
    }
  }
  return staticNamespaceLookup([...namespaces.values()]);
}
