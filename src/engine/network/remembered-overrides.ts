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
 * labels, known or not), and the policy's name, namespace and spec as sent. What the spec says is
 * compared as JSON text, so a policy written in another key order is checked again, never answered
 * wrongly. An answer the check could not prove (it stopped at its time or size bound) is not kept:
 * the next review tries again.
 *
 * Bounded per set and namespace list: `MAX_ANSWERS` answers and `MAX_CHARS` characters of keys and
 * findings (an answer of hundreds of findings is large), least recently used out first. A policy
 * larger than `MAX_KEY_CHARS` of JSON (a legal but unusual size) is checked every time. Measured:
 * 1,000 answers for the NetworkPolicy fixture of the bench (2 findings each, about 2,100 characters
 * by `costOf`) held 2.3 MiB of heap.
 */
import type { NamespaceInfo } from '../../api/kube.js';
import { isPlainObject } from '../object.js';
import type { PolicySet } from '../policy-set.js';
import { checkOverrides, type OverrideCheck, type OverrideInput } from './override.js';

/** Answers kept per policy set and list of known namespaces. */
const MAX_ANSWERS = 1_000;
/** Characters of keys and findings (`costOf`) kept per policy set and list of known namespaces. */
const MAX_CHARS = 4 * 1024 * 1024;
/** A policy whose key is longer than this (JSON characters) is not remembered. */
const MAX_KEY_CHARS = 16 * 1024;
/** What a finding costs besides its strings (an object of ten fields), in characters. */
const FINDING_CHARS = 160;

interface Kept {
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
  const key = set.network.ingress.length + set.network.egress.length > 0 ? keyOf(input) : undefined;
  if (key === undefined) return checkOverrides(set, input);
  let byNamespaces = memos.get(set);
  if (!byNamespaces) memos.set(set, (byNamespaces = new WeakMap()));
  let answers = byNamespaces.get(input.knownNamespaces);
  if (!answers) byNamespaces.set(input.knownNamespaces, (answers = { kept: new Map(), chars: 0 }));
  const { kept } = answers;
  const found = kept.get(key);
  if (found) {
    kept.delete(key);
    kept.set(key, found);
    servedAgain.add(found.check);
    return found.check;
  }
  const check = checkOverrides(set, input);
  if (check.unproven) return check;
  const cost = costOf(key, check);
  if (cost > MAX_CHARS / 8) return check;
  // The check made this object and its array for this call: frozen as they are, since later reviews share them.
  Object.freeze(check.findings);
  Object.freeze(check);
  while (kept.size > 0 && (kept.size >= MAX_ANSWERS || answers.chars + cost > MAX_CHARS)) {
    const [oldest, { cost: freed }] = kept.entries().next().value as [string, Kept];
    kept.delete(oldest);
    answers.chars -= freed;
  }
  kept.set(key, { check, cost });
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

/** About what an answer holds, in characters: its key, and each finding's strings and fields. */
function costOf(key: string, check: OverrideCheck): number {
  let cost = key.length;
  for (const finding of check.findings) cost += FINDING_CHARS + finding.message.length + finding.short.length + finding.path.length;
  return cost;
}

/** What the check reads of its input besides the set and the list of known namespaces, as text; undefined when too long to keep. */
function keyOf(input: OverrideInput): string | undefined {
  const { policy, namespace } = input;
  if (!isPlainObject(policy)) return undefined;
  const metadata = isPlainObject(policy.metadata) ? policy.metadata : {};
  const key = JSON.stringify([namespace.name, namespace.known, namespace.labels, metadata.name, metadata.namespace, policy.spec]);
  return key.length <= MAX_KEY_CHARS ? key : undefined;
}
