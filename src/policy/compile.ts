/**
 * Compiles Tier, Guardrail and Namespace documents into an immutable policy set. Every problem in
 * every document is reported at once; a set with any problem is not produced, so callers keep
 * their last good set.
 */
import { RE2JS } from 're2js';
import { NAMESPACE_NAME_LABEL, type NamespaceInfo } from '../api/kube.js';
import type { RuleResource } from '../api/policy.js';
import { ruleResources } from '../api/policy.js';
import { byPrecedence, type CompiledDefaultLabel, type CompiledGuardrail, type CompiledLabelRules, type CompiledPattern, type CompiledTier, type NetworkTier, type PolicySet } from '../engine/policy-set.js';
import { compileSelector } from '../engine/selector.js';
import { buildChainIndex } from '../engine/network/chain-index.js';
import { shadowBoundWarning, shadowedGuardrails, shadowWarning } from '../engine/network/shadow.js';
import { compileCel, type CelProgram } from '../engine/cel/index.js';
import type { CompiledValidation } from '../engine/validations.js';
import { compileNetworkRules, equalPriorityOverlaps } from './compile-network.js';
import type { CompiledNetworkRules, Direction } from '../engine/network/rules.js';
import type { ManifestDocument } from './manifests.js';
import { problemsFromIssues, type PolicyProblem, type SourceRef } from './problems.js';
import { guardrailSchema, namespaceSchema, tierSchema, type GuardrailDoc, type TierDoc } from './schema.js';

export interface CompileResult {
  /** The compiled set, or undefined when there is any problem. */
  readonly set?: PolicySet;
  /** Namespaces given alongside the policies, for standalone namespace labels. */
  readonly namespaces: readonly NamespaceInfo[];
  readonly problems: readonly PolicyProblem[];
  /** Things worth knowing that do not stop the set from loading. */
  readonly warnings: readonly string[];
  /** The documents compiled, kept so that a change to one object can be checked against the rest. */
  readonly documents: readonly ManifestDocument[];
}

interface Located<T> {
  readonly source: SourceRef;
  readonly doc: T;
}

const schemas = { Tier: tierSchema, Guardrail: guardrailSchema, Namespace: namespaceSchema } as const;

/**
 * Compiles parsed manifests; problems met while reading them (bad YAML, unreadable files) count
 * like any other, so a set is only produced from input that was read completely.
 */
export function compilePolicySet(manifests: { documents: readonly ManifestDocument[]; problems?: readonly PolicyProblem[] }, options: { generation: number }): CompileResult {
  const { documents } = manifests;
  const problems: PolicyProblem[] = [...(manifests.problems ?? [])];
  const warnings: string[] = [];
  const { tiers, guardrails, namespaces, unparsedTierRefs } = parseDocuments(documents, problems);
  const tierByName = compileTiers(tiers, problems);
  // A tier that is declared but itself has a problem is reported once, not again by each guardrail.
  const declaredTiers = new Set(documents.flatMap(({ value }) => {
    const doc = value as { kind?: unknown; metadata?: { name?: unknown } } | null;
    return doc?.kind === 'Tier' && typeof doc.metadata?.name === 'string' ? [doc.metadata.name] : [];
  }));
  // A guardrail that failed the schema still gets its tier reference checked: every problem at once.
  for (const ref of unparsedTierRefs) {
    if (!declaredTiers.has(ref.tier)) problems.push({ source: ref.source, object: ref.object, path: 'spec.tier', message: missingTier(ref.tier, tierByName), code: 'TierNotFound' });
  }
  const compiled = guardrails
    .filter((entry) => unique(entry, guardrails, problems))
    .map((entry) => compileGuardrail(entry, { tiers: tierByName, declaredTiers }, problems, warnings))
    .filter((guardrail): guardrail is CompiledGuardrail => guardrail !== undefined);
  problems.sort((a, b) => (a.source.file < b.source.file ? -1 : a.source.file > b.source.file ? 1 : a.source.document - b.source.document));
  if (problems.length > 0) return { namespaces, problems, warnings, documents };
  compiled.sort(byPrecedence);
  warnings.push(...equalPriorityOverlaps(compiled));
  const validationGuardrails = Object.fromEntries(
    ruleResources.map((resource) => [resource, compiled.filter((guardrail) => guardrail.validations?.some((v) => v.resources.has(resource)))]),
  ) as Record<RuleResource, CompiledGuardrail[]>;
  const labelGuardrails = Object.fromEntries(
    ruleResources.map((resource) => [resource, compiled.filter((guardrail) => guardrail.labels?.resources.has(resource))]),
  ) as Record<RuleResource, CompiledGuardrail[]>;
  const tiersInOrder = [...tierByName.values()].sort((a, b) => a.priority - b.priority);
  const network = { ingress: networkTiers(tiersInOrder, compiled, 'ingress'), egress: networkTiers(tiersInOrder, compiled, 'egress') };
  const set: PolicySet = deepFreeze({
    generation: options.generation,
    tiers: tiersInOrder,
    guardrails: compiled,
    labelGuardrails,
    validationGuardrails,
    network,
    networkIndex: { ingress: buildChainIndex(network.ingress), egress: buildChainIndex(network.egress) },
  });
  const analysis = shadowedGuardrails(set);
  warnings.push(...analysis.shadowed.map(shadowWarning));
  const bound = shadowBoundWarning(analysis);
  if (bound) warnings.push(bound);
  return { set, namespaces, problems, warnings, documents };
}

