/**
 * Keeps the policy reports of `reports.ts` in the cluster at the audit's current state.
 *
 * - `sync` only records the state; writes happen in the background, one at a time, at most one
 *   per `minWriteIntervalMs`. Reports are built from the newest state when a write is due, so a
 *   newer `sync` supersedes an older one and outdated content is never written.
 * - Only a report whose content differs from what the writer last wrote or read is written:
 *   created (POST), replaced (PUT with the resourceVersion it read; a 409 is read again and
 *   tried later) or deleted when no entry is left. Content is compared as canonical JSON hashes
 *   of everything but apiVersion, kind and metadata (plus the managed-by label and the
 *   truncation annotation).
 * - Before its first write, and again after `reset()` (the caller gained leadership), it lists
 *   the reports labelled `app.kubernetes.io/managed-by=tierguard` in all namespaces: stale ones
 *   are deleted, unchanged ones left alone, and their entries' timestamps are kept (another
 *   replica or an earlier process wrote them), so a failover rewrites nothing that holds.
 * - A missing CRD (404 on the list) is logged once, as a warning naming the CRD and how to
 *   install it; the other kind of report is still written, and the list is tried again with
 *   backoff. Other failures are logged when their message changes, not on every retry.
 */
import { createHash } from 'node:crypto';
import type { AuditState } from '../review/audit.js';
import type { Logger } from '../telemetry/logger.js';
import { createBackoff, type BackoffOptions } from './backoff.js';
import { KubeApiError, type KubeClient } from './kube-client.js';
import { listAll } from './paged-list.js';
import { resultIdentity, type ReportResult } from './report-results.js';
import { buildReports, MANAGED_BY, MANAGED_BY_LABEL, REPORT_KINDS, REPORT_NAME, TRUNCATED_ANNOTATION, type Report, type ReportFormat, type ReportKind } from './reports.js';

export interface ReportWriterOptions {
  readonly client: KubeClient;
  readonly format: ReportFormat;
  readonly logger: Logger;
  /** Least time between two writes (create, replace or delete), in ms; default 50, at most 20 writes a second. */
  readonly minWriteIntervalMs?: number;
  /** Milliseconds clock for the pacing; injected for tests. */
  readonly now?: () => number;
  /** Delay before failed lists and writes are tried again; default 1 s doubling up to 60 s. */
  readonly retry?: BackoffOptions;
}

export interface ReportWriter {
  /** Makes `state` the one the reports should show; returns at once. */
  sync(state: AuditState): void;
  /** Resolves when the writes due so far are done (or have failed and wait for their retry). */
  idle(): Promise<void>;
  /** Forgets what exists and lists the reports again before the next write (on gaining leadership). */
  reset(): void;
  /** No more writes or retries. */
  stop(): void;
}

type Scope = 'namespaced' | 'cluster';
const SCOPES: readonly Scope[] = ['namespaced', 'cluster'];

interface Known {
  readonly namespace: string;
  readonly name: string;
  readonly resourceVersion: string;
  readonly hash: string;
}

interface ExistingReport {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly results?: readonly ReportResult[];
  readonly [field: string]: unknown;
}

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;
const namespaceOfKey = (key: string) => key.slice(0, key.lastIndexOf('/'));

/** Namespaces built per step of a report build (see `rebuild`). */
const BUILD_BATCH = 20;

/** Every namespace a full build covers: the cluster report's, those with entries, and those with a report now. */
function namespacesOf(state: AuditState, keys: readonly string[]): Set<string> {
  const namespaces = new Set<string>(['']);
  for (const result of state.results) namespaces.add(result.namespace);
  for (const gap of state.isolation) namespaces.add(gap.namespace);
  for (const key of keys) namespaces.add(namespaceOfKey(key));
  return namespaces;
}
const scopeOf = (key: string): Scope => (key.startsWith('/') ? 'cluster' : 'namespaced');

/**
 * @example
 * const reports = createReportWriter({ client, format: 'policyreport', logger });
 * onLeadership(() => reports.reset());
 * onAudit((state) => reports.sync(state));
 */
