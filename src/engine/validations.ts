/**
 * CEL `validations` of guardrails, in the style of ValidatingAdmissionPolicy: each expression
 * must hold for the object; a false one is a finding with its `message` (or `messageExpression`,
 * falling back to `message`), an expression that cannot be evaluated is a rule error. For a
 * workload, the expression sees the workload object itself (`object.spec.template...`).
 */
import type { Labels } from '../api/kube.js';
import type { RuleResource } from '../api/policy.js';
import { checkCelDeadline, evaluateCel, toCelActivation, type CelProgram } from './cel/index.js';
import { NO_OUTCOME, sharedFinding, type Finding, type RuleError, type RuleOutcome } from './findings.js';
import type { CompiledGuardrail } from './policy-set.js';

export interface CompiledValidation {
  /** `validations[0]`: stable rule id for metrics and messages. */
  readonly id: string;
  readonly resources: ReadonlySet<RuleResource>;
  readonly expression: string;
  readonly program: CelProgram;
  readonly message?: string;
  readonly messageProgram?: CelProgram;
}

/** Runs `fn` within the caller's time bound; throws when the bound is exceeded. */
export interface BoundedRunner {
  /** The hard bound: stops `fn` wherever it is. */
  <T>(fn: () => T): T;
  /**
   * The same bound, asked at every CEL comprehension step and between expressions
   * (./cel/deadline.ts): used when the expressions and the object keep the work between two
   * checks small (`COOPERATIVE_MAX_WORK`).
   */
  readonly cooperative?: <T>(fn: () => T) => T;
  /** The bound in milliseconds, for messages. */
  readonly timeoutMs?: number;
}

export interface ValidationInput {
  readonly guardrails: readonly CompiledGuardrail[];
  readonly resources: ReadonlySet<RuleResource>;
  readonly object: unknown;
  readonly oldObject: unknown;
  readonly request: Readonly<Record<string, unknown>>;
  readonly namespace: { readonly name: string; readonly labels: Labels; readonly annotations?: Labels };
  readonly runBounded?: BoundedRunner;
  /** Objects with more values than this (`object` and `oldObject` together) are refused (a rule error), not evaluated. */
  readonly maxObjectValues: number;
  /** When more validations than this apply to the request, none is evaluated (a rule error). */
  readonly maxValidations: number;
  /**
   * Audit: only the validations that read neither `request` nor `oldObject` apply, whose verdict
   * depends on the object alone, not on a request.
   */
  readonly objectOnly?: boolean;
}

/** Variables whose value comes from a request, not from the object. */
const REQUEST_VARIABLES = ['request', 'oldObject'];

/** True when the validation's verdict depends on the object (and its namespace) alone. */
export function readsObjectOnly(validation: CompiledValidation): boolean {
  return !REQUEST_VARIABLES.some((name) => validation.program.identifiers.has(name));
}

/**
 * Objects with more JSON values than this (a Pod has a few hundred) are not given to CEL, whose
 * variables are a converted copy of the whole object: refused after a cheap count instead of
 * copied and then cut by the time bound; `serve --max-object-values`.
 */
export const DEFAULT_MAX_OBJECT_VALUES = 200_000;

/**
 * At most this many CEL validations are evaluated for one request (`serve --max-validations`):
 * a policy set that grows past it is a mistake to report, not a cost every request should pay.
 * One Pod against 100 validations takes about 130 µs, so the default stays well inside the time bound.
 */
export const DEFAULT_MAX_VALIDATIONS = 500;

/**
 * The cooperative bound is used when the applicable expressions' nodes times the size of the
 * variables (values plus characters of the object, the old object, the request and the
 * namespace) is at most this: the work between two checks of the deadline is at
 * most about that product (./cel/deadline.ts). The costliest operations measured here take up to
 * 17 ns per unit (a map's equality or size, a `split`), so an expression that made every node
 * touch the whole object would overrun the deadline by at most about 0.2 s. The fixture Pod
 * against the bench's realistic set (15 expressions, 865 nodes) is about 1.8 million; objects of
 * hundreds of kilobytes, or thousands of nodes, take the hard bound.
 */
