/**
 * The namespaces a connection end can be in: every namespace tierguard knows, with exactly its
 * labels, and every namespace that does not exist yet — any other name, any labels. A set of
 * namespaces is therefore a set of known names plus cubes over the labels of unknown ones.
 */
import { NAMESPACE_NAME_LABEL, type NamespaceInfo } from '../../api/kube.js';
import { ABSENT, cubeContains, cubeIncludes, cubeIntersect, cubePoint, cubesMeet, cubeSubtract, type LabelCube } from './label-set.js';

export interface NamespaceUniverse {
  readonly known: ReadonlyMap<string, NamespaceInfo>;
  /** Each known name's bit in a lasting set's `bits`. */
  readonly bitOf: ReadonlyMap<string, number>;
  /** Every namespace whose name is not known, with any labels. */
  readonly unknownBase: LabelCube;
  /** Memo of selector cube → namespace set, valid for this universe only. */
  readonly memo: WeakMap<LabelCube, NamespaceSet>;
}

export interface NamespaceSet {
  readonly known: ReadonlySet<string>;
  readonly unknown: readonly LabelCube[];
  /** `known` as bits of its universe's names, on lasting sets (`lastingSet`). */
  readonly bits?: KnownBits;
}

/** A set of known names as one bit per name of `universe` (`bitOf`). */
export interface KnownBits {
  readonly universe: NamespaceUniverse;
  readonly words: Uint32Array;
}

export const NO_NAMESPACES: NamespaceSet = { known: new Set(), unknown: [] };

const universes = new WeakMap<readonly NamespaceInfo[], NamespaceUniverse>();

/** The universe for a list of known namespaces; memoized per list object. */
export function namespaceUniverse(known: readonly NamespaceInfo[]): NamespaceUniverse {
  let universe = universes.get(known);
  if (!universe) {
    // Every namespace carries its name label, whatever the caller's record says.
    const byName = new Map(known.map((namespace) => [namespace.name, { ...namespace, labels: { ...namespace.labels, [NAMESPACE_NAME_LABEL]: namespace.name } }]));
    universe = {
      known: byName,
      bitOf: new Map([...byName.keys()].map((name, i) => [name, i])),
      unknownBase: new Map([[NAMESPACE_NAME_LABEL, { kind: 'notIn' as const, values: new Set([...byName.keys(), ABSENT]) }]]),
      memo: new WeakMap(),
    };
    universes.set(known, universe);
  }
  return universe;
}

/** Every namespace whose labels are in `cube`. */
export function namespacesMatching(universe: NamespaceUniverse, cube: LabelCube | null): NamespaceSet {
  if (cube === null) return NO_NAMESPACES;
  const cached = universe.memo.get(cube);
  if (cached) return cached;
  const known = new Set<string>();
  for (const namespace of universe.known.values()) if (cubeContains(cube, namespace.labels)) known.add(namespace.name);
  const unknown = cubeIntersect(universe.unknownBase, cube);
  const set = lastingSet({ known, unknown: unknown ? [unknown] : [] }, universe);
  universe.memo.set(cube, set);
  return set;
}

/** Every namespace but the one named (which must be unknown: a known one is just left out). */
export function namespacesExcept(set: NamespaceSet, name: string): NamespaceSet {
  const known = new Set([...set.known].filter((candidate) => candidate !== name));
  const pinned = new Map([[NAMESPACE_NAME_LABEL, { kind: 'in' as const, values: new Set([name]) }]]);
  return { known, unknown: set.unknown.flatMap((cube) => cubeSubtract(cube, pinned)) };
}

/** One namespace by name: itself if known, otherwise a namespace of that name with any labels. */
export function namespaceNamed(universe: NamespaceUniverse, name: string): NamespaceSet {
  if (universe.known.has(name)) return { known: new Set([name]), unknown: [] };
  return { known: new Set(), unknown: [new Map([[NAMESPACE_NAME_LABEL, { kind: 'in' as const, values: new Set([name]) }]])] };
}

/** The namespaces in both sets, or null when there are none. */
export function nsIntersect(a: NamespaceSet, b: NamespaceSet): NamespaceSet | null {
  const known = a.known.size <= b.known.size ? namesKept(a.known, b.known, true) : namesKept(b.known, a.known, true);
  const unknown: LabelCube[] = [];
  for (const x of a.unknown) {
    for (const y of b.unknown) {
      const both = cubesMeet(x, y) ? cubeIntersect(x, y) : null;
      if (both) unknown.push(both);
    }
  }
  return known.size === 0 && unknown.length === 0 ? null : { known, unknown };
}

/*
 * Sets of known names are never changed once made, so an intersection or difference that keeps
 * every name of a set, or none, is that set or NO_NAMES rather than a copy: a check of a policy in a
 * namespace most guardrails apply to cut sets of hundreds of names, and their copies were most of
 * what it allocated.
 */