interface ParsedDocuments {
  readonly tiers: Located<TierDoc>[];
  readonly guardrails: Located<GuardrailDoc>[];
  readonly namespaces: NamespaceInfo[];
  /** Tier names of guardrails that failed the schema, still checked so every problem shows at once. */
  readonly unparsedTierRefs: { source: SourceRef; object: string; tier: string }[];
}

/** Checks every document against the schema of its kind. */
function parseDocuments(documents: readonly ManifestDocument[], problems: PolicyProblem[]): ParsedDocuments {
  const parsedDocs: ParsedDocuments = { tiers: [], guardrails: [], namespaces: [], unparsedTierRefs: [] };
  for (const { source, value } of documents) {
    const kind = typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
    if (kind !== 'Tier' && kind !== 'Guardrail' && kind !== 'Namespace') {
      problems.push({ source, path: 'kind', message: `expected Tier, Guardrail (tierguard.dev/v1alpha1) or Namespace (v1), got ${JSON.stringify(kind ?? null)}` });
      continue;
    }
    const name = (value as { metadata?: { name?: unknown } }).metadata?.name;
    const object = typeof name === 'string' ? `${kind} ${name}` : kind;
    const parsed = schemas[kind].safeParse(value);
    if (!parsed.success) {
      problems.push(...problemsFromIssues(parsed.error.issues, { source, object }));
      const tier = (value as { spec?: { tier?: unknown } }).spec?.tier;
      if (kind === 'Guardrail' && typeof tier === 'string') parsedDocs.unparsedTierRefs.push({ source, object, tier });
      continue;
    }
    if (kind === 'Tier') parsedDocs.tiers.push({ source, doc: parsed.data as TierDoc });
    else if (kind === 'Guardrail') parsedDocs.guardrails.push({ source, doc: parsed.data as GuardrailDoc });
    else addNamespace(namespaceInfo(parsed.data as NamespaceShape), source, parsedDocs.namespaces, problems);
  }
  return parsedDocs;
}

