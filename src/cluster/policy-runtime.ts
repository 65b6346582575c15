/**
 * Everything `serve` needs to know about policies while it runs, in one place: the policy set in
 * force (hot-reloaded from `--config` files and, in a cluster, from Tier and Guardrail objects),
 * namespace labels, the NetworkPolicies of the cluster, status write-back and readiness.
 *
 * Without `kubeConfig` only the files are read (and polled for changes); namespaces then come
 * from Namespace objects in those files. With it, Tier, Guardrail, Namespace and NetworkPolicy
 * objects are watched, and namespaces come from the cluster only (Namespace objects in files are
 * still validated, but the cluster is the truth about its namespaces).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject, NamespaceInfo } from '../api/kube.js';
import type { PolicySet } from '../engine/policy-set.js';
import type { PolicyChangeKind } from '../policy/admit.js';
import type { CompileResult } from '../policy/compile.js';
import type { ManifestDocument } from '../policy/manifests.js';
import type { NamespaceLookup } from '../policy/namespaces.js';
import { isClusterSource } from '../policy/problems.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { BackoffOptions } from './backoff.js';
import { decodePolicyObject, POLICY_PATHS, watchClusterPolicies, type ClusterPolicyObject } from './cluster-policies.js';
import { watchConfigFiles } from './config-files.js';
import { createKubeClient, type KubeClient } from './kube-client.js';
import { createNamespaceCache } from './namespace-cache.js';
import { createNetworkPolicyCache, type NetworkPolicyCache } from './network-policy-cache.js';
import { listAll } from './paged-list.js';
import { createPolicySource, FILES_INPUT, type PolicySource } from './policy-source.js';
import type { ResilientWatch } from './resilient-watch.js';
import { createStatusWriter, type StatusWriter } from './status-writer.js';

export interface PolicyRuntimeOptions {
  /** Policy files and directories (`--config`, or the embedded defaults); may be empty in a cluster. */
  readonly configPaths: readonly string[];
  /** The cluster to watch; absent = files only. */
  readonly kubeConfig?: KubeConfig;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Time between polls of the files, in ms (default 2000). */
  readonly pollIntervalMs?: number;
  /** Quiet time before a recompile, in ms (default 50). */
  readonly debounceMs?: number;
  /** Reconnect backoff of the watches (default 100 ms … 30 s). */
  readonly backoff?: BackoffOptions;
  /** How long a namespace the API server did not know is remembered, in ms (default 10 s). */
  readonly namespaceMissTtlMs?: number;
  /** Clock for status conditions; injected for tests. */
  readonly now?: () => Date;
}

export interface PolicyRuntime {
  /** For `createAdmissionHandler`: the set in force, read once per request. */
  readonly policy: () => PolicySet | undefined;
  /**
   * For `createAdmissionHandler`: the Tier and Guardrail documents as they are now, to judge
   * `change` — the `--config` files in force plus, in a cluster, the latest version of every
   * object as tierguard's watches last saw it. Not a fresh LIST: at 1,000 Guardrails one costs
   * about a second of API server time (0.2 s from its watch cache), far past an admission's
   * budget. A watch lags by milliseconds, so an object created a moment before may be missed:
   * a Guardrail then gets the "tier does not exist yet" warning, and conflicts that slip through
   * are settled by the policy source (the newer object is out of force, its status says why).
   * The exception is a Tier DELETE: a Guardrail the watch missed would be taken out of force,
   * so the Guardrails are read with a quorum LIST (deletions are rare); a failed read rejects.
   */
  readonly currentPolicyDocuments: (change?: PolicyChangeKind) => Promise<readonly ManifestDocument[]>;
  readonly namespaces: NamespaceLookup;
  /** NetworkPolicies of the cluster (empty without one). */
  readonly networkPolicies: () => readonly KubeObject[];
  /** The client of the cluster watched (absent without one), for whatever else `serve` does there. */
  readonly client: KubeClient | undefined;
  /** The NetworkPolicy cache itself, for the background audit (absent without a cluster). */
  readonly networkPolicyCache: NetworkPolicyCache | undefined;
  /** The status writer (absent without a cluster): the background audit's counts, and leadership. */
  readonly status: StatusWriter | undefined;
  /** The Tier and Guardrail objects as last seen (empty without a cluster). */
  readonly policyObjects: () => readonly ClusterPolicyObject[];
  /** Calls `listener` whenever a compile puts a different policy set in force; returns the unsubscribe. */
  onPolicyChange(listener: (set: PolicySet) => void): () => void;
  /** For `/readyz`: every watch has listed once and a policy set is in force. */
  readonly ready: () => boolean;
  /** The first compile's outcome, once the files are read and every policy watch has listed. */
  readonly firstCompile: Promise<CompileResult>;
  readonly source: PolicySource;
  /** Every watch, for diagnostics and tests. */
  readonly watches: readonly ResilientWatch[];
  /** Resolves when the status writes queued so far are done. */
  statusWrites(): Promise<void>;
  /** Stops polling and watching, drops the status writes not yet started, and waits for the one in progress. */
  stop(): Promise<void>;
}

