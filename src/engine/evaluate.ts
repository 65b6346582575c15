/**
 * The pure admission engine: given a compiled policy set and a request resolved to plain values
 * (namespace labels included), it computes label defaults (mutation) and findings (validation).
 * It performs no I/O and reads no clock; the same code serves the webhook and `tierguard check`.
 */
import type { GroupVersionKind, Operation } from '../api/admission.js';
import type { Labels, NamespaceInfo } from '../api/kube.js';
import type { Mode, RuleResource } from '../api/policy.js';
import { combineOutcomes, NO_OUTCOME, sharedFinding, type AppliedDefault, type Finding, type RuleError, type RuleOutcome } from './findings.js';
import { InvalidObjectError, isPlainObject, labelsAt, objectAt, type PlainObject } from './object.js';
import type { CompiledGuardrail, CompiledLabelRules, CompiledRequiredLabel, PolicySet } from './policy-set.js';
import { namespaceObjectContext } from './namespace-object.js';
import { adminHint, isAdmin, relabelFindings, type Admins, type Requester } from './namespace-relabel.js';
import type { OverrideCheck, UnprovenOverride } from './network/override.js';
import { isServedAgain, rememberedOverrides } from './network/remembered-overrides.js';
import { fieldPath, isNamespaceKind, labelTargetsOf, type LabelTarget } from './targets.js';
import { DEFAULT_MAX_OBJECT_VALUES, DEFAULT_MAX_VALIDATIONS, evaluateValidations, type BoundedRunner } from './validations.js';

/** The namespace of the object under review, resolved by the caller through a namespace lookup. */
export interface NamespaceContext {
  readonly name: string;
  /** Always includes `kubernetes.io/metadata.name`. */
  readonly labels: Labels;
  /** False when the lookup did not know the namespace: only its name label was available. */
  readonly known: boolean;
  readonly annotations?: Labels;
}

export interface EngineRequest {
  readonly operation: Operation;
  readonly kind: Pick<GroupVersionKind, 'group' | 'kind'>;
  readonly subResource?: string;
  readonly namespace: NamespaceContext;
  readonly object: unknown;
  /** The stored object on UPDATE; null or undefined otherwise. */
  readonly oldObject?: unknown;
  /** Every namespace tierguard knows, for the network override check (their labels are fixed). */
  readonly knownNamespaces?: readonly NamespaceInfo[];
  /**
   * The CEL `request` variable: `operation`, `namespace`, `name`, `dryRun`, `userInfo`, `kind`
   * as in the AdmissionReview (`object` and `oldObject` are variables of their own). A function,
   * so that requests without CEL validations never build it.
   */
  readonly celRequest?: () => Readonly<Record<string, unknown>>;
  /** The requester (`request.userInfo`), for the namespace relabelling check. */
  readonly userInfo?: Requester;
}

export interface EngineOptions {
  /** Namespaces tierguard never touches, matched by name only (never by labels a team could set). */
  readonly excludedNamespaces: ReadonlySet<string>;
  /** Bounds the CEL evaluation of one request in time; without it CEL runs unbounded (tests). */
  readonly runBounded?: BoundedRunner;
  /**
   * Bounds the network override check of one NetworkPolicy in time, with the caller's clock (in
   * milliseconds; `timeoutMs: 0` stops it before its first step); unbounded without it. A check
   * stopped by this bound or by its size bound is an `unproven` finding, not a rule error.
   */
  readonly networkCheckBudget?: { readonly timeoutMs: number; readonly now: () => number };
  /** Objects with more JSON values are not given to CEL (default DEFAULT_MAX_OBJECT_VALUES). */
  readonly maxObjectValues?: number;
  /** At most this many CEL validations per request, else none is evaluated (default DEFAULT_MAX_VALIDATIONS). */
  readonly maxValidations?: number;
  /** Who may change namespace labels that guardrails select on; nobody when absent. */
  readonly admins?: Admins;
  /**
   * Audit of existing objects: the CEL validations that read `request` or `oldObject` are left
   * out, since no request is being made.
   */
  readonly objectValidationsOnly?: boolean;
}

export interface MutationResult {
  /** The mutated copy, or undefined when nothing changes. The input object is never modified. */
  readonly object: unknown;
  readonly applied: readonly AppliedDefault[];
  readonly notes: readonly string[];
  /** Guardrails whose defaults could not be computed; their defaults are not applied. */
  readonly errors: readonly RuleError[];
}