function compileTiers(tiers: readonly Located<TierDoc>[], problems: PolicyProblem[]): Map<string, CompiledTier> {
  const byName = new Map<string, CompiledTier>();
  const byPriority = new Map<number, Located<TierDoc>>();
  for (const entry of tiers) {
    const { name } = entry.doc.metadata;
    const object = `Tier ${name}`;
    if (byName.has(name)) {
      problems.push({ source: entry.source, object, path: 'metadata.name', message: `tier ${name} is defined twice` });
      continue;
    }
    const clash = byPriority.get(entry.doc.spec.priority);
    if (clash) {
      const where = `${clash.source.file}#${clash.source.document}`;
      problems.push({ source: entry.source, object, path: 'spec.priority', message: `priority ${entry.doc.spec.priority} is already used by tier ${clash.doc.metadata.name} (${where}); tier priorities must be unique` });
      continue;
    }
    byPriority.set(entry.doc.spec.priority, entry);
    byName.set(name, { name, priority: entry.doc.spec.priority, ...(entry.doc.spec.description ? { description: entry.doc.spec.description } : {}) });
  }
  return byName;
}

function unique(entry: Located<GuardrailDoc>, all: readonly Located<GuardrailDoc>[], problems: PolicyProblem[]): boolean {
  const first = all.find((other) => other.doc.metadata.name === entry.doc.metadata.name);
  if (first === entry) return true;
  problems.push({ source: entry.source, object: `Guardrail ${entry.doc.metadata.name}`, path: 'metadata.name', message: `guardrail ${entry.doc.metadata.name} is defined twice (first at ${first?.source.file}#${first?.source.document})` });
  return false;
}

function compileGuardrail(
  { source, doc }: Located<GuardrailDoc>,
  { tiers, declaredTiers }: { tiers: ReadonlyMap<string, CompiledTier>; declaredTiers: ReadonlySet<string> },
  problems: PolicyProblem[],
  warnings: string[],
): CompiledGuardrail | undefined {
  const { name } = doc.metadata;
  const object = `Guardrail ${name}`;
  const before = problems.length;
  const tier = tiers.get(doc.spec.tier);
  if (!tier && !declaredTiers.has(doc.spec.tier)) problems.push({ source, object, path: 'spec.tier', message: missingTier(doc.spec.tier, tiers), code: 'TierNotFound' });
  const labels = doc.spec.labels ? compileLabelRules(doc.spec.labels, { source, object, problems, warnings }) : undefined;
  const network = doc.spec.subject ? compileNetworkRules(doc.spec) : undefined;
  const validations = doc.spec.validations ? compileValidations(doc.spec.validations, { source, object, problems }) : undefined;
  if (problems.length > before || !tier) return undefined;
  return {
    name,
    tier,
    priority: doc.spec.priority,
    mode: doc.spec.mode,
    compliance: doc.spec.compliance ?? [],
    ...(doc.spec.description ? { description: doc.spec.description } : {}),
    ...(labels ? { labels } : {}),
    ...(network ? { network } : {}),
    ...(validations?.length ? { validations } : {}),
  };
}

/** Compiles and type-checks each expression once; errors name the validation and the position. */
function compileValidations(entries: NonNullable<GuardrailDoc['spec']['validations']>, context: Pick<LabelContext, 'source' | 'object' | 'problems'>): CompiledValidation[] {
  const compiled: CompiledValidation[] = [];
  entries.forEach((entry, index) => {
    const program = celProgram(entry.expression, { expectBool: true }, `spec.validations[${index}].expression`, context);
    const messageProgram = entry.messageExpression === undefined ? undefined : celProgram(entry.messageExpression, { expectString: true }, `spec.validations[${index}].messageExpression`, context);
    if (!program || (entry.messageExpression !== undefined && !messageProgram)) return;
    compiled.push({
      id: `validations[${index}]`,
      resources: new Set(entry.resources),
      expression: entry.expression,
      program,
      ...(entry.message !== undefined ? { message: entry.message } : {}),
      ...(messageProgram ? { messageProgram } : {}),
    });
  });
  return compiled;
}

