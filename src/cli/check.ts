/**
 * `tierguard check`: evaluates every object in manifests as a CREATE, exactly as the webhook does —
 * mutation first, then validation of the mutated object — for CI and GitOps pipelines.
 */
import type { NamespaceInfo } from '../api/kube.js';
import type { FailureMode } from '../api/policy.js';
import { NUMBER_OPTIONS } from '../config/options.js';
import { violationLine } from '../engine/decision.js';
import type { EngineOptions } from '../engine/evaluate.js';
import { errorSource, type Finding } from '../engine/findings.js';
import type { PolicySet } from '../engine/policy-set.js';
import type { PatchOperation } from '../review/patch.js';
import { reviewBoth } from '../review/review.js';
import { createRequest, manifestNamespace, manifestNamespaces, type ManifestObject } from '../review/manifest-request.js';
import { objectName } from '../review/subject.js';
import type { Verdict } from '../review/verdict.js';
import type { ManifestDocument } from '../policy/manifests.js';
import type { PolicyProblem } from '../policy/problems.js';

export interface CheckResult {
  /** Where the object was read: `file#document` (the document's number in its file, from 1). */
  readonly source: string;
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
  /** The webhook's body limit (`serve --max-body-bytes`, whose default it defaults to): an object whose AdmissionReview is larger is refused. */
  readonly maxBodyBytes?: number;
}

/** Objects that are not Kubernetes objects (no kind or apiVersion) are problems. */
export function manifestProblems(documents: readonly ManifestDocument[]): PolicyProblem[] {
  return documents.flatMap(({ source, value }) => {
    const object = value as { kind?: unknown; apiVersion?: unknown } | null;
    if (typeof object !== 'object' || object === null || Array.isArray(object)) return [{ source, path: '', message: 'not a Kubernetes object' }];
    if (typeof object.kind !== 'string' || typeof object.apiVersion !== 'string') return [{ source, path: '', message: 'a Kubernetes object needs string apiVersion and kind' }];
    return [];
  });
}

export async function checkManifests(options: CheckOptions): Promise<CheckResult[]> {
  const namespaces = manifestNamespaces(options.namespaces, options.documents.map(({ value }) => value));
  const context = { policy: () => options.set, namespaces, engine: options.engine, failureMode: options.failureMode };
  const results: CheckResult[] = [];
  const maxBodyBytes = options.maxBodyBytes ?? NUMBER_OPTIONS.maxBodyBytes.default;
  for (const { source, value } of options.documents) {
    const object = value as ManifestObject;
    const where = `${source.file}#${source.document}`;
    const request = createRequest(object);
    const verdict = await reviewBoth(context, request);
    // An object tierguard leaves alone (a kind it does not check, an excluded namespace) is never sent to it.
    const sent = !(verdict.outcome === 'allowed' && verdict.skipped !== undefined);
    const bytes = sent ? reviewBytes(request) : 0;
    if (bytes > maxBodyBytes) {
      results.push(refused(where, object, `its AdmissionReview would be ${bytes} bytes, more than the webhook's body limit of ${maxBodyBytes} (--max-body-bytes): the webhook answers 413, and the API server refuses the request`));
      continue;
    }
    results.push(resultOf(where, object, verdict));
  }
  return results;
}

/** The size of the AdmissionReview the API server would send the webhook for `request` (a uid is 36 characters). */
function reviewBytes(request: ReturnType<typeof createRequest>): number {
  return Buffer.byteLength(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: '00000000-0000-0000-0000-000000000000', ...request } }));
}

function refused(source: string, object: ManifestObject, error: string): CheckResult {
  return { source, kind: object.kind, namespace: manifestNamespace(object), name: objectName(object), allowed: false, violations: [], lines: [], warnings: [], notes: [], patch: [], error };
}

function resultOf(source: string, object: ManifestObject, verdict: Verdict): CheckResult {
  const base = { source, kind: object.kind, namespace: manifestNamespace(object), name: objectName(object) };
  if (verdict.failure?.reason === 'invalid_object') {
    return { ...base, allowed: false, violations: [], lines: [], warnings: [], notes: [], patch: [], error: verdict.outcome === 'errored' ? verdict.message : verdict.failure.detail };
  }
  const failure = verdict.failure ? [verdict.failure.detail] : [];
  const errors = [...failure, ...verdict.errors.map((error) => `${errorSource(error)}: ${error.message}`)];
  return {
    ...base,
    allowed: verdict.outcome === 'allowed',
    lines: verdict.findings.map((finding) => `${finding.mode === 'Enforce' ? '' : `[${finding.mode}] `}${violationLine(finding).slice(2)}`),
    violations: verdict.findings.map(({ tier, guardrail, rule, mode, path, message, compliance, kind }) => ({ tier, guardrail, rule, mode, path, message, ...(compliance.length ? { compliance } : {}), ...(kind ? { kind } : {}) })),
    warnings: verdict.warnings,
    notes: verdict.notes,
    patch: verdict.patch,
    ...(errors.length > 0 ? { error: errors.join('; ') } : {}),
  };
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
    lines.push(`${result.allowed ? 'ALLOW' : 'DENY '} ${result.kind} ${where}${result.name} (${result.source})`);
    for (const line of result.lines) lines.push(`  ${line}`);
    if (result.error) lines.push(`  error: ${result.error}`);
    for (const note of result.notes) lines.push(`  note: ${note}`);
    for (const op of result.patch) lines.push(`  patch: ${op.op} ${op.path}${'value' in op ? ` ${JSON.stringify(op.value)}` : ''}`);
  }
  const denied = results.filter((result) => !result.allowed).length;
  lines.push(`${results.length} object${results.length === 1 ? '' : 's'}: ${results.length - denied} allowed, ${denied} denied`);
  return `${lines.join('\n')}\n`;
}
