/**
 * One admission request, from parsed AdmissionReview to AdmissionResponse: resolves the namespace,
 * runs the pure engine, shapes the answer and records metrics and logs. Transport concerns (body
 * size, content type, TLS) live in `server.ts`.
 */
import type { AdmissionRequest, AdmissionResponse, AdmissionReview } from '../api/admission.js';
import type { FailureMode } from '../api/policy.js';
import { decide, shortWarning } from '../engine/decision.js';
import { mutate, skipReason, validate, type EngineOptions, type EngineRequest, type NamespaceContext } from '../engine/evaluate.js';
import { namespaceObjectContext, namespaceObjectName } from '../engine/namespace-object.js';
import { InvalidObjectError } from '../engine/object.js';
import type { PolicySet } from '../engine/policy-set.js';
import { isUnproven, type RuleError } from '../engine/findings.js';
import { isNamespaceKind } from '../engine/targets.js';
import { checkPolicyChange, REQUEST_SOURCE, type PolicyChangeKind } from '../policy/admit.js';
import type { ManifestDocument } from '../policy/manifests.js';
import { namespaceLabels, type NamespaceLookup } from '../policy/namespaces.js';
import { logAll, type LogEntry, type Logger } from '../telemetry/logger.js';
import type { Metrics, Webhook } from '../telemetry/metrics.js';
import { metricKind } from './metric-kind.js';
import { diffPatch } from './patch.js';
import { allowed, denied, errored, parseReview, reviewOf } from './review.js';

