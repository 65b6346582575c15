/**
 * A list-then-watch loop over one collection that never gives up: the reflector of client-go,
 * written against client-node's `Watch`.
 *
 * Why not client-node's `makeInformer`/`ListWatch`: it stops for good after a list or watch error
 * (it only calls the error callbacks), keeps every full object (managedFields and
 * last-applied annotations of 10,000 namespaces), never asks for bookmarks, and a callback that
 * throws is swallowed by the line parser. Here the consumer receives decoded, trimmed values
 * through `onChange` and owns the storage; this loop only tracks the resource version.
 *
 * Behaviour: list (paginated) → `SYNC`; watch from the list's resourceVersion, with bookmarks;
 * every event and bookmark moves the resume point. When the server ends the watch, it resumes
 * from there at once; after errors it waits (capped exponential backoff with jitter); `410 Gone`
 * (an ERROR event or the HTTP status) means the resume point was compacted away: list again.
 */
import { createBackoff, type BackoffOptions } from './backoff.js';
import type { KubeClient, WatchConnection } from './kube-client.js';
import { listAll } from './paged-list.js';
import type { Logger } from '../telemetry/logger.js';

/** A full list (the first sync, or a re-list after `410 Gone`): replace everything held. Or one event. */
export type WatchChange<T> =
  | { readonly type: 'SYNC'; readonly items: readonly T[] }
  | { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly object: T };

export interface ResilientWatchOptions<T> {
  readonly client: KubeClient;
  /** Collection path, e.g. `/api/v1/namespaces`. */
  readonly path: string;
  /** Keeps what the consumer needs of a raw object; undefined skips a malformed object. */
  readonly decode: (raw: unknown) => T | undefined;
  /** Called in order for every change; an exception is logged and does not stop the watch. */
  readonly onChange: (change: WatchChange<T>) => void;
  readonly logger: Logger;
  readonly backoff?: BackoffOptions;
  /** Items per list page (default 500). */
  readonly pageSize?: number;
  /** Added to every list and watch, e.g. `{ fieldSelector: 'metadata.name=tierguard' }` (which RBAC `resourceNames` can allow). */
  readonly query?: Readonly<Record<string, string>>;
  /** Server-side watch timeout (default 5–10 min, random, as client-go); the connection is abandoned 60 s after it. */
  readonly timeoutSeconds?: number;
}

export interface ResilientWatch {
  /** True once the first list has been delivered. */
  readonly synced: boolean;
  /** Resolves at the first list; rejects if the watch is stopped before. */
  readonly whenSynced: Promise<void>;
  /** Where a resumed watch starts; empty when the next start lists. */
  readonly resourceVersion: string;
  /** Lists and watch connections made so far, and errors met. */
  readonly stats: { readonly lists: number; readonly watches: number; readonly errors: number };
  /** Closes the stream and clears every timer; nothing is delivered afterwards. */
  stop(): void;
}

/** A watch connection that lasted this long counts as healthy even without events (ms). */
const HEALTHY_AFTER_MS = 30_000;

/**
 * Starts listing and watching `path` at once; changes go to `onChange` until `stop()`.
 *
 * @example
 * const watch = startResilientWatch({ client, path: '/api/v1/namespaces', decode: compactNamespace, onChange, logger });
 * await watch.whenSynced;
 */
