/**
 * The override check's answers, remembered for the webhook: the same NetworkPolicy is reviewed
 * again and again with nothing changed — `kubectl apply --dry-run=server` then `kubectl apply`,
 * a GitOps controller's dry run of every object at each sync, an UPDATE that changes only a label
 * or an annotation — and each review would walk the tiers again (issue 11: in-process, the review
 * of the bench's denied NetworkPolicy took about 215 µs with the walk and 100 µs without it; the
 * walk of a policy with hundreds of findings takes up to 50 ms). The decision: ADR 19.
 *
 * An answer is a function of what the check reads, and is kept under all of it: the policy set and
 * the list of known namespaces (both replaced, never changed in place: a new set at each reload,
 * a new list at each namespace change), the policy's namespace as the caller gives it (name,
 * labels, known or not), and the policy's name, namespace and spec as sent. One answer is kept per
 * policy name: found by the names, it is given only when the namespace's labels and the spec are
 * the ones it was checked with, compared value by value and key by key in order (`sameJson`), so
 * a policy written in another key order is checked again, never answered wrongly; the kept values
 * are copies of their own. (For the bench's fixture, serialising the spec and labels into one text
 * key took 5.4–8.5 µs a review, and the key was hashed again for the map; comparing them takes
 * 3.6–6.0 µs.) An answer the check could not prove (it stopped at its time or size bound) is not
 * kept: the next review tries again.
 *
 * Bounded per set and namespace list: `MAX_ANSWERS` answers and `MAX_CHARS` characters of keys and
 * findings (an answer of hundreds of findings is large), least recently used out first. A policy
 * larger than `MAX_KEY_CHARS` of JSON (a legal but unusual size) is checked every time. Measured:
 * 1,000 answers for the NetworkPolicy fixture of the bench under 1,000 names (the realistic set, 2
 * findings each) held 5.6 MiB of heap, the copies of labels and spec included (5.0 MiB with one
 * JSON text as the key and no copies).
 */
import type { NamespaceInfo } from '../../api/kube.js';
import { isPlainObject } from '../object.js';
import type { PolicySet } from '../policy-set.js';
import { checkOverrides, type OverrideCheck, type OverrideInput } from './override.js';

/** Answers kept per policy set and list of known namespaces. */
const MAX_ANSWERS = 1_000;
/** Characters of keys and findings (`costOf`) kept per policy set and list of known namespaces. */
const MAX_CHARS = 4 * 1024 * 1024;
/** A policy whose key and kept values are longer than this (JSON characters) is not remembered. */
const MAX_KEY_CHARS = 16 * 1024;
/** What a finding costs besides its strings (an object of ten fields), in characters. */
const FINDING_CHARS = 160;

interface Kept {
  /** The namespace's labels and the policy's spec the answer was checked with (copies). */
  readonly labels: unknown;
  readonly spec: unknown;
  readonly check: OverrideCheck;
  readonly cost: number;
}

interface Answers {
  /** In order of use, least recent first. */
  readonly kept: Map<string, Kept>;
  chars: number;
}

const memos = new WeakMap<PolicySet, WeakMap<readonly NamespaceInfo[], Answers>>();
/** The answers given again from memory (`isServedAgain`). */
const servedAgain = new WeakSet<OverrideCheck>();

