/**
 * `tierguard check`: evaluates every object in manifests as a CREATE, exactly as the webhook does —
 * mutation first, then validation of the mutated object — for CI and GitOps pipelines.
 */
import { describeObject, objectName } from '../admission/handler.js';
import { diffPatch, type PatchOperation } from '../admission/patch.js';
import { NAMESPACE_NAME_LABEL, type NamespaceInfo } from '../api/kube.js';
import type { FailureMode } from '../api/policy.js';
import { errorSource, type Finding } from '../engine/findings.js';
import { decide, violationLine } from '../engine/decision.js';
import { mutate, validate, type EngineOptions, type EngineRequest, type NamespaceContext } from '../engine/evaluate.js';
import { namespaceObjectContext } from '../engine/namespace-object.js';
import { InvalidObjectError } from '../engine/object.js';
import type { PolicySet } from '../engine/policy-set.js';
import { isNamespaceKind } from '../engine/targets.js';
import { namespaceInfo } from '../policy/read-document.js';
import type { ManifestDocument } from '../policy/manifests.js';
import { namespaceLabels } from '../policy/namespaces.js';
import type { PolicyProblem } from '../policy/problems.js';

export interface CheckResult {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly allowed: boolean;
  readonly violations: readonly (Omit<Finding, 'compliance'> & { readonly compliance?: readonly string[] })[];
  /** What the API server would show as warnings (Warn findings and notes), as in `response.warnings`. */
  readonly warnings: readonly string[];
  readonly notes: readonly string[];
  readonly patch: readonly PatchOperation[];
  /** Set when the object itself is malformed (the API server would reject it with 400). */
  readonly error?: string;
  /** The violation lines as the webhook's denial message shows them (text output only). */
  readonly lines: readonly string[];
}

export interface CheckOptions {
  readonly set: PolicySet;
  readonly documents: readonly ManifestDocument[];
  /** Namespaces from the policy files; Namespace objects in the manifests take precedence. */
  readonly namespaces: readonly NamespaceInfo[];
  readonly engine: EngineOptions;
  readonly failureMode: FailureMode;
}

/** Cluster-scoped kinds tierguard may meet in manifests; everything else defaults to namespace `default`. */
const clusterScoped = new Set(['Namespace', 'Node', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PersistentVolume', 'StorageClass', 'Tier', 'Guardrail', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'PriorityClass', 'IngressClass']);

/** Objects that are not Kubernetes objects (no kind or apiVersion) are problems. */
export function manifestProblems(documents: readonly ManifestDocument[]): PolicyProblem[] {
  return documents.flatMap(({ source, value }) => {
    const object = value as { kind?: unknown; apiVersion?: unknown } | null;
    if (typeof object !== 'object' || object === null || Array.isArray(object)) return [{ source, path: '', message: 'not a Kubernetes object' }];
    if (typeof object.kind !== 'string' || typeof object.apiVersion !== 'string') return [{ source, path: '', message: 'a Kubernetes object needs string apiVersion and kind' }];
    return [];
  });
}

export function checkManifests(options: CheckOptions): CheckResult[] {
  const namespaces = new Map(options.namespaces.map((namespace) => [namespace.name, namespace]));
  for (const { value } of options.documents) {
    const object = value as { kind?: string; metadata?: { name?: unknown } };
    if (object.kind === 'Namespace' && typeof object.metadata?.name === 'string') {
      namespaces.set(object.metadata.name, namespaceInfo(value as Parameters<typeof namespaceInfo>[0]));
    }
  }
  const known = [...namespaces.values()];
  return options.documents.map(({ value }) => checkObject(value as ManifestObject, namespaces, known, options));
}

interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; generateName?: string; namespace?: string };
}

