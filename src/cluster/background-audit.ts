/**
 * The background audit of `serve` in a cluster (issue 12): what already exists is judged against
 * the policy set in force as admission would judge its creation (`../review/audit-ledger.ts`),
 *
 * - in full, at start, when the policy set changes and every `intervalMs`: every audited
 *   collection is listed again (its watch is restarted, so the list and the events that follow
 *   it are one consistent stream) and every object judged;
 * - one object at a time as the watches report changes; a Namespace whose labels change (or
 *   that comes or goes) has its own objects read again and every NetworkPolicy checked again,
 *   since the override check reasons over the namespaces that exist.
 *
 * All of it runs on one queue, in order, yielding to the event loop every few milliseconds so
 * that admission requests are answered meanwhile. Pods and workloads are never held: the ledger
 * keeps results, counts and Pod labels only. NetworkPolicies come from the runtime's cache,
 * which already holds them. After a change, and when a full audit is done, `onState` receives
 * what the ledger holds (never the half-done state of a full audit).
 */
import type { KubeObject, NamespaceInfo } from '../api/kube.js';
import type { EngineOptions } from '../engine/evaluate.js';
import type { PolicySet } from '../engine/policy-set.js';
import type { NamespaceLookup } from '../policy/namespaces.js';
import type { LedgerState } from '../review/audit-ledger.js';
import { createAuditLedger } from '../review/audit-ledger.js';
import type { ManifestObject } from '../review/manifest-request.js';
import type { Logger } from '../telemetry/logger.js';
import { AUDITED_COLLECTIONS, withKind } from './audit-snapshot.js';
import type { BackoffOptions } from './backoff.js';
import type { KubeClient } from './kube-client.js';
import { compactNamespace } from './namespace-cache.js';
import { listAll } from './paged-list.js';
import { startResilientWatch, type ResilientWatch, type WatchChange } from './resilient-watch.js';

export interface BackgroundAuditOptions {
  readonly client: KubeClient;
  readonly logger: Logger;
  readonly policy: () => PolicySet | undefined;
  /** The runtime's NetworkPolicy cache: its objects and their changes. */
  readonly networkPolicies: {
    list(): readonly KubeObject[];
    subscribe(listener: (change: WatchChange<KubeObject>) => void): () => void;
  };
  readonly engine: EngineOptions;
  /** Time between full audits, in ms. */
  readonly intervalMs: number;
  /** Receives the audit's state after each change and each full audit. */
  readonly onState: (state: LedgerState) => void;
  /** Quiet time after a change before the state is published, in ms (default 100). */
  readonly publishDelayMs?: number;
  /** Quiet time after a Namespace change before its objects are read again, in ms (default 500). */
  readonly namespaceDelayMs?: number;
  readonly backoff?: BackoffOptions;
}

export interface BackgroundAudit {
  /** Starts a full audit (coalesced with one already waiting). */
  auditAll(reason: string): void;
  /** Full audits completed. */
  readonly audits: number;
  stop(): void;
}

/** The Namespaces first; NetworkPolicies come from the runtime's cache. */
const WATCHED = AUDITED_COLLECTIONS.filter((collection) => collection.kind !== 'NetworkPolicy');
const NAMESPACED = WATCHED.filter((collection) => collection.kind !== 'Namespace');

/**
 * @example
 * const audit = startBackgroundAudit({ client, logger, policy: runtime.policy, networkPolicies, engine, intervalMs: 3_600_000, onState: (state) => reports.sync(state) });
 * runtime.onPolicyChange(() => audit.auditAll('policy set changed'));
 */
