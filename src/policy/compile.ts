/**
 * Compiles Tier, Guardrail and Namespace documents into an immutable policy set. Every problem in
 * every document is reported at once; a set with any problem is not produced, so callers keep
 * their last good set.
 */
import type { NamespaceInfo } from '../api/kube.js';
import type { RuleResource } from '../api/policy.js';
import { ruleResources } from '../api/policy.js';
import { byPrecedence, type CompiledGuardrail, type CompiledTier, type NetworkTier, type PolicySet } from '../engine/policy-set.js';
import { buildChainIndex } from '../engine/network/chain-index.js';
import { shadowBoundWarning, shadowedGuardrail, shadowedGuardrails, shadowWarning } from '../engine/network/shadow.js';
import { equalPriorityOverlaps } from './compile-network.js';
import type { CompiledNetworkRules, Direction } from '../engine/network/rules.js';
import type { ManifestDocument } from './manifests.js';
import type { PolicyProblem, SourceRef } from './problems.js';
import { readDocument, type DocumentReading } from './read-document.js';
import type { TierDoc } from './schema.js';

export interface CompileResult {
  /** The compiled set, or undefined when there is any problem. */
  readonly set?: PolicySet;
  /** Namespaces given alongside the policies, for standalone namespace labels. */
  readonly namespaces: readonly NamespaceInfo[];
  readonly problems: readonly PolicyProblem[];
  /** Things worth knowing that do not stop the set from loading. */
  readonly warnings: readonly string[];
  /** The warnings about each Guardrail, by name (admission shows a Guardrail's own). */
  readonly warningsAbout: ReadonlyMap<string, readonly string[]>;
  /** The documents compiled, kept so that a change to one object can be checked against the rest. */
  readonly documents: readonly ManifestDocument[];
}

/**
 * Which Guardrails the can-never-apply analysis looks at: all of them (`lint`), one (admission of
 * that Guardrail), or none (a server, which runs it afterwards in steps: `shadowSteps`).
 */
export type ShadowScope = 'all' | 'none' | { readonly guardrail: string };

export interface CompileOptions {
  readonly generation: number;
  /** Default `all`. */
  readonly shadows?: ShadowScope;
}

interface Located<T> {
  readonly source: SourceRef;
  readonly doc: T;
}

type GuardrailReading = Extract<DocumentReading, { kind: 'Guardrail' }>;

/**
 * Compiles parsed manifests; problems met while reading them (bad YAML, unreadable files) count
 * like any other, so a set is only produced from input that was read completely.
 */
export function compilePolicySet(manifests: { documents: readonly ManifestDocument[]; problems?: readonly PolicyProblem[] }, options: CompileOptions): CompileResult {
  const { documents } = manifests;
  const problems: PolicyProblem[] = [...(manifests.problems ?? [])];
  const notes = new Notes();
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
  const firstByName = new Map<string, Located<GuardrailReading>>();
  for (const entry of guardrails) if (!firstByName.has(entry.doc.doc.metadata.name)) firstByName.set(entry.doc.doc.metadata.name, entry);
  const compiled = guardrails
    .filter((entry) => unique(entry, firstByName, problems))
    .map((entry) => compileGuardrail(entry, { tiers: tierByName, declaredTiers }, problems, notes))
    .filter((guardrail): guardrail is CompiledGuardrail => guardrail !== undefined);
  problems.sort((a, b) => (a.source.file < b.source.file ? -1 : a.source.file > b.source.file ? 1 : a.source.document - b.source.document));
  if (problems.length > 0) return { namespaces, problems, ...notes.result(), documents };
  compiled.sort(byPrecedence);
  for (const overlap of equalPriorityOverlaps(compiled)) notes.add(overlap.message, overlap.guardrails);
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
  analyseShadows(set, options.shadows ?? 'all', notes);
  return { set, namespaces, problems, ...notes.result(), documents };
}

/** Warnings in the order they were found, each filed under the Guardrails it is about. */
class Notes {
  private readonly all: string[] = [];
  private readonly about = new Map<string, string[]>();

  add(message: string, guardrails: readonly string[]): void {
    this.all.push(message);
    for (const name of guardrails) this.about.set(name, [...(this.about.get(name) ?? []), message]);
  }

