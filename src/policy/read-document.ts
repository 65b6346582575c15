/**
 * One policy document read on its own: checked against the schema of its kind and, for a
 * Guardrail, compiled (label rules, network rules, CEL programs, patterns). Nothing here depends on
 * the other documents of the set or on where the document came from, so a reading is kept by the
 * document's content and reused: a set of a thousand Guardrails recompiles in milliseconds when
 * one of them changed (hot reload, admission of a Tier or Guardrail).
 */
import { RE2JS } from 're2js';
import { NAMESPACE_NAME_LABEL, type NamespaceInfo } from '../api/kube.js';
import type { CompiledDefaultLabel, CompiledLabelRules, CompiledPattern } from '../engine/policy-set.js';
import { compileSelector } from '../engine/selector.js';
import { ruleResources, type RuleResource } from '../api/policy.js';
import { compileCel, type CelCompileOptions, type CelProgram } from '../engine/cel/index.js';
import { objectKindsOf } from '../engine/targets.js';
import type { CompiledValidation } from '../engine/validations.js';
import type { CompiledNetworkRules } from '../engine/network/rules.js';
import { compileNetworkRules } from './compile-network.js';
import { problemsFromIssues, type PolicyProblem } from './problems.js';
import { guardrailSchema, namespaceSchema, tierSchema, type GuardrailDoc, type TierDoc } from './schema.js';

/** A problem of one document, before it is told where the document came from. */
export type DocumentProblem = Omit<PolicyProblem, 'source'>;

/** What a Guardrail compiles to by itself (its Tier is looked up in the set). */
export interface GuardrailBody {
  readonly labels?: CompiledLabelRules;
  readonly network?: CompiledNetworkRules;
  readonly validations?: readonly CompiledValidation[];
}

export type DocumentReading =
  | { readonly kind: 'Tier'; readonly doc: TierDoc }
  | { readonly kind: 'Guardrail'; readonly doc: GuardrailDoc; readonly body: GuardrailBody; readonly problems: readonly DocumentProblem[]; readonly warnings: readonly string[] }
  | { readonly kind: 'Namespace'; readonly namespace: NamespaceInfo }
  /** Not a kind a policy set holds, or a document its schema refuses. */
  | { readonly kind: 'invalid'; readonly problems: readonly DocumentProblem[]; readonly tierRef?: string };

/** Readings kept, most recently used last; enough for every object of a large cluster twice over. */
const MAX_READINGS = 8192;
const readings = new Map<string, DocumentReading>();

/** The same readings by document object: a watched object keeps its document until it changes. */
const byObject = new WeakMap<object, DocumentReading>();

/** Reads one document, or returns the reading of an identical document read before. */
export function readDocument(value: unknown): DocumentReading {
  const cached = typeof value === 'object' && value !== null ? byObject.get(value) : undefined;
  if (cached) return cached;
  const reading = readByContent(value);
  if (typeof value === 'object' && value !== null) byObject.set(value, reading);
  return reading;
}

function readByContent(value: unknown): DocumentReading {
  const key = JSON.stringify(value) ?? 'undefined';
  const known = readings.get(key);
  if (known) {
    readings.delete(key);
    readings.set(key, known);
    return known;
  }
  const reading = readFresh(value);
  readings.set(key, reading);
  if (readings.size > MAX_READINGS) readings.delete(readings.keys().next().value as string);
  return reading;
}

const schemas = { Tier: tierSchema, Guardrail: guardrailSchema, Namespace: namespaceSchema } as const;

function readFresh(value: unknown): DocumentReading {
  const kind = typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
  if (kind !== 'Tier' && kind !== 'Guardrail' && kind !== 'Namespace') {
    return { kind: 'invalid', problems: [{ path: 'kind', message: `expected Tier, Guardrail (tierguard.dev/v1alpha1) or Namespace (v1), got ${JSON.stringify(kind ?? null)}` }] };
  }
  const name = (value as { metadata?: { name?: unknown } }).metadata?.name;
  const object = typeof name === 'string' ? `${kind} ${name}` : kind;
  const parsed = schemas[kind].safeParse(value);
  if (!parsed.success) {
    const tier = (value as { spec?: { tier?: unknown } }).spec?.tier;
    const problems = problemsFromIssues(parsed.error.issues, { source: { file: '', document: 0 }, object }).map(withoutSource);
    if (kind === 'Guardrail') problems.push(...expressionProblems(value, object));
    return { kind: 'invalid', problems, ...(kind === 'Guardrail' && typeof tier === 'string' ? { tierRef: tier } : {}) };
  }
  if (kind === 'Tier') return { kind, doc: parsed.data as TierDoc };
  if (kind === 'Namespace') return { kind, namespace: namespaceInfo(parsed.data as NamespaceShape) };
  return readGuardrail(parsed.data as GuardrailDoc);
}

/**
 * The problems of a Guardrail's CEL expressions and label patterns, read from the raw document
 * when its schema refused it for something else: a missing `priority` must not hide a broken
 * expression until it is fixed. Only values of the right type are compiled (a wrong type is the
 * schema's problem, already reported).
 */
