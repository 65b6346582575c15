/**
 * The background audit's findings as policy reports, the objects Policy Reporter, Kyverno's CLI
 * and OpenReports consumers read: `wgpolicyk8s.io/v1alpha2` PolicyReport / ClusterPolicyReport
 * (`--reports policyreport`, the default) or `openreports.io/v1alpha1` Report / ClusterReport
 * (`--reports openreports`). Pure: `report-writer.ts` puts them in the cluster.
 *
 * Decisions:
 * - One report named `tierguard` per namespace with at least one entry, one cluster report
 *   `tierguard` for cluster-scoped objects (Namespaces); none for a namespace without entries
 *   (the writer deletes an existing one). Every report is labelled
 *   `app.kubernetes.io/managed-by: tierguard`; that label is how the writer finds its own.
 * - One entry per (object, violation) and one per error string of an object; one per isolation
 *   gap in the gap's namespace, against the Namespace. The mapping (report-results.ts):
 *
 *   | finding                  | result | severity | category                                   |
 *   |--------------------------|--------|----------|--------------------------------------------|
 *   | Enforce violation        | fail   | high     | Network: path `spec.ingress…`/`spec.egress…`, a connection, or rule `network-override`; Labels: rule `label:…`/`labels.…`; CEL: rule `validations…`; else Guardrail |
 *   | Audit violation          | fail   | low      | as above                                   |
 *   | Warn violation           | warn   | medium   | as above                                   |
 *   | `unproven` (check bound) | error  | by mode  | Network                                    |
 *   | error string             | error  | (none: no mode is known) | by rule, as above          |
 *   | isolation gap            | by mode| by mode  | Isolation (rule `isolation:Ingress`/`isolation:Egress`) |
 *
 *   `policy` is the guardrail, `rule` the rule id; an error string `guardrail/rule: message`
 *   gives both, `family: message` gives policy `tierguard` and rule `family`, any other text
 *   policy `tierguard` and rule `evaluation`. `properties` (strings): tier, mode, compliance
 *   (joined with `, `), connection, path, and for gaps direction, pods and example (`k=v,k2=v2`);
 *   empty ones are left out. `resources` is the object's reference without empty fields.
 *   `scored: true` on every entry (both CRDs have it); `source: tierguard` on every entry, and on
 *   the report too for openreports (only its schema has a report-level `source`).
 * - `summary` counts every entry by result (truncated ones too); `pass` is the number of
 *   objects evaluated in that namespace (`AuditState.evaluated`) that have no entry; `skip` is 0.
 * - Entries are sorted (object, policy, rule, path, result, message) and carry the time they were
 *   first seen, from `firstSeen` (keyed by `resultIdentity`), or the audit's time when new: an
 *   audit that finds the same things builds byte-identical reports. The returned `firstSeen`
 *   holds exactly the entries of this state, for the next build.
 * - Bounded: at most `maxResults` (1,000) entries and `maxBytes` (1 MB of JSON) of them per
 *   report, well under etcd's 1.5 MiB object limit (a larger report could never be written).
 *   Over either bound, fail entries are kept first, then error, then warn (and by severity);
 *   the report carries the annotation `tierguard.dev/truncated` saying how many were kept.
 *   openreports also states the bound as `configuration.limits.maxResults`.
 *
 * @example
 * const desired = buildReports(state, 'policyreport', { firstSeen });
 * firstSeen = desired.firstSeen;
 * desired.namespaced.get('payments'); // { apiVersion: 'wgpolicyk8s.io/v1alpha2', kind: 'PolicyReport', … }
 */
import type { AuditState } from '../review/audit.js';
import { isolationResult, objectResults, resultIdentity, type ReportResult, type ResultStatus, type UntimedResult } from './report-results.js';

export type ReportFormat = 'policyreport' | 'openreports';

/** One report resource: where it is served and which CRD defines it. */
export interface ReportKind {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** The CRD's name, for messages telling how to install it. */
  readonly crd: string;
}

function reportKind(group: string, version: string, kind: string, plural: string, namespaced: boolean): ReportKind {
  return { apiVersion: `${group}/${version}`, kind, plural, namespaced, crd: `${plural}.${group}` };
}

export const REPORT_KINDS: Readonly<Record<ReportFormat, { readonly namespaced: ReportKind; readonly cluster: ReportKind }>> = {
  policyreport: {
    namespaced: reportKind('wgpolicyk8s.io', 'v1alpha2', 'PolicyReport', 'policyreports', true),
    cluster: reportKind('wgpolicyk8s.io', 'v1alpha2', 'ClusterPolicyReport', 'clusterpolicyreports', false),
  },
  openreports: {
    namespaced: reportKind('openreports.io', 'v1alpha1', 'Report', 'reports', true),
    cluster: reportKind('openreports.io', 'v1alpha1', 'ClusterReport', 'clusterreports', false),
  },
};

export const REPORT_NAME = 'tierguard';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'tierguard';
/** Present when entries were left out; says how many were kept. */
export const TRUNCATED_ANNOTATION = 'tierguard.dev/truncated';
export const MAX_RESULTS = 1000;
export const MAX_RESULTS_BYTES = 1_000_000;

export type Summary = Readonly<Record<ResultStatus, number>>;

export interface Report {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly source?: string;
  readonly configuration?: { readonly limits: { readonly maxResults: number } };
  readonly results: readonly ReportResult[];
  readonly summary: Summary;
}

export interface DesiredReports {
  /** By namespace; only namespaces with entries. */
  readonly namespaced: Map<string, Report>;
  /** Cluster-scoped objects' entries; undefined when there are none. */
  readonly cluster?: Report;
  /** When each entry of the namespaces built was first seen, by namespace then entry identity: pass it to the next build. */
  readonly firstSeen: Map<string, Map<string, Date>>;
}

