/**
 * Compiles a CEL expression once: length check, parse (with the structural limits), the
 * compile-time rewrite (RE2 `matches`, literal checks), type check against the declared
 * variables, the expected result type, and, given the kinds `object` can be, the type check
 * against their Kubernetes schemas.
 */
import type { ParseResult } from '@marcbachmann/cel-js';
import { cooperativeShape } from './deadline.js';
import { celEnvironment } from './environment.js';
import { celErrorOf, offsetOf, positionOf, summaryOf } from './errors.js';
import { CEL_LIMITS } from './limits.js';
import { rewriteParsedExpression } from './rewrite.js';
import { kindSignature, typedEnvironment, type CelObjectKind } from './typed.js';

export interface CelCompileError {
  message: string;
  /** 1-based line of the problem in the expression. */
  line: number;
  /** 1-based column (in characters) of the problem in that line. */
  column: number;
}

/** A compiled expression. Opaque: evaluate it with `evaluateCel`. */
export interface CelProgram {
  readonly source: string;
  /** The statically known result type (`bool`, `string`, ..., or `dyn` when only known at run time). */
  readonly resultType: string;
  /** Nodes of the parsed expression: with the object's size, the work between two deadline checks. */
  readonly nodes: number;
  /** The cooperative time bound holds for it (./deadline.ts); otherwise only the hard one does. */
  readonly cooperative: boolean;
  /** The variables it may read (`object`, `request`, ...): every identifier in it, so a superset. */
  readonly identifiers: ReadonlySet<string>;
}

export interface CelCompileOptions {
  /** The expression must return bool (a validation). */
  expectBool?: boolean;
  /** The expression must return string (a messageExpression). */
  expectString?: boolean;
  /**
   * The kinds `object` can be: the expression is also type-checked against each one's schema
   * (./typed.ts). It is refused when it fails for all of them, and gets a `warning` when it fails
   * for some. Without kinds, only the untyped check is made.
   */
  objectKinds?: readonly CelObjectKind[];
}

/** An expression that type-checks for some of the kinds it sees, and is an evaluation error on the others. */
export interface CelCompileWarning extends CelCompileError {
  /** The kinds it fails on: `workloads` (every kind but Pod) or their names, `Pod or CronJob`. */
  readonly on: string;
}

export type CelCompileResult = { ok: true; program: CelProgram; warning?: CelCompileWarning } | { ok: false; error: CelCompileError };

export type ExpectedType = 'bool' | 'string' | undefined;

/** The only implementation of {@link CelProgram}; `evaluateCel` refuses anything else. */
export class CompiledCelProgram implements CelProgram {
  readonly #run: ParseResult;
  readonly nodes: number;
  readonly cooperative: boolean;
  readonly identifiers: ReadonlySet<string>;
  constructor(readonly source: string, readonly resultType: string, readonly expected: ExpectedType, run: ParseResult) {
    this.#run = run;
    ({ nodes: this.nodes, cooperative: this.cooperative, identifiers: this.identifiers } = cooperativeShape(run.ast));
  }

  /** Evaluates against prepared variables; throws what the library throws. */
  run(variables: Record<string, unknown>): unknown {
    return this.#run(variables);
  }
}

function failure(source: string, message: string, offset: number): CelCompileResult {
  return { ok: false, error: { message, ...positionOf(source, offset) } };
}

function libraryFailure(source: string, error: unknown): CelCompileResult {
  const cel = celErrorOf(error);
  if (cel) return failure(source, summaryOf(cel, String(cel.code)), offsetOf(cel));
  return failure(source, `expression could not be compiled (${error instanceof Error ? error.name : typeof error})`, 0);
}

/** `dyn` and `dyn<T>` are only known at run time; anything else must be the expected type. */
function staticallyWrong(resultType: string, expected: ExpectedType): boolean {
  if (expected === undefined) return false;
  const inner = /^dyn<(.*)>$/.exec(resultType)?.[1] ?? resultType;
  return inner !== 'dyn' && inner !== expected;
}

