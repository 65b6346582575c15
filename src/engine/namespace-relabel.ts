/**
 * Namespace relabelling (DESIGN §3.3). A namespace's labels decide which guardrails select it — as
 * a network subject, as a peer of a rule, as where label rules apply — and what
 * `fromNamespaceLabel` defaults copy into its objects. Changing, adding or removing a label that a
 * guardrail reads moves the namespace between guardrails, and NetworkPolicies admitted against its
 * old labels may then allow what a tier denies. So on UPDATE such a change is a finding of every
 * guardrail that reads the key, in that guardrail's mode, unless the requester is an admin. The
 * rule is strict on purpose: a change of a read key is a finding even when, with today's
 * selectors, no rule gains or loses the namespace.
 */
import type { LabelSelector, Labels } from '../api/kube.js';
import type { Finding } from './findings.js';
import type { CompiledNetworkRule } from './network/rules.js';
import type { CompiledGuardrail, PolicySet } from './policy-set.js';
import type { LabelMatcher } from './selector.js';
import { fieldPath } from './targets.js';

/** The rule id of relabelling findings, in messages and metrics. */
export const RELABEL_RULE = 'namespace-labels';

/** Who may change the namespace labels guardrails read (`--admin-groups`, `--admin-users`). */
export interface Admins {
  readonly groups: ReadonlySet<string>;
  readonly users: ReadonlySet<string>;
}

/** The requester, as the AdmissionRequest's `userInfo` names it. */
export interface Requester {
  readonly username?: string;
  readonly groups?: readonly string[];
}

/** True when the user, or one of its groups, is an admin. Exact, case-sensitive names. */
export function isAdmin(admins: Admins | undefined, requester: Requester | undefined): boolean {
  if (!admins || !requester) return false;
  if (requester.username !== undefined && admins.users.has(requester.username)) return true;
  return (requester.groups ?? []).some((group) => admins.groups.has(group));
}

/** One place where a guardrail selects namespaces: its subject, the peers of one rule, its label rules. */
interface Selection {
  /** How messages name it, e.g. `the subject`, `the peers of ingress rule deny-from-dev`. */
  readonly role: string;
  readonly match: LabelMatcher;
}

/** What one guardrail reads of namespace labels. */
interface Reader {
  readonly guardrail: CompiledGuardrail;
  readonly selections: readonly Selection[];
  /** Every key its namespace selectors read. */
  readonly selectorKeys: ReadonlySet<string>;
  /** `fromNamespaceLabel` source key → the label keys defaulted from it (where the label rules apply). */
  readonly copiedKeys: ReadonlyMap<string, readonly string[]>;
  readonly labelRules?: LabelMatcher;
}

const readersBySet = new WeakMap<PolicySet, readonly Reader[]>();

/** The guardrails that read namespace labels, in precedence order; computed once per policy set. */
function readersOf(set: PolicySet): readonly Reader[] {
  let readers = readersBySet.get(set);
  if (!readers) {
    readers = set.guardrails.map(readerOf).filter((reader) => reader.selectorKeys.size > 0 || reader.copiedKeys.size > 0);
    readersBySet.set(set, readers);
  }
  return readers;
}

/** Every namespace label key some guardrail of the set reads, sorted (for documentation and tests). */
export function namespaceLabelKeys(set: PolicySet): string[] {
  return [...new Set(readersOf(set).flatMap((reader) => [...reader.selectorKeys, ...reader.copiedKeys.keys()]))].sort();
}

type NamespaceSelector = { readonly selector: LabelSelector; readonly match: LabelMatcher };

function readerOf(guardrail: CompiledGuardrail): Reader {
  const selections: Selection[] = [];
  const selectorKeys = new Set<string>();
  const add = (role: string, selectors: readonly NamespaceSelector[]) => {
    if (selectors.length === 0) return;
    for (const { selector } of selectors) keysOf(selector).forEach((key) => selectorKeys.add(key));
    selections.push({ role, match: (labels) => selectors.some(({ match }) => match(labels)) });
  };
  const { network, labels } = guardrail;
  if (network) {
    add('the subject', [network.subject.namespaces]);
    for (const rule of [...network.ingress, ...network.egress]) add(`the peers of ${ruleName(rule)}`, namespacePeers(rule));
  }
  if (labels) add('the reach of its label rules', [{ selector: labels.namespaceSelector, match: labels.namespaces }]);
  const copiedKeys = new Map<string, string[]>();
  for (const entry of labels?.defaults ?? []) {
    if ('fromNamespaceLabel' in entry) copiedKeys.set(entry.fromNamespaceLabel, [...(copiedKeys.get(entry.fromNamespaceLabel) ?? []), entry.key]);
  }
  return { guardrail, selections, selectorKeys, copiedKeys, ...(labels ? { labelRules: labels.namespaces } : {}) };
}

function keysOf(selector: LabelSelector): string[] {
  return [...Object.keys(selector.matchLabels ?? {}), ...(selector.matchExpressions ?? []).map((expression) => expression.key)];
}

