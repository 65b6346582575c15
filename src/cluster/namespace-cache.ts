/**
 * Namespace labels from the cluster: a watch cache implementing the engine's `NamespaceLookup`.
 *
 * Each namespace is kept as one frozen `{name, labels, annotations}`: labels as given (with
 * `kubernetes.io/metadata.name` always equal to the name), annotations only under the
 * `tierguard.dev/` prefix (usually none, so one shared empty object). That is about 0.3–0.5 KB a
 * namespace with ten labels (measured in test/cluster/namespace-cache.test.ts), against several
 * KB for the full object with managedFields and last-applied annotations.
 */
import { NAMESPACE_NAME_LABEL, type NamespaceInfo } from '../api/kube.js';
import type { NamespaceLookup } from '../policy/namespaces.js';
import type { Logger } from '../telemetry/logger.js';
import type { BackoffOptions } from './backoff.js';
import { KubeApiError, type KubeClient } from './kube-client.js';
import { startResilientWatch, type ResilientWatch, type WatchChange } from './resilient-watch.js';

/** Annotations tierguard reads live under this prefix; all others are dropped. */
export const TIERGUARD_ANNOTATION_PREFIX = 'tierguard.dev/';

export interface NamespaceCacheOptions {
  readonly client: KubeClient;
  readonly logger: Logger;
  readonly backoff?: BackoffOptions;
  /** How long a direct lookup that found nothing is remembered, in ms (default 10 s); a watch event ends it sooner. */
  readonly missTtlMs?: number;
  /** Milliseconds clock; injected for tests. */
  readonly now?: () => number;
}

export interface NamespaceCache extends NamespaceLookup {
  /** The namespace watch: `synced` after its first list. */
  readonly watch: ResilientWatch;
  stop(): void;
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const MAX_MISSES = 1000;

/** The part of a Namespace tierguard keeps, frozen; undefined when the object has no name. */
export function compactNamespace(raw: unknown): NamespaceInfo | undefined {
  const metadata = (raw as { metadata?: { name?: unknown; labels?: unknown; annotations?: unknown } } | null)?.metadata;
  if (typeof metadata?.name !== 'string' || metadata.name === '') return undefined;
  const name = metadata.name;
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(asRecord(metadata.labels))) if (typeof value === 'string') labels[key] = value;
  labels[NAMESPACE_NAME_LABEL] = name;
  let annotations = EMPTY;
  for (const [key, value] of Object.entries(asRecord(metadata.annotations))) {
    if (typeof value !== 'string' || !key.startsWith(TIERGUARD_ANNOTATION_PREFIX)) continue;
    if (annotations === EMPTY) annotations = {};
    (annotations as Record<string, string>)[key] = value;
  }
  return Object.freeze({ name, labels: Object.freeze(labels), annotations: annotations === EMPTY ? EMPTY : Object.freeze(annotations) });
}

/**
 * Starts watching namespaces. `get` answers from the cache; for a namespace it has not seen (a
 * request racing the namespace's creation) it reads the namespace once from the API, shared by
 * concurrent callers; `undefined` means the API server does not know it either. API failures
 * reject, so the failure mode decides rather than a guess.
 *
 * @example
 * const namespaces = createNamespaceCache({ client, logger });
 * await namespaces.watch.whenSynced;
 * const info = await namespaces.get('payments'); // NamespaceInfo | undefined
 */
export function createNamespaceCache(options: NamespaceCacheOptions): NamespaceCache {
  const { client, logger } = options;
  const now = options.now ?? Date.now;
  const missTtlMs = options.missTtlMs ?? 10_000;
  const byName = new Map<string, NamespaceInfo>();
  const pending = new Map<string, Promise<NamespaceInfo | undefined>>();
  const misses = new Map<string, number>();
  let listed: readonly NamespaceInfo[] | undefined;

  const put = (info: NamespaceInfo): void => {
    const previous = byName.get(info.name);
    misses.delete(info.name);
    if (previous && sameInfo(previous, info)) return;
    byName.set(info.name, info);
    listed = undefined;
  };
  const onChange = (change: WatchChange<NamespaceInfo>): void => {
    if (change.type === 'SYNC') {
      byName.clear();
      for (const info of change.items) byName.set(info.name, info);
      listed = undefined;
    } else if (change.type === 'DELETED') {
      if (byName.delete(change.object.name)) listed = undefined;
    } else {
      put(change.object);
    }
  };
  const watch = startResilientWatch({ client, path: '/api/v1/namespaces', decode: compactNamespace, onChange, logger, ...(options.backoff ? { backoff: options.backoff } : {}) });

  async function lookup(name: string): Promise<NamespaceInfo | undefined> {
    try {
      const info = compactNamespace(await client.get(`/api/v1/namespaces/${encodeURIComponent(name)}`));
      if (!info) throw new Error('the answer has no metadata.name');
      if (!byName.has(name)) put(info);
      logger.debug('namespace read directly (not in the watch cache yet)', { namespace: name });
      return byName.get(name);
    } catch (error) {
      if (!(error instanceof KubeApiError && error.statusCode === 404)) throw new Error(`cannot look up namespace ${name}: ${(error as Error).message}`, { cause: error });
      if (misses.size >= MAX_MISSES) misses.delete(misses.keys().next().value as string);
      misses.set(name, now() + missTtlMs);
      return undefined;
    }
  }

  return {
    watch,
    get(name) {
      const known = byName.get(name);
      if (known || !DNS_LABEL.test(name)) return known;
      const missUntil = misses.get(name);
      if (missUntil !== undefined && now() < missUntil) return undefined;
      let answer = pending.get(name);
      if (!answer) {
        answer = lookup(name).finally(() => pending.delete(name));
        pending.set(name, answer);
      }
      return answer;
    },
    list() {
      listed ??= Object.freeze([...byName.values()]);
      return listed;
    },
    stop: () => watch.stop(),
  };
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function sameInfo(a: NamespaceInfo, b: NamespaceInfo): boolean {
  return sameRecord(a.labels, b.labels) && sameRecord(a.annotations, b.annotations);
}

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}