/** The findings, rule errors, notes and hints of every rule family that applies to the request. */
export type ValidationResult = RuleOutcome;

/** Why the engine leaves this request alone, or undefined when it evaluates it. */
export function skipReason(request: EngineRequest, options: EngineOptions): string | undefined {
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return `operation ${request.operation}`;
  // Labels can change through namespaces/status and namespaces/finalize too: relabelling is checked there.
  if (request.subResource && !isNamespaceUpdate(request)) return `subresource ${request.subResource}`;
  if (labelTargetsOf(request.kind).length === 0) return `kind ${request.kind.kind} is not checked`;
  if (options.excludedNamespaces.has(request.namespace.name)) return `namespace ${request.namespace.name} is excluded`;
  if (ownedByDeployment(request)) return 'a ReplicaSet of a Deployment: its template is the Deployment\'s (checked there), and its Pods are checked';
  return undefined;
}

/**
 * A ReplicaSet a Deployment controls. Its pod template must stay exactly the Deployment's: the
 * Deployment controller finds its ReplicaSets by comparing templates, so a label injected here
 * reads as a hash collision and it creates another ReplicaSet, without end (seen in a real
 * cluster). The Deployment's template was checked at its own admission, and the Pods are checked
 * when the ReplicaSet creates them, so nothing goes unchecked.
 */
function ownedByDeployment(request: EngineRequest): boolean {
  if (request.kind.kind !== 'ReplicaSet') return false;
  const owners = (request.object as { metadata?: { ownerReferences?: unknown } } | null)?.metadata?.ownerReferences;
  return Array.isArray(owners) && owners.some((owner: { kind?: unknown; apiVersion?: unknown; controller?: unknown } | null) => owner?.controller === true && owner.kind === 'Deployment' && typeof owner.apiVersion === 'string' && owner.apiVersion.startsWith('apps/'));
}

/**
 * Injects `labels.defaults` of every guardrail that applies, in precedence order: the first
 * guardrail to default a key wins, and labels already on the object are never overwritten.
 */
export function mutate(set: PolicySet, request: EngineRequest, options: EngineOptions): MutationResult {
  const applied: AppliedDefault[] = [];
  const notes: string[] = [];
  const errors: RuleError[] = [];
  if (skipReason(request, options) !== undefined) return { object: undefined, applied, notes, errors };
  // Defaults go onto a Namespace when it is created only: injected on UPDATE, a default label
  // would move an existing namespace into guardrails on some unrelated edit.
  if (isNamespaceUpdate(request)) return { object: undefined, applied, notes, errors };
  let copy: unknown;
  for (const target of labelTargetsOf(request.kind)) {
    const parent = objectAt(request.object, target.metadataPath.slice(0, -1));
    if (parent === undefined) continue;
    const existing = labelsAt(request.object, target.metadataPath);
    const defaults = defaultsFor({ set, namespace: request.namespace, target, existing });
    notes.push(...defaults.notes);
    errors.push(...defaults.errors);
    const { additions } = defaults;
    if (additions.size === 0) continue;
    const labels: Record<string, string> = { ...existing };
    for (const [key, { value, guardrail }] of additions) {
      labels[key] = value;
      applied.push({ guardrail, key, value, path: fieldPath(target.metadataPath, key) });
    }
    copy = withLabels(copy ?? request.object, target.metadataPath, labels);
  }
  return { object: copy, applied, notes, errors };
}

interface DefaultsContext {
  readonly set: PolicySet;
  readonly namespace: NamespaceContext;
  readonly target: LabelTarget;
  readonly existing: Labels;
}

interface Defaults {
  /** Label key → value and the guardrail that defaults it. */
  readonly additions: ReadonlyMap<string, { value: string; guardrail: string }>;
  readonly notes: readonly string[];
  readonly errors: readonly RuleError[];
}