export function createReportWriter(options: ReportWriterOptions): ReportWriter {
  const { client, format, logger } = options;
  const kinds = REPORT_KINDS[format];
  const interval = options.minWriteIntervalMs ?? 50;
  const now = options.now ?? Date.now;
  const backoff = createBackoff({ initialMs: 1000, maxMs: 60_000, ...options.retry });
  let latest: AuditState | undefined;
  let builtFrom: AuditState | undefined;
  const firstSeen = new Map<string, Map<string, Date>>();
  /** Namespaces changed since the last build ('' is the cluster report); undefined: build everything. */
  let changed: Set<string> | undefined;
  const wanted = new Map<string, { report: Report; hash: string }>();
  const known = new Map<string, Known>();
  const dirty = new Set<string>();
  const listed = new Set<Scope>();
  const missing = new Set<Scope>();
  const lastProblem = new Map<string, string>();
  let running: Promise<void> | undefined;
  let again = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let lastWriteAt = -Infinity;

  const refresh = (key: string) => {
    if (wanted.get(key)?.hash === known.get(key)?.hash) dirty.delete(key);
    else dirty.add(key);
  };

  /** Warns when the problem of `topic` is new or another than last time (`sameAs`), so retries do not flood the log. */
  const problem = (topic: string, message: string, fields: Record<string, unknown> = {}, sameAs = message) => {
    if (lastProblem.get(topic) === sameAs) logger.debug(message, fields);
    else logger.warn(message, fields);
    lastProblem.set(topic, sameAs);
  };

  /** The desired reports of `namespaces` ('' is the cluster report) in `state`. */
  const buildInto = (state: AuditState, namespaces: ReadonlySet<string>) => {
    const desired = buildReports(state, format, { firstSeen, namespaces });
    for (const namespace of namespaces) {
      firstSeen.delete(namespace);
      wanted.delete(keyOf(namespace, REPORT_NAME));
    }
    for (const [namespace, seen] of desired.firstSeen) firstSeen.set(namespace, seen);
    for (const [namespace, report] of desired.namespaced) wanted.set(keyOf(namespace, REPORT_NAME), { report, hash: contentHash(report) });
    if (desired.cluster) wanted.set(keyOf('', REPORT_NAME), { report: desired.cluster, hash: contentHash(desired.cluster) });
    for (const namespace of namespaces) refresh(keyOf(namespace, REPORT_NAME));
  };

  /**
   * The desired reports for the latest state: those of the namespaces changed since the last
   * build, or all of them — in steps of `BUILD_BATCH` namespaces with the event loop (admission
   * requests) running between steps, since a full build of a large cluster takes seconds.
   */
  const rebuild = async () => {
    while (latest && builtFrom !== latest && !stopped) {
      const state = latest;
      const partial = builtFrom !== undefined && changed !== undefined ? changed : undefined;
      changed = new Set();
      const scope = partial ? [...partial] : [...namespacesOf(state, [...wanted.keys(), ...known.keys()])];
      for (let start = 0; start < scope.length; start += BUILD_BATCH) {
        if (start > 0) await new Promise((resolve) => setImmediate(resolve));
        if (stopped) return;
        buildInto(state, new Set(scope.slice(start, start + BUILD_BATCH)));
      }
      // Reports of other names (left by earlier versions) are in `known` only: deleted.
      if (!partial) for (const key of known.keys()) refresh(key);
      builtFrom = state;
    }
  };

  const list = async (scope: Scope): Promise<boolean> => {
    const kind = kinds[scope];
    try {
      const { items } = await listAll({ client, path: `/apis/${kind.apiVersion}/${kind.plural}`, query: { labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` }, decode: (raw) => raw as ExistingReport });
      for (const key of [...known.keys()]) if (scopeOf(key) === scope) known.delete(key);
      for (const item of items) remember(item, kind);
      listed.add(scope);
      lastProblem.delete(`list ${scope}`);
      if (missing.delete(scope)) logger.info(`${kind.kind} reports are written again: the CRD ${kind.crd} is installed`);
      builtFrom = undefined;
      return true;
    } catch (error) {
      if (error instanceof KubeApiError && error.statusCode === 404) {
        if (!missing.has(scope)) logger.warn(missingCrdMessage(kind, format), { crd: kind.crd });
        missing.add(scope);
      } else {
        problem(`list ${scope}`, `cannot list ${kind.kind} reports`, { error: (error as Error).message });
      }
      return false;
    }
  };

  /** Records an existing report, and the time its entries were first seen. */
  const remember = (item: ExistingReport, kind: ReportKind) => {
    const namespace = kind.namespaced ? item.metadata?.namespace ?? '' : '';
    const name = item.metadata?.name ?? '';
    const key = keyOf(namespace, name);
    known.set(key, { namespace, name, resourceVersion: item.metadata?.resourceVersion ?? '', hash: contentHash(item) });
    if (name !== REPORT_NAME) return;
    for (const entry of item.results ?? []) {
      const { seconds, nanos } = entry.timestamp ?? {};
      if (typeof seconds !== 'number' || typeof nanos !== 'number') continue;
      let seen = firstSeen.get(namespace);
      if (!seen) firstSeen.set(namespace, (seen = new Map()));
      seen.set(resultIdentity(namespace, entry), new Date(seconds * 1000 + Math.floor(nanos / 1_000_000)));
    }
  };

  const reread = async (key: string, kind: ReportKind, at: { namespace: string; name: string }) => {
    try {
      remember((await client.get(objectPath(kind, at))) as ExistingReport, kind);
    } catch (error) {
      if (error instanceof KubeApiError && error.statusCode === 404) known.delete(key);
    }
    refresh(key);
  };

  /** One create, replace or delete; the error when it failed (tried again later). */
  const write = async (key: string, counts: Record<'created' | 'updated' | 'deleted', number>): Promise<KubeApiError | Error | undefined> => {
    const want = wanted.get(key);
    const have = known.get(key);
    const kind = kinds[scopeOf(key)];
    const at = have ?? { namespace: want?.report.metadata.namespace ?? '', name: REPORT_NAME };
    try {
      if (want) {
        const written = (have
          ? await client.replace(objectPath(kind, at), { ...want.report, metadata: { ...want.report.metadata, resourceVersion: have.resourceVersion } })
          : await client.create(collectionPath(kind, at.namespace), want.report)) as ExistingReport;
        known.set(key, { ...at, resourceVersion: written.metadata?.resourceVersion ?? '', hash: want.hash });
        if (contentHash(written) !== want.hash) problem('pruned', `the API server stored a different ${kind.kind} than tierguard wrote (fields its CRD schema does not know?)`, { report: key });
        counts[have ? 'updated' : 'created'] += 1;
      } else if (have) {
        await client.delete(objectPath(kind, have));
        known.delete(key);
        counts.deleted += 1;
      }
      refresh(key);
      logger.debug('report written', { report: `${kind.kind} ${key}`, operation: want ? (have ? 'replace' : 'create') : 'delete' });
      return undefined;
    } catch (error) {
      const status = error instanceof KubeApiError ? error.statusCode : 0;
      const message = (error as Error).message;
      if (status === 404 && have) {
        // Deleted by someone else: that is what a delete wanted, and a replace becomes a create.
        known.delete(key);
        refresh(key);
        logger.debug('report deleted meanwhile', { report: `${kind.kind} ${key}` });
        return undefined;
      }
      if (status === 409) await reread(key, kind, at);
      // A create that finds no collection: the CRD went away since the list (a missing namespace says so instead).
      else if (status === 404 && !/namespaces? "[^"]*" not found/.test(message)) listed.delete(scopeOf(key));
      logger.debug('report not written', { report: `${kind.kind} ${key}`, error: message });
      return error as Error;
    }
  };

  const pace = async () => {
    const wait = lastWriteAt + interval - now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    lastWriteAt = now();
  };

  /** A report to write: its kind is listed, and it has not failed in this pass. */
  const nextDue = (failed: ReadonlyMap<string, Error>): string | undefined => {
    for (const key of dirty) if (listed.has(scopeOf(key)) && !failed.has(key)) return key;
    return undefined;
  };

  const pass = async () => {
    if (!latest) return;
    let failedLists = false;
    for (const scope of SCOPES) if (!listed.has(scope) && !(await list(scope))) failedLists = true;
    const failed = new Map<string, Error>();
    const counts = { created: 0, updated: 0, deleted: 0 };
    while (!stopped) {
      await rebuild();
      const key = nextDue(failed);
      if (!key) break;
      await pace();
      await rebuild();
      if (stopped || !dirty.has(key) || !listed.has(scopeOf(key))) continue;
      const error = await write(key, counts);
      if (error) failed.set(key, error);
    }
    if (counts.created + counts.updated + counts.deleted > 0) logger.info('policy reports written', { format, ...counts, failed: failed.size });
    if (failed.size > 0) reportFailures(failed);
    else lastProblem.delete('write');
    if (failedLists || failed.size > 0) scheduleRetry();
    else backoff.reset();
  };

  /** One line per pass; a conflict (another writer) is expected and only read again. */
  const reportFailures = (failed: ReadonlyMap<string, Error>) => {
    const errors = [...failed.values()].filter((error) => !(error instanceof KubeApiError && error.statusCode === 409));
    const first = errors[0];
    if (!first) return;
    const kind = first instanceof KubeApiError ? `${first.statusCode} ${first.reason ?? ''}` : first.name;
    problem('write', `cannot write ${errors.length} ${format} report(s); tried again with backoff`, { error: first.message, reports: [...failed.keys()].slice(0, 10) }, kind);
  };

  const scheduleRetry = () => {
    if (retryTimer || stopped) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      kick();
    }, backoff.next());
    retryTimer.unref();
  };

  const kick = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = pass()
      .catch((error: unknown) => logger.error('policy report writer failed', { error: (error as Error).message }))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          kick();
        }
      });
  };

  return {
    sync(state) {
      latest = state;
      // Changes add up over states never built (a newer one came first).
      if (state.changed === undefined || changed === undefined) changed = undefined;
      else for (const namespace of state.changed) changed.add(namespace);
      kick();
    },
    async idle() {
      while (running) await running;
    },
    reset() {
      listed.clear();
      known.clear();
      builtFrom = undefined;
      changed = undefined;
      backoff.reset();
      kick();
    },
    stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
    },
  };
}

function missingCrdMessage(kind: ReportKind, format: ReportFormat): string {
  const installers = format === 'policyreport' ? 'Kyverno or Policy Reporter' : 'OpenReports';
  return `no ${kind.kind} is written: the CRD ${kind.crd} is not installed (or does not serve ${kind.apiVersion}). Install it with the chart (reports.installCRDs=true) or with ${installers}, or turn reports off (reports.format=none, --reports none); tierguard looks for it again with backoff`;
}

function collectionPath(kind: ReportKind, namespace: string): string {
  const [group, version] = kind.apiVersion.split('/') as [string, string];
  return `/apis/${group}/${version}${kind.namespaced ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${kind.plural}`;
}

function objectPath(kind: ReportKind, at: { namespace: string; name: string }): string {
  return `${collectionPath(kind, at.namespace)}/${encodeURIComponent(at.name)}`;
}

/** A hash of what a report says: all but apiVersion, kind and metadata, plus the metadata tierguard sets. */
function contentHash(report: ExistingReport | Report): string {
  const { apiVersion: _apiVersion, kind: _kind, metadata, ...content } = report as ExistingReport;
  const meta = { label: metadata?.labels?.[MANAGED_BY_LABEL], truncated: metadata?.annotations?.[TRUNCATED_ANNOTATION] };
  return createHash('sha256').update(canonicalJson({ meta, content })).digest('hex');
}

/** JSON with object keys sorted, so equal content read back from the API server hashes the same. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => (item && typeof item === 'object' && !Array.isArray(item)
    ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : item));
}
