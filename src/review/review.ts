/**
 * What a request means, in one place: resolve the object and its namespace, mutate, diff the
 * patch, validate, decide. The webhook (`admission/`), `tierguard check` and the review of Tier
 * and Guardrail changes call this; none of them builds an engine request or a decision itself.
 */
import type { FailureMode } from '../api/policy.js';
import { decide } from '../engine/decision.js';
import { mutate, validate, type EngineOptions, type EngineRequest } from '../engine/evaluate.js';
import { InvalidObjectError } from '../engine/object.js';
import type { PolicySet } from '../engine/policy-set.js';
import type { NamespaceLookup } from '../policy/namespaces.js';
import { diffPatch } from './patch.js';
import { isPolicyKind, reviewPolicyChange, type PolicyDocuments } from './policy-change.js';
import { MissingNamespaceError, resolveRequest, type ReviewRequest } from './resolve.js';
import { describeObject } from './subject.js';
import { failedVerdict, skippedVerdict, type Verdict } from './verdict.js';

export interface ReviewContext {
  /** The policy set in force; read once per review, so a reload never changes a review midway. */
  readonly policy: () => PolicySet | undefined;
  /**
   * The Tier and Guardrail documents as they are now, to judge a change to them (see
   * `./policy-change.ts`). Without it, Tier and Guardrail objects are left alone (`check`).
   */
  readonly policyDocuments?: PolicyDocuments;
  readonly namespaces: NamespaceLookup;
  readonly engine: EngineOptions;
  readonly failureMode: FailureMode;
}

/** The webhook a request came to: the API server calls `mutate`, then `validate` on the mutated object. */
export type ReviewStep = 'mutate' | 'validate';

/** One webhook's verdict on a request. */
export function review(context: ReviewContext, step: ReviewStep, request: ReviewRequest): Promise<Verdict> {
  return guarded(context, request, async (set, subject) => {
    if (context.policyDocuments && isPolicyKind(request.kind)) {
      return step === 'validate' ? reviewPolicyChange(request, context.policyDocuments) : skippedVerdict(subject, 'Tier and Guardrail objects are not mutated');
    }
    const resolved = await resolveRequest(request, context.namespaces, context.engine);
    if ('skipped' in resolved) return skippedVerdict(subject, resolved.skipped);
    return step === 'mutate' ? mutateStep(set, resolved.request, subject, context) : validateStep(set, resolved.request, subject, context);
  });
}

/**
 * Both webhooks' verdict on a request, as one decision: the defaults are injected, the mutated
 * object is validated, and the rule errors of both steps count. What `tierguard check` reports
 * for each object of a manifest.
 */
export function reviewBoth(context: ReviewContext, request: ReviewRequest): Promise<Verdict> {
  return guarded(context, request, async (set, subject) => {
    const resolved = await resolveRequest(request, context.namespaces, context.engine);
    if ('skipped' in resolved) return skippedVerdict(subject, resolved.skipped);
    const mutation = mutate(set, resolved.request, context.engine);
    const patch = mutation.object === undefined ? [] : diffPatch(request.object, mutation.object);
    const validation = validate(set, { ...resolved.request, object: mutation.object ?? request.object }, context.engine);
    return verdictOf({ ...validation, errors: [...mutation.errors, ...validation.errors] }, { subject, patch, applied: mutation.applied }, context);
  });
}

/**
 * Runs `fn` with the policy set in force. A malformed object is the request's fault (400); any
 * other failure follows the failure mode, as a rule error does.
 */
async function guarded(context: ReviewContext, request: ReviewRequest, fn: (set: PolicySet, subject: string) => Promise<Verdict>): Promise<Verdict> {
  const subject = describeObject(request);
  const set = context.policy();
  if (!set) return failedVerdict(subject, 500, 'tierguard has no policy set loaded yet', { reason: 'no_policy_set', detail: 'no policy set loaded yet' });
  try {
    return await fn(set, subject);
  } catch (error) {
    const detail = (error as Error).message;
    if (error instanceof InvalidObjectError || error instanceof MissingNamespaceError) {
      return failedVerdict(subject, 400, `invalid ${request.kind.kind}: ${detail}`, { reason: 'invalid_object', detail });
    }
    if (context.failureMode === 'allow') {
      return {
        outcome: 'allowed', subject, warnings: ['tierguard could not evaluate this request; allowed by failure mode allow'],
        notes: [], findings: [], errors: [], patch: [], applied: [], failure: { reason: 'internal', detail },
      };
    }
    return failedVerdict(subject, 500, `tierguard could not evaluate this request (failure mode deny): ${detail}`, { reason: 'internal', detail });
  }
}

/** The mutating webhook: the defaults as a patch. Its rule errors follow the failure mode. */
function mutateStep(set: PolicySet, request: EngineRequest, subject: string, context: ReviewContext): Verdict {
  const result = mutate(set, request, context.engine);
  const patch = result.object === undefined ? [] : diffPatch(request.object, result.object);
  if (result.errors.length === 0) return { outcome: 'allowed', subject, warnings: [], notes: [], findings: [], errors: [], patch, applied: result.applied };
  // Only the rule errors are decided on here: the findings are the validating webhook's.
  const decided = verdictOf({ findings: [], errors: result.errors, notes: [] }, { subject, patch, applied: result.applied }, context);
  return decided.outcome === 'errored' ? { ...decided, warnings: [] } : decided;
}

function validateStep(set: PolicySet, request: EngineRequest, subject: string, context: ReviewContext): Verdict {
  return verdictOf(validate(set, request, context.engine), { subject, patch: [], applied: [] }, context);
}

/** The decision on what the rules found, as a verdict. */
function verdictOf(result: Parameters<typeof decide>[0], mutation: Pick<Verdict, 'subject' | 'patch' | 'applied'>, context: ReviewContext): Verdict {
  const decision = decide(result, { failureMode: context.failureMode, subject: mutation.subject });
  // Properties first, then the spread: the other order costs V8 (Node 20) about 1 µs per property.
  const base = { warnings: decision.warnings, notes: decision.notes, findings: decision.findings, errors: decision.errors, subject: mutation.subject, patch: mutation.patch, applied: mutation.applied };
  if (decision.allowed) return { outcome: 'allowed', ...base };
  if (decision.code === 500) return { outcome: 'errored', code: 500, message: decision.message ?? '', ...base };
  return { outcome: 'denied', code: 403, message: decision.message ?? '', ...base };
}