/**
 * Compiles and type-checks `source`. Never throws for a bad expression: the error carries the
 * library's message (which describes only the expression) and the 1-based position.
 * @example compileCel("object.?metadata.?labels[?'owner'].orValue('') != ''", { expectBool: true })
 */
export function compileCel(source: string, options: CelCompileOptions = {}): CelCompileResult {
  if (options.expectBool && options.expectString) throw new TypeError('compileCel: expectBool and expectString are exclusive');
  const expected: ExpectedType = options.expectBool ? 'bool' : options.expectString ? 'string' : undefined;
  if (source.length > CEL_LIMITS.maxExpressionLength) {
    return failure(source, `expression is longer than ${CEL_LIMITS.maxExpressionLength} characters`, CEL_LIMITS.maxExpressionLength);
  }
  let parsed: ParseResult;
  try {
    parsed = celEnvironment().parse(source);
  } catch (error) {
    return libraryFailure(source, error);
  }
  const issue = rewriteParsedExpression(parsed.ast);
  if (issue) return failure(source, issue.message, issue.offset);
  const checked = parsed.check();
  if (!checked.valid) return libraryFailure(source, checked.error);
  const resultType = checked.type ?? 'dyn';
  if (staticallyWrong(resultType, expected)) {
    return failure(source, `expression must return ${expected}, but returns ${resultType}`, 0);
  }
  const typed = options.objectKinds?.length ? typedCheck(source, parsed.ast, options.objectKinds, expected) : undefined;
  if (typed?.error) return { ok: false, error: typed.error };
  const program = new CompiledCelProgram(source, resultType, expected, parsed);
  return typed?.warning ? { ok: true, program, warning: typed.warning } : { ok: true, program };
}

interface KindFailure {
  readonly kind: CelObjectKind;
  readonly message: string;
  readonly offset: number;
  /** For a field the kind's type lacks: the field, the type, and whether `has()` of it appears (a guard). */
  readonly missing?: { readonly field: string; readonly type: string; readonly guarded: boolean };
}

interface AstNode {
  readonly op?: string;
  readonly args?: unknown;
  readonly pos?: number;
  readonly checkedType?: { readonly name?: unknown };
}

/** The problem the expression has for one kind's types, if any. */
function kindFailure(source: string, kind: CelObjectKind, expected: ExpectedType): KindFailure | undefined {
  const parsed = typedEnvironment(kind).parse(source);
  if (rewriteParsedExpression(parsed.ast)) return undefined; // already reported by the untyped compile
  const checked = parsed.check();
  if (!checked.valid) {
    const cel = celErrorOf(checked.error);
    const missing = cel ? missingField(cel, source) : undefined;
    const message = missing ? `no field '${missing.field}' in ${missing.type}` : cel ? summaryOf(cel, String(cel.code)) : 'expression could not be type-checked';
    return { kind, message, offset: offsetOf(cel), ...(missing ? { missing } : {}) };
  }
  const resultType = checked.type ?? 'dyn';
  if (staticallyWrong(resultType, expected)) return { kind, message: `expression must return ${expected}, but returns ${resultType}`, offset: 0 };
  return undefined;
}

/**
 * `object.spec.contaners`: the library says "No such key"; find which type has no such field,
 * and whether the expression tests it with `has(object.spec.contaners)` somewhere.
 */
function missingField(cel: NonNullable<ReturnType<typeof celErrorOf>>, source: string): KindFailure['missing'] {
  if (cel.code !== 'no_such_key') return undefined;
  const node = cel.node as AstNode | undefined;
  const [operand, key] = (Array.isArray(node?.args) ? node.args : []) as [AstNode | undefined, unknown];
  const field = node?.op === '.' ? key : (key as AstNode | undefined)?.op === 'value' ? (key as AstNode).args : undefined;
  const type = operand?.checkedType?.name;
  if (typeof field !== 'string' || typeof type !== 'string') return undefined;
  const path = node?.op === '.' ? selectedPath(node, operand, field, source) : undefined;
  return { field, type, guarded: path !== undefined && source.includes(`has(${path})`) };
}

