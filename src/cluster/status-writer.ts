/**
 * Writes each Tier's and Guardrail's `status.conditions` (type Ready) after every compile. The
 * condition describes that object only (see `policy/resolve.ts`):
 *
 * - `True`, reason `Compiled`: this generation is in force;
 * - `False`, reason `Invalid`: this generation does not compile (its problems are listed); the
 *   message says which earlier generation stays in force, or that none is;
 * - `False`, reason `TierNotFound`: a Guardrail naming a Tier that does not exist; it comes into
 *   force by itself when the Tier is created;
 * - `False`, reason `TierNotReady`: its Tier exists but is not in force itself;
 * - `False`, reason `PolicySetInvalid`: no set can be made because the `--config` files do not
 *   compile (an unchanged generation that is part of the last good set keeps `True`).
 *
 * A condition is written (JSON merge patch of the status subresource) only when it differs from
 * what the object carries and from what was last written, so reloads cause no write storms.
 * Writes are sequential; a failed one is logged and tried again after the next compile.
 *
 * Each Guardrail's `status.audit` (what the background audit found, `GuardrailAuditStatus`) is
 * written the same way after each audit. Only the replica holding the Lease writes
 * (`setLeading`); the others keep what they would write and write it when they take over. Writes
 * queued while leading are dropped when the lease is lost or the writer stops: the next leader
 * writes whatever the objects do not carry.
 */
import type { GuardrailAuditStatus } from '../policy/crd.js';
import type { PolicyProblem } from '../policy/problems.js';
import type { GuardrailAuditCounts } from '../review/audit-counts.js';
import type { Resolution, UnitOutcome } from '../policy/resolve.js';
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
  /** Brings every object's Ready condition in line with `resolution`. */
  sync(resolution: Resolution, objects: readonly ClusterPolicyObject[]): void;
  /**
   * Brings every Guardrail's `status.audit` in line with the audit's counts (a guardrail absent
   * from `counts` found nothing). Counts that did not change are written again only once their
   * `lastAuditTime` is `refreshMs` old (the audit interval).
   */
  syncAudit(counts: ReadonlyMap<string, GuardrailAuditCounts>, time: Date, objects: readonly ClusterPolicyObject[], refreshMs: number): void;
  /** Writes only while leading (default true); taking over writes what the last syncs asked for. */
  setLeading(leading: boolean): void;
  /** Resolves when the writes queued so far are done. */
  idle(): Promise<void>;
  /**
   * Drops the writes not yet started and writes nothing more; resolves when the write in
   * progress, if any, is done. Nothing is lost: whoever leads next writes every condition and
   * count the objects do not carry. So a stop does not wait for a long queue: the first start with
   * 1,000 Guardrails queues 1,000 writes, about 8 s on a 2-core test machine.
   */
  stop(): Promise<void>;
}

/** Longest condition message written; the API allows 32768 characters. */
const MAX_MESSAGE = 4000;

/** The Ready condition an object should carry (without its transition time). */
export function readyCondition(options: { object: ClusterPolicyObject; outcome: UnitOutcome; inForceGeneration?: number }): ReadyCondition {
  const { object, outcome } = options;
  const base = { type: 'Ready', observedGeneration: object.generation } as const;
  switch (outcome.state) {
    case 'latest':
      return { ...base, status: 'True', reason: 'Compiled', message: `generation ${object.generation} is in force` };
    case 'lastGood': {
      const previous = generationOf(outcome.inForce);
      return { ...base, status: 'False', reason: 'Invalid', message: truncate(`generation ${object.generation} is not in force: ${problemList(outcome.problems)}; generation ${previous} stays in force`) };
    }
    case 'out':
      if (outcome.reason === 'TierNotFound') return { ...base, status: 'False', reason: 'TierNotFound', message: `not in force: tier ${JSON.stringify(outcome.tier)} does not exist; this ${object.kind} comes into force when it is created` };
      if (outcome.reason === 'TierNotReady') return { ...base, status: 'False', reason: 'TierNotReady', message: `not in force: tier ${JSON.stringify(outcome.tier)} is not in force itself (see its status)` };
      return { ...base, status: 'False', reason: 'Invalid', message: truncate(`not in force: ${problemList(outcome.problems)}`) };
    case 'blocked':
      if (options.inForceGeneration === object.generation) return { ...base, status: 'True', reason: 'Compiled', message: `generation ${object.generation} is in force` };
      return { ...base, status: 'False', reason: 'PolicySetInvalid', message: 'not in force: the --config files do not compile, so no policy set can be made; the last good set stays in force' };
  }
}

function problemList(problems: readonly PolicyProblem[]): string {
  return problems.map((problem) => `${problem.path ? `${problem.path}: ` : ''}${problem.message}`).join('; ');
}

function generationOf(documents: readonly { value: unknown }[]): number | string {
  const generation = (documents[0]?.value as { metadata?: { generation?: unknown } } | null)?.metadata?.generation;
  return typeof generation === 'number' ? generation : 'unknown';
}

/**
 * Remembers what it wrote and which generations are in force; `sync` after every compile.
 *
 * @example
 * const status = createStatusWriter({ client, logger });
 * status.sync(resolution, clusterPolicies.objects());
 */