function namespacePeers(rule: CompiledNetworkRule): NamespaceSelector[] {
  return rule.peers.flatMap((peer) => (peer.kind === 'namespaces' || peer.kind === 'pods' ? [peer.namespaces] : []));
}

function ruleName(rule: CompiledNetworkRule): string {
  return rule.id === `${rule.direction}[${rule.index}]` ? rule.id : `${rule.direction} rule ${rule.id}`;
}

/** One label that differs between the stored namespace and the new one. */
export interface LabelChange {
  readonly key: string;
  /** Undefined when the label is added. */
  readonly from?: string;
  /** Undefined when the label is removed. */
  readonly to?: string;
}

/** The labels added, removed or changed, by key. */
export function labelChanges(before: Labels, after: Labels): LabelChange[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.flatMap((key) => {
    const from = own(before, key);
    const to = own(after, key);
    if (from === to) return [];
    return [{ key, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) }];
  });
}

function own(labels: Labels, key: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] : undefined;
}

export interface RelabelCheck {
  readonly set: PolicySet;
  /** The namespace's name, for messages. */
  readonly namespace: string;
  /** Labels of the stored namespace and of the updated one, each with `kubernetes.io/metadata.name`. */
  readonly before: Labels;
  readonly after: Labels;
}

/**
 * A finding for every guardrail that reads a changed label, naming the changed labels and which of
 * the guardrail's rules the namespace would leave or enter. Admins are the caller's business.
 *
 * @example relabelFindings({ set, namespace: 'payments', before: { env: 'prod' }, after: { env: 'dev' } })
 * // [{ guardrail: 'prod-isolation', rule: 'namespace-labels', path: 'metadata.labels[env]',
 * //    message: 'namespace payments would leave the subject, and enter the peers of ingress rule deny-from-dev: env "prod" → "dev"', ... }]
 */
export function relabelFindings(check: RelabelCheck): Finding[] {
  const changes = labelChanges(check.before, check.after);
  if (changes.length === 0) return [];
  return readersOf(check.set).flatMap((reader) => findingOf(reader, changes, check) ?? []);
}

function findingOf(reader: Reader, changes: readonly LabelChange[], { namespace, before, after }: RelabelCheck): Finding | undefined {
  // Defaults copy namespace labels only where the label rules apply, before or after the change.
  const rulesApply = [before, after].map((labels) => reader.labelRules?.(labels) ?? false);
  const copied = rulesApply.some(Boolean) ? changes.filter((change) => reader.copiedKeys.has(change.key)) : [];
  const relevant = changes.filter((change) => reader.selectorKeys.has(change.key) || copied.includes(change));
  const [first] = relevant;
  if (!first) return undefined;
  const left = reader.selections.filter(({ match }) => match(before) && !match(after)).map(({ role }) => role);
  const entered = reader.selections.filter(({ match }) => !match(before) && match(after)).map(({ role }) => role);
  const effects: string[] = [];
  if (left.length > 0) effects.push(`leave ${list(left)}`);
  if (entered.length > 0) effects.push(`enter ${list(entered)}`);
  // Leaving or entering the label rules already says that their defaults stop or start.
  if (copied.length > 0 && rulesApply.every(Boolean)) {
    const defaulted = copied.flatMap((change) => reader.copiedKeys.get(change.key) ?? []);
    effects.push(`change the value${defaulted.length === 1 ? '' : 's'} its default${defaulted.length === 1 ? '' : 's'} for ${list(defaulted)} ${defaulted.length === 1 ? 'copies' : 'copy'} from the namespace`);
  }
  if (effects.length === 0) effects.push('change a label this guardrail selects namespaces on (no rule gains or loses it)');
  const message = `namespace ${namespace} would ${effects.join(', and ')}: ${relevant.map(describeChange).join(', ')}`;
  const { guardrail } = reader;
  return {
    tier: guardrail.tier.name,
    guardrail: guardrail.name,
    rule: RELABEL_RULE,
    mode: guardrail.mode,
    path: fieldPath(['metadata'], relevant.length === 1 ? first.key : undefined),
    message,
    compliance: guardrail.compliance,
    warning: message,
  };
}

/** `env "prod" → "dev"`, `env added as "dev"`, `env "prod" removed`. */
export function describeChange(change: LabelChange): string {
  if (change.from === undefined) return `${change.key} added as ${JSON.stringify(change.to)}`;
  if (change.to === undefined) return `${change.key} ${JSON.stringify(change.from)} removed`;
  return `${change.key} ${JSON.stringify(change.from)} → ${JSON.stringify(change.to)}`;
}

function list(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** The line a relabelling denial ends with: who may make the change. */
export function adminHint(admins: Admins | undefined): string {
  const who = [
    ...(admins && admins.groups.size > 0 ? [`a member of ${[...admins.groups].join(', ')}`] : []),
    ...(admins && admins.users.size > 0 ? ['an admin user'] : []),
  ];
  if (who.length === 0) return 'Namespace labels that guardrails select on can be changed only by a tierguard admin, and none is configured (--admin-groups, --admin-users).';
  return `Namespace labels that guardrails select on can be changed only by a tierguard admin (${who.join(' or ')}): ask one to make this change.`;
}