const NO_NAMES: ReadonlySet<string> = NO_NAMESPACES.known;

/** The names of `names` that are (`inOther`) or are not in `other`, in the order of `names`. */
function namesKept(names: ReadonlySet<string>, other: ReadonlySet<string>, inOther: boolean): ReadonlySet<string> {
  let kept = 0;
  for (const name of names) if (other.has(name) === inOther) kept++;
  if (kept === names.size) return names;
  if (kept === 0) return NO_NAMES;
  const out = new Set<string>();
  for (const name of names) if (other.has(name) === inOther) out.add(name);
  return out;
}

/** One namespace of a non-empty set: a known one by name, or an unknown one by its labels (`cubePoint`). */
export type NamespacePoint = { readonly name: string } | { readonly labels: Readonly<Record<string, string>> };

/** The least known name, else a plain label set of the first cube (`cubePoint`); undefined for an empty set. */
export function nsPoint(set: NamespaceSet): NamespacePoint | undefined {
  const known = leastName(set.known);
  if (known !== undefined) return { name: known };
  const cube = set.unknown[0];
  return cube ? { labels: cubePoint(cube) } : undefined;
}

/** `[...names].sort()[0]` without the sort; only names also `within` it when given. */
function leastName(names: ReadonlySet<string>, within?: ReadonlySet<string>): string | undefined {
  let least: string | undefined;
  for (const name of names) if ((within === undefined || within.has(name)) && (least === undefined || name < least)) least = name;
  return least;
}

/** A namespace in both of two sets, and the smallest set that holds it. */
export interface NamespaceInBoth {
  readonly point: NamespacePoint;
  /** The point's name, or the cube of the intersection it was drawn from. */
  readonly set: NamespaceSet;
}

/**
 * The namespace `nsPoint` picks in `nsIntersect(a, b)`, found without building the intersection
 * (known names of a large cluster are costly to intersect); undefined when the sets do not meet.
 * Remembered per pair of set objects, as `nsMeet` remembers its answers.
 */
export function nsPointOfBoth(a: NamespaceSet, b: NamespaceSet): NamespaceInBoth | undefined {
  return pairMemo(pointOfBothMemo, a, b, firstOfBothOrNull) ?? undefined;
}

function firstOfBothOrNull(a: NamespaceSet, b: NamespaceSet): NamespaceInBoth | null {
  return firstOfBoth(a, b) ?? null;
}

function firstOfBoth(a: NamespaceSet, b: NamespaceSet): NamespaceInBoth | undefined {
  const [small, large] = a.known.size <= b.known.size ? [a.known, b.known] : [b.known, a.known];
  const first = leastName(small, large);
  if (first !== undefined) return { point: { name: first }, set: { known: new Set([first]), unknown: [] } };
  for (const x of a.unknown) {
    for (const y of b.unknown) {
      const both = cubesMeet(x, y) ? cubeIntersect(x, y) : null;
      if (both) return { point: { labels: cubePoint(both) }, set: { known: new Set(), unknown: [both] } };
    }
  }
  return undefined;
}

export function nsContains(set: NamespaceSet, point: NamespacePoint): boolean {
  if ('name' in point) return set.known.has(point.name);
  for (let i = 0; i < set.unknown.length; i++) if (cubeContains(set.unknown[i] as LabelCube, point.labels)) return true;
  return false;
}

/**
 * True when every namespace of `inner` is in `outer`, as far as one cube of `outer` holding each
 * cube of `inner` shows it: false may still be a subset (callers then take the long way).
 */
export function nsIncludes(outer: NamespaceSet, inner: NamespaceSet): boolean {
  if (outer === inner) return true;
  if (!nsKnownIncluded(outer, inner)) return false;
  for (let i = 0; i < inner.unknown.length; i++) if (!someCubeIncludes(outer.unknown, inner.unknown[i] as LabelCube)) return false;
  return true;
}

function someCubeIncludes(cubes: readonly LabelCube[], cube: LabelCube): boolean {
  for (let i = 0; i < cubes.length; i++) if (cubeIncludes(cubes[i] as LabelCube, cube)) return true;
  return false;
}

/** Every known name of `inner` is a known name of `outer`. */
export function nsKnownIncluded(outer: NamespaceSet, inner: NamespaceSet): boolean {
  if (outer === inner) return true;
  if (inner.known.size > outer.known.size) return false;
  const x = outer.bits;
  const y = inner.bits;
  if (x && y && x.universe === y.universe) return wordsIncluded(x.words, y.words);
  return knownIncluded(outer.known, inner.known);
}