export const COOPERATIVE_MAX_WORK = 10_000_000;

/** The rule id of errors about the validations of a request as a whole (the limits). */
const ALL_VALIDATIONS = 'validations';

interface Applicable {
  readonly guardrail: CompiledGuardrail;
  readonly validation: CompiledValidation;
}

interface ApplicableValidations {
  readonly entries: readonly Applicable[];
  /** Nodes of all their expressions, messages included. */
  readonly nodes: number;
  /** The cooperative bound holds for every one of them. */
  readonly cooperative: boolean;
}

/** The applicable validations of each guardrail list (a compiled set's lists never change), by resources and audit. */
const applicableCache = new WeakMap<readonly CompiledGuardrail[], Map<string, ApplicableValidations>>();

/** The validations of `guardrails` for any of `resources`, in order; computed once per list and resources. */
function applicableValidations(guardrails: readonly CompiledGuardrail[], resources: ReadonlySet<RuleResource>, objectOnly: boolean): ApplicableValidations {
  let byResources = applicableCache.get(guardrails);
  if (!byResources) applicableCache.set(guardrails, (byResources = new Map()));
  const key = `${[...resources].sort().join(',')}${objectOnly ? ' object-only' : ''}`;
  let applicable = byResources.get(key);
  if (!applicable) {
    const entries = guardrails.flatMap((guardrail) => (guardrail.validations ?? [])
      .filter((validation) => [...validation.resources].some((resource) => resources.has(resource)) && (!objectOnly || readsObjectOnly(validation)))
      .map((validation) => ({ guardrail, validation })));
    const programs = entries.flatMap(({ validation }) => [validation.program, ...(validation.messageProgram ? [validation.messageProgram] : [])]);
    applicable = {
      entries,
      nodes: programs.reduce((sum, program) => sum + program.nodes, 0),
      cooperative: programs.every((program) => program.cooperative),
    };
    byResources.set(key, applicable);
  }
  return applicable;
}

/** Evaluates every validation of `input.guardrails` that applies, in order, within the caller's bound. */
export function evaluateValidations(input: ValidationInput): RuleOutcome {
  const { entries: applicable, nodes, cooperative } = applicableValidations(input.guardrails, input.resources, input.objectOnly === true);
  if (applicable.length === 0) return NO_OUTCOME;
  if (applicable.length > input.maxValidations) {
    return requestError(`${applicable.length} CEL validations apply to this object, more than the limit of ${input.maxValidations} (--max-validations); none was evaluated`);
  }
  const size = measure([input.object, input.oldObject], input.maxObjectValues);
  if (size.values > input.maxObjectValues) {
    return requestError(`the object has more than ${input.maxObjectValues} values, too large for CEL validations (--max-object-values)`);
  }
  const findings: Finding[] = [];
  const errors: RuleError[] = [];
  let current = applicable[0] as (typeof applicable)[number];
  let done = 0;
  const run = () => {
    const activation = toCelActivation({
      object: input.object,
      oldObject: input.oldObject ?? null,
      request: input.request,
      namespaceObject: { metadata: { name: input.namespace.name, labels: input.namespace.labels, annotations: input.namespace.annotations ?? {} } },
    });
    for (const entry of applicable) {
      current = entry;
      checkCelDeadline();
      const outcome = evaluateOne(entry.guardrail, entry.validation, activation);
      if (outcome.kind === 'finding') findings.push(outcome.finding);
      else if (outcome.kind === 'error') errors.push(outcome.error);
      done++;
    }
  };
  try {
    const bounded = input.runBounded;
    if (!bounded) run();
    else if (bounded.cooperative && cooperative && nodes * (size.weight + contextWeight(input)) <= COOPERATIVE_MAX_WORK) bounded.cooperative(run);
    else bounded(run);
  } catch (error) {
    const skipped = applicable.length - done - 1;
    const more = skipped > 0 ? ` (${skipped} later validation${skipped === 1 ? '' : 's'} not evaluated)` : '';
    errors.push({ tier: current.guardrail.tier.name, guardrail: current.guardrail.name, rule: current.validation.id, message: `${errorText(error, input.runBounded?.timeoutMs)}${more}` });
  }
  return { findings, errors, notes: [], hints: [] };
}

