/**
 * A continuous audit, kept current one object at a time (`serve`'s background audit; the one-shot
 * `auditObjects` of `./audit.ts` judges a fixed list). Each object is judged as its creation would
 * be (`auditObject`) when it is put, and only what it found is kept: the results of objects with
 * findings (their recurring texts shared) and their counts, the names of evaluated objects, each
 * Pod's name in its namespace's label group (for isolation coverage), and references to the
 * NetworkPolicies (which the runtime's cache holds). Pods and workloads themselves are never
 * held, so a re-audit of everything reads them again.
 *
 * Isolation coverage is computed again only for the namespaces where a Pod or a NetworkPolicy
 * changed (`refreshIsolation`), or everywhere after a full list.
 */
import type { Labels, NamespaceInfo } from '../api/kube.js';
import type { EngineOptions } from '../engine/evaluate.js';
import { isolatingPolicy, isolationGaps, type IsolatingPolicy, type IsolationGap, type PodGroup } from '../engine/network/isolation.js';
import type { PolicySet } from '../engine/policy-set.js';
import type { NamespaceLookup } from '../policy/namespaces.js';
import { auditContext, auditObject, podLabels, type AuditResult, type AuditState } from './audit.js';
import { createAuditTally, type GuardrailAuditCounts, type ViolationSeries } from './audit-counts.js';
import { manifestNamespace, type ManifestObject } from './manifest-request.js';
import { objectName } from './subject.js';

/** A state of the ledger: with the counts by guardrail and the gauge series it keeps current (what `guardrailCounts` and `violationSeries` would count from the whole state). */
export interface LedgerState extends AuditState {
  readonly counts: ReadonlyMap<string, GuardrailAuditCounts>;
  readonly series: readonly ViolationSeries[];
}

export interface AuditLedgerOptions {
  readonly policy: () => PolicySet | undefined;
  readonly namespaces: NamespaceLookup;
  readonly engine: EngineOptions;
  /**
   * Called between objects of a long list, about every `PAUSE_EVERY_MS` of work: `serve` yields to
   * the event loop there so that admission requests are answered while a full audit runs.
   */
  readonly pause?: () => Promise<void>;
}

export interface AuditLedger {
  /** Judges one object (created or changed) and records what it found. */
  put(object: ManifestObject): Promise<void>;
  /** The object is gone: its result, its Pod labels and what it isolated go with it. */
  remove(object: ManifestObject): void;
  /**
   * `objects` are now every object of `kind` (in `namespace`, when given; the whole cluster
   * otherwise): each is judged again and the others of that kind are forgotten.
   */
  replaceKind(kind: string, objects: readonly ManifestObject[], namespace?: string): Promise<void>;
  /** Computes isolation coverage again in the namespaces where Pods or NetworkPolicies changed, or in every namespace. */
  refreshIsolation(scope: 'changed' | 'all'): void;
  /** What the ledger holds now; `time` is when the last full audit finished. */
  state(time: Date): LedgerState;
  /** What is held, for the memory figures of the bench. */
  size(): { readonly namespaces: number; readonly objects: number; readonly pods: number; readonly podGroups: number; readonly results: number };
}

/** The label groups of a namespace. */
function groupsOf(book: NamespaceBook | undefined): PodGroupEntry[] {
  return [...book?.groups?.values() ?? []].flat();
}

/** The group of the Pod `name` (null: held with malformed labels), or undefined when it is not held. */
function podGroupOf(book: NamespaceBook, name: string): PodGroupEntry | null | undefined {
  if (book.podIndex) return book.podIndex.get(name);
  for (const group of groupsOf(book)) if (group.names.includes(name)) return group;
  return book.unlabelled?.includes(name) ? null : undefined;
}

/**
 * Adds to a list; small lists are copied at their exact size (`concat` allocates no spare room; a
 * pushed or spread array keeps room for 16 more: 193 bytes for two names instead of 73).
 */
function withName(names: string[], name: string): string[] {
  if (names.length >= 32) {
    names.push(name);
    return names;
  }
  return names.concat(name);
}