function celProgram(source: string, options: { expectBool?: boolean; expectString?: boolean }, path: string, context: Pick<LabelContext, 'source' | 'object' | 'problems'>): CelProgram | undefined {
  const result = compileCel(source, options);
  if (result.ok) return result.program;
  context.problems.push({ source: context.source, object: context.object, path, message: `CEL error at line ${result.error.line}, column ${result.error.column}: ${result.error.message}` });
  return undefined;
}

function missingTier(name: string, tiers: ReadonlyMap<string, CompiledTier>): string {
  return `tier ${JSON.stringify(name)} does not exist (known tiers: ${[...tiers.keys()].join(', ') || 'none'})`;
}

interface LabelContext {
  readonly source: SourceRef;
  readonly object: string;
  readonly problems: PolicyProblem[];
  readonly warnings: string[];
}

function compileLabelRules(rules: NonNullable<GuardrailDoc['spec']['labels']>, context: LabelContext): CompiledLabelRules {
  const required = (rules.required ?? []).map((entry, index) => {
    const pattern = entry.pattern === undefined ? undefined : compilePattern(entry.pattern, `spec.labels.required[${index}].pattern`, context);
    return {
      key: entry.key,
      immutable: entry.immutable ?? false,
      ...(entry.values ? { values: new Set(entry.values) } : {}),
      ...(pattern ? { pattern } : {}),
    };
  });
  const defaults = (rules.defaults ?? []).map((entry): CompiledDefaultLabel => (entry.value !== undefined ? { key: entry.key, value: entry.value } : { key: entry.key, fromNamespaceLabel: entry.fromNamespaceLabel as string }));
  for (const entry of defaults) {
    const rule = required.find((candidate) => candidate.key === entry.key);
    if (rule && 'value' in entry && ((rule.values && !rule.values.has(entry.value)) || (rule.pattern && !rule.pattern.test(entry.value)))) {
      context.warnings.push(`${context.object}: default ${entry.key}=${JSON.stringify(entry.value)} does not satisfy its own required rule`);
    }
  }
  return { resources: new Set(rules.match.resources), namespaces: compileSelector(rules.match.namespaces), namespaceSelector: rules.match.namespaces ?? {}, required, defaults };
}

/** Compiles a label pattern with RE2 semantics (linear time, no backtracking), anchored at both ends. */
export function compilePattern(source: string, path: string, context: Pick<LabelContext, 'source' | 'object' | 'problems'>): CompiledPattern | undefined {
  try {
    const regex = RE2JS.compile(source);
    return { source, test: (value: string) => regex.matches(value) };
  } catch (error) {
    context.problems.push({ source: context.source, object: context.object, path, message: `invalid RE2 pattern: ${(error as Error).message}` });
    return undefined;
  }
}

interface NamespaceShape {
  readonly metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** What tierguard keeps of a Namespace; the name label is always set to the name, as Kubernetes does. */
export function namespaceInfo(doc: NamespaceShape): NamespaceInfo {
  const { name } = doc.metadata;
  return { name, labels: { ...doc.metadata.labels, [NAMESPACE_NAME_LABEL]: name }, annotations: { ...doc.metadata.annotations } };
}

function addNamespace(namespace: NamespaceInfo, source: SourceRef, namespaces: NamespaceInfo[], problems: PolicyProblem[]): void {
  if (namespaces.some((other) => other.name === namespace.name)) {
    problems.push({ source, object: `Namespace ${namespace.name}`, path: 'metadata.name', message: `namespace ${namespace.name} is defined twice` });
    return;
  }
  namespaces.push(namespace);
}

function networkTiers(tiers: readonly CompiledTier[], guardrails: readonly CompiledGuardrail[], direction: Direction): NetworkTier[] {
  return tiers
    .map((tier) => ({
      tier,
      guardrails: guardrails.filter((g): g is CompiledGuardrail & { network: CompiledNetworkRules } => g.tier === tier && (g.network?.[direction].length ?? 0) > 0),
    }))
    .filter((entry) => entry.guardrails.length > 0);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value) && !(value instanceof Set) && !(value instanceof Map) && !(value instanceof WeakMap)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
