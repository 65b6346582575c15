/**
 * The policy set in force when its objects are applied one by one and some do not compile.
 *
 * A set is made of *units*: one per Tier or Guardrail object of the cluster, and one for all
 * `--config` files together. Each unit offers its latest version and, if it had one, the version
 * last in force. The set is compiled from every latest version; each unit a problem points at
 * falls back to its last good version, or leaves the set if it has none, and the rest is compiled
 * again, until the set compiles. So a broken object never holds back another object's change,
 * an edit that breaks an object leaves its previous version enforcing, and a new broken object is
 * simply not in force. Problems point at the later of two conflicting objects (the unit order is
 * the order of creation), so the object that was there first keeps its place.
 *
 * Units marked `required` (the files, which the operator owns) never leave: when a required unit
 * cannot be used at all, there is no set, as before.
 */
import { compilePolicySet, type CompileOptions, type CompileResult } from './compile.js';
import type { ManifestDocument } from './manifests.js';
import { isClusterSource, type PolicyProblem } from './problems.js';

export interface PolicyUnit {
  /** Identity, stable across versions: `files`, or the object's source (`cluster:Guardrail/NAME`). */
  readonly key: string;
  /** The latest version; problems met while reading it (unreadable file, bad YAML) count against it. */
  readonly latest: { readonly documents: readonly ManifestDocument[]; readonly problems?: readonly PolicyProblem[] };
  /** The version last in force, if any. */
  readonly lastGood?: readonly ManifestDocument[];
  /** A unit the set cannot do without: if neither version compiles, no set is produced. */
  readonly required?: boolean;
}

/** Why a unit is not in force at all. */
export type OutReason = 'Invalid' | 'TierNotFound' | 'TierNotReady';

export type UnitOutcome =
  /** The latest version is in force. */
  | { readonly state: 'latest' }
  /** The latest version does not compile (`problems`); the last good version stays in force. */
  | { readonly state: 'lastGood'; readonly problems: readonly PolicyProblem[]; readonly inForce: readonly ManifestDocument[] }
  /** Not in force. `problems` are the latest version's. */
  | { readonly state: 'out'; readonly reason: OutReason; readonly problems: readonly PolicyProblem[]; readonly tier?: string }
  /** No set could be made because of other units (a required one is unusable); nothing changed. */
  | { readonly state: 'blocked' };

export interface Resolution {
  /** The compile of what is in force; `set` is undefined only when a required unit is unusable. */
  readonly result: CompileResult;
  readonly outcomes: ReadonlyMap<string, UnitOutcome>;
  /** Every unit's latest version is in force. */
  readonly complete: boolean;
}

type Choice = 'latest' | 'lastGood' | 'out';

/** The key of the one unit all `--config` files make together. */
export const FILES_UNIT = 'files';

/**
 * Documents as units without a last good version: the files together (required), every cluster
 * object on its own. What admission judges a change against.
 */
export function documentUnits(documents: readonly ManifestDocument[]): PolicyUnit[] {
  const files = documents.filter((doc) => !isClusterSource(doc.source));
  return [
    ...(files.length > 0 ? [{ key: FILES_UNIT, latest: { documents: files }, required: true }] : []),
    ...documents.filter((doc) => isClusterSource(doc.source)).map((doc) => ({ key: doc.source.file, latest: { documents: [doc] } })),
  ];
}

/**
 * @example
 * const { result, outcomes } = resolvePolicySet([{ key: 'files', latest: manifests, required: true }, ...objects], { generation: 7 });
 */
