import type { GroupVersionKind } from '../api/admission.js';
import type { RuleResource } from '../api/policy.js';
import { KIND_TYPES, type CelObjectKind } from './cel/index.js';

/** Where in an object of some kind the label rules for a resource apply. */
export interface LabelTarget {
  readonly resource: RuleResource;
  /** Path to the `metadata` object that holds the labels, e.g. `spec.template.metadata`. */
  readonly metadataPath: readonly string[];
}

const podTemplate = ['spec', 'template', 'metadata'] as const;
const cronJobTemplate = ['spec', 'jobTemplate', 'spec', 'template', 'metadata'] as const;

/**
 * Kinds tierguard checks, keyed by `group/kind`. Workloads are checked at their pod template so
 * that a missing label fails at `kubectl apply` of the workload, not later in ReplicaSet events.
 */
const targetsByKind: ReadonlyMap<string, readonly LabelTarget[]> = new Map([
  ['/Pod', [{ resource: 'Pod', metadataPath: ['metadata'] }]],
  ['apps/Deployment', [{ resource: 'Pod', metadataPath: podTemplate }]],
  ['apps/StatefulSet', [{ resource: 'Pod', metadataPath: podTemplate }]],
  ['apps/DaemonSet', [{ resource: 'Pod', metadataPath: podTemplate }]],
  ['apps/ReplicaSet', [{ resource: 'Pod', metadataPath: podTemplate }]],
  ['batch/Job', [{ resource: 'Pod', metadataPath: podTemplate }]],
  ['batch/CronJob', [{ resource: 'Pod', metadataPath: cronJobTemplate }]],
  ['networking.k8s.io/NetworkPolicy', [{ resource: 'NetworkPolicy', metadataPath: ['metadata'] }]],
  // Cluster-scoped: a Namespace's own labels are the namespace labels its rules select on.
  ['/Namespace', [{ resource: 'Namespace', metadataPath: ['metadata'] }]],
]);

/** The label targets of a kind; empty for kinds tierguard does not check. */
export function labelTargetsOf(kind: Pick<GroupVersionKind, 'group' | 'kind'>): readonly LabelTarget[] {
  return targetsByKind.get(`${kind.group}/${kind.kind}`) ?? [];
}

/** True for core `v1` Namespace objects, which are their own namespace. */
export function isNamespaceKind(kind: Pick<GroupVersionKind, 'group' | 'kind'>): boolean {
  return kind.group === '' && kind.kind === 'Namespace';
}

/** Every `group/kind` tierguard checks, for webhook rules and documentation. */
export function checkedKinds(): readonly string[] {
  return [...targetsByKind.keys()];
}

/** The kinds whose objects a rule on `resources` sees: a Pod rule also sees the workloads. */
export function objectKindsOf(resources: Iterable<RuleResource>): CelObjectKind[] {
  const wanted = new Set(resources);
  const kinds: CelObjectKind[] = [];
  for (const [key, targets] of targetsByKind) {
    const kind = key.slice(key.indexOf('/') + 1);
    if (!targets.some((target) => wanted.has(target.resource))) continue;
    if (!Object.hasOwn(KIND_TYPES, kind)) throw new Error(`targets: no CEL type for the kind ${kind}`);
    kinds.push(kind as CelObjectKind);
  }
  return kinds;
}

/** `spec.template.metadata.labels` of each metadata path seen (the targets' paths are constants). */
const labelsPaths = new WeakMap<readonly string[], string>();

/** A Kubernetes field path, e.g. `spec.template.metadata.labels[app]`. */
export function fieldPath(metadataPath: readonly string[], labelKey?: string): string {
  let base = labelsPaths.get(metadataPath);
  if (base === undefined) labelsPaths.set(metadataPath, (base = [...metadataPath, 'labels'].join('.')));
  return labelKey === undefined ? base : `${base}[${labelKey}]`;
}
