/**
 * tierguard admits its own policies. A Tier or Guardrail CREATE or UPDATE is refused when the
 * object is wrong by itself (schema, CEL, patterns, CIDRs) or conflicts with another object (two
 * Tiers with one priority); a Tier DELETE is refused while Guardrails still name the Tier, as
 * Calico and Antrea refuse deleting a non-empty tier. A Guardrail whose Tier does not exist yet is
 * admitted with a warning: `kubectl apply -f` of a folder, Helm and GitOps tools create objects
 * one by one in any order, and the Guardrail comes into force when its Tier appears.
 *
 * An admitted Guardrail gets the warnings about itself: it can never apply (judged against the
 * rules before it only), it ties with an overlapping Guardrail, a default breaks its own rule.
 *
 * The caller passes the objects it knows: in a cluster, those of its watches (a quorum LIST of
 * 1,000 Guardrails cost the API server a second per admission, issue 11), so a conflict with an
 * object created a moment ago on another replica can get in, to be settled at compile time (ADR
 * 10); a Tier DELETE still reads the Guardrails with a quorum LIST.
 */
import type { Operation } from '../api/admission.js';
import type { ManifestDocument } from './manifests.js';
import type { PolicyProblem } from './problems.js';
import { documentUnits, resolvePolicySet, type Resolution } from './resolve.js';

export interface PolicyChange {
  readonly operation: Operation;
  readonly object: unknown;
  readonly oldObject: unknown;
}

/** What the documents a change is judged on may depend on: a Tier DELETE needs every Guardrail as stored. */
export interface PolicyChangeKind {
  readonly kind: string;
  readonly operation: Operation;
}

export interface PolicyChangeResult {
  /** Why the change is refused; empty when it is admitted. */
  readonly problems: readonly PolicyProblem[];
  /** What the API server should show even when the change is admitted. */
  readonly warnings: readonly string[];
}

/** Where the object under review is said to come from in problems. */
export const REQUEST_SOURCE = { file: 'request', document: 1 } as const;

export function checkPolicyChange(current: readonly ManifestDocument[], change: PolicyChange): PolicyChangeResult {
  const target = (change.operation === 'DELETE' ? change.oldObject : change.object) as { kind?: unknown; metadata?: { name?: unknown } } | null;
  const kind = target?.kind;
  const name = target?.metadata?.name;
  const rest = current.filter(({ value }) => {
    const doc = value as { kind?: unknown; metadata?: { name?: unknown } } | null;
    return !(doc?.kind === kind && doc?.metadata?.name === name);
  });
  if (change.operation === 'DELETE') return { problems: kind === 'Tier' && typeof name === 'string' ? tierStillNamed(name, rest) : [], warnings: [] };

  const guardrail = kind === 'Guardrail' && typeof name === 'string' ? name : undefined;
  const after = judgeChange(rest, change.object, guardrail);
  const outcome = after.outcomes.get(REQUEST_SOURCE.file);
  if (outcome?.state === 'out' && outcome.reason !== 'Invalid') {
    const why = outcome.reason === 'TierNotFound' ? 'does not exist yet' : 'is not in force (it does not compile; see its status)';
    return { problems: [], warnings: [`tier ${JSON.stringify(outcome.tier)} ${why}: this Guardrail is not in force until it is`] };
  }
  if (outcome && (outcome.state === 'out' || outcome.state === 'lastGood')) return { problems: outcome.problems, warnings: [] };
  const own = after.result.problems.filter((problem) => problem.source.file === REQUEST_SOURCE.file);
  if (own.length > 0) return { problems: own, warnings: [] };
  return { problems: [], warnings: guardrail ? [...(after.result.warningsAbout.get(guardrail) ?? [])] : [] };
}

/** The set with the change in it; only the changed Guardrail is judged for shadowing: milliseconds at any size of set. */
function judgeChange(rest: readonly ManifestDocument[], object: unknown, guardrail: string | undefined): Resolution {
  const changed = { key: REQUEST_SOURCE.file, latest: { documents: [{ source: REQUEST_SOURCE, value: object }] } };
  return resolvePolicySet([...documentUnits(rest), changed], { generation: 0, shadows: guardrail ? { guardrail } : 'none' });
}

/** A Tier may go only once no Guardrail names it; each one still naming it is a problem. */
function tierStillNamed(tier: string, documents: readonly ManifestDocument[]): PolicyProblem[] {
  return documents.flatMap(({ source, value }) => {
    const doc = value as { kind?: unknown; metadata?: { name?: unknown }; spec?: { tier?: unknown } } | null;
    if (doc?.kind !== 'Guardrail' || doc.spec?.tier !== tier) return [];
    const guardrail = String(doc.metadata?.name);
    return [{ source, object: `Guardrail ${guardrail}`, path: 'spec.tier', message: `still names tier ${JSON.stringify(tier)}; delete or move it first` }];
  });
}
