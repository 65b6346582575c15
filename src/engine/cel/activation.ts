/**
 * The variables of one request, converted once for every expression evaluated on it.
 * JSON has a single number type; Kubernetes CEL sees integer fields as `int`. So every JSON
 * number without a fraction (within int64) becomes a bigint (CEL `int`): `port + 1` works and
 * `type(port) == int` holds; other numbers stay doubles.
 */

/** The ValidatingAdmissionPolicy variables, as plain JSON values received in the AdmissionReview. */
export interface CelActivation {
  object: unknown;
  /** null on CREATE (and on DELETE for `object`). */
  oldObject: unknown;
  /** The admission request: `operation`, `namespace`, `name`, `dryRun`, `userInfo`, `kind`, ... */
  request: unknown;
  /** The namespace (`metadata.name/labels/annotations`), null for cluster-scoped objects. */
  namespaceObject: unknown;
}

/** What `toCelActivation` returns; `evaluateCel` refuses anything else. */
export class PreparedCelActivation {
  constructor(readonly variables: Readonly<Record<string, unknown>>) {}
}

const INT64_MAX = 2 ** 63;

function convertScalar(value: unknown): unknown {
  if (typeof value === 'number' && Number.isInteger(value) && value >= -INT64_MAX && value < INT64_MAX) return BigInt(value);
  return value === undefined ? null : value;
}

/**
 * A converted deep copy of a JSON value: integers as bigint, objects as null-prototype maps (a
 * key like `__proto__` or `constructor` is only ever data), `undefined` members dropped.
 * Iterative, so any nesting depth is converted without recursion. The input is not modified.
 */
export function toCelValue(root: unknown): unknown {
  const pending: [source: unknown, target: Record<string, unknown> | unknown[]][] = [];
  const copy = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return convertScalar(value);
    const target: Record<string, unknown> | unknown[] = Array.isArray(value) ? new Array<unknown>(value.length) : Object.create(null);
    pending.push([value, target]);
    return target;
  };
  const result = copy(root);
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [source, target] = next;
    if (Array.isArray(source)) {
      for (let i = 0; i < source.length; i++) (target as unknown[])[i] = copy(source[i]);
      continue;
    }
    for (const key of Object.keys(source as object)) {
      const value = (source as Record<string, unknown>)[key];
      if (value !== undefined) (target as Record<string, unknown>)[key] = copy(value);
    }
  }
  return result;
}

/** The request without `object` and `oldObject`, as Kubernetes builds the `request` variable. */
function requestFields(request: unknown): Record<string, unknown> {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) return Object.create(null);
  const { object: _object, oldObject: _oldObject, ...rest } = request as Record<string, unknown>;
  return toCelValue(rest) as Record<string, unknown>;
}

/**
 * Converts the variables of one request (once per request, then evaluate any number of programs).
 * `request` loses `object` and `oldObject` (use the variables); one that is not an object becomes an empty map.
 */
export function toCelActivation(input: CelActivation): unknown {
  return new PreparedCelActivation(Object.freeze({
    object: toCelValue(input.object),
    oldObject: toCelValue(input.oldObject),
    request: requestFields(input.request),
    namespaceObject: toCelValue(input.namespaceObject),
  }));
}