function withoutName(names: string[], name: string): string[] {
  const at = names.indexOf(name);
  if (at >= 0) names.splice(at, 1);
  return names;
}

function addPod(book: NamespaceBook, name: string, group: PodGroupEntry | null): void {
  if (group) group.names = withName(group.names, name);
  else book.unlabelled = withName(book.unlabelled ?? [], name);
  book.pods++;
  if (book.podIndex) book.podIndex.set(name, group);
  else if (book.pods > INDEX_PODS_AFTER) {
    book.podIndex = new Map();
    for (const entry of groupsOf(book)) for (const pod of entry.names) book.podIndex.set(pod, entry);
    for (const pod of book.unlabelled ?? []) book.podIndex.set(pod, null);
  }
}

/** Forgets the Pod `name`; false when it was not held. */
function removePod(book: NamespaceBook, name: string): boolean {
  const group = podGroupOf(book, name);
  if (group === undefined) return false;
  if (group === null) book.unlabelled = withoutName(book.unlabelled ?? [], name);
  else if (withoutName(group.names, name).length === 0) dropGroup(book, group);
  book.podIndex?.delete(name);
  book.pods--;
  return true;
}

/** Evaluated objects held for a namespace. */
function objectCount(book: NamespaceBook): number {
  let count = book.pods + (book.policies?.length ?? 0);
  for (const names of book.objects?.values() ?? []) count += names.size;
  return count;
}

function podNames(book: NamespaceBook | undefined): string[] {
  if (!book) return [];
  if (book.podIndex) return [...book.podIndex.keys()];
  return [...groupsOf(book).flatMap((group) => group.names), ...book.unlabelled ?? []];
}

function dropGroup(book: NamespaceBook, group: PodGroupEntry): void {
  const bucket = book.groups?.get(group.hash);
  if (bucket === group) book.groups?.delete(group.hash);
  else if (Array.isArray(bucket)) {
    const rest = bucket.filter((entry) => entry !== group);
    book.groups?.set(group.hash, rest.length === 1 ? rest[0] as PodGroupEntry : rest);
  }
}

/**
 * FNV-1a over the sorted `key=value` pairs: a number names a label set without a string kept per
 * set (a Map keyed by numbers keeps no key strings).
 */
function labelSetHash(labels: Labels): number {
  let hash = 0x811c9dc5;
  const mix = (text: string): void => {
    for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  };
  for (const name of Object.keys(labels).sort()) {
    mix(name);
    hash = Math.imul(hash ^ 1, 0x01000193);
    mix(labels[name] as string);
    hash = Math.imul(hash ^ 0, 0x01000193);
  }
  return hash >>> 0;
}

function sameLabels(a: Labels, b: Labels): boolean {
  const names = Object.keys(a);
  return names.length === Object.keys(b).length && names.every((name) => a[name] === b[name]);
}

/** Longest message looked up among the shared texts. */
const MAX_SHARED_MESSAGE = 80;

/** Distinct texts shared among results. */
const MAX_INTERNED = 100_000;

/** Work between two pauses during a list, in ms. */
const PAUSE_EVERY_MS = 10;

interface PodGroupEntry {
  /** Hash of the label set (`labelSetHash`); equal sets have equal hashes, a few unequal ones too. */
  readonly hash: number;
  readonly labels: Labels;
  /** The Pods carrying it. */
  names: string[];
}

/**
 * What is held for one namespace ('' for cluster-scoped objects); each collection is made when
 * first needed (most namespaces have no workloads or no NetworkPolicies held here). A Pod is held
 * as its name in its label group; past `INDEX_PODS_AFTER` Pods, an index by name too (below, a
 * scan of the groups costs less memory than an index and little time).
 */
interface NamespaceBook {
  /** Evaluated objects other than Pods and NetworkPolicies: names by kind. */
  objects?: Map<string, Set<string>>;
  groups?: Map<number, PodGroupEntry | PodGroupEntry[]>;
  /** Evaluated Pods whose labels are malformed: in no group. */
  unlabelled?: string[];
  podIndex?: Map<string, PodGroupEntry | null>;
  pods: number;
  /**
   * Evaluated NetworkPolicies: the objects themselves (the runtime's NetworkPolicy cache holds
   * them anyway), in a list of their exact size; what each isolates is compiled when isolation is
   * computed.
   */
  policies?: ManifestObject[];
  gaps: readonly IsolationGap[];
}