/** The defaults of the guardrails that apply, in precedence order: the first to default a key wins. */
function defaultsFor({ set, namespace, target, existing }: DefaultsContext): Defaults {
  const additions = new Map<string, { value: string; guardrail: string }>();
  const notes: string[] = [];
  const walked = eachLabelGuardrail({ set, namespace, target, rule: 'labels.defaults' }, (guardrail) => guardrail.labels.defaults);
  for (const { guardrail, result: defaults } of walked.results) {
    const mine = new Map<string, string>();
    for (const entry of defaults) {
      if (Object.prototype.hasOwnProperty.call(existing, entry.key) || additions.has(entry.key)) continue;
      const value = 'value' in entry ? entry.value : namespace.labels[entry.fromNamespaceLabel];
      if (value !== undefined) mine.set(entry.key, value);
      else notes.push(`${guardrail.name}: namespace ${namespace.name} has no label ${(entry as { fromNamespaceLabel: string }).fromNamespaceLabel}; ${entry.key} not defaulted`);
    }
    for (const [key, value] of mine) additions.set(key, { value, guardrail: guardrail.name });
  }
  return { additions, notes, errors: walked.errors };
}

/**
 * A copy of `root` with the labels at `metadataPath` replaced. Only the objects on the path are
 * copied; everything else is shared with the input, which is never modified. Sharing keeps the
 * patch diff (which skips identical references) proportional to the change, not the object.
 */
function withLabels(root: unknown, metadataPath: readonly string[], labels: Record<string, string>): PlainObject {
  const copy: PlainObject = { ...(root as PlainObject) };
  let node = copy;
  for (const step of metadataPath) {
    const child = node[step];
    node[step] = isPlainObject(child) ? { ...child } : {};
    node = node[step] as PlainObject;
  }
  node.labels = labels;
  return copy;
}

type LabelGuardrail = CompiledGuardrail & { readonly labels: CompiledLabelRules };

interface GuardrailWalk {
  readonly set: PolicySet;
  readonly namespace: NamespaceContext;
  readonly target: LabelTarget;
  readonly rule: string;
}

/**
 * `evaluate` of every guardrail with label rules for the target's resource whose namespace
 * selector matches, in precedence order. A guardrail that throws becomes a `RuleError` and the
 * others go on; a malformed object (`InvalidObjectError`) is the request's fault and propagates.
 */
function eachLabelGuardrail<T>(walk: GuardrailWalk, evaluate: (guardrail: LabelGuardrail) => T): { results: { guardrail: LabelGuardrail; result: T }[]; errors: RuleError[] } {
  const results: { guardrail: LabelGuardrail; result: T }[] = [];
  const errors: RuleError[] = [];
  for (const applicable of labelGuardrailsFor(walk.set, walk.target.resource, walk.namespace.labels)) {
    const { guardrail } = applicable;
    try {
      if ('selectorError' in applicable) throw applicable.selectorError;
      results.push({ guardrail, result: evaluate(guardrail) });
    } catch (error) {
      if (error instanceof InvalidObjectError) throw error;
      errors.push({ tier: guardrail.tier.name, guardrail: guardrail.name, rule: walk.rule, message: errorMessage(error) });
    }
  }
  return { results, errors };
}

/** A label guardrail whose namespace selector matched, or threw (`selectorError`: a rule error of the guardrail). */
type ApplicableLabelGuardrail = { readonly guardrail: LabelGuardrail } | { readonly guardrail: LabelGuardrail; readonly selectorError: unknown };

/**
 * The label guardrails of `resource` whose namespace selector matches `labels`, in precedence
 * order, kept per policy set and labels object. A known namespace's labels are one object until
 * they change (the namespace cache replaces it), so the selectors run once per namespace and
 * policy generation rather than on every request; an unknown namespace's labels are made per
 * request, and their entry goes with them.
 */
const labelGuardrailMemos = new WeakMap<PolicySet, Map<RuleResource, WeakMap<Labels, readonly ApplicableLabelGuardrail[]>>>();

function labelGuardrailsFor(set: PolicySet, resource: RuleResource, labels: Labels): readonly ApplicableLabelGuardrail[] {
  let byResource = labelGuardrailMemos.get(set);
  if (!byResource) labelGuardrailMemos.set(set, (byResource = new Map()));
  let byLabels = byResource.get(resource);
  if (!byLabels) byResource.set(resource, (byLabels = new WeakMap()));
  let applicable = byLabels.get(labels);
  if (!applicable) {
    const found: ApplicableLabelGuardrail[] = [];
    for (const guardrail of set.labelGuardrails[resource] as readonly LabelGuardrail[]) {
      try {
        if (guardrail.labels.namespaces(labels)) found.push({ guardrail });
      } catch (selectorError) {
        found.push({ guardrail, selectorError });
      }
    }
    byLabels.set(labels, (applicable = found));
  }
  return applicable;
}

