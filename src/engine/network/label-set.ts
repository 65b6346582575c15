/**
 * Label selectors as sets, so that "which pods or namespaces could ever match" can be
 * intersected and subtracted without enumerating objects that may not exist yet.
 *
 * For one label key, the possible states are "absent" or any string. A selector constrains a
 * key to a finite set of states (`In`, `DoesNotExist`, matchLabels) or to all states but a
 * finite set (`NotIn`, which keeps "absent", and `Exists`). A `LabelCube` is a conjunction of
 * such per-key constraints; keys it does not mention are free. Subtracting one cube from another
 * yields a union of disjoint cubes.
 */
import type { LabelSelector } from '../../api/kube.js';

/** The "key is absent" state; not a valid label value, so it never clashes with one. */
export const ABSENT = '\u0000';

/** `in`: the key's state is one of `values`; `notIn`: it is none of them. */
export type KeySet =
  | { readonly kind: 'in'; readonly values: ReadonlySet<string> }
  | { readonly kind: 'notIn'; readonly values: ReadonlySet<string> };

/** A conjunction of per-key constraints; an empty map is every label set. */
export type LabelCube = ReadonlyMap<string, KeySet>;

export const ANY_LABELS: LabelCube = new Map();
const ANY_STATE: KeySet = { kind: 'notIn', values: new Set() };

function keySetIntersect(a: KeySet, b: KeySet): KeySet {
  if (a.kind === 'in' && b.kind === 'in') return { kind: 'in', values: new Set([...a.values].filter((v) => b.values.has(v))) };
  if (a.kind === 'in') return { kind: 'in', values: new Set([...a.values].filter((v) => !b.values.has(v))) };
  if (b.kind === 'in') return { kind: 'in', values: new Set([...b.values].filter((v) => !a.values.has(v))) };
  return { kind: 'notIn', values: new Set([...a.values, ...b.values]) };
}

function keySetComplement(a: KeySet): KeySet {
  return { kind: a.kind === 'in' ? 'notIn' : 'in', values: a.values };
}

function keySetIsEmpty(a: KeySet): boolean {
  return a.kind === 'in' && a.values.size === 0;
}

function keySetContains(a: KeySet, state: string): boolean {
  return a.kind === 'in' ? a.values.has(state) : !a.values.has(state);
}

/** The cube of label sets a selector matches, or null when no label set can match it. */
export function selectorCube(selector: LabelSelector | undefined): LabelCube | null {
  const keys = new Map<string, KeySet>();
  const add = (key: string, set: KeySet): boolean => {
    // A key's first constraint is kept as it is: its intersection with every state is a copy.
    const prior = keys.get(key);
    const merged = prior ? keySetIntersect(prior, set) : set;
    keys.set(key, merged);
    return !keySetIsEmpty(merged);
  };
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    if (!add(key, { kind: 'in', values: new Set([value]) })) return null;
  }
  for (const { key, operator, values = [] } of selector?.matchExpressions ?? []) {
    const set: KeySet = operator === 'In' ? { kind: 'in', values: new Set(values) }
      : operator === 'NotIn' ? { kind: 'notIn', values: new Set(values) }
        : operator === 'Exists' ? { kind: 'notIn', values: new Set([ABSENT]) }
          : { kind: 'in', values: new Set([ABSENT]) };
    if (!add(key, set)) return null;
  }
  return keys;
}

/*
 * cubeIntersect, cubeIncludes, cubesMeet and cubeSubtract pass over a key whose constraint is the
 * very same object in both cubes: it changes nothing between them. Every cube of one namespace
 * universe carries the same constraint on the namespace name (none of the known names, a set as
 * large as the cluster), which would otherwise be copied or scanned at every operation.
 */

/** The label sets in both cubes, or null when there are none; `a` itself when `b` narrows nothing. */
export function cubeIntersect(a: LabelCube, b: LabelCube): LabelCube | null {
  if (a.size === 0) return b;
  if (b.size === 0) return a;
  let out: Map<string, KeySet> | undefined;
  for (const [key, set] of b) {
    const mine = a.get(key);
    if (mine === set) continue;
    const merged = mine ? keySetIntersect(mine, set) : set;
    if (keySetIsEmpty(merged)) return null;
    (out ??= new Map(a)).set(key, merged);
  }
  return out ?? a;
}

function keySetsMeet(a: KeySet, b: KeySet): boolean {
  if (a.kind === 'in' && b.kind === 'in') {
    for (const value of a.values) if (b.values.has(value)) return true;
    return false;
  }
  if (a.kind === 'in' || b.kind === 'in') {
    const inSet = a.kind === 'in' ? a : b;
    const notIn = inSet === a ? b : a;
    for (const value of inSet.values) if (!notIn.values.has(value)) return true;
    return false;
  }
  return true;
}

