/**
 * The policy set in force, recompiled whenever one of its inputs changes (`--config` files, the
 * Tier and Guardrail objects of the cluster) and swapped atomically.
 *
 * `policy()` returns the current set; a request reads it once and keeps that set to the end, so a
 * reload never changes a request midway. A set that does not compile is logged and counted, and
 * the last good set stays in force. Inputs arrive in bursts (a re-list, `kubectl apply -f dir/`),
 * so compiles are debounced.
 */
import type { NamespaceInfo } from '../api/kube.js';
import type { PolicySet } from '../engine/policy-set.js';
import { compilePolicySet, type CompileResult } from '../policy/compile.js';
import type { ManifestDocument, ManifestSet } from '../policy/manifests.js';
import { formatProblem } from '../policy/problems.js';
import type { Logger } from '../telemetry/logger.js';
import { recordPolicySet, type Metrics } from '../telemetry/metrics.js';

export interface PolicySourceOptions {
  /** Names of the inputs, in document order; nothing compiles until each has been given once. */
  readonly inputs: readonly string[];
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Quiet time after a change before compiling, in ms (default 50). */
  readonly debounceMs?: number;
  /** Called after every compile, good or bad (status conditions are written from here). */
  readonly onCompiled?: (result: CompileResult) => void;
}

export interface PolicySource {
  /** Replaces what one input contributes; problems (unreadable files, bad YAML) block the set like any other. */
  update(input: string, manifests: ManifestSet): void;
  /** The set in force, or undefined before the first good compile. */
  policy(): PolicySet | undefined;
  /** The documents the set in force was compiled from. */
  documents(): readonly ManifestDocument[];
  /** Namespace objects given with the set in force (`--config` files); the same array until a reload. */
  namespaces(): readonly NamespaceInfo[];
  /** The outcome of the last compile, which may have failed. */
  latest(): CompileResult | undefined;
  /** Settles with the first compile's outcome; rejects if stopped before. */
  readonly firstCompile: Promise<CompileResult>;
  stop(): void;
}

interface InForce {
  readonly set: PolicySet;
  readonly documents: readonly ManifestDocument[];
  readonly namespaces: readonly NamespaceInfo[];
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
/**
 * The set compiled without the cluster objects that have problems (a few rounds, since leaving a
 * Tier out breaks its guardrails). Files are never left out: a broken file is the operator's.
 */
function withoutBrokenClusterObjects(result: CompileResult, generation: number): CompileResult {
  let current = result;
  for (let round = 0; round < 5 && !current.set; round++) {
    const broken = new Set(current.problems.map((problem) => problem.source.file).filter((file) => file.startsWith('cluster:')));
    if (broken.size === 0) return result;
    const documents = current.documents.filter((doc) => !broken.has(doc.source.file));
    current = compilePolicySet({ documents }, { generation });
  }
  return current.set ? current : result;
}

export function createPolicySource(options: PolicySourceOptions): PolicySource {
  const { metrics, logger } = options;
  const given = new Map<string, ManifestSet>();
  let inForce: InForce | undefined;
  let latest: CompileResult | undefined;
  let knownWarnings = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let settle: { resolve: (result: CompileResult) => void; reject: (error: Error) => void } | undefined;
  const firstCompile = new Promise<CompileResult>((resolve, reject) => { settle = { resolve, reject }; });
  firstCompile.catch(() => {});

  function compile(): void {
    timer = undefined;
    const inputs = options.inputs.map((name) => given.get(name) ?? { documents: [], problems: [] });
    const generation = (inForce?.set.generation ?? 0) + 1;
    const result = compilePolicySet({ documents: inputs.flatMap((input) => input.documents), problems: inputs.flatMap((input) => input.problems) }, { generation });
    latest = result;
    // With no last good set (first start), broken cluster objects must not keep tierguard from
    // ever becoming ready — with failurePolicy Fail that would block the cluster. Start from the
    // valid objects; the broken ones still get Ready=False from the full result.
    const usable = result.set || inForce ? result : withoutBrokenClusterObjects(result, generation);
    if (usable !== result && usable.set) {
      logger.error('starting without cluster objects that do not compile', { problems: result.problems.slice(0, 50).map(formatProblem) });
    }
    if (usable.set) {
      inForce = { set: usable.set, documents: usable.documents, namespaces: usable.namespaces };
      if (usable === result) metrics.reloads.inc({ result: 'success' });
      recordPolicySet(metrics, usable.set);
      logger.info('policy set loaded', { generation, tiers: usable.set.tiers.length, guardrails: usable.set.guardrails.length });
      for (const warning of usable.warnings) if (!knownWarnings.has(warning)) logger.warn(warning);
      knownWarnings = new Set(usable.warnings);
    }
    if (!result.set) {
      metrics.reloads.inc({ result: 'failure' });
      logger.warn('the policy set does not compile; the last good set stays in force', {
        inForce: inForce?.set.generation ?? 'none',
        problemCount: result.problems.length,
        problems: result.problems.slice(0, 50).map(formatProblem),
      });
    }
    settle?.resolve(result);
    settle = undefined;
    try {
      options.onCompiled?.(result);
    } catch (error) {
      logger.error('after-compile hook failed', { error: (error as Error).message });
    }
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
    namespaces: () => inForce?.namespaces ?? NO_NAMESPACES,
    latest: () => latest,
    firstCompile,
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      settle?.reject(new Error('the policy source stopped before its first compile'));
    },
  };
}