/** None of the validations was evaluated, for a reason of the request as a whole (a limit). */
function requestError(message: string): RuleOutcome {
  return { ...NO_OUTCOME, errors: [{ scope: 'request', rule: ALL_VALIDATIONS, message }] };
}

type Outcome = { kind: 'pass' } | { kind: 'finding'; finding: Finding } | { kind: 'error'; error: RuleError };

const PASS: Outcome = { kind: 'pass' };

function evaluateOne(guardrail: CompiledGuardrail, validation: CompiledValidation, activation: unknown): Outcome {
  const result = evaluateCel(validation.program, activation);
  if (result.ok && result.value === true) return PASS;
  // Written out rather than spread from a shared base: V8 (Node 20) takes a slow path, about 1 µs,
  // for each property added to an object literal after a spread of a non-constant object.
  const [tier, name, rule] = [guardrail.tier.name, guardrail.name, validation.id];
  if (!result.ok) return { kind: 'error', error: { tier, guardrail: name, rule, message: result.error } };
  if (result.value !== false) return { kind: 'error', error: { tier, guardrail: name, rule, message: 'expression did not evaluate to a bool' } };
  const finding = (): Finding => ({ tier, guardrail: name, rule, mode: guardrail.mode, path: '', message: messageFor(validation, activation), compliance: guardrail.compliance });
  if (validation.messageProgram) return { kind: 'finding', finding: finding() };
  let found = fixedFindings.get(validation);
  if (!found) fixedFindings.set(validation, (found = { kind: 'finding', finding: sharedFinding(finding()) }));
  return found;
}

/**
 * The finding of a validation without `messageExpression`, made once and shared by every request
 * that fails it, as the engine shares a missing label's (`./evaluate.ts`): what is derived from it
 * is kept with it (its log line). A compiled validation belongs to the reading of one Guardrail
 * document, kept by its content (`policy/read-document.ts`), and every field of the finding comes
 * from that document: a reload that changes the Guardrail compiles it afresh. Made by
 * `sharedFinding`.
 */
const fixedFindings = new WeakMap<CompiledValidation, Outcome>();

/** `messageExpression` when it yields a usable one-line string, else `message`, else the expression. */
function messageFor(validation: CompiledValidation, activation: unknown): string {
  if (validation.messageProgram) {
    const result = evaluateCel(validation.messageProgram, activation);
    if (result.ok && typeof result.value === 'string' && result.value.trim() !== '' && !result.value.includes('\n')) return result.value;
  }
  return validation.message ?? `failed expression: ${validation.expression}`;
}

/** The weight (as `measure`) of the other variables: the request and the namespace (its annotations may hold 256 kB). */
function contextWeight(input: ValidationInput): number {
  const namespace = [input.namespace.labels, input.namespace.annotations ?? {}];
  return measure([input.request, namespace], Number.POSITIVE_INFINITY).weight;
}

/**
 * Counts JSON values up to `limit` (stops early), iteratively; `weight` adds the characters of
 * strings and keys to the count, a measure of what one operation on the object may touch.
 */
function measure(root: unknown, limit: number): { values: number; weight: number } {
  let values = 0;
  let weight = 0;
  const stack: unknown[] = [root];
  while (stack.length > 0 && values <= limit) {
    const value = stack.pop();
    values++;
    weight++;
    if (typeof value === 'string') weight += value.length;
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      // A loop, not push(...children): a spread of a huge list overflows the call stack.
      for (const child of value) stack.push(child);
      continue;
    }
    for (const key in value) {
      weight += key.length;
      stack.push((value as Record<string, unknown>)[key]);
    }
  }
  return { values, weight };
}

function errorText(error: unknown, timeoutMs: number | undefined): string {
  const message = error instanceof Error ? error.message : String(error);
  const limit = timeoutMs === undefined ? 'the time limit' : `the time limit of ${timeoutMs} ms`;
  return /timed out/i.test(message) ? `evaluation exceeded ${limit} for one request (--cel-timeout)` : 'evaluation failed';
}
