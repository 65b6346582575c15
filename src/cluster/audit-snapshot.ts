/**
 * What `tierguard audit --kubeconfig` reads from a cluster, once and read-only: every object it
 * audits, and the Tier and Guardrail objects. Lists are paged (cluster/paged-list.ts); the items
 * of a list carry no `apiVersion` and `kind`, which are put back, and `managedFields` are dropped.
 */
import type { ManifestDocument } from '../policy/manifests.js';
import type { ManifestObject } from '../review/manifest-request.js';
import { decodePolicyObject, inCreationOrder, POLICY_PATHS, type PolicyKind } from './cluster-policies.js';
import { KubeApiError, type KubeClient } from './kube-client.js';
import { listAll } from './paged-list.js';

/** The collections audited: what `kubectl get namespaces,networkpolicies,pods,deployments,...` lists, and the workloads' ReplicaSets and Jobs. */
export const AUDITED_COLLECTIONS: readonly { readonly path: string; readonly apiVersion: string; readonly kind: string }[] = [
  { path: '/api/v1/namespaces', apiVersion: 'v1', kind: 'Namespace' },
  { path: '/apis/networking.k8s.io/v1/networkpolicies', apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { path: '/api/v1/pods', apiVersion: 'v1', kind: 'Pod' },
  { path: '/apis/apps/v1/deployments', apiVersion: 'apps/v1', kind: 'Deployment' },
  { path: '/apis/apps/v1/statefulsets', apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { path: '/apis/apps/v1/daemonsets', apiVersion: 'apps/v1', kind: 'DaemonSet' },
  { path: '/apis/apps/v1/replicasets', apiVersion: 'apps/v1', kind: 'ReplicaSet' },
  { path: '/apis/batch/v1/jobs', apiVersion: 'batch/v1', kind: 'Job' },
  { path: '/apis/batch/v1/cronjobs', apiVersion: 'batch/v1', kind: 'CronJob' },
];

export interface ClusterSnapshot {
  readonly objects: readonly ManifestObject[];
  /** The Tier and Guardrail objects, oldest first (as the runtime resolves conflicts); none when the CRDs are not installed. */
  readonly policyDocuments: readonly ManifestDocument[];
}

export async function readClusterSnapshot(client: KubeClient): Promise<ClusterSnapshot> {
  const objects: ManifestObject[] = [];
  for (const collection of AUDITED_COLLECTIONS) {
    const list = await listAll({ client, path: collection.path, decode: (raw) => withKind(raw, collection) });
    objects.push(...list.items);
  }
  const policyDocuments: ManifestDocument[] = [];
  for (const kind of ['Tier', 'Guardrail'] as const) policyDocuments.push(...(await policyObjects(client, kind)));
  return { objects, policyDocuments };
}

/** A listed item with its `apiVersion` and `kind` put back and without `managedFields`. */
export function withKind(raw: unknown, collection: { apiVersion: string; kind: string }): ManifestObject | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { metadata, ...rest } = raw as { metadata?: Record<string, unknown> };
  const { managedFields: _managedFields, ...kept } = metadata ?? {};
  return { ...rest, apiVersion: collection.apiVersion, kind: collection.kind, metadata: kept } as ManifestObject;
}

async function policyObjects(client: KubeClient, kind: PolicyKind): Promise<ManifestDocument[]> {
  try {
    const list = await listAll({ client, path: POLICY_PATHS[kind], decode: (raw) => decodePolicyObject(kind, raw) });
    return inCreationOrder(list.items).map((object) => object.document);
  } catch (error) {
    // No CRDs, no Tiers or Guardrails: the policy set is the --config files alone.
    if (error instanceof KubeApiError && error.statusCode === 404) return [];
    throw error;
  }
}
