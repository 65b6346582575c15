/**
 * Audit: what already exists, judged against the policy set as admission would judge its
 * creation — validation only, nothing is mutated — and the isolation coverage of the guardrails
 * with Deny rules (`../engine/network/isolation.ts`). CEL validations that read `request` or
 * `oldObject` are left out: their verdict depends on a request that is not being made.
 */
import type { Labels, NamespaceInfo } from '../api/kube.js';
import { violationLine } from '../engine/decision.js';
import type { EngineOptions } from '../engine/evaluate.js';
import { errorSource, type Finding } from '../engine/findings.js';
import { isolatingPolicy, isolationGaps, type IsolatingPolicy, type IsolationGap, type PodGroup } from '../engine/network/isolation.js';
import { isPlainObject, labelsAt } from '../engine/object.js';
import type { PolicySet } from '../engine/policy-set.js';
import type { NamespaceLookup } from '../policy/namespaces.js';
import { createRequest, manifestNamespace, manifestNamespaces, type ManifestObject } from './manifest-request.js';
import { review, type ReviewContext } from './review.js';
import { objectName } from './subject.js';

export interface AuditOptions {
  readonly set: PolicySet;
  /** Kubernetes objects: Namespaces, NetworkPolicies, Pods, workloads; other kinds are left alone. */
  readonly objects: readonly ManifestObject[];
  /** Namespaces known besides the Namespace objects among `objects` (which take precedence). */
  readonly namespaces: readonly NamespaceInfo[];
  readonly engine: EngineOptions;
}

/** A finding as audit reports it; `kind: 'unproven'` marks an override check stopped at a bound (decided by its mode, as at admission). */
export type AuditViolation = Pick<Finding, 'tier' | 'guardrail' | 'rule' | 'mode' | 'path' | 'message' | 'compliance' | 'connection'> & { readonly kind?: 'unproven' };

export interface AuditResult {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** `metadata.uid`, when the object has one (objects read from a cluster). */
  readonly uid?: string;
  readonly violations: readonly AuditViolation[];
  /** Rules that could not be evaluated for the object, or why the object itself is malformed. */
  readonly errors?: readonly string[];
  /** The violations as a denial message shows them, mode first unless Enforce (text output only). */
  readonly lines: readonly string[];
}

export interface AuditReport {
  /** The objects with a violation or an error, in input order. */
  readonly results: readonly AuditResult[];
  readonly isolation: readonly IsolationGap[];
  /** How many objects were evaluated, and how many left alone (kinds not checked, excluded namespaces, owned ReplicaSets). */
  readonly evaluated: number;
  readonly skipped: number;
}

export async function auditObjects(options: AuditOptions): Promise<AuditReport> {
  const namespaces = manifestNamespaces(options.namespaces, options.objects);
  const context = auditContext(() => options.set, namespaces, options.engine);
  const results: AuditResult[] = [];
  let evaluated = 0;
  for (const object of options.objects) {
    const audited = await auditObject(context, object);
    if (!audited.evaluated) continue;
    evaluated++;
    if (audited.result) results.push(audited.result);
  }
  const isolation = isolationGaps({
    set: options.set,
    namespaces: namespaces.list(),
    pods: podGroups(options.objects),
    policies: networkPolicies(options.objects),
    excludedNamespaces: options.engine.excludedNamespaces,
  });
  return { results, isolation, evaluated, skipped: options.objects.length - evaluated };
}

/** How audit reviews: validation only, the CEL validations that read no request, and no failure mode (an error is reported, not allowed). */
export function auditContext(policy: () => PolicySet | undefined, namespaces: NamespaceLookup, engine: EngineOptions): ReviewContext {
  return { policy, namespaces, engine: { ...engine, objectValidationsOnly: true }, failureMode: 'deny' };
}

const NO_LINES: readonly string[] = Object.freeze([]);

/** One object's audit: left alone (a kind not checked, an excluded namespace, an owned ReplicaSet), or evaluated, with a result when it has findings or errors. */
export type ObjectAudit = { readonly evaluated: false } | { readonly evaluated: true; readonly result?: AuditResult };