/** The source text of a field selection, `object.spec.hostNetwork`, from its root to the field. */
function selectedPath(node: AstNode, operand: AstNode | undefined, field: string, source: string): string | undefined {
  let root = operand;
  while (root && (root.op === '.' || root.op === '.?' || root.op === '[]') && Array.isArray(root.args)) root = root.args[0] as AstNode;
  return typeof root?.pos === 'number' && typeof node.pos === 'number' ? source.slice(root.pos, node.pos + field.length) : undefined;
}

interface Described {
  readonly message: string;
  readonly offset: number;
  /** Some kinds, not all, have this problem. */
  readonly partial: boolean;
  readonly missing: boolean;
}

/**
 * The expression against each kind's types. When it fails for every kind, an error: the first
 * problem at its position, then in the message those of the kinds that fail differently. When it
 * fails for some kinds only, it is accepted (a validation on Pods also sees the workloads, and
 * `!has(object.spec.hostNetwork) || !object.spec.hostNetwork` is right for a Pod and never reaches
 * the field a Deployment lacks), with a warning for the first problem no `has()` guards: on
 * objects of those kinds the expression is an evaluation error.
 */
function typedCheck(source: string, ast: unknown, kinds: readonly CelObjectKind[], expected: ExpectedType): { error?: CelCompileError; warning?: CelCompileWarning } | undefined {
  const groups = new Map<string, KindFailure[]>();
  // Kinds with the signature of a kind that passed pass too, unchecked (the costly part is parsing once per kind).
  const passed = new Set<string>();
  for (const kind of kinds) {
    const signature = kindSignature(ast, kind);
    if (passed.has(signature)) continue;
    const entry = kindFailure(source, kind, expected);
    if (!entry) {
      passed.add(signature);
      continue;
    }
    const key = `${entry.offset} ${entry.missing ? `field ${entry.missing.field}` : entry.message}`;
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  const failing = [...groups.values()].reduce((count, group) => count + group.length, 0);
  if (failing === kinds.length) {
    // A wrong type first: it is the author's mistake whatever the kind; a missing field may be a kind's.
    const described = [...groups.values()].map((group) => describe(group, kinds.length));
    const ordered = [...described.filter((entry) => !entry.missing), ...described.filter((entry) => entry.missing)];
    return { error: combined(source, ordered, ordered.some((entry) => entry.partial && entry.missing) ? SELECT_HINT : '') };
  }
  const unguarded = [...groups.values()].find((group) => !group[0]?.missing?.guarded);
  if (!unguarded) return undefined;
  // Short: Kubernetes shows it as one warning line of `kubectl apply`.
  const [{ message, offset, missing }] = unguarded as [KindFailure];
  const failingKinds = unguarded.map((entry) => entry.kind);
  const workloads = kinds.includes('Pod') && !failingKinds.includes('Pod') && failingKinds.length === kinds.length - 1;
  return { warning: { message: missing ? `no field '${missing.field}'` : message, on: workloads ? 'workloads' : listOf(failingKinds), ...positionOf(source, offset) } };
}

const SELECT_HINT = ' (to read fields that only some kinds have, select them optionally, object.?spec.?template, or under dyn(object))';

/** The first problem at its position; the others, with theirs, in the message. */
function combined(source: string, [first, ...others]: readonly Described[], hint: string): CelCompileError {
  const more = others.map(({ message, offset }) => {
    const { line, column } = positionOf(source, offset);
    return `; ${message} at line ${line}, column ${column}`;
  });
  return { message: `${first?.message ?? ''}${more.join('')}${hint}`, ...positionOf(source, first?.offset ?? 0) };
}

/** One problem shared by some kinds: `no field 'x' in A or B (when object is a K or L)`. */
function describe(group: readonly KindFailure[], kindCount: number): Described {
  const [{ message, offset, missing }] = group as [KindFailure];
  const text = missing ? `no field '${missing.field}' in ${listOf([...new Set(group.map((entry) => entry.missing?.type ?? ''))])}` : message;
  const partial = group.length < kindCount;
  return { message: partial ? `${text} (when object is a ${listOf(group.map((entry) => entry.kind))})` : text, offset, partial, missing: missing !== undefined };
}

function listOf(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