function checkObject(object: ManifestObject, namespaces: ReadonlyMap<string, NamespaceInfo>, known: readonly NamespaceInfo[], options: CheckOptions): CheckResult {
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] as string : '';
  const kind = { group, version: object.apiVersion.split('/').pop() as string, kind: object.kind };
  const namespace = clusterScoped.has(object.kind) ? '' : object.metadata?.namespace ?? 'default';
  const subject = describeObject({ kind, namespace, object });
  const info = namespaces.get(namespace);
  // A Namespace is checked against its own labels, as the webhook does.
  const context: NamespaceContext = isNamespaceKind(kind)
    ? ownContext(object)
    : { name: namespace, labels: namespace ? namespaceLabels(namespace, info) : { [NAMESPACE_NAME_LABEL]: '' }, known: info !== undefined };
  const request: EngineRequest = {
    operation: 'CREATE',
    kind,
    namespace: context,
    object,
    oldObject: null,
    knownNamespaces: known,
    celRequest: () => ({ operation: 'CREATE', namespace, name: objectName(object), dryRun: false, userInfo: {}, kind }),
  };
  const base = { kind: object.kind, namespace, name: objectName(object) };
  try {
    const mutation = mutate(options.set, request, options.engine);
    const patched = mutation.object ?? object;
    const patch = mutation.object === undefined ? [] : diffPatch(object, mutation.object);
    const validation = validate(options.set, { ...request, object: patched }, options.engine);
    const combined = { ...validation, errors: [...mutation.errors, ...validation.errors] };
    const decision = decide(combined, { failureMode: options.failureMode, subject });
    return {
      ...base,
      allowed: decision.allowed,
      lines: decision.findings.map((finding) => `${finding.mode === 'Enforce' ? '' : `[${finding.mode}] `}${violationLine(finding).slice(2)}`),
      violations: decision.findings.map(({ tier, guardrail, rule, mode, path, message, compliance, kind }) => ({ tier, guardrail, rule, mode, path, message, ...(compliance.length ? { compliance } : {}), ...(kind ? { kind } : {}) })),
      warnings: decision.warnings,
      notes: decision.notes,
      patch,
      ...(decision.errors.length > 0 ? { error: decision.errors.map((error) => `${errorSource(error)}: ${error.message}`).join('; ') } : {}),
    };
  } catch (error) {
    if (!(error instanceof InvalidObjectError)) throw error;
    return { ...base, allowed: false, violations: [], lines: [], warnings: [], notes: [], patch: [], error: `invalid ${object.kind}: ${error.message}` };
  }
}

/** A Namespace's own labels; malformed ones are the object's error, reported like the engine's. */
function ownContext(object: ManifestObject): NamespaceContext {
  try {
    return namespaceObjectContext(object, objectName(object));
  } catch (error) {
    if (!(error instanceof InvalidObjectError)) throw error;
    return { name: objectName(object), labels: { [NAMESPACE_NAME_LABEL]: objectName(object) }, known: true };
  }
}

/** The JSON report of DESIGN §4: `{"results": [...]}` without the text-only lines. */
export function checkJson(results: readonly CheckResult[]): string {
  return `${JSON.stringify({ results: results.map(({ lines: _lines, ...result }) => result) }, null, 2)}\n`;
}

/** Human-readable report: one line per object, its violations, warnings and patch beneath. */
export function formatCheckText(results: readonly CheckResult[]): string {
  const lines: string[] = [];
  for (const result of results) {
    const where = result.namespace ? `${result.namespace}/` : '';
    lines.push(`${result.allowed ? 'ALLOW' : 'DENY '} ${result.kind} ${where}${result.name}`);
    for (const line of result.lines) lines.push(`  ${line}`);
    if (result.error) lines.push(`  error: ${result.error}`);
    for (const note of result.notes) lines.push(`  note: ${note}`);
    for (const op of result.patch) lines.push(`  patch: ${op.op} ${op.path}${'value' in op ? ` ${JSON.stringify(op.value)}` : ''}`);
  }
  const denied = results.filter((result) => !result.allowed).length;
  lines.push(`${results.length} object${results.length === 1 ? '' : 's'}: ${results.length - denied} allowed, ${denied} denied`);
  return `${lines.join('\n')}\n`;
}
