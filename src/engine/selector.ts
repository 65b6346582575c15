import type { LabelSelector, Labels } from '../api/kube.js';

/** A compiled label selector: true when `labels` are selected. */
export type LabelMatcher = (labels: Labels) => boolean;

const matchAll: LabelMatcher = () => true;

/**
 * Compiles a `metav1.LabelSelector` with Kubernetes semantics: all terms are ANDed; an empty
 * selector matches everything; `NotIn` and `DoesNotExist` match objects that lack the key.
 * The selector must already be validated (In/NotIn carry values, Exists/DoesNotExist none).
 *
 * @example compileSelector({ matchLabels: { env: 'prod' } })({ env: 'prod', team: 'a' }) // true
 */
export function compileSelector(selector: LabelSelector | undefined): LabelMatcher {
  const terms: LabelMatcher[] = [];
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    terms.push((labels) => hasOwn(labels, key) && labels[key] === value);
  }
  for (const { key, operator, values = [] } of selector?.matchExpressions ?? []) {
    const allowed = new Set(values);
    switch (operator) {
      case 'In':
        terms.push((labels) => hasOwn(labels, key) && allowed.has(labels[key] as string));
        break;
      case 'NotIn':
        terms.push((labels) => !hasOwn(labels, key) || !allowed.has(labels[key] as string));
        break;
      case 'Exists':
        terms.push((labels) => hasOwn(labels, key));
        break;
      case 'DoesNotExist':
        terms.push((labels) => !hasOwn(labels, key));
        break;
    }
  }
  if (terms.length === 0) return matchAll;
  if (terms.length === 1) return terms[0] as LabelMatcher;
  // A loop, not `terms.every(...)`, whose callback was a closure made at every call.
  return (labels) => {
    for (let i = 0; i < terms.length; i++) if (!(terms[i] as LabelMatcher)(labels)) return false;
    return true;
  };
}

function hasOwn(labels: Labels, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(labels, key);
}