  result(): Pick<CompileResult, 'warnings' | 'warningsAbout'> {
    return { warnings: this.all, warningsAbout: this.about };
  }
}

function analyseShadows(set: PolicySet, scope: ShadowScope, notes: Notes): void {
  if (scope === 'none') return;
  if (scope !== 'all') {
    const shadowed = shadowedGuardrail(set, scope.guardrail);
    if (shadowed) notes.add(shadowWarning(shadowed), [shadowed.guardrail]);
    return;
  }
  const analysis = shadowedGuardrails(set);
  for (const shadowed of analysis.shadowed) notes.add(shadowWarning(shadowed), [shadowed.guardrail]);
  const bound = shadowBoundWarning(analysis);
  if (bound) notes.add(bound, []);
}

interface ParsedDocuments {
  readonly tiers: Located<TierDoc>[];
  readonly guardrails: Located<GuardrailReading>[];
  readonly namespaces: NamespaceInfo[];
  /** Tier names of guardrails that failed the schema, still checked so every problem shows at once. */
  readonly unparsedTierRefs: { source: SourceRef; object: string; tier: string }[];
}

/** Reads every document (`readDocument`: checked against the schema of its kind, compiled on its own). */
function parseDocuments(documents: readonly ManifestDocument[], problems: PolicyProblem[]): ParsedDocuments {
  const parsedDocs: ParsedDocuments = { tiers: [], guardrails: [], namespaces: [], unparsedTierRefs: [] };
  const namespaceSources = new Map<string, SourceRef>();
  for (const { source, value } of documents) {
    const reading = readDocument(value);
    if (reading.kind === 'invalid') {
      problems.push(...reading.problems.map((problem) => ({ source, ...problem })));
      if (reading.tierRef !== undefined) parsedDocs.unparsedTierRefs.push({ source, object: reading.problems[0]?.object ?? 'Guardrail', tier: reading.tierRef });
    } else if (reading.kind === 'Tier') {
      parsedDocs.tiers.push({ source, doc: reading.doc });
    } else if (reading.kind === 'Guardrail') {
      parsedDocs.guardrails.push({ source, doc: reading });
    } else if (namespaceSources.has(reading.namespace.name)) {
      problems.push({ source, object: `Namespace ${reading.namespace.name}`, path: 'metadata.name', message: `namespace ${reading.namespace.name} is defined twice` });
    } else {
      namespaceSources.set(reading.namespace.name, source);
      parsedDocs.namespaces.push(reading.namespace);
    }
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

function unique(entry: Located<GuardrailReading>, firstByName: ReadonlyMap<string, Located<GuardrailReading>>, problems: PolicyProblem[]): boolean {
  const { name } = entry.doc.doc.metadata;
  const first = firstByName.get(name);
  if (first === entry) return true;
  problems.push({ source: entry.source, object: `Guardrail ${name}`, path: 'metadata.name', message: `guardrail ${name} is defined twice (first at ${first?.source.file}#${first?.source.document})` });
  return false;
}

function compileGuardrail(
  { source, doc: reading }: Located<GuardrailReading>,
  { tiers, declaredTiers }: { tiers: ReadonlyMap<string, CompiledTier>; declaredTiers: ReadonlySet<string> },
  problems: PolicyProblem[],
  notes: Notes,
): CompiledGuardrail | undefined {
  const { doc, body } = reading;
  const { name } = doc.metadata;
  const before = problems.length;
  const tier = tiers.get(doc.spec.tier);
  if (!tier && !declaredTiers.has(doc.spec.tier)) problems.push({ source, object: `Guardrail ${name}`, path: 'spec.tier', message: missingTier(doc.spec.tier, tiers), code: 'TierNotFound' });
  problems.push(...reading.problems.map((problem) => ({ source, ...problem })));
  for (const warning of reading.warnings) notes.add(warning, [name]);
  if (problems.length > before || !tier) return undefined;
  return {
    name,
    tier,
    priority: doc.spec.priority,
    mode: doc.spec.mode,
    compliance: doc.spec.compliance ?? [],
    ...(doc.spec.description ? { description: doc.spec.description } : {}),
    ...body,
  };
}

function missingTier(name: string, tiers: ReadonlyMap<string, CompiledTier>): string {
  return `tier ${JSON.stringify(name)} does not exist (known tiers: ${[...tiers.keys()].join(', ') || 'none'})`;
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