function knownIncluded(outer: ReadonlySet<string>, inner: ReadonlySet<string>): boolean {
  for (const name of inner) if (!outer.has(name)) return false;
  return true;
}

/** True when some namespace is in both sets: `nsIntersect(a, b) !== null` without building it. */
export function nsMeet(a: NamespaceSet, b: NamespaceSet): boolean {
  // Called for nearly every pair of boxes a check compares: written so that it allocates nothing.
  if (knownSetsMeet(a, b)) return true;
  for (let i = 0; i < a.unknown.length; i++) {
    for (let j = 0; j < b.unknown.length; j++) if (cubesMeet(a.unknown[i] as LabelCube, b.unknown[j] as LabelCube)) return true;
  }
  return false;
}

function knownSetsMeet(a: NamespaceSet, b: NamespaceSet): boolean {
  const x = a.bits;
  const y = b.bits;
  if (x && y && x.universe === y.universe) return wordsMeet(x.words, y.words);
  return a.known.size <= b.known.size ? knownMeet(a.known, b.known) : knownMeet(b.known, a.known);
}

function wordsMeet(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (((a[i] as number) & (b[i] as number)) !== 0) return true;
  return false;
}

/** Every bit of `inner` is one of `outer`. */
function wordsIncluded(outer: Uint32Array, inner: Uint32Array): boolean {
  for (let i = 0; i < inner.length; i++) if (((inner[i] as number) & ~(outer[i] as number)) !== 0) return false;
  return true;
}

function knownMeet(small: ReadonlySet<string>, large: ReadonlySet<string>): boolean {
  for (const name of small) if (large.has(name)) return true;
  return false;
}

/*
 * Sets of known names as large as a cluster's namespaces (a selector like `env=prod`) are compared
 * again and again: the sets of guardrail rules and policy peers are remembered per universe, so the
 * same sets meet check after check. Such a set is `lasting`: it carries its names as bits of the
 * universe's names (`bits`), and two of them meet, or one holds the other, in a pass over 32 names
 * a word. (This replaced an answer remembered per pair of sets: two weak-map lookups, or a
 * lookup per name of the smaller set, cost more.) `nsPointOfBoth`'s answers are still remembered
 * per pair of lasting sets (weakly: they go with the sets).
 *
 * A set made for one check (a piece of a search, an intersection) is never lasting: in a
 * micro-test, young keys inserted into a long-lived weak map made every collection of the young
 * generation slow (13–22 ms) and were freed only by full collections (ADR 16).
 */
const lasting = new WeakSet<NamespaceSet>();

/**
 * Marks a set of `universe` kept for the life of the universe (a remembered selector's set):
 * gives it `bits`, and answers about it may be remembered. Every known name of the set must be
 * one of the universe's; a set with another keeps no bits.
 */
export function lastingSet<T extends NamespaceSet | null>(set: T, universe: NamespaceUniverse): T {
  if (!set) return set;
  lasting.add(set);
  const words = new Uint32Array(Math.ceil(universe.bitOf.size / 32));
  for (const name of set.known) {
    const bit = universe.bitOf.get(name);
    if (bit === undefined) return set;
    words[bit >>> 5] = (words[bit >>> 5] as number) | (1 << (bit & 31));
  }
  (set as { bits?: KnownBits }).bits ??= { universe, words };
  return set;
}
const pointOfBothMemo = new WeakMap<NamespaceSet, WeakMap<NamespaceSet, NamespaceInBoth | null>>();

/**
 * The answer for the pair (a, b), computed once; `compute` must not return undefined. It is
 * given the pair rather than closing over it, so that a remembered answer allocates nothing.
 */
function pairMemo<T>(memo: WeakMap<NamespaceSet, WeakMap<NamespaceSet, T>>, a: NamespaceSet, b: NamespaceSet, compute: (a: NamespaceSet, b: NamespaceSet) => T): T {
  if (!lasting.has(a) || !lasting.has(b)) return compute(a, b);
  let byB = memo.get(a);
  if (!byB) memo.set(a, (byB = new WeakMap()));
  let answer = byB.get(b);
  if (answer === undefined) {
    answer = compute(a, b);
    byB.set(b, answer);
  }
  return answer;
}

/**
 * The namespaces of `a` not in `b`, or null when there are none. A cube of `a` that a cube of `b`
 * does not meet is kept whole: `cubeSubtract` would cut it along the other cube's keys.
 */
export function nsSubtract(a: NamespaceSet, b: NamespaceSet): NamespaceSet | null {
  const known = namesKept(a.known, b.known, false);
  let unknown: LabelCube[] = [...a.unknown];
  for (const y of b.unknown) unknown = unknown.flatMap((x) => (cubesMeet(x, y) ? cubeSubtract(x, y) : [x]));
  return known.size === 0 && unknown.length === 0 ? null : { known, unknown };
}