export interface AdmissionHandlerOptions {
  /** The policy set in force; read once per request, so a reload never changes a request midway. */
  readonly policy: () => PolicySet | undefined;
  /**
   * The Tier and Guardrail documents as they are now, to judge a change to them: in a cluster the
   * latest version of every object as tierguard's watches last saw it, but every Guardrail as
   * stored for a Tier DELETE (see `PolicyRuntime.currentPolicyDocuments`), else the documents in force.
   */
  readonly policyDocuments: (change: PolicyChangeKind) => readonly ManifestDocument[] | Promise<readonly ManifestDocument[]>;
  readonly namespaces: NamespaceLookup;
  readonly engine: EngineOptions;
  readonly failureMode: FailureMode;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

export interface HandledReview {
  readonly review: AdmissionReview;
  /** The request's kind as a metric label (`metricKind`), for the duration metric (`unknown` when the body could not be read). */
  readonly kind: string;
}

export type AdmissionHandler = (webhook: Webhook, body: string) => Promise<HandledReview>;

export function createAdmissionHandler(options: AdmissionHandlerOptions): AdmissionHandler {
  const { metrics, logger } = options;
  return async (webhook, body) => {
    const parsed = parseReview(body);
    if (!parsed.ok) {
      metrics.errors.inc({ webhook, reason: 'bad_request' });
      logger.warn('bad admission request', { webhook, reason: parsed.message.slice(0, 300) });
      return { review: reviewOf(errored(parsed.uid, 400, parsed.message)), kind: 'unknown' };
    }
    const { request } = parsed;
    const response = await answer(webhook, request, options);
    const kind = metricKind(request.kind);
    metrics.requests.inc({ webhook, kind, operation: request.operation, allowed: String(response.allowed), dry_run: String(request.dryRun === true) });
    return { review: reviewOf(response), kind };
  };
}

async function answer(webhook: Webhook, request: AdmissionRequest, options: AdmissionHandlerOptions): Promise<AdmissionResponse> {
  const { metrics, logger } = options;
  const set = options.policy();
  if (!set) {
    metrics.errors.inc({ webhook, reason: 'no_policy_set' });
    return errored(request.uid, 500, 'tierguard has no policy set loaded yet');
  }
  try {
    if (request.kind.group === POLICY_GROUP && (request.kind.kind === 'Tier' || request.kind.kind === 'Guardrail')) {
      return webhook === 'validate' ? answerPolicyChange(request, options) : allowed(request.uid);
    }
    const engineRequest = await resolve(request, options);
    if (engineRequest === undefined) return allowed(request.uid);
    return webhook === 'mutate' ? answerMutate(set, request, engineRequest, options) : answerValidate(set, request, engineRequest, options);
  } catch (error) {
    if (error instanceof InvalidObjectError || error instanceof MissingNamespaceError) {
      metrics.errors.inc({ webhook, reason: 'invalid_object' });
      return errored(request.uid, 400, `invalid ${request.kind.kind}: ${error.message}`);
    }
    metrics.errors.inc({ webhook, reason: 'internal' });
    logger.error('admission request failed', { webhook, uid: request.uid, kind: request.kind.kind, error: (error as Error).message });
    if (options.failureMode === 'allow') return allowed(request.uid, { warnings: ['tierguard could not evaluate this request; allowed by failure mode allow'] });
    return errored(request.uid, 500, `tierguard could not evaluate this request (failure mode deny): ${(error as Error).message}`);
  }
}

class MissingNamespaceError extends Error {}

const POLICY_GROUP = 'tierguard.dev';

/**
 * A Tier or Guardrail change, judged on the objects as they are now (`policyDocuments`: in a
 * cluster, as the watches last saw them); see `policy/admit.ts` for what is refused.
 */
async function answerPolicyChange(request: AdmissionRequest, options: AdmissionHandlerOptions): Promise<AdmissionResponse> {
  if (request.operation === 'CONNECT') return allowed(request.uid);
  let current: readonly ManifestDocument[];
  try {
    current = await options.policyDocuments({ kind: request.kind.kind, operation: request.operation });
  } catch (error) {
    // Never judged on a guess, whatever the failure mode: a Tier deleted unchecked could take its Guardrails out of force.
    options.metrics.errors.inc({ webhook: 'validate', reason: 'policy_read' });
    options.logger.error('cannot read Tiers and Guardrails to judge a change', { uid: request.uid, error: (error as Error).message });
    return errored(request.uid, 500, `tierguard cannot read the Tiers and Guardrails to judge this change; try again: ${(error as Error).message}`);
  }
  const result = checkPolicyChange(current, request);
  const warnings = result.warnings.map(shortWarning);
  if (result.problems.length === 0) return allowed(request.uid, { warnings });
  const subject = describeObject(request);
  const lines = result.problems.map((problem) => `- ${problem.source === REQUEST_SOURCE ? '' : `${problem.object ?? problem.source.file}: `}${problem.path ? `${problem.path}: ` : ''}${problem.message}`);
  const count = `${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}`;
  const message = request.operation === 'DELETE'
    ? `${subject} cannot be deleted: ${result.problems.length} Guardrail${result.problems.length === 1 ? '' : 's'} still name${result.problems.length === 1 ? 's' : ''} it:\n${lines.join('\n')}`
    : `${subject} is invalid: ${count}:\n${lines.join('\n')}`;
  options.metrics.violations.inc({ webhook: 'validate', kind: request.kind.kind, tier: '-', guardrail: '-', rule: 'policy-set', mode: 'Enforce', dry_run: String(request.dryRun === true) });
  return { uid: request.uid, allowed: false, status: { metadata: {}, status: 'Failure', message, reason: 'Invalid', code: 422 }, ...(warnings.length ? { warnings } : {}) };
}

/** The engine's view of the request, or undefined when tierguard leaves the request alone. */
async function resolve(request: AdmissionRequest, options: AdmissionHandlerOptions): Promise<EngineRequest | undefined> {
  if (isNamespaceKind(request.kind)) return resolveNamespaceObject(request, options);
  const name = request.namespace || metadataNamespace(request.object) || metadataNamespace(request.oldObject) || '';
  const provisional = unresolved(request, name);
  if (skipReason(provisional, options.engine) !== undefined) return undefined;
  if (!name) throw new MissingNamespaceError('request.namespace is empty for a namespaced kind');
  const info = await options.namespaces.get(name);
  const namespace: NamespaceContext = { name, labels: namespaceLabels(name, info), known: info !== undefined, ...(info ? { annotations: info.annotations } : {}) };
  return { ...provisional, namespace, knownNamespaces: options.namespaces.list(), userInfo: request.userInfo, celRequest: () => celRequest(request, name) };
}

/** A Namespace is its own namespace: its labels come from the object, never from the lookup. */
function resolveNamespaceObject(request: AdmissionRequest, options: AdmissionHandlerOptions): EngineRequest | undefined {
  const name = namespaceObjectName(request);
  const provisional = unresolved(request, name);
  if (skipReason(provisional, options.engine) !== undefined) return undefined;
  return { ...provisional, namespace: namespaceObjectContext(request.object, name), userInfo: request.userInfo, celRequest: () => celRequest(request, name) };
}

/** The request before its namespace is looked up: enough to decide whether to skip it. */
function unresolved(request: AdmissionRequest, name: string): EngineRequest {
  return {
    operation: request.operation,
    kind: request.kind,
    ...(request.subResource ? { subResource: request.subResource } : {}),
    namespace: { name, labels: namespaceLabels(name, undefined), known: false },
    object: request.object,
    oldObject: request.oldObject,
  };
}

/** The CEL `request` variable: the AdmissionRequest without its objects. */
function celRequest(request: AdmissionRequest, namespace: string): Record<string, unknown> {
  const { object: _object, oldObject: _oldObject, ...rest } = request;
  return { ...rest, namespace, name: request.name ?? '', dryRun: request.dryRun === true };
}

function metadataNamespace(object: unknown): string | undefined {
  const namespace = (object as { metadata?: { namespace?: unknown } } | null)?.metadata?.namespace;
  return typeof namespace === 'string' ? namespace : undefined;
}

function answerMutate(set: PolicySet, request: AdmissionRequest, engineRequest: EngineRequest, options: AdmissionHandlerOptions): AdmissionResponse {
  const result = mutate(set, engineRequest, options.engine);
  const warnings: string[] = [];
  if (result.errors.length > 0) {
    const decision = decide({ findings: [], errors: result.errors, notes: [] }, { failureMode: options.failureMode, subject: describeObject(request) });
    recordErrors('mutate', request, result.errors, options);
    if (!decision.allowed) return errored(request.uid, 500, decision.message ?? '');
    warnings.push(...decision.warnings);
  }
  if (result.object === undefined) return allowed(request.uid, { warnings });
  options.logger.debug('defaults injected', { uid: request.uid, kind: request.kind.kind, namespace: engineRequest.namespace.name, applied: result.applied, dryRun: request.dryRun === true });
  return allowed(request.uid, { patch: diffPatch(request.object, result.object), warnings });
}

function recordErrors(webhook: Webhook, request: AdmissionRequest, errors: readonly RuleError[], options: AdmissionHandlerOptions): void {
  for (const error of errors) {
    options.metrics.errors.inc({ webhook, reason: 'rule_error' });
    options.logger.warn('rule could not be evaluated', { webhook, uid: request.uid, object: describeObject(request), ...error });
  }
}

function answerValidate(set: PolicySet, request: AdmissionRequest, engineRequest: EngineRequest, options: AdmissionHandlerOptions): AdmissionResponse {
  const { metrics, logger } = options;
  const dryRun = String(request.dryRun === true);
  const result = validate(set, engineRequest, options.engine);
  const subject = describeObject(request);
  const decision = decide(result, { failureMode: options.failureMode, subject });
  const lines: LogEntry[] = [];
  for (const finding of result.findings) {
    if (isUnproven(finding)) {
      // Not a violation, not a rule error: the check stopped at a bound. Its mode decided above.
      metrics.errors.inc({ webhook: 'validate', reason: 'check_bound' });
      lines.push({ level: 'warn', message: 'check unproven', fields: { uid: request.uid, object: subject, ...finding, dryRun: request.dryRun === true } });
      continue;
    }
    metrics.violations.inc({ webhook: 'validate', kind: request.kind.kind, tier: finding.tier, guardrail: finding.guardrail, rule: finding.rule, mode: finding.mode, dry_run: dryRun });
    if (finding.mode !== 'Warn') lines.push({ level: 'info', message: finding.mode === 'Audit' ? 'audit finding' : 'violation', fields: { uid: request.uid, object: subject, ...finding, dryRun: request.dryRun === true } });
  }
  logAll(logger, lines);
  recordErrors('validate', request, result.errors, options);
  if (decision.allowed) return allowed(request.uid, { warnings: decision.warnings });
  if (decision.code === 500) return { ...errored(request.uid, 500, decision.message ?? ''), ...(decision.warnings.length ? { warnings: [...decision.warnings] } : {}) };
  return denied(request.uid, decision.message ?? '', decision.warnings);
}

/** The object's name; a Pod created by a controller has only `generateName` at admission. */
export function objectName(object: unknown, requestName?: string): string {
  const metadata = (object as { metadata?: { name?: unknown; generateName?: unknown } } | null)?.metadata;
  if (typeof metadata?.name === 'string' && metadata.name) return metadata.name;
  if (requestName) return requestName;
  return typeof metadata?.generateName === 'string' ? `${metadata.generateName}<generated>` : '<unnamed>';
}

/** `Pod payments/api-0` or `Namespace payments`, as the object is named in messages. */
export function describeObject(request: Pick<AdmissionRequest, 'kind' | 'namespace' | 'name' | 'object'>): string {
  const metadata = (request.object as { metadata?: { namespace?: unknown } } | null)?.metadata;
  // The API server sets request.namespace of a Namespace to its own name: it is in no namespace.
  const namespace = isNamespaceKind(request.kind) ? '' : request.namespace || (typeof metadata?.namespace === 'string' ? metadata.namespace : '');
  return `${request.kind.kind} ${namespace ? `${namespace}/` : ''}${objectName(request.object, request.name)}`;
}
