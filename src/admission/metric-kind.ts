/**
 * The `kind` label of the admission metrics. It comes from the request, so it is kept to the kinds
 * tierguard is registered for: anything else is `other`. A request naming a new kind (or a
 * megabyte-long one) on every call would otherwise add series without bound, in memory and in
 * every scrape of `/metrics`.
 */
import type { GroupVersionKind } from '../api/admission.js';
import { labelTargetsOf } from '../engine/targets.js';

/** Kinds the webhooks receive besides the checked ones: Namespaces, and Tier and Guardrail changes. */
const ALSO_RECEIVED = new Set(['/Namespace', 'tierguard.dev/Tier', 'tierguard.dev/Guardrail']);

export function metricKind(kind: Pick<GroupVersionKind, 'group' | 'kind'>): string {
  return labelTargetsOf(kind).length > 0 || ALSO_RECEIVED.has(`${kind.group}/${kind.kind}`) ? kind.kind : 'other';
}
