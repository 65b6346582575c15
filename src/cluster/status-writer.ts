/**
 * Writes each Tier's and Guardrail's `status.conditions` (type Ready) after every compile:
 *
 * - `True`, reason `Compiled`, with `observedGeneration`: this generation is in force;
 * - `False`, reason `Invalid`: the object has problems of its own, listed in the message;
 * - `False`, reason `PolicySetInvalid`: the object is fine, but the set does not compile because
 *   of other objects, so this generation is not in force (an unchanged generation that is part of
 *   the last good set keeps `True`).
 *
 * A condition is written (JSON merge patch of the status subresource) only when it differs from
 * what the object carries and from what was last written, so reloads cause no write storms.
 * Writes are sequential; a failed one is logged and tried again after the next compile.
 */
import type { CompileResult } from '../policy/compile.js';
import type { PolicyProblem } from '../policy/problems.js';
import type { Logger } from '../telemetry/logger.js';
import { POLICY_PATHS, type ClusterPolicyObject, type ReadyCondition } from './cluster-policies.js';
import { KubeApiError, type KubeClient } from './kube-client.js';

export interface StatusWriterOptions {
  readonly client: KubeClient;
  readonly logger: Logger;
  /** Clock for `lastTransitionTime`; injected for tests. */
  readonly now?: () => Date;
}

export interface StatusWriter {
  /** Brings every object's Ready condition in line with `result`. */
  sync(result: CompileResult, objects: readonly ClusterPolicyObject[]): void;
  /** Resolves when the writes queued so far are done. */
  idle(): Promise<void>;
}

/** Longest condition message written; the API allows 32768 characters. */
const MAX_MESSAGE = 4000;

/** The Ready condition an object should carry (without its transition time). */
export function readyCondition(options: { object: ClusterPolicyObject; problems: readonly PolicyProblem[]; compiled: boolean; inForceGeneration?: number }): ReadyCondition {
  const { object, problems } = options;
  const own = problems.filter((problem) => problem.source.file === object.document.source.file);
  if (own.length > 0) {
    const message = own.map((problem) => `${problem.path ? `${problem.path}: ` : ''}${problem.message}`).join('; ');
    return { type: 'Ready', status: 'False', reason: 'Invalid', message: truncate(message), observedGeneration: object.generation };
  }
  if (options.compiled || options.inForceGeneration === object.generation) {
    return { type: 'Ready', status: 'True', reason: 'Compiled', message: `this ${object.kind} compiles and is in force`, observedGeneration: object.generation };
  }
  const blocking = [...new Set(problems.map((problem) => problem.object ?? problem.source.file))];
  const named = blocking.slice(0, 5).join(', ') + (blocking.length > 5 ? ` and ${blocking.length - 5} more` : '');
  return { type: 'Ready', status: 'False', reason: 'PolicySetInvalid', message: truncate(`not in force: the policy set does not compile because of problems in ${named}; the last good set stays in force`), observedGeneration: object.generation };
}

/**
 * Remembers what it wrote and which generations are in force; `sync` after every compile.
 *
 * @example
 * const status = createStatusWriter({ client, logger });
 * status.sync(result, clusterPolicies.objects());
 */
export function createStatusWriter(options: StatusWriterOptions): StatusWriter {
  const { client, logger } = options;
  const now = options.now ?? (() => new Date());
  const written = new Map<string, string>();
  const inForce = new Map<string, number>();
  let queue: Promise<void> = Promise.resolve();

  const write = async (object: ClusterPolicyObject, condition: ReadyCondition, key: string): Promise<void> => {
    const path = `${POLICY_PATHS[object.kind]}/${encodeURIComponent(object.name)}/status`;
    try {
      await client.mergePatch(path, { status: { conditions: [condition] } });
      logger.info('status written', { object: `${object.kind} ${object.name}`, ready: condition.status, reason: condition.reason });
    } catch (error) {
      // 404: deleted meanwhile (its DELETED event follows), or a CRD without the status subresource.
      if (error instanceof KubeApiError && error.statusCode === 404) {
        logger.debug('status not written: no such object or no status subresource', { object: `${object.kind} ${object.name}` });
        return;
      }
      written.delete(key);
      logger.warn('cannot write status', { object: `${object.kind} ${object.name}`, error: (error as Error).message });
    }
  };

  return {
    sync(result, objects) {
      const keys = new Set(objects.map((object) => object.document.source.file));
      for (const key of [...written.keys()]) if (!keys.has(key)) written.delete(key);
      if (result.set) {
        inForce.clear();
        for (const object of objects) inForce.set(object.document.source.file, object.generation);
      }
      for (const object of objects) {
        const key = object.document.source.file;
        const inForceGeneration = inForce.get(key);
        const desired = readyCondition({ object, problems: result.problems, compiled: result.set !== undefined, ...(inForceGeneration !== undefined ? { inForceGeneration } : {}) });
        const identity = conditionIdentity(desired);
        if (written.get(key) === identity || (object.ready && conditionIdentity(object.ready) === identity)) continue;
        written.set(key, identity);
        const since = object.ready?.status === desired.status && object.ready.lastTransitionTime ? object.ready.lastTransitionTime : now().toISOString().replace(/\.\d+Z$/, 'Z');
        const condition = { ...desired, lastTransitionTime: since };
        queue = queue.then(() => write(object, condition, key));
      }
    },
    idle: () => queue,
  };
}

function conditionIdentity(condition: ReadyCondition): string {
  return JSON.stringify([condition.status, condition.reason, condition.message, condition.observedGeneration ?? null]);
}

function truncate(message: string): string {
  return message.length <= MAX_MESSAGE ? message : `${message.slice(0, MAX_MESSAGE - 1)}…`;
}
