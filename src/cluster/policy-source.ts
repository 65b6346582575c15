/**
 * The policy set in force, recompiled whenever one of its inputs changes (`--config` files, the
 * Tier and Guardrail objects of the cluster) and swapped atomically.
 *
 * `policy()` returns the current set; a request reads it once and keeps that set to the end, so a
 * reload never changes a request midway. The `files` input is one unit; every document of the
 * other inputs (one cluster object each) is a unit of its own, with its own last good version
 * (see `policy/resolve.ts`): an object that does not compile keeps its previous version in force,
 * or stays out, and never holds back the others. Inputs arrive in bursts (a re-list,
 * `kubectl apply -f dir/`), so compiles are debounced.
 */
import type { NamespaceInfo } from '../api/kube.js';
import type { PolicySet } from '../engine/policy-set.js';
import type { CompileResult } from '../policy/compile.js';
import type { ManifestDocument, ManifestSet } from '../policy/manifests.js';
import { formatProblem } from '../policy/problems.js';
import { FILES_UNIT, resolvePolicySet, type PolicyUnit, type Resolution } from '../policy/resolve.js';
import { analyseShadowsInBackground, type BackgroundAnalysis } from './background-shadows.js';
import type { Logger } from '../telemetry/logger.js';
import { recordPolicySet, type Metrics } from '../telemetry/metrics.js';

/** The input that is one unit, owned by the operator: `--config` files. */
export const FILES_INPUT = FILES_UNIT;

export interface PolicySourceOptions {
  /** Names of the inputs, in document order; nothing compiles until each has been given once. */
  readonly inputs: readonly string[];
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Quiet time after a change before compiling, in ms (default 50). */
  readonly debounceMs?: number;
  /** Called after every compile, good or bad (status conditions are written from here). */
  readonly onCompiled?: (resolution: Resolution) => void;
}

export interface PolicySource {
  /** Replaces what one input contributes; problems (unreadable files, bad YAML) count against that input. */
  update(input: string, manifests: ManifestSet): void;
  /** The set in force, or undefined before the first good compile. */
  policy(): PolicySet | undefined;
  /** The documents the set in force was compiled from. */
  documents(): readonly ManifestDocument[];
  /** What one input last gave (its latest version, whether in force or not). */
  given(input: string): ManifestSet | undefined;
  /** Namespace objects given with the set in force (`--config` files); the same array until a reload. */
  namespaces(): readonly NamespaceInfo[];
  /** The outcome of the last compile: what is in force and what is not. */
  latest(): Resolution | undefined;
  /** Settles with the first compile's outcome; rejects if stopped before. */
  readonly firstCompile: Promise<CompileResult>;
  /** Resolves when a policy set is first in force; rejects if stopped before. */
  readonly firstSet: Promise<PolicySet>;
  stop(): void;
}

interface InForce {
  readonly set: PolicySet;
  readonly documents: readonly ManifestDocument[];
  readonly namespaces: readonly NamespaceInfo[];
  /** Identity of the documents, so a compile that changes nothing keeps the same set. */
  readonly fingerprint: string;
}

const NO_DOCUMENTS: readonly ManifestDocument[] = Object.freeze([]);
const NO_NAMESPACES: readonly NamespaceInfo[] = Object.freeze([]);

/**
 * A policy set fed by named inputs; see the module comment.
 *
 * @example
 * const source = createPolicySource({ inputs: ['files', 'Tier', 'Guardrail'], metrics, logger });
 * source.update('files', await readManifests(paths));
 */
