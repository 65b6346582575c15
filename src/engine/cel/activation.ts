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

/**
 * What `toCelActivation` returns; `evaluateCel` refuses anything else. The variables are converted
 * for the library when an expression first needs them: an expression the fast path answers
 * (./fast-path.ts) reads the request's own JSON values (`raw`), so a request whose expressions it
 * all answers is never converted.
 */
export class PreparedCelActivation {
  #variables: Readonly<Record<string, unknown>> | undefined;
  #raw: Readonly<Record<string, unknown>> | undefined;
  constructor(readonly input: Readonly<CelActivation>) {}

  /** The variables converted for the library. */
  get variables(): Readonly<Record<string, unknown>> {
    this.#variables ??= Object.freeze({
      object: toCelValue(this.input.object),
      oldObject: toCelValue(this.input.oldObject),
      request: requestFields(this.input.request),
      namespaceObject: toCelValue(this.input.namespaceObject),
    });
    return this.#variables;
  }

  /** The variables as the request has them (JSON values; `request` without `object` and `oldObject`). */
  get raw(): Readonly<Record<string, unknown>> {
    this.#raw ??= Object.freeze({ object: this.input.object, oldObject: this.input.oldObject, request: requestRest(this.input.request), namespaceObject: this.input.namespaceObject });
    return this.#raw;
  }
}

const INT64_MAX = 2 ** 63;

/** Whether a JSON number is a CEL `int` (an integer within int64); any other number is a `double`. */
export function isCelInt(value: number): boolean {
  return Number.isInteger(value) && value >= -INT64_MAX && value < INT64_MAX;
}

/** The prototype of converted maps: an object with no properties and no prototype of its own. */
export const CEL_MAP_PROTOTYPE: object = Object.freeze(Object.create(null));

/**
 * Makes the maps of converted values. Their prototype chain holds no property at all, so a key
 * like `__proto__` or `toString` is only ever data, as with `Object.create(null)` (an object with a
 * key `constructor` becomes a `Map` instead: see `convertToMap`); but objects
 * made by a constructor keep V8's fast properties, where `Object.create(null)` makes dictionary
 * objects, a third slower to build.
 */
const CelMap = function CelMap() {} as unknown as new () => Record<string, unknown>;
CelMap.prototype = CEL_MAP_PROTOTYPE as Record<string, unknown>;

function convertScalar(value: unknown): unknown {
  if (typeof value === 'number' && isCelInt(value)) return BigInt(value);
  return value === undefined ? null : value;
}

/** Nesting converted by recursion (the faster way); anything deeper is converted iteratively. */
const RECURSION_DEPTH = 64;

/**
 * A converted deep copy of a JSON value: integers as bigint, objects as maps whose prototype chain
 * is empty (a key like `__proto__` is only ever data), or as a `Map` when they have a key
 * `constructor`, `undefined` members dropped.
 * Any nesting depth is converted without deep recursion. The input is not modified.
 */
export function toCelValue(root: unknown): unknown {
  return convertShallow(root, 0);
}

/** Recursive conversion of the first RECURSION_DEPTH levels (a third faster than the iterative one). */
function convertShallow(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return convertScalar(value);
  if (depth >= RECURSION_DEPTH) return convertDeep(value);
  if (Array.isArray(value)) {
    const target = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) target[i] = convertShallow(value[i], depth + 1);
    return target;
  }
  if (Object.hasOwn(value, 'constructor')) return convertToMap(value, (member) => convertShallow(member, depth + 1));
  const target = new CelMap();
  for (const key of Object.keys(value)) {
    const member = (value as Record<string, unknown>)[key];
    if (member !== undefined) target[key] = convertShallow(member, depth + 1);
  }
  return target;
}

/**
 * An object with a key `constructor` (a valid label or annotation key) as a `Map`: the library
 * tells a map from other values by `value.constructor`, which that key would hide ("Unsupported
 * type"), making any expression that reads the object an error.
 */
function convertToMap(value: object, convert: (member: unknown) => unknown): Map<string, unknown> {
  const target = new Map<string, unknown>();
  for (const key of Object.keys(value)) {
    const member = (value as Record<string, unknown>)[key];
    if (member !== undefined) target.set(key, convert(member));
  }
  return target;
}

/** Iterative conversion, for values nested deeper than recursion should go. */
function convertDeep(root: unknown): unknown {
  type Target = Record<string, unknown> | unknown[] | Map<string, unknown>;
  const pending: [source: unknown, target: Target][] = [];
  const copy = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return convertScalar(value);
    const target: Target = Array.isArray(value) ? new Array<unknown>(value.length) : Object.hasOwn(value, 'constructor') ? new Map() : new CelMap();
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
      if (value === undefined) continue;
      if (target instanceof Map) target.set(key, copy(value));
      else (target as Record<string, unknown>)[key] = copy(value);
    }
  }
  return result;
}

/** The request without `object` and `oldObject`, as Kubernetes builds the `request` variable; an empty map when it is not an object. */
function requestRest(request: unknown): Record<string, unknown> {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) return {};
  const { object: _object, oldObject: _oldObject, ...rest } = request as Record<string, unknown>;
  return rest;
}

function requestFields(request: unknown): Record<string, unknown> {
  return toCelValue(requestRest(request)) as Record<string, unknown>;
}

/**
 * The variables of one request, for any number of programs: converted once, when the first
 * expression the fast path does not answer needs them. `request` loses `object` and `oldObject`
 * (use the variables); one that is not an object becomes an empty map.
 */
export function toCelActivation(input: CelActivation): unknown {
  return new PreparedCelActivation(Object.freeze({ ...input }));
}