/** `checkOverrides`, answered from memory when the same check was proven before. */
export function rememberedOverrides(set: PolicySet, input: OverrideInput): OverrideCheck {
  // A set without network guardrails answers at once: nothing to remember.
  const read = set.network.ingress.length + set.network.egress.length > 0 ? readOf(input) : undefined;
  if (read === undefined) return checkOverrides(set, input);
  let byNamespaces = memos.get(set);
  if (!byNamespaces) memos.set(set, (byNamespaces = new WeakMap()));
  let answers = byNamespaces.get(input.knownNamespaces);
  if (!answers) byNamespaces.set(input.knownNamespaces, (answers = { kept: new Map(), chars: 0 }));
  const { kept } = answers;
  const found = kept.get(read.names);
  if (found && sameJson(found.labels, read.labels) && sameJson(found.spec, read.spec)) {
    kept.delete(read.names);
    kept.set(read.names, found);
    servedAgain.add(found.check);
    return found.check;
  }
  const check = checkOverrides(set, input);
  if (check.unproven) return check;
  const text = JSON.stringify([read.labels, read.spec]);
  if (read.names.length + text.length > MAX_KEY_CHARS) return check;
  const cost = costOf(read.names.length + text.length, check);
  if (cost > MAX_CHARS / 8) return check;
  // The check made this object and its array for this call: frozen as they are, since later reviews share them.
  Object.freeze(check.findings);
  Object.freeze(check);
  if (found) {
    kept.delete(read.names);
    answers.chars -= found.cost;
  }
  while (kept.size > 0 && (kept.size >= MAX_ANSWERS || answers.chars + cost > MAX_CHARS)) {
    const [oldest, { cost: freed }] = kept.entries().next().value as [string, Kept];
    kept.delete(oldest);
    answers.chars -= freed;
  }
  const [labels, spec] = JSON.parse(text) as [unknown, unknown];
  kept.set(read.names, { labels, spec, check, cost });
  answers.chars += cost;
  return check;
}

/**
 * True for an answer `rememberedOverrides` has given again from memory: the policy is being reviewed
 * again and again, so what is derived from the answer is worth keeping with it. An answer given once
 * is not (a policy under a new name at each review would only fill weak maps with young keys).
 */
export function isServedAgain(check: OverrideCheck): boolean {
  return servedAgain.has(check);
}

/** About what an answer holds, in characters: its key and kept values, and each finding's strings and fields. */
function costOf(keyChars: number, check: OverrideCheck): number {
  let cost = keyChars;
  for (const finding of check.findings) cost += FINDING_CHARS + finding.message.length + finding.short.length + finding.path.length;
  return cost;
}

/**
 * What the check reads of its input besides the set and the list of known namespaces: the names
 * (the namespace's, known or not, and the policy's name and namespace as sent) as one text key,
 * and the labels and spec to compare. Undefined for a policy that is not a JSON object.
 */
function readOf(input: OverrideInput): { names: string; labels: unknown; spec: unknown } | undefined {
  const { policy, namespace } = input;
  if (!isPlainObject(policy)) return undefined;
  const metadata = isPlainObject(policy.metadata) ? policy.metadata : {};
  return { names: JSON.stringify([namespace.name, namespace.known, metadata.name, metadata.namespace]), labels: namespace.labels, spec: policy.spec };
}

/**
 * Whether two values are the same JSON, written the same way: equal strings, finite numbers,
 * booleans and nulls, arrays of the same items, objects with the same keys in the same order. A
 * value JSON has no text for (undefined, a function, a non-finite number, anything but a plain
 * object or array) makes them different, so that such a review is checked again.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null) return a === b && isJsonScalar(a);
  if (typeof b !== 'object' || b === null) return false;
  if (Array.isArray(a)) return Array.isArray(b) && sameItems(a, b);
  if (Array.isArray(b) || !isJsonObject(a) || !isJsonObject(b)) return false;
  const keys = Object.keys(a);
  return sameItems(keys, Object.keys(b)) && sameMembers(a, b, keys);
}

function sameMembers(a: Record<string, unknown>, b: Record<string, unknown>, keys: readonly string[]): boolean {
  for (const key of keys) if (!sameJson(a[key], b[key])) return false;
  return true;
}

function sameItems(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
  return true;
}

/** A string, a boolean, null or a finite number: a value JSON writes as it is. */
function isJsonScalar(value: unknown): boolean {
  return typeof value === 'string' || typeof value === 'boolean' || value === null || (typeof value === 'number' && Number.isFinite(value));
}

function isJsonObject(value: object): value is Record<string, unknown> {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