/**
 * Every finding and rule error of the rule families that apply to the object: namespace
 * relabelling, label rules, the network override check and CEL validations. A guardrail whose
 * evaluation throws becomes a `RuleError`; a malformed object throws `InvalidObjectError` (the
 * request is bad, not the rule).
 */
export function validate(set: PolicySet, request: EngineRequest, options: EngineOptions): ValidationResult {
  if (skipReason(request, options) !== undefined) return NO_OUTCOME;
  const relabelling = isNamespaceUpdate(request) ? checkRelabel(set, request, options) : NO_OUTCOME;
  // On a subresource (namespaces/status, namespaces/finalize) only relabelling is checked.
  if (request.subResource) return relabelling;
  const isNetworkPolicy = request.kind.group === 'networking.k8s.io' && request.kind.kind === 'NetworkPolicy';
  return combineOutcomes([
    relabelling,
    labelFindings(set, request),
    isNetworkPolicy ? networkFindings(set, request, options.networkCheckBudget) : NO_OUTCOME,
    celFindings(set, request, options),
  ]);
}

/** The `labels.required` rules of every guardrail that applies, on every label target of the object. */
function labelFindings(set: PolicySet, request: EngineRequest): RuleOutcome {
  const findings: Finding[] = [];
  const errors: RuleError[] = [];
  const notes: string[] = [];
  const isUpdate = request.operation === 'UPDATE' && isPlainObject(request.oldObject);
  for (const target of labelTargetsOf(request.kind)) {
    const labels = labelsAt(request.object, target.metadataPath);
    const oldLabels = isUpdate ? labelsAt(request.oldObject, target.metadataPath) : undefined;
    if (!request.namespace.known && set.labelGuardrails[target.resource].length > 0) {
      notes.push(`namespace ${request.namespace.name} is unknown to tierguard: label guardrails matched it on its name label only`);
    }
    const walked = eachLabelGuardrail({ set, namespace: request.namespace, target, rule: 'labels.required' }, (guardrail) => guardrail.labels.required
      .map((rule) => checkRequired({ guardrail, rule, target, labels, oldLabels, namespace: request.namespace }))
      .filter((finding): finding is Finding => finding !== undefined));
    for (const { result } of walked.results) findings.push(...result);
    errors.push(...walked.errors);
  }
  return { findings, errors, notes, hints: [] };
}

function isNamespaceUpdate(request: EngineRequest): boolean {
  return request.operation === 'UPDATE' && isNamespaceKind(request.kind);
}

/**
 * Namespace UPDATE: a change to a label some guardrail reads is a finding of each such guardrail,
 * unless the requester is an admin. Both label sets are read from the objects themselves.
 */
function checkRelabel(set: PolicySet, request: EngineRequest, options: EngineOptions): RuleOutcome {
  if (!isPlainObject(request.oldObject) || isAdmin(options.admins, request.userInfo)) return NO_OUTCOME;
  const { name } = request.namespace;
  const findings = relabelFindings({
    set,
    namespace: name,
    before: namespaceObjectContext(request.oldObject, name).labels,
    after: namespaceObjectContext(request.object, name).labels,
  });
  return { ...NO_OUTCOME, findings, hints: findings.some((finding) => finding.mode === 'Enforce') ? [adminHint(options.admins)] : [] };
}

function celFindings(set: PolicySet, request: EngineRequest, options: EngineOptions): RuleOutcome {
  // Every checked kind has exactly one target resource.
  const resource = labelTargetsOf(request.kind)[0]?.resource;
  const guardrails = resource ? set.validationGuardrails[resource] : [];
  if (!resource || guardrails.length === 0) return NO_OUTCOME;
  return evaluateValidations({
    guardrails,
    resources: new Set([resource]),
    object: request.object,
    oldObject: request.oldObject ?? null,
    request: request.celRequest?.() ?? { operation: request.operation, namespace: request.namespace.name, kind: request.kind },
    namespace: request.namespace,
    ...(options.runBounded ? { runBounded: options.runBounded } : {}),
    maxObjectValues: options.maxObjectValues ?? DEFAULT_MAX_OBJECT_VALUES,
    maxValidations: options.maxValidations ?? DEFAULT_MAX_VALIDATIONS,
    ...(options.objectValidationsOnly ? { objectOnly: true } : {}),
  });
}