function expressionProblems(value: unknown, object: string): DocumentProblem[] {
  const context: Context = { object, problems: [], warnings: [] };
  const spec = (value as { spec?: unknown }).spec;
  if (typeof spec !== 'object' || spec === null) return [];
  const { validations, labels } = spec as { validations?: unknown; labels?: unknown };
  if (Array.isArray(validations)) {
    validations.forEach((entry: unknown, index) => {
      const { expression, messageExpression, resources } = (typeof entry === 'object' && entry !== null ? entry : {}) as { expression?: unknown; messageExpression?: unknown; resources?: unknown };
      // Typed for its resources only when they are valid ones; otherwise the schema's problem says so.
      const known = Array.isArray(resources) && resources.length > 0 && resources.every((resource) => (ruleResources as readonly unknown[]).includes(resource));
      const objectKinds = known ? objectKindsOf(resources as RuleResource[]) : undefined;
      if (typeof expression === 'string') celProgram(expression, { expectBool: true, objectKinds }, `spec.validations[${index}].expression`, context);
      if (typeof messageExpression === 'string') celProgram(messageExpression, { expectString: true, objectKinds }, `spec.validations[${index}].messageExpression`, context);
    });
  }
  const required = typeof labels === 'object' && labels !== null ? (labels as { required?: unknown }).required : undefined;
  if (Array.isArray(required)) {
    required.forEach((entry: unknown, index) => {
      const pattern = typeof entry === 'object' && entry !== null ? (entry as { pattern?: unknown }).pattern : undefined;
      if (typeof pattern === 'string') compilePattern(pattern, `spec.labels.required[${index}].pattern`, context);
    });
  }
  return context.problems;
}

function withoutSource({ source: _source, ...problem }: PolicyProblem): DocumentProblem {
  return problem;
}

function readGuardrail(doc: GuardrailDoc): DocumentReading {
  const context: Context = { object: `Guardrail ${doc.metadata.name}`, problems: [], warnings: [] };
  const labels = doc.spec.labels ? compileLabelRules(doc.spec.labels, context) : undefined;
  const network = doc.spec.subject ? compileNetworkRules(doc.spec) : undefined;
  const validations = doc.spec.validations ? compileValidations(doc.spec.validations, context) : undefined;
  const body: GuardrailBody = { ...(labels ? { labels } : {}), ...(network ? { network } : {}), ...(validations?.length ? { validations } : {}) };
  return { kind: 'Guardrail', doc, body, problems: context.problems, warnings: context.warnings };
}

interface Context {
  readonly object: string;
  readonly problems: DocumentProblem[];
  readonly warnings: string[];
}

/** Compiles and type-checks each expression once; errors name the validation and the position. */
function compileValidations(entries: NonNullable<GuardrailDoc['spec']['validations']>, context: Context): CompiledValidation[] {
  const compiled: CompiledValidation[] = [];
  entries.forEach((entry, index) => {
    const objectKinds = objectKindsOf(entry.resources);
    const program = celProgram(entry.expression, { expectBool: true, objectKinds }, `spec.validations[${index}].expression`, context);
    const messageProgram = entry.messageExpression === undefined ? undefined : celProgram(entry.messageExpression, { expectString: true, objectKinds }, `spec.validations[${index}].messageExpression`, context);
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

function celProgram(source: string, options: CelCompileOptions, path: string, context: Context): CelProgram | undefined {
  const result = compileCel(source, options);
  const { warning } = result.ok ? result : {};
  if (warning) context.warnings.push(`${context.object} ${path} fails on ${warning.on} (line ${warning.line}, column ${warning.column}: ${warning.message})`);
  if (result.ok) return result.program;
  context.problems.push({ object: context.object, path, message: `CEL error at line ${result.error.line}, column ${result.error.column}: ${result.error.message}` });
  return undefined;
}

function compileLabelRules(rules: NonNullable<GuardrailDoc['spec']['labels']>, context: Context): CompiledLabelRules {
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

/**
 * Valid label patterns compiled, by source. Guardrails repeat them (one label format in the
 * guardrails of many teams), and an RE2 compile is not cheap: the bench's set of 1,000 guardrails
 * spent 48 ms of its load compiling them (a CPU profile). Kept for the process's life, like the
 * CEL literal patterns: one entry per distinct pattern policies have held.
 */
const labelPatterns = new Map<string, RE2JS>();

/** Compiles a label pattern with RE2 semantics (linear time, no backtracking), anchored at both ends. */
function compilePattern(source: string, path: string, context: Context): CompiledPattern | undefined {
  try {
    let regex = labelPatterns.get(source);
    if (!regex) labelPatterns.set(source, (regex = RE2JS.compile(source)));
    return { source, test: (value: string) => regex.matches(value) };
  } catch (error) {
    context.problems.push({ object: context.object, path, message: `invalid RE2 pattern: ${(error as Error).message}` });
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