const NO_POLICIES: readonly KubeObject[] = Object.freeze([]);

/**
 * @example
 * const runtime = startPolicyRuntime({ configPaths: options.config, kubeConfig, metrics, logger });
 * createAdmissionHandler({ policy: runtime.policy, policyDocuments: runtime.currentPolicyDocuments, namespaces: runtime.namespaces, ... });
 */
export function startPolicyRuntime(options: PolicyRuntimeOptions): PolicyRuntime {
  const { kubeConfig, metrics, logger } = options;
  const inputs = [...(options.configPaths.length > 0 ? [FILES_INPUT] : []), ...(kubeConfig ? ['Tier', 'Guardrail'] : [])];
  if (inputs.length === 0) throw new Error('nothing to load policies from: give configuration paths or a cluster');
  const backoff = options.backoff ? { backoff: options.backoff } : {};
  const client = kubeConfig ? createKubeClient({ kubeConfig }) : undefined;
  const policyChanges = announcer<PolicySet>();
  const status = client ? createStatusWriter({ client, logger, ...(options.now ? { now: options.now } : {}) }) : undefined;
  const source = createPolicySource({
    inputs,
    metrics,
    logger,
    ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
    // Runs from a timer, never before `cluster` below is initialised.
    onCompiled: (resolution) => {
      if (cluster) status?.sync(resolution, cluster.objects());
      policyChanges.announce(source.policy());
    },
  });
  const files = options.configPaths.length > 0
    ? watchConfigFiles({ paths: options.configPaths, logger, onChange: (manifests) => source.update(FILES_INPUT, manifests), ...(options.pollIntervalMs ? { intervalMs: options.pollIntervalMs } : {}) })
    : undefined;
  const cluster = client ? watchClusterPolicies({ client, logger, ...backoff, onDocuments: (kind, documents) => source.update(kind, { documents, problems: [] }) }) : undefined;
  const namespaceCache = client ? createNamespaceCache({ client, logger, ...backoff, ...(options.namespaceMissTtlMs !== undefined ? { missTtlMs: options.namespaceMissTtlMs } : {}) }) : undefined;
  const networkPolicies = client ? createNetworkPolicyCache({ client, logger, ...backoff }) : undefined;
  const watches = [...(cluster?.watches ?? []), ...(namespaceCache ? [namespaceCache.watch] : []), ...(networkPolicies ? [networkPolicies.watch] : [])];
  return {
    policy: source.policy,
    currentPolicyDocuments: async (change) => {
      if (!client) return source.documents();
      const files = source.documents().filter((doc) => !isClusterSource(doc.source));
      const guardrails = change?.kind === 'Tier' && change.operation === 'DELETE'
        ? (await listAll({ client, path: POLICY_PATHS.Guardrail, decode: (raw) => decodePolicyObject('Guardrail', raw)?.document })).items
        : source.given('Guardrail')?.documents ?? [];
      return [...files, ...(source.given('Tier')?.documents ?? []), ...guardrails];
    },
    namespaces: namespaceCache ?? configNamespaces(source),
    networkPolicies: () => networkPolicies?.list() ?? NO_POLICIES,
    client,
    networkPolicyCache: networkPolicies,
    status,
    policyObjects: () => cluster?.objects() ?? [],
    onPolicyChange: policyChanges.subscribe,
    ready: () => watches.every((watch) => watch.synced) && source.policy() !== undefined,
    firstCompile: source.firstCompile,
    source,
    watches,
    statusWrites: async () => { await status?.idle(); },
    async stop() {
      files?.stop();
      cluster?.stop();
      namespaceCache?.stop();
      networkPolicies?.stop();
      source.stop();
      await status?.stop();
    },
  };
}

/** Tells listeners of each new value (by identity); undefined is never announced. */
function announcer<T>(): { announce(value: T | undefined): void; subscribe(listener: (value: T) => void): () => void } {
  const listeners = new Set<(value: T) => void>();
  let last: T | undefined;
  return {
    announce(value) {
      if (value === undefined || value === last) return;
      last = value;
      for (const listener of listeners) listener(value);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Namespaces from the Namespace objects of the set in force; follows reloads. */
function configNamespaces(source: PolicySource): NamespaceLookup {
  let indexed: readonly NamespaceInfo[] | undefined;
  let byName = new Map<string, NamespaceInfo>();
  return {
    get(name) {
      const list = source.namespaces();
      if (list !== indexed) {
        indexed = list;
        byName = new Map(list.map((namespace) => [namespace.name, namespace]));
      }
      return byName.get(name);
    },
    list: () => source.namespaces(),
  };
}
