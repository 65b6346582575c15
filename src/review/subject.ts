/** How an object under review is named in messages, logs and reports. */
import type { AdmissionRequest } from '../api/admission.js';
import { isNamespaceKind } from '../engine/targets.js';

/** The object's name; a Pod created by a controller has only `generateName` at admission. */
export function objectName(object: unknown, requestName?: string): string {
  const metadata = (object as { metadata?: { name?: unknown; generateName?: unknown } } | null)?.metadata;
  if (typeof metadata?.name === 'string' && metadata.name) return metadata.name;
  if (requestName) return requestName;
  return typeof metadata?.generateName === 'string' ? `${metadata.generateName}<generated>` : '<unnamed>';
}

/** `Pod payments/api-0` or `Namespace payments`, as the object is named in messages. */
export function describeObject(request: Pick<AdmissionRequest, 'kind' | 'namespace' | 'name' | 'object'>): string {
  const metadata = (request.object as { metadata?: { namespace?: unknown } } | null)?.metadata;
  // The API server sets request.namespace of a Namespace to its own name: it is in no namespace.
  const namespace = isNamespaceKind(request.kind) ? '' : request.namespace || (typeof metadata?.namespace === 'string' ? metadata.namespace : '');
  return `${request.kind.kind} ${namespace ? `${namespace}/` : ''}${objectName(request.object, request.name)}`;
}