function keySetIncludes(outer: KeySet, inner: KeySet): boolean {
  if (inner.kind === 'in') {
    for (const value of inner.values) if (outer.values.has(value) !== (outer.kind === 'in')) return false;
    return true;
  }
  if (outer.kind === 'in') return false;
  for (const value of outer.values) if (!inner.values.has(value)) return false;
  return true;
}

/** True when every label set of `inner` is in `outer`. */
export function cubeIncludes(outer: LabelCube, inner: LabelCube): boolean {
  for (const key of outer.keys()) {
    const set = outer.get(key) as KeySet;
    const theirs = inner.get(key);
    if (theirs !== set && !keySetIncludes(set, theirs ?? ANY_STATE)) return false;
  }
  return true;
}

/** True when some label set is in both cubes: `cubeIntersect(a, b) !== null` without building it. */
export function cubesMeet(a: LabelCube, b: LabelCube): boolean {
  // Called for nearly every pair of boxes a check compares: written so that it allocates nothing.
  const small = a.size <= b.size ? a : b;
  const large = small === a ? b : a;
  for (const key of small.keys()) {
    const other = large.get(key);
    const set = small.get(key) as KeySet;
    if (other && other !== set && !keySetsMeet(set, other)) return false;
  }
  return true;
}

/** `a` minus `b` as disjoint cubes. */
export function cubeSubtract(a: LabelCube, b: LabelCube): LabelCube[] {
  const pieces: LabelCube[] = [];
  let rest: LabelCube = a;
  for (const [key, set] of b) {
    const mine = rest.get(key);
    if (mine === set) continue;
    const current = mine ?? ANY_STATE;
    const outside = keySetIntersect(current, keySetComplement(set));
    if (!keySetIsEmpty(outside)) pieces.push(new Map(rest).set(key, outside));
    const inside = keySetIntersect(current, set);
    if (keySetIsEmpty(inside)) return pieces;
    rest = new Map(rest).set(key, inside);
  }
  return pieces;
}

/**
 * One concrete label set in the cube, as plain as possible: every key the cube does not mention is
 * absent, a key that may be absent is, and one that must have a value gets the first allowed one
 * (or a fresh value no selector names). Other cubes rarely contain it by chance, which makes it a
 * cheap first witness of "some of this cube is outside those".
 */
export function cubePoint(cube: LabelCube): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, set] of cube) {
    if (set.kind === 'in') {
      if (set.values.has(ABSENT)) continue;
      const first = leastValue(set.values);
      if (first !== undefined) labels[key] = first;
    } else if (set.values.has(ABSENT)) {
      labels[key] = freshValue(set.values);
    }
  }
  return labels;
}

/**
 * `[...values].sort()[0]` without copying or sorting (cubePoint runs for most pairs of boxes a
 * check compares); `but` is passed over.
 */
function leastValue(values: ReadonlySet<string>, but?: string): string | undefined {
  let least: string | undefined;
  for (const value of values) if (value !== but && (least === undefined || value < least)) least = value;
  return least;
}

/** True when the concrete labels are in the cube. */
export function cubeContains(cube: LabelCube, labels: Readonly<Record<string, string>>): boolean {
  for (const key of cube.keys()) {
    const set = cube.get(key) as KeySet;
    const state = Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] as string : ABSENT;
    if (!keySetContains(set, state)) return false;
  }
  return true;
}

/**
 * A concrete label set in the cube, for messages: a value the key must or may have, the key left
 * out when absence is allowed and no value is required, or a fresh value no selector mentions.
 */
export function exampleLabels(cube: LabelCube): { labels: Record<string, string>; absent: string[] } {
  const labels: Record<string, string> = {};
  const absent: string[] = [];
  for (const key of [...cube.keys()].sort()) {
    const set = cube.get(key) as KeySet;
    if (set.kind === 'in') {
      const least = leastValue(set.values, ABSENT);
      if (least !== undefined) labels[key] = least;
      else absent.push(key);
    } else if (set.values.has(ABSENT)) {
      labels[key] = freshValue(set.values);
    }
  }
  return { labels, absent };
}

function freshValue(taken: ReadonlySet<string>): string {
  if (!taken.has('other')) return 'other';
  for (let i = 1; ; i++) if (!taken.has(`other-${i}`)) return `other-${i}`;
}

/** `{env=dev, !debug}` */
export function formatLabels(example: { labels: Record<string, string>; absent: readonly string[] }, hide: readonly string[] = []): string {
  let parts = '';
  for (const key of Object.keys(example.labels)) if (!hide.includes(key)) parts += `${parts ? ', ' : ''}${key}=${example.labels[key] as string}`;
  for (const key of example.absent) if (!hide.includes(key)) parts += `${parts ? ', ' : ''}!${key}`;
  return `{${parts}}`;
}