/**
 * The tiers' verdict on a NetworkPolicy: every rule of it that allows traffic a guardrail denies.
 * When the check stops at one of its bounds, the rest is unproven: one `unproven` finding in the
 * strictest mode of the guardrails that could apply, so an Enforce guardrail denies the policy
 * whatever `--failure-mode` says (a policy padded past a bound must not get in unchecked).
 */
function networkFindings(set: PolicySet, request: EngineRequest, budget?: EngineOptions['networkCheckBudget']): RuleOutcome {
  const deadline = budget ? budget.now() + budget.timeoutMs : Infinity;
  const check = rememberedOverrides(set, {
    policy: request.object,
    namespace: request.namespace,
    knownNamespaces: request.knownNamespaces ?? NO_KNOWN_NAMESPACES,
    ...(budget ? { expired: () => budget.now() >= deadline } : {}),
  });
  const findings = overrideFindings(check);
  const unproven = check.unproven && unprovenFinding(check.unproven, budget?.timeoutMs);
  const all = unproven ? [...findings, unproven] : findings;
  // Unlike label guardrails, the override check gives an unknown namespace every label it may yet
  // be given (a guardrail that cannot be proven is never silently allowed): said beside what it
  // found, when the user sees that (an Audit finding is only counted and logged).
  const notes = !request.namespace.known && all.some((finding) => finding.mode !== 'Audit') ? [`namespace ${request.namespace.name} is unknown to tierguard: the override check took it to have any labels`] : [];
  return { ...NO_OUTCOME, findings: all, notes };
}

/** One list for requests without known namespaces, so that the override check's answers can be remembered for them too. */
const NO_KNOWN_NAMESPACES: readonly NamespaceInfo[] = Object.freeze([]);

const MODE_STRICTNESS: Readonly<Record<Mode, number>> = { Enforce: 2, Warn: 1, Audit: 0 };

/**
 * The findings of an answer given again from memory (`isServedAgain`), made once as shared findings
 * (`sharedFinding`) for every later review it serves: what is derived from them (the log fields,
 * the denial line) is then kept with them too, as for a missing label. An answer given once, or
 * not remembered, gets findings of its own review.
 */
const rememberedFindings = new WeakMap<OverrideCheck, readonly Finding[]>();

function overrideFindings(check: OverrideCheck): readonly Finding[] {
  const shared = isServedAgain(check);
  const kept = shared ? rememberedFindings.get(check) : undefined;
  if (kept) return kept;
  const findings: Finding[] = check.findings.map((override) => {
    const finding: Finding = {
      tier: override.tier,
      guardrail: override.guardrail,
      rule: override.rule,
      mode: override.mode,
      path: override.path,
      message: override.message,
      compliance: override.compliance,
      summary: override.message,
      warning: override.short,
      connection: override.short,
    };
    return shared ? sharedFinding(finding) : finding;
  });
  if (shared) rememberedFindings.set(check, Object.freeze(findings));
  return findings;
}

/** The finding of a check stopped at a bound, or undefined when no guardrail could apply anyway. */
function unprovenFinding(unproven: UnprovenOverride, timeoutMs: number | undefined): Finding | undefined {
  const mode = unproven.guardrails.map((guardrail) => guardrail.mode).sort((a, b) => MODE_STRICTNESS[b] - MODE_STRICTNESS[a])[0];
  if (mode === undefined) return undefined;
  const strictest = unproven.guardrails.filter((guardrail) => guardrail.mode === mode);
  const first = strictest[0] as CompiledGuardrail;
  const bound = unproven.bound.kind === 'time'
    ? { long: `its time limit of ${timeoutMs} ms for one request (--network-check-timeout)`, short: `time limit ${timeoutMs} ms (--network-check-timeout)` }
    : { long: `its limit of ${unproven.bound.limit} connection sets (a fixed bound, no flag)`, short: `limit of ${unproven.bound.limit} connection sets` };
  const more = strictest.length - 1;
  const others = more > 0 ? ` (nor ${more} more ${mode} guardrail${more === 1 ? '' : 's'})` : '';
  return {
    kind: 'unproven',
    tier: first.tier.name,
    guardrail: first.name,
    rule: 'network-override',
    mode,
    path: unproven.path,
    message: `the override check stopped at ${bound.long} before it could prove that this NetworkPolicy allows no traffic this guardrail denies${others}; split the policy into smaller NetworkPolicies`,
    compliance: first.compliance,
    warning: `${unproven.path}: override check unproven at its ${bound.short}; split the policy`,
  };
}