/** Judges `object` as admission would judge its creation (see the module comment); `lines: false` leaves the text lines out (the background audit never prints them). */
export async function auditObject(context: ReviewContext, object: ManifestObject, options: { lines?: boolean } = {}): Promise<ObjectAudit> {
  const verdict = await review(context, 'validate', createRequest(object));
  if (verdict.outcome === 'allowed' && verdict.skipped !== undefined) return { evaluated: false };
  const violations = verdict.findings.map(({ tier, guardrail, rule, mode, path, message, compliance, connection, kind }): AuditViolation => ({ tier, guardrail, rule, mode, path, message, compliance, ...(connection ? { connection } : {}), ...(kind === 'unproven' ? { kind } : {}) }));
  const errors = [...(verdict.failure ? [verdict.outcome === 'errored' ? verdict.message : verdict.failure.detail] : []), ...verdict.errors.map((error) => `${errorSource(error)}: ${error.message}`)];
  if (violations.length === 0 && errors.length === 0) return { evaluated: true };
  const lines = options.lines === false ? NO_LINES : verdict.findings.map((finding) => `${finding.mode === 'Enforce' ? '' : `[${finding.mode}] `}${violationLine(finding).slice(2)}`);
  const uid = (object.metadata as { uid?: unknown } | undefined)?.uid;
  return {
    evaluated: true,
    result: { apiVersion: object.apiVersion, kind: object.kind, namespace: manifestNamespace(object), name: objectName(object), ...(typeof uid === 'string' && uid ? { uid } : {}), violations, ...(errors.length > 0 ? { errors } : {}), lines },
  };
}

/** The Pods among `objects`, by namespace, grouped by their labels (only labels are kept). */
export function podGroups(objects: readonly ManifestObject[]): Map<string, PodGroup[]> {
  const byNamespace = new Map<string, Map<string, { labels: Labels; count: number }>>();
  for (const object of objects) {
    if (object.kind !== 'Pod' || object.apiVersion !== 'v1') continue;
    const labels = podLabels(object);
    if (!labels) continue;
    const namespace = manifestNamespace(object);
    let groups = byNamespace.get(namespace);
    if (!groups) byNamespace.set(namespace, (groups = new Map()));
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const group = groups.get(key);
    if (group) group.count++;
    else groups.set(key, { labels, count: 1 });
  }
  return new Map([...byNamespace].map(([namespace, groups]) => [namespace, [...groups.values()]]));
}

/** A Pod's labels, or undefined when they are malformed (that Pod's own result says so). */
export function podLabels(object: ManifestObject): Labels | undefined {
  try {
    return isPlainObject(object) ? labelsAt(object, ['metadata']) : undefined;
  } catch {
    return undefined;
  }
}

/** The NetworkPolicies among `objects`, by namespace. */
function networkPolicies(objects: readonly ManifestObject[]): Map<string, IsolatingPolicy[]> {
  const byNamespace = new Map<string, IsolatingPolicy[]>();
  for (const object of objects) {
    if (object.kind !== 'NetworkPolicy' || object.apiVersion !== 'networking.k8s.io/v1') continue;
    const policy = isolatingPolicy(object);
    if (!policy) continue;
    const namespace = manifestNamespace(object);
    byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), policy]);
  }
  return byNamespace;
}

/**
 * What the background audit of `serve` holds at one moment, for reports and status: the objects
 * with findings, the isolation gaps, and how many objects were evaluated in each namespace ('' for
 * cluster-scoped objects such as Namespaces).
 */
export interface AuditState {
  readonly results: readonly AuditResult[];
  readonly isolation: readonly IsolationGap[];
  readonly evaluated: ReadonlyMap<string, number>;
  /** When the last full audit finished. */
  readonly time: Date;
  /**
   * The namespaces ('' for cluster-scoped objects) whose results, isolation or counts may differ
   * from the previous state of the same audit; absent: any may.
   */
  readonly changed?: ReadonlySet<string>;
}