export function startResilientWatch<T>(options: ResilientWatchOptions<T>): ResilientWatch {
  const { client, path, logger } = options;
  const backoff = createBackoff(options.backoff);
  const timeoutSeconds = options.timeoutSeconds ?? Math.floor(300 * (1 + Math.random()));
  const stats = { lists: 0, watches: 0, errors: 0 };
  let resourceVersion = '';
  let synced = false;
  let stopped = false;
  let epoch = 0;
  let connection: WatchConnection | undefined;
  let timer: NodeJS.Timeout | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  let listAbort: AbortController | undefined;
  let settle: { resolve: () => void; reject: (error: Error) => void } | undefined;
  const whenSynced = new Promise<void>((resolve, reject) => { settle = { resolve, reject }; });
  whenSynced.catch(() => {});

  const deliver = (change: WatchChange<T>): void => {
    try {
      options.onChange(change);
    } catch (error) {
      logger.error('watch consumer failed on a change', { path, type: change.type, error: (error as Error).message });
    }
  };
  const schedule = (delayMs: number): void => {
    timer = setTimeout(() => { timer = undefined; void cycle(); }, delayMs);
  };
  const retry = (what: string, error: unknown): void => {
    stats.errors += 1;
    const delayMs = backoff.next();
    logger.warn(`${what} failed; retrying`, { path, error: (error as Error)?.message ?? String(error), retryInMs: delayMs });
    schedule(delayMs);
  };

  async function list(): Promise<void> {
    listAbort = new AbortController();
    // The first list is served from the API server's watch cache (`resourceVersion=0`, as client-go's
    // reflector does): a quorum list of 1,000 Guardrails costs the API server about a second. A
    // relist (after a 410) reads from etcd, so that it never goes back in time.
    const query = { ...options.query, ...(stats.lists === 0 ? { resourceVersion: '0' } : {}) };
    const listed = await listAll({ client, path, decode: options.decode, signal: listAbort.signal, ...(options.pageSize ? { pageSize: options.pageSize } : {}), query });
    if (stopped) return;
    if (listed.skipped > 0) logger.warn('skipped malformed objects in a list', { path, skipped: listed.skipped });
    stats.lists += 1;
    resourceVersion = listed.resourceVersion;
    deliver({ type: 'SYNC', items: listed.items });
    if (!synced) {
      synced = true;
      settle?.resolve();
    }
  }

  async function cycle(): Promise<void> {
    if (stopped) return;
    if (resourceVersion === '') {
      try {
        await list();
      } catch (error) {
        if (!stopped) retry('list', error);
        return;
      }
    }
    if (!stopped) await openWatch();
  }

  async function openWatch(): Promise<void> {
    epoch += 1;
    const mine = epoch;
    const openedAt = Date.now();
    let healthy = false;
    let gone = false;
    stats.watches += 1;
    const onEvent = (type: string, raw: unknown): void => {
      if (mine !== epoch) return;
      if (type === 'ERROR') {
        const status = raw as { code?: unknown; message?: unknown } | null;
        if (status?.code === 410) gone = true;
        else logger.warn('watch error event', { path, code: status?.code, message: status?.message });
        return;
      }
      const version = (raw as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
      if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED' && type !== 'BOOKMARK') return;
      healthy = true;
      if (typeof version === 'string' && version) resourceVersion = version;
      if (type === 'BOOKMARK') return;
      // client-node's line parser swallows exceptions from here: a throwing decoder must be seen.
      let object: T | undefined;
      try {
        object = options.decode(raw);
      } catch (error) {
        logger.error('cannot decode a watch event', { path, type, error: (error as Error).message });
      }
      if (object === undefined) logger.warn('skipped a malformed object in a watch event', { path, type });
      else deliver({ type, object });
    };
    const onDone = (error?: unknown): void => {
      if (mine !== epoch || stopped) return;
      epoch += 1;
      connection = undefined;
      clearTimeout(watchdog);
      // A connection that delivered something, or stayed up a while, proves the server is back.
      if (healthy || Date.now() - openedAt >= HEALTHY_AFTER_MS) backoff.reset();
      if (gone || (error as { statusCode?: unknown } | undefined)?.statusCode === 410) {
        logger.info('resource version too old (410 Gone); listing again', { path, resourceVersion });
        resourceVersion = '';
        schedule(backoff.next());
      } else if (error !== undefined) {
        retry('watch', error);
      } else {
        logger.debug('watch closed by the server; resuming', { path, resourceVersion });
        schedule(healthy ? 0 : backoff.next());
      }
    };
    try {
      const opened = await client.watch({ path, query: { ...options.query, resourceVersion, allowWatchBookmarks: true, timeoutSeconds }, onEvent, onDone });
      if (stopped || mine !== epoch) {
        opened.abort();
        return;
      }
      connection = opened;
      watchdog = setTimeout(() => {
        logger.warn('watch silent past its timeout; reconnecting', { path });
        opened.abort();
        onDone(new Error('watch stalled'));
      }, (timeoutSeconds + 60) * 1000);
    } catch (error) {
      onDone(error);
    }
  }

  void cycle();
  return {
    get synced() { return synced; },
    whenSynced,
    get resourceVersion() { return resourceVersion; },
    stats,
    stop() {
      stopped = true;
      epoch += 1;
      clearTimeout(timer);
      clearTimeout(watchdog);
      connection?.abort();
      listAbort?.abort();
      if (!synced) settle?.reject(new Error(`watch of ${path} stopped before its first list`));
    },
  };
}