interface RequiredCheck {
  readonly guardrail: LabelGuardrail;
  readonly rule: CompiledRequiredLabel;
  readonly target: LabelTarget;
  readonly labels: Labels;
  readonly oldLabels: Labels | undefined;
  readonly namespace: NamespaceContext;
}

function checkRequired(check: RequiredCheck): Finding | undefined {
  const { guardrail, rule, labels, oldLabels, namespace } = check;
  const { key } = rule;
  const value = Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] : undefined;
  const oldValue = oldLabels && Object.prototype.hasOwnProperty.call(oldLabels, key) ? oldLabels[key] : undefined;
  if (rule.immutable && oldValue !== undefined && value !== oldValue) {
    const change = value === undefined ? 'would be removed' : `would change to ${JSON.stringify(value)}`;
    return requiredFinding(check, `label-immutable:${key}`, `label ${key} is immutable: it is ${JSON.stringify(oldValue)} and ${change}`);
  }
  if (value === undefined) {
    const hint = missingHint(guardrail, key, namespace);
    return hint === '' ? missingFinding(check) : requiredFinding(check, `label:${key}`, `missing required label ${key}${hint}`);
  }
  if (rule.values && !rule.values.has(value)) {
    return requiredFinding(check, `label:${key}`, `label ${key}=${JSON.stringify(value)} is not one of ${[...rule.values].join(', ')}`);
  }
  if (rule.pattern && !rule.pattern.test(value)) {
    return requiredFinding(check, `label:${key}`, `label ${key}=${JSON.stringify(value)} does not match pattern ${rule.pattern.source}`);
  }
  return undefined;
}

/**
 * The finding of a required label that is missing, made once per rule and label target and shared
 * by every request without the label (when its message does not name the namespace): the finding
 * a policy set makes most, request after request. What is derived from a finding can then be
 * kept with it (its log line, `admission/handler.ts`). A compiled rule belongs to the reading of
 * one Guardrail document, kept by its content (`policy/read-document.ts`), and every field of the
 * finding comes from that document and the target: a changed Guardrail is compiled afresh.
 * Made by `sharedFinding`.
 */
const missingFindings = new WeakMap<CompiledRequiredLabel, Map<LabelTarget, Finding>>();

function missingFinding(check: RequiredCheck): Finding {
  const { rule, target } = check;
  let byTarget = missingFindings.get(rule);
  if (!byTarget) missingFindings.set(rule, (byTarget = new Map()));
  let finding = byTarget.get(target);
  if (!finding) byTarget.set(target, (finding = sharedFinding(requiredFinding(check, `label:${rule.key}`, `missing required label ${rule.key}`))));
  return finding;
}

function requiredFinding({ guardrail, rule, target }: RequiredCheck, ruleId: string, message: string): Finding {
  return {
    tier: guardrail.tier.name,
    guardrail: guardrail.name,
    rule: ruleId,
    mode: guardrail.mode,
    path: fieldPath(target.metadataPath, rule.key),
    message,
    compliance: guardrail.compliance,
  };
}

/** Explains why a default the same guardrail declares could not fill the label in. */
function missingHint(guardrail: LabelGuardrail, key: string, namespace: NamespaceContext): string {
  const entry = guardrail.labels.defaults.find((candidate) => candidate.key === key);
  if (!entry || !('fromNamespaceLabel' in entry) || namespace.labels[entry.fromNamespaceLabel] !== undefined) return '';
  const why = namespace.known ? 'has no such label' : 'is unknown to tierguard';
  return ` (its default comes from namespace label ${entry.fromNamespaceLabel}, and namespace ${namespace.name} ${why})`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