export function createPolicySource(options: PolicySourceOptions): PolicySource {
  const { metrics, logger } = options;
  const given = new Map<string, ManifestSet>();
  const lastGood = new Map<string, readonly ManifestDocument[]>();
  let inForce: InForce | undefined;
  let latest: Resolution | undefined;
  let knownWarnings = new Set<string>();
  let knownShadowWarnings = new Set<string>();
  let shadows: BackgroundAnalysis | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let settle: { resolve: (result: CompileResult) => void; reject: (error: Error) => void } | undefined;
  const firstCompile = new Promise<CompileResult>((resolve, reject) => { settle = { resolve, reject }; });
  firstCompile.catch(() => {});
  let settleSet: { resolve: (set: PolicySet) => void; reject: (error: Error) => void } | undefined;
  const firstSet = new Promise<PolicySet>((resolve, reject) => { settleSet = { resolve, reject }; });
  firstSet.catch(() => {});

  function units(): PolicyUnit[] {
    return options.inputs.flatMap((name): PolicyUnit[] => {
      const manifests = given.get(name) ?? { documents: [], problems: [] };
      if (name === FILES_INPUT) return [unit(FILES_INPUT, manifests, true)];
      return manifests.documents.map((document) => unit(document.source.file, { documents: [document], problems: [] }, false));
    });
  }

  function unit(key: string, manifests: ManifestSet, required: boolean): PolicyUnit {
    const previous = lastGood.get(key);
    return { key, latest: manifests, required, ...(previous ? { lastGood: previous } : {}) };
  }

  function compile(): void {
    timer = undefined;
    const generation = (inForce?.set.generation ?? 0) + 1;
    const current = units();
    // The can-never-apply analysis runs after the set is in force (`swapIn`), off the request path.
    const resolution = resolvePolicySet(current, { generation, shadows: 'none' });
    const { result } = resolution;
    latest = resolution;
    if (result.set) {
      const { set } = result;
      for (const entry of current) if (resolution.outcomes.get(entry.key)?.state === 'latest') lastGood.set(entry.key, entry.latest.documents);
      for (const key of [...lastGood.keys()]) if (!current.some((entry) => entry.key === key)) lastGood.delete(key);
      swapIn({ ...result, set });
    }
    metrics.reloads.inc({ result: resolution.complete ? 'success' : 'failure' });
    if (!resolution.complete) {
      const notInForce = current.filter((entry) => resolution.outcomes.get(entry.key)?.state !== 'latest').map((entry) => entry.key);
      const message = result.set
        ? 'some policies do not compile: each keeps its last good version in force, if it had one'
        : `the policy set does not compile; ${inForce ? 'the last good set stays in force' : 'no policy set is in force'}`;
      // When no set could be made, a unit's problems are also the compile's: each is listed once.
      const problems = [...new Set([...resolution.outcomes.values()].flatMap((outcome) => ('problems' in outcome ? outcome.problems : [])).concat(result.problems))];
      logger.warn(message, {
        inForce: inForce?.set.generation ?? 'none',
        notInForce: notInForce.slice(0, 50),
        problemCount: problems.length,
        problems: problems.slice(0, 50).map(formatProblem),
      });
    }
    settle?.resolve(result);
    settle = undefined;
    try {
      options.onCompiled?.(resolution);
    } catch (error) {
      logger.error('after-compile hook failed', { error: (error as Error).message });
    }
  }

  /** Puts a compiled set in force, unless it is made of exactly the documents already in force. */
  function swapIn(result: CompileResult & { set: PolicySet }): void {
    const fingerprint = JSON.stringify(result.documents);
    if (inForce?.fingerprint === fingerprint) return;
    inForce = { set: result.set, documents: result.documents, namespaces: result.namespaces, fingerprint };
    settleSet?.resolve(result.set);
    settleSet = undefined;
    recordPolicySet(metrics, result.set);
    logger.info('policy set loaded', { generation: result.set.generation, tiers: result.set.tiers.length, guardrails: result.set.guardrails.length });
    for (const warning of result.warnings) if (!knownWarnings.has(warning)) logger.warn(warning);
    knownWarnings = new Set(result.warnings);
    shadows?.cancel();
    shadows = analyseShadowsInBackground(result.set, (warnings) => {
      for (const warning of warnings) if (!knownShadowWarnings.has(warning)) logger.warn(warning);
      knownShadowWarnings = new Set(warnings);
    });
  }

  return {
    update(input, manifests) {
      if (stopped) return;
      if (!options.inputs.includes(input)) throw new Error(`unknown policy input ${JSON.stringify(input)} (known: ${options.inputs.join(', ')})`);
      given.set(input, manifests);
      if (timer === undefined && options.inputs.every((name) => given.has(name))) timer = setTimeout(compile, options.debounceMs ?? 50);
    },
    policy: () => inForce?.set,
    documents: () => inForce?.documents ?? NO_DOCUMENTS,
    given: (input) => given.get(input),
    namespaces: () => inForce?.namespaces ?? NO_NAMESPACES,
    latest: () => latest,
    firstCompile,
    firstSet,
    stop() {
      stopped = true;
      clearTimeout(timer);
      shadows?.cancel();
      timer = undefined;
      settle?.reject(new Error('the policy source stopped before its first compile'));
      settleSet?.reject(new Error('the policy source stopped before a policy set was in force'));
    },
  };
}