export function createStatusWriter(options: StatusWriterOptions): StatusWriter {
  const { client, logger } = options;
  const now = options.now ?? (() => new Date());
  const written = new Map<string, string>();
  const inForce = new Map<string, number>();
  /** Per Guardrail: the counts last written and the audit time they carried. */
  const auditWritten = new Map<string, { counts: string; time: number }>();
  let queue: Promise<void> = Promise.resolve();
  let leading = true;
  let stopped = false;
  let lastSync: { resolution: Resolution; objects: readonly ClusterPolicyObject[] } | undefined;
  let lastAudit: { counts: ReadonlyMap<string, GuardrailAuditCounts>; time: Date; objects: readonly ClusterPolicyObject[]; refreshMs: number } | undefined;

  const writeAudit = async (object: ClusterPolicyObject, audit: GuardrailAuditStatus, written: { counts: string; time: number }): Promise<void> => {
    // Queued while leading; a replica that no longer leads (or stops) leaves it to the next leader.
    if (stopped || !leading) return;
    const path = `${POLICY_PATHS[object.kind]}/${encodeURIComponent(object.name)}/status`;
    try {
      await client.mergePatch(path, { status: { audit } });
      logger.debug('audit status written', { object: `${object.kind} ${object.name}`, violations: audit.violations, namespacesNotIsolated: audit.namespacesNotIsolated });
    } catch (error) {
      if (auditWritten.get(object.name) === written) auditWritten.delete(object.name);
      if (error instanceof KubeApiError && error.statusCode === 404) return;
      logger.warn('cannot write audit status', { object: `${object.kind} ${object.name}`, error: (error as Error).message });
    }
  };

  const write = async (object: ClusterPolicyObject, condition: ReadyCondition, key: string): Promise<void> => {
    // Queued while leading; a replica that no longer leads (or stops) leaves it to the next leader.
    if (stopped || !leading) return;
    const path = `${POLICY_PATHS[object.kind]}/${encodeURIComponent(object.name)}/status`;
    try {
      await client.mergePatch(path, { status: { observedGeneration: object.generation, conditions: [condition] } });
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

  const writer: StatusWriter = {
    sync(resolution, objects) {
      lastSync = { resolution, objects };
      const keys = new Set(objects.map((object) => object.document.source.file));
      for (const key of [...written.keys()]) if (!keys.has(key)) written.delete(key);
      for (const object of objects) {
        const key = object.document.source.file;
        const outcome = resolution.outcomes.get(key);
        // Not part of this compile (it arrived since): the compile that includes it will say.
        if (!outcome) continue;
        if (outcome.state === 'latest') inForce.set(key, object.generation);
        else if (outcome.state === 'out') inForce.delete(key);
        const inForceGeneration = inForce.get(key);
        const desired = readyCondition({ object, outcome, ...(inForceGeneration !== undefined ? { inForceGeneration } : {}) });
        const identity = conditionIdentity(desired);
        if (!leading) continue;
        if (written.get(key) === identity || (object.ready && conditionIdentity(object.ready) === identity)) continue;
        written.set(key, identity);
        const since = object.ready?.status === desired.status && object.ready.lastTransitionTime ? object.ready.lastTransitionTime : now().toISOString().replace(/\.\d+Z$/, 'Z');
        const condition = { ...desired, lastTransitionTime: since };
        queue = queue.then(() => write(object, condition, key));
      }
    },
    syncAudit(counts, time, objects, refreshMs) {
      lastAudit = { counts, time, objects, refreshMs };
      if (!leading) return;
      const lastAuditTime = time.toISOString().replace(/\.\d+Z$/, 'Z');
      for (const object of objects) {
        if (object.kind !== 'Guardrail') continue;
        const found = counts.get(object.name);
        const audit: GuardrailAuditStatus = {
          violations: found?.violations ?? 0,
          violationsByMode: { Enforce: 0, Warn: 0, Audit: 0, ...found?.violationsByMode },
          errors: found?.errors ?? 0,
          namespacesNotIsolated: found?.namespacesNotIsolated ?? 0,
          lastAuditTime,
        };
        // Unchanged counts are not written again until the time they carry is `refreshMs` old: a
        // policy change audits everything, and should not rewrite every Guardrail for a timestamp.
        const written = { counts: JSON.stringify({ ...audit, lastAuditTime: undefined }), time: time.getTime() };
        const before = auditWritten.get(object.name);
        if (before?.counts === written.counts && written.time - before.time < refreshMs) continue;
        auditWritten.set(object.name, written);
        queue = queue.then(() => writeAudit(object, audit, written));
      }
    },
    setLeading(value) {
      if (leading === value) return;
      leading = value;
      written.clear();
      auditWritten.clear();
      if (!leading) return;
      if (lastSync) writer.sync(lastSync.resolution, lastSync.objects);
      if (lastAudit) writer.syncAudit(lastAudit.counts, lastAudit.time, lastAudit.objects, lastAudit.refreshMs);
    },
    idle: () => queue,
    stop() {
      stopped = true;
      return queue;
    },
  };
  return writer;
}

function conditionIdentity(condition: ReadyCondition): string {
  return JSON.stringify([condition.status, condition.reason, condition.message, condition.observedGeneration ?? null]);
}

function truncate(message: string): string {
  return message.length <= MAX_MESSAGE ? message : `${message.slice(0, MAX_MESSAGE - 1)}…`;
}
