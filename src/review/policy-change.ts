/**
 * A Tier or Guardrail change, judged on the objects as they are now (in a cluster, as the
 * watches last saw them; every Guardrail as stored for a Tier DELETE): see `policy/admit.ts` for
 * what is refused.
 */
import { shortWarning } from '../engine/decision.js';
import { checkPolicyChange, REQUEST_SOURCE, type PolicyChangeKind } from '../policy/admit.js';
import type { ManifestDocument } from '../policy/manifests.js';
import type { ReviewRequest } from './resolve.js';
import { describeObject } from './subject.js';
import { failedVerdict, skippedVerdict, type Verdict } from './verdict.js';

export type PolicyDocuments = (change: PolicyChangeKind) => readonly ManifestDocument[] | Promise<readonly ManifestDocument[]>;

/** The API group of Tier and Guardrail. */
export const POLICY_GROUP = 'tierguard.dev';

export function isPolicyKind(kind: ReviewRequest['kind']): boolean {
  return kind.group === POLICY_GROUP && (kind.kind === 'Tier' || kind.kind === 'Guardrail');
}

export async function reviewPolicyChange(request: ReviewRequest, policyDocuments: PolicyDocuments): Promise<Verdict> {
  const subject = describeObject(request);
  if (request.operation === 'CONNECT') return skippedVerdict(subject, 'operation CONNECT');
  let current: readonly ManifestDocument[];
  try {
    current = await policyDocuments({ kind: request.kind.kind, operation: request.operation });
  } catch (error) {
    // Never judged on a guess, whatever the failure mode: a Tier deleted unchecked could take its Guardrails out of force.
    const detail = (error as Error).message;
    return failedVerdict(subject, 500, `tierguard cannot read the Tiers and Guardrails to judge this change; try again: ${detail}`, { reason: 'policy_read', detail });
  }
  const result = checkPolicyChange(current, request);
  const warnings = result.warnings.map(shortWarning);
  const base = { subject, warnings, notes: [], findings: [], errors: [], patch: [], applied: [] };
  if (result.problems.length === 0) return { outcome: 'allowed', ...base };
  const lines = result.problems.map((problem) => `- ${problem.source === REQUEST_SOURCE ? '' : `${problem.object ?? problem.source.file}: `}${problem.path ? `${problem.path}: ` : ''}${problem.message}`);
  const count = result.problems.length;
  const message = request.operation === 'DELETE'
    ? `${subject} cannot be deleted: ${count} Guardrail${count === 1 ? '' : 's'} still name${count === 1 ? 's' : ''} it:\n${lines.join('\n')}`
    : `${subject} is invalid: ${count} problem${count === 1 ? '' : 's'}:\n${lines.join('\n')}`;
  return { outcome: 'denied', code: 422, message, ...base };
}
