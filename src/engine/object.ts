/** Defensive reads of untrusted admission objects: wrong shapes become `InvalidObjectError`, never a crash. */

/** The object in a request is not a well-formed Kubernetes object (a 400, not a violation). */
export class InvalidObjectError extends Error {
  constructor(readonly path: string, reason: string) {
    super(`${path}: ${reason}`);
    this.name = 'InvalidObjectError';
  }
}

export type PlainObject = Record<string, unknown>;

export function isPlainObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The object at `path` under `root`, `undefined` when some step is absent or null.
 * @throws InvalidObjectError when a step exists but is not an object.
 */
export function objectAt(root: unknown, path: readonly string[]): PlainObject | undefined {
  let current: unknown = root;
  for (let i = 0; i < path.length; i++) {
    if (!isPlainObject(current)) {
      throw new InvalidObjectError(path.slice(0, i).join('.') || 'object', 'expected an object');
    }
    current = current[path[i] as string];
    if (current === undefined || current === null) return undefined;
  }
  if (!isPlainObject(current)) throw new InvalidObjectError(path.join('.') || 'object', 'expected an object');
  return current;
}

/**
 * The labels of the metadata object at `metadataPath`, `{}` when absent.
 * @throws InvalidObjectError when labels are not a map of strings.
 */
export function labelsAt(root: unknown, metadataPath: readonly string[]): Record<string, string> {
  const metadata = objectAt(root, metadataPath);
  const labels = metadata?.labels;
  if (labels === undefined || labels === null) return {};
  const where = () => [...metadataPath, 'labels'].join('.');
  if (!isPlainObject(labels)) throw new InvalidObjectError(where(), 'expected a map of strings');
  for (const key of Object.keys(labels)) {
    if (typeof labels[key] !== 'string') throw new InvalidObjectError(`${where()}[${key}]`, 'expected a string value');
  }
  return labels as Record<string, string>;
}

/** `spec.ingress[0].from[1]` from `['spec', 'ingress', 0, 'from', 1]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const step of path) {
    if (typeof step === 'number') out += `[${step}]`;
    else if (typeof step === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(step)) out += out ? `.${step}` : step;
    else out += `[${String(step)}]`;
  }
  return out;
}