/** When entries were first seen, by namespace ('' for the cluster report) then entry identity (`resultIdentity`). */
export type FirstSeen = ReadonlyMap<string, ReadonlyMap<string, Date>>;

export interface BuildOptions {
  readonly firstSeen?: FirstSeen;
  /**
   * Build only the reports of these namespaces ('' for the cluster report): the others have not
   * changed since the last build. A namespace here without entries gets no report (it is gone).
   */
  readonly namespaces?: ReadonlySet<string>;
  readonly maxResults?: number;
  readonly maxBytes?: number;
}

interface Group {
  readonly entries: UntimedResult[];
  /** Objects with at least one entry (not counted as pass). */
  readonly objects: Set<string>;
}

export function buildReports(state: AuditState, format: ReportFormat, options: BuildOptions = {}): DesiredReports {
  const groups = new Map<string, Group>();
  const group = (namespace: string): Group => {
    let found = groups.get(namespace);
    if (!found) groups.set(namespace, (found = { entries: [], objects: new Set() }));
    return found;
  };
  const wanted = (namespace: string): boolean => options.namespaces === undefined || options.namespaces.has(namespace);
  for (const object of state.results) {
    if (!wanted(object.namespace)) continue;
    const entries = objectResults(object);
    if (entries.length === 0) continue;
    const into = group(object.namespace);
    into.entries.push(...entries);
    into.objects.add(JSON.stringify([object.apiVersion, object.kind, object.name]));
  }
  for (const gap of state.isolation) if (wanted(gap.namespace)) group(gap.namespace).entries.push(isolationResult(gap));

  const firstSeen = new Map<string, Map<string, Date>>();
  const namespaced = new Map<string, Report>();
  let cluster: Report | undefined;
  for (const [namespace, { entries, objects }] of [...groups].sort(([a], [b]) => compare(a, b))) {
    const before = options.firstSeen?.get(namespace);
    const seenHere = new Map<string, Date>();
    firstSeen.set(namespace, seenHere);
    // Sort keys computed once per entry: the comparator runs n log n times.
    const results = entries.map((entry) => {
      const identity = resultIdentity(namespace, entry);
      const seen = before?.get(identity) ?? seenHere.get(identity) ?? state.time;
      seenHere.set(identity, seen);
      // Not `{ ...entry, timestamp }`: a property added after a spread costs V8 (Node 20) a slow path.
      const result = Object.assign({}, entry, { timestamp: timestamp(seen) });
      return { result, key: sortKey(result) };
    }).sort((a, b) => compare(a.key, b.key)).map(({ result }) => result);
    const pass = Math.max(0, (state.evaluated.get(namespace) ?? 0) - objects.size);
    const report = assemble({ format, namespace, results, pass, maxResults: options.maxResults ?? MAX_RESULTS, maxBytes: options.maxBytes ?? MAX_RESULTS_BYTES });
    if (namespace === '') cluster = report;
    else namespaced.set(namespace, report);
  }
  return { namespaced, ...(cluster ? { cluster } : {}), firstSeen };
}

function assemble(options: { format: ReportFormat; namespace: string; results: ReportResult[]; pass: number; maxResults: number; maxBytes: number }): Report {
  const { format, namespace, results } = options;
  const kind = REPORT_KINDS[format][namespace === '' ? 'cluster' : 'namespaced'];
  const summary = { pass: options.pass, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const entry of results) summary[entry.result] += 1;
  const kept = bound(results, options);
  const annotations = kept.length < results.length
    ? { [TRUNCATED_ANNOTATION]: `${kept.length} of ${results.length} results kept (at most ${options.maxResults} results and ${options.maxBytes} bytes of them per report); the summary counts all` }
    : undefined;
  return {
    apiVersion: kind.apiVersion,
    kind: kind.kind,
    metadata: { name: REPORT_NAME, ...(namespace ? { namespace } : {}), labels: { [MANAGED_BY_LABEL]: MANAGED_BY }, ...(annotations ? { annotations } : {}) },
    ...(format === 'openreports' ? { source: 'tierguard', configuration: { limits: { maxResults: options.maxResults } } } : {}),
    results: kept,
    summary,
  };
}

const RANK: Readonly<Record<string, number>> = { fail: 0, error: 1, warn: 2, high: 0, medium: 1, low: 2 };

/** The entries that fit, most important first, returned in their sorted order. */
function bound(results: ReportResult[], limits: { maxResults: number; maxBytes: number }): ReportResult[] {
  const size = (entry: ReportResult) => Buffer.byteLength(JSON.stringify(entry)) + 1;
  const total = results.reduce((sum, entry) => sum + size(entry), 0);
  if (results.length <= limits.maxResults && total <= limits.maxBytes) return results;
  const byImportance = results.map((entry, index) => ({ entry, index }))
    .sort((a, b) => (RANK[a.entry.result] ?? 3) - (RANK[b.entry.result] ?? 3) || (RANK[a.entry.severity ?? ''] ?? 3) - (RANK[b.entry.severity ?? ''] ?? 3) || a.index - b.index);
  const kept = new Set<number>();
  let bytes = 0;
  for (const { entry, index } of byImportance) {
    if (kept.size >= limits.maxResults) break;
    const next = size(entry);
    if (bytes + next > limits.maxBytes) continue;
    bytes += next;
    kept.add(index);
  }
  return results.filter((_, index) => kept.has(index));
}

function timestamp(date: Date): { seconds: number; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

function sortKey(entry: ReportResult): string {
  const resource = entry.resources[0];
  return JSON.stringify([resource?.kind, resource?.name, entry.policy, entry.rule, entry.properties?.path ?? '', entry.result, entry.message]);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