export function startBackgroundAudit(options: BackgroundAuditOptions): BackgroundAudit {
  const { client, logger } = options;
  const publishDelayMs = options.publishDelayMs ?? 100;
  const namespaceDelayMs = options.namespaceDelayMs ?? 500;
  const namespaces = createNamespaceView();
  const ledger = createAuditLedger({ policy: options.policy, namespaces, engine: options.engine, pause: () => new Promise((resolve) => setImmediate(resolve)) });
  let queue: Promise<void> = Promise.resolve();
  let stopped = false;
  let watches: ResilientWatch[] = [];
  let auditing = false;
  let auditWanted: string | undefined;
  let lastAudit: Date | undefined;
  let audits = 0;
  let publishTimer: NodeJS.Timeout | undefined;
  let namespaceTimer: NodeJS.Timeout | undefined;
  const changedNamespaces = new Set<string>();

  const enqueue = (what: string, task: () => Promise<void> | void): Promise<void> => {
    queue = queue.then(async () => {
      if (stopped) return;
      try {
        await task();
      } catch (error) {
        logger.warn('audit step failed', { step: what, error: (error as Error).message });
      }
    });
    return queue;
  };

  const publish = (): void => {
    if (auditing || !lastAudit || stopped) return;
    ledger.refreshIsolation('changed');
    options.onState(ledger.state(lastAudit));
  };
  const schedulePublish = (): void => {
    publishTimer ??= setTimeout(() => {
      publishTimer = undefined;
      void enqueue('publish', publish);
    }, publishDelayMs);
  };

  const onObjectChange = (kind: string, change: WatchChange<ManifestObject>): void => {
    if (change.type === 'SYNC') void enqueue(`list of ${kind}`, () => ledger.replaceKind(kind, change.items));
    else void enqueue(`${change.type} ${kind}`, () => (change.type === 'DELETED' ? ledger.remove(change.object) : ledger.put(change.object)));
    // A list outside a full audit (a watch listing again after 410 Gone) is published too.
    schedulePublish();
  };

  const onNamespaceChange = (change: WatchChange<ManifestObject>): void => {
    const changed = namespaces.apply(change);
    onObjectChange('Namespace', change);
    // A list during a full audit: every object is being listed and judged anyway.
    if ((change.type === 'SYNC' && auditing) || changed.length === 0) return;
    for (const name of changed) changedNamespaces.add(name);
    namespaceTimer ??= setTimeout(() => {
      namespaceTimer = undefined;
      const names = [...changedNamespaces];
      changedNamespaces.clear();
      void enqueue('namespace labels changed', () => reauditNamespaces(names));
      schedulePublish();
    }, namespaceDelayMs);
  };

  /** Namespaces came, went or were relabelled: their objects are judged again, and every NetworkPolicy. */
  const reauditNamespaces = async (names: readonly string[]): Promise<void> => {
    for (const name of names) {
      for (const collection of NAMESPACED) {
        const path = collection.path.replace(/\/([a-z]+)$/, `/namespaces/${encodeURIComponent(name)}/$1`);
        const { items } = await listAll({ client, path, decode: (raw) => withKind(raw, collection) });
        await ledger.replaceKind(collection.kind, items, name);
      }
    }
    await ledger.replaceKind('NetworkPolicy', options.networkPolicies.list() as readonly ManifestObject[]);
  };

  const watchCollection = (collection: (typeof WATCHED)[number]): ResilientWatch => startResilientWatch<ManifestObject>({
    client,
    path: collection.path,
    decode: (raw) => withKind(raw, collection),
    onChange: collection.kind === 'Namespace' ? onNamespaceChange : (change) => onObjectChange(collection.kind, change),
    logger,
    ...(options.backoff ? { backoff: options.backoff } : {}),
  });

  /** Lists everything again: the Namespaces first, which the judgement of every other object reads. */
  const restartWatches = async (): Promise<readonly ResilientWatch[]> => {
    for (const watch of watches) watch.stop();
    const namespaceWatch = watchCollection(WATCHED[0] as (typeof WATCHED)[number]);
    watches = [namespaceWatch];
    const current = watches;
    await namespaceWatch.whenSynced;
    if (watches !== current) return current;
    watches = [namespaceWatch, ...NAMESPACED.map(watchCollection)];
    return watches;
  };

  const runFullAudit = async (reason: string): Promise<void> => {
    auditing = true;
    const started = performance.now();
    try {
      const current = await restartWatches();
      if (stopped || current !== watches) return;
      void enqueue('list of NetworkPolicy', () => ledger.replaceKind('NetworkPolicy', options.networkPolicies.list() as readonly ManifestObject[]));
      await Promise.all(current.map((watch) => watch.whenSynced));
      await queue;
      if (stopped || current !== watches) return;
      ledger.refreshIsolation('all');
      lastAudit = new Date();
      audits++;
      const size = ledger.size();
      logger.info('audit done', { reason, ms: Math.round(performance.now() - started), objects: size.objects, withFindings: size.results });
    } finally {
      auditing = false;
    }
    await enqueue('publish', publish);
  };

  /** One full audit at a time; a request meanwhile runs one more afterwards. */
  const auditAll = (reason: string): void => {
    if (stopped) return;
    if (auditing || auditWanted !== undefined) {
      auditWanted = reason;
      return;
    }
    auditWanted = reason;
    void (async () => {
      while (auditWanted !== undefined && !stopped) {
        const next = auditWanted;
        auditWanted = undefined;
        try {
          await runFullAudit(next);
        } catch (error) {
          logger.warn('audit did not finish', { reason: next, error: (error as Error).message });
        }
      }
    })();
  };

  const unsubscribe = options.networkPolicies.subscribe((change) => onObjectChange('NetworkPolicy', change as WatchChange<ManifestObject>));
  const interval = setInterval(() => auditAll('interval'), options.intervalMs);
  interval.unref();
  auditAll('start');

  return {
    auditAll,
    get audits() { return audits; },
    stop() {
      stopped = true;
      clearInterval(interval);
      clearTimeout(publishTimer);
      clearTimeout(namespaceTimer);
      unsubscribe();
      for (const watch of watches) watch.stop();
    },
  };
}

/**
 * The namespaces as the audit's own Namespace watch has seen them, and which of them a change
 * touched: added, deleted or relabelled (for a list, against what was held before it).
 */
function createNamespaceView(): NamespaceLookup & { apply(change: WatchChange<ManifestObject>): string[] } {
  const byName = new Map<string, NamespaceInfo>();
  let listed: readonly NamespaceInfo[] | undefined;
  const labelsOf = (info: NamespaceInfo | undefined): string => JSON.stringify(info?.labels ?? null);
  return {
    get: (name) => byName.get(name),
    list() {
      listed ??= Object.freeze([...byName.values()]);
      return listed;
    },
    apply(change) {
      listed = undefined;
      if (change.type === 'SYNC') {
        const before = new Map(byName);
        byName.clear();
        for (const item of change.items) {
          const info = compactNamespace(item);
          if (info) byName.set(info.name, info);
        }
        const names = new Set([...before.keys(), ...byName.keys()]);
        return [...names].filter((name) => labelsOf(before.get(name)) !== labelsOf(byName.get(name)));
      }
      const info = compactNamespace(change.object);
      if (!info) return [];
      const before = byName.get(info.name);
      if (change.type === 'DELETED') byName.delete(info.name);
      else byName.set(info.name, info);
      return change.type === 'DELETED' || labelsOf(before) !== labelsOf(info) ? [info.name] : [];
    },
  };
}
