/**
 * A Namespace object is its own namespace: the namespace labels its rules select on are the
 * labels it is being created or updated with, not what a lookup remembers of it.
 */
import { NAMESPACE_NAME_LABEL } from '../api/kube.js';
import type { NamespaceContext } from './evaluate.js';
import { isPlainObject, labelsAt } from './object.js';

/**
 * The name of the namespace a Namespace request is about: the object's own name (which
 * `kubernetes.io/metadata.name` mirrors, and the webhook's namespaceSelector matches), else the
 * request's name or namespace, which the API server sets to the same value.
 */
export function namespaceObjectName(request: { readonly object?: unknown; readonly oldObject?: unknown; readonly name?: string; readonly namespace?: string }): string {
  for (const object of [request.object, request.oldObject]) {
    const name = isPlainObject(object) && isPlainObject(object.metadata) ? object.metadata.name : undefined;
    if (typeof name === 'string' && name) return name;
  }
  return request.name || request.namespace || '';
}

/**
 * The namespace context of a Namespace object: its labels (with `kubernetes.io/metadata.name`
 * always equal to the name) and its string annotations. An absent object gives only the name label.
 * @throws InvalidObjectError when its labels are not a map of strings.
 */
export function namespaceObjectContext(object: unknown, name: string): NamespaceContext {
  const labels = isPlainObject(object) ? labelsAt(object, ['metadata']) : {};
  return { name, labels: { ...labels, [NAMESPACE_NAME_LABEL]: name }, known: true, annotations: annotationsOf(object) };
}

function annotationsOf(object: unknown): Record<string, string> {
  const annotations = isPlainObject(object) && isPlainObject(object.metadata) ? object.metadata.annotations : undefined;
  if (!isPlainObject(annotations)) return {};
  return Object.fromEntries(Object.entries(annotations).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}