/** Pods in a namespace past which they are indexed by name. */
const INDEX_PODS_AFTER = 64;

const NO_GAPS: readonly IsolationGap[] = Object.freeze([]);

/**
 * @example
 * const ledger = createAuditLedger({ policy: runtime.policy, namespaces: runtime.namespaces, engine });
 * await ledger.replaceKind('Pod', pods);
 * ledger.refreshIsolation('all');
 * report(ledger.state(new Date()));
 */
export function createAuditLedger(options: AuditLedgerOptions): AuditLedger {
  const context = auditContext(options.policy, options.namespaces, options.engine);
  const books = new Map<string, NamespaceBook>();
  const results = new Map<string, AuditResult>();
  const tally = createAuditTally();
  const setResult = (key: string, result: AuditResult | undefined): void => {
    const before = results.get(key);
    if (before) tally.account(before, -1);
    if (result) {
      results.set(key, result);
      tally.account(result, 1);
    } else if (before) {
      results.delete(key);
    }
  };
  const dirty = new Set<string>();
  /** Namespaces whose results, counts or isolation changed since the last `state()`. */
  let touched = new Set<string>();
  // The same texts recur across objects (a missing label's message, paths, rule and guardrail
  // names): one copy of each is kept, up to a bound.
  const texts = new Map<string, string>();
  const intern = (text: string): string => {
    const known = texts.get(text);
    if (known !== undefined) return known;
    if (texts.size < MAX_INTERNED) texts.set(text, text);
    return text;
  };
  /** A copy of a label set whose keys and values are the shared copies (the same labels recur across namespaces). */
  const internedLabels = (labels: Labels): Labels => {
    const copy: Record<string, string> = {};
    for (const name of Object.keys(labels)) copy[intern(name)] = intern(labels[name] as string);
    return copy;
  };
  const interned = (result: AuditResult): AuditResult => ({
    ...result,
    // Long messages name their object (a network finding's connection, a CEL message): unique, not worth a lookup.
    violations: result.violations.map((violation) => ({ ...violation, tier: intern(violation.tier), guardrail: intern(violation.guardrail), rule: intern(violation.rule), path: intern(violation.path), message: violation.message.length <= MAX_SHARED_MESSAGE ? intern(violation.message) : violation.message })),
  });

  const bookOf = (namespace: string): NamespaceBook => {
    let book = books.get(namespace);
    if (!book) books.set(namespace, (book = { pods: 0, gaps: NO_GAPS }));
    return book;
  };

  const forget = (book: NamespaceBook, namespace: string, kind: string, name: string): void => {
    touched.add(namespace);
    if (kind === 'Pod') {
      if (removePod(book, name)) dirty.add(namespace);
    } else if (kind === 'NetworkPolicy') {
      const at = book.policies?.findIndex((policy) => objectName(policy) === name) ?? -1;
      if (at >= 0) {
        book.policies?.splice(at, 1);
        dirty.add(namespace);
      }
    } else {
      book.objects?.get(kind)?.delete(name);
    }
    if (results.size > 0) setResult(`${kind}/${namespace}/${name}`, undefined);
  };

  const podGroup = (book: NamespaceBook, object: ManifestObject): PodGroupEntry | null => {
    const labels = podLabels(object);
    if (!labels) return null;
    const hash = labelSetHash(labels);
    book.groups ??= new Map();
    const bucket = book.groups.get(hash);
    let group = bucket === undefined ? undefined : (Array.isArray(bucket) ? bucket : [bucket]).find((entry) => sameLabels(entry.labels, labels));
    if (!group) {
      group = { hash, labels: internedLabels(labels), names: [] };
      book.groups.set(hash, bucket === undefined ? group : [...(Array.isArray(bucket) ? bucket : [bucket]), group]);
    }
    return group;
  };

  const put = async (object: ManifestObject): Promise<void> => {
    const namespace = manifestNamespace(object);
    const name = objectName(object);
    const book = bookOf(namespace);
    forget(book, namespace, object.kind, name);
    // The text lines are for `tierguard audit` alone; reports read the violations.
    const audited = await auditObject(context, object, { lines: false });
    if (!audited.evaluated) return;
    if (audited.result) setResult(`${object.kind}/${namespace}/${name}`, interned(audited.result));
    if (object.kind === 'Pod') {
      addPod(book, name, podGroup(book, object));
    } else if (object.kind === 'NetworkPolicy') {
      book.policies = (book.policies ?? []).concat(object);
    } else {
      book.objects ??= new Map();
      let names = book.objects.get(object.kind);
      if (!names) book.objects.set(object.kind, (names = new Set()));
      names.add(name);
      return;
    }
    dirty.add(namespace);
  };

  return {
    put,
    remove(object) {
      const namespace = manifestNamespace(object);
      const book = books.get(namespace);
      if (book) forget(book, namespace, object.kind, objectName(object));
    },
    async replaceKind(kind, objects, namespace) {
      const present = new Set(objects.map((object) => `${manifestNamespace(object)}\u0000${objectName(object)}`));
      for (const [bookName, book] of namespace === undefined ? books : [[namespace, books.get(namespace)] as const]) {
        if (!book) continue;
        const names = kind === 'Pod' ? podNames(book)
          : kind === 'NetworkPolicy' ? (book.policies ?? []).map((policy) => objectName(policy))
            : [...book.objects?.get(kind) ?? []];
        for (const name of names) if (!present.has(`${bookName}\u0000${name}`)) forget(book, bookName, kind, name);
      }
      let since = performance.now();
      for (const object of objects) {
        await put(object);
        if (options.pause && performance.now() - since >= PAUSE_EVERY_MS) {
          await options.pause();
          since = performance.now();
        }
      }
    },
    refreshIsolation(scope) {
      const set = options.policy();
      if (!set) return;
      const all = scope === 'all';
      const namespaces: NamespaceInfo[] = options.namespaces.list().filter((info) => all || dirty.has(info.name));
      const pods = new Map<string, PodGroup[]>();
      const policies = new Map<string, IsolatingPolicy[]>();
      for (const info of namespaces) {
        const book = books.get(info.name);
        pods.set(info.name, groupsOf(book).map((group) => ({ labels: group.labels, count: group.names.length })));
        policies.set(info.name, (book?.policies ?? []).map(isolatingPolicy).filter((policy): policy is IsolatingPolicy => policy !== undefined));
      }
      const gaps = new Map<string, IsolationGap[]>();
      for (const gap of isolationGaps({ set, namespaces, pods, policies, excludedNamespaces: options.engine.excludedNamespaces })) {
        gaps.set(gap.namespace, [...(gaps.get(gap.namespace) ?? []), gap]);
      }
      const update = (name: string, book: NamespaceBook): void => {
        const next = gaps.get(name) ?? NO_GAPS;
        if (book.gaps.length > 0 || next.length > 0) touched.add(name);
        book.gaps = next;
      };
      for (const [name, book] of books) if (all || dirty.has(name)) update(name, book);
      for (const name of gaps.keys()) if (!books.has(name)) update(name, bookOf(name));
      dirty.clear();
    },
    state(time) {
      const evaluated = new Map<string, number>();
      const isolation: IsolationGap[] = [];
      for (const [name, book] of books) {
        const count = objectCount(book);
        if (count > 0) evaluated.set(name, count);
        isolation.push(...book.gaps);
      }
      const changed = touched;
      touched = new Set();
      return { results: [...results.values()], isolation, evaluated, time, changed, counts: tally.counts(isolation), series: tally.series() };
    },
    size() {
      let objects = 0;
      let pods = 0;
      let podGroups = 0;
      for (const book of books.values()) {
        objects += objectCount(book);
        pods += book.pods;
        podGroups += groupsOf(book).length;
      }
      return { namespaces: books.size, objects, pods, podGroups, results: results.size };
    },
  };
}
