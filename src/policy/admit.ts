/**
 * tierguard admits its own policies: a Tier or Guardrail CREATE, UPDATE or DELETE is checked by
 * compiling the policy set as it would be after the change. Anything that would not compile is
 * refused with every problem; warnings that the change introduces (shadowing, equal priorities)
 * are returned so the API server can show them.
 */
import type { Operation } from '../api/admission.js';
import { compilePolicySet } from './compile.js';
import type { ManifestDocument } from './manifests.js';
import type { PolicyProblem } from './problems.js';

export interface PolicyChange {
  readonly operation: Operation;
  readonly object: unknown;
  readonly oldObject: unknown;
}

export interface PolicyChangeResult {
  /** Every problem of the policy set after the change; empty when it compiles. */
  readonly problems: readonly PolicyProblem[];
  /** Warnings the change introduces. */
  readonly warnings: readonly string[];
}

/** Where the object under review is said to come from in problems. */
export const REQUEST_SOURCE = { file: 'request', document: 1 } as const;

const warningsBefore = new WeakMap<readonly ManifestDocument[], ReadonlySet<string>>();

export function checkPolicyChange(current: readonly ManifestDocument[], change: PolicyChange): PolicyChangeResult {
  const target = (change.operation === 'DELETE' ? change.oldObject : change.object) as { kind?: unknown; metadata?: { name?: unknown } } | null;
  const kind = target?.kind;
  const name = target?.metadata?.name;
  const rest = current.filter(({ value }) => {
    const doc = value as { kind?: unknown; metadata?: { name?: unknown } } | null;
    return !(doc?.kind === kind && doc?.metadata?.name === name);
  });
  const documents = change.operation === 'DELETE' ? rest : [...rest, { source: REQUEST_SOURCE, value: change.object }];
  const after = compilePolicySet({ documents }, { generation: 0 });
  const before = previousWarnings(current);
  return { problems: after.problems, warnings: after.warnings.filter((warning) => !before.has(warning)) };
}

function previousWarnings(current: readonly ManifestDocument[]): ReadonlySet<string> {
  let known = warningsBefore.get(current);
  if (!known) {
    known = new Set(compilePolicySet({ documents: current }, { generation: 0 }).warnings);
    warningsBefore.set(current, known);
  }
  return known;
}