export function resolvePolicySet(units: readonly PolicyUnit[], options: CompileOptions): Resolution {
  const keyOfFile = new Map<string, string>();
  for (const unit of units) {
    for (const { source } of [...unit.latest.documents, ...(unit.lastGood ?? [])]) keyOfFile.set(source.file, unit.key);
    for (const { source } of unit.latest.problems ?? []) keyOfFile.set(source.file, unit.key);
  }
  const choice = new Map<string, Choice>(units.map((unit) => [unit.key, 'latest']));
  const latestProblems = new Map<string, PolicyProblem[]>();
  let result = compileChosen(units, choice, options);
  // Each round moves at least one unit down (latest → last good → out), so this ends.
  while (!result.set) {
    const blamed = new Map<string, PolicyProblem[]>();
    for (const problem of result.problems) {
      const key = keyOfFile.get(problem.source.file);
      if (key === undefined) return unresolved(units, result, choice, latestProblems);
      blamed.set(key, [...(blamed.get(key) ?? []), problem]);
    }
    for (const [key, problems] of blamed) {
      const unit = units.find((candidate) => candidate.key === key)!;
      const current = choice.get(key);
      if (current === 'latest') latestProblems.set(key, problems);
      if (current === 'latest' && unit.lastGood) choice.set(key, 'lastGood');
      else if (current === 'out' || unit.required) return unresolved(units, result, choice, latestProblems);
      else choice.set(key, 'out');
    }
    result = compileChosen(units, choice, options);
  }
  const outcomes = new Map<string, UnitOutcome>();
  for (const unit of units) outcomes.set(unit.key, outcome(unit, choice.get(unit.key)!, latestProblems.get(unit.key) ?? [], units));
  return { result, outcomes, complete: [...choice.values()].every((chosen) => chosen === 'latest') };
}

function compileChosen(units: readonly PolicyUnit[], choice: ReadonlyMap<string, Choice>, options: CompileOptions): CompileResult {
  const documents: ManifestDocument[] = [];
  const problems: PolicyProblem[] = [];
  for (const unit of units) {
    const chosen = choice.get(unit.key);
    if (chosen === 'latest') {
      documents.push(...unit.latest.documents);
      problems.push(...(unit.latest.problems ?? []));
    } else if (chosen === 'lastGood') {
      documents.push(...(unit.lastGood ?? []));
    }
  }
  // Only a compile without problems analyses shadows, so the rounds before the last cost nothing more.
  return compilePolicySet({ documents, problems }, options);
}

/** No set: a required unit cannot be used, or a problem points at no unit. */
function unresolved(units: readonly PolicyUnit[], result: CompileResult, choice: ReadonlyMap<string, Choice>, latestProblems: ReadonlyMap<string, PolicyProblem[]>): Resolution {
  const outcomes = new Map<string, UnitOutcome>();
  for (const unit of units) {
    const files = new Set(unit.latest.documents.map((doc) => doc.source.file));
    const own = latestProblems.get(unit.key) ?? result.problems.filter((problem) => files.has(problem.source.file));
    outcomes.set(unit.key, own.length > 0 ? outcome(unit, choice.get(unit.key) === 'lastGood' ? 'lastGood' : 'out', own, units) : { state: 'blocked' });
  }
  return { result, outcomes, complete: false };
}

function outcome(unit: PolicyUnit, chosen: Choice, problems: readonly PolicyProblem[], units: readonly PolicyUnit[]): UnitOutcome {
  if (chosen === 'latest') return { state: 'latest' };
  if (chosen === 'lastGood') return { state: 'lastGood', problems, inForce: unit.lastGood ?? [] };
  const missing = problems.length > 0 && problems.every((problem) => problem.code === 'TierNotFound') ? tierOf(unit.latest.documents) : undefined;
  if (missing === undefined) return { state: 'out', reason: 'Invalid', problems };
  // The Tier exists but is itself out of force: not found in the set, yet not missing either.
  const declared = units.some((other) => other.latest.documents.some(({ value }) => isTierNamed(value, missing)));
  return { state: 'out', reason: declared ? 'TierNotReady' : 'TierNotFound', problems, tier: missing };
}

function tierOf(documents: readonly ManifestDocument[]): string | undefined {
  const tier = (documents[0]?.value as { spec?: { tier?: unknown } } | null)?.spec?.tier;
  return typeof tier === 'string' ? tier : undefined;
}

function isTierNamed(value: unknown, name: string): boolean {
  const doc = value as { kind?: unknown; metadata?: { name?: unknown } } | null;
  return doc?.kind === 'Tier' && doc.metadata?.name === name;
}
