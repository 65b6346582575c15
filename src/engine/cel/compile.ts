/**
 * Compiles a CEL expression once: length check, parse (with the structural limits), the
 * compile-time rewrite (RE2 `matches`, literal checks), type check against the declared
 * variables, and the expected result type.
 */
import type { ParseResult } from '@marcbachmann/cel-js';
import { cooperativeShape } from './deadline.js';
import { celEnvironment } from './environment.js';
import { celErrorOf, offsetOf, positionOf, summaryOf } from './errors.js';
import { CEL_LIMITS } from './limits.js';
import { rewriteParsedExpression } from './rewrite.js';
import { typedEnvironment, type CelObjectKind } from './typed.js';

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
   * (./typed.ts), and must hold up for all of them. Without kinds, only the untyped check is made.
   */
  objectKinds?: readonly CelObjectKind[];
}

export type CelCompileResult = { ok: true; program: CelProgram } | { ok: false; error: CelCompileError };

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
  const typed = options.objectKinds?.length ? typedFailure(source, options.objectKinds, expected) : undefined;
  if (typed) return typed;
  return { ok: true, program: new CompiledCelProgram(source, resultType, expected, parsed) };
}

interface KindFailure {
  readonly kind: CelObjectKind;
  readonly message: string;
  readonly offset: number;
  /** For a field the kind's type lacks: the field and the type. */
  readonly missing?: { readonly field: string; readonly type: string };
}

/** The problem the expression has for one kind's types, if any. */
function kindFailure(source: string, kind: CelObjectKind, expected: ExpectedType): KindFailure | undefined {
  const parsed = typedEnvironment(kind).parse(source);
  if (rewriteParsedExpression(parsed.ast)) return undefined; // already reported by the untyped compile
  const checked = parsed.check();
  if (!checked.valid) {
    const cel = celErrorOf(checked.error);
    const missing = cel ? missingField(cel) : undefined;
    const message = missing ? `no field '${missing.field}' in ${missing.type}` : cel ? summaryOf(cel, String(cel.code)) : 'expression could not be type-checked';
    return { kind, message, offset: offsetOf(cel), ...(missing ? { missing } : {}) };
  }
  const resultType = checked.type ?? 'dyn';
  if (staticallyWrong(resultType, expected)) return { kind, message: `expression must return ${expected}, but returns ${resultType}`, offset: 0 };
  return undefined;
}

/** `object.spec.contaners`: the library says "No such key"; find which type has no such field. */
function missingField(cel: NonNullable<ReturnType<typeof celErrorOf>>): KindFailure['missing'] {
  if (cel.code !== 'no_such_key') return undefined;
  const node = cel.node as { op?: string; args?: unknown[] } | undefined;
  const [operand, key] = node?.args ?? [];
  const field = node?.op === '.' ? key : (key as { op?: string; args?: unknown } | undefined)?.op === 'value' ? (key as { args?: unknown }).args : undefined;
  const type = (operand as { checkedType?: { name?: unknown } } | undefined)?.checkedType?.name;
  if (typeof field !== 'string' || typeof type !== 'string') return undefined;
  return { field, type };
}

/**
 * The expression's problems with the kinds' types: the first one, at its position, naming the
 * kinds it is a problem for unless it is one for all of them (a validation on Pods also sees the
 * workloads); then, in the message, those of the kinds that fail differently.
 */
function typedFailure(source: string, kinds: readonly CelObjectKind[], expected: ExpectedType): CelCompileResult | undefined {
  const groups = new Map<string, KindFailure[]>();
  for (const kind of kinds) {
    const entry = kindFailure(source, kind, expected);
    if (!entry) continue;
    const key = `${entry.offset} ${entry.missing ? `field ${entry.missing.field}` : entry.message}`;
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  const [first, ...others] = [...groups.values()].map((group) => describe(group, kinds.length));
  if (!first) return undefined;
  const more = others.map(({ message, offset }) => {
    const { line, column } = positionOf(source, offset);
    return `; ${message} at line ${line}, column ${column}`;
  });
  const hint = others.length === 0 && first.partial && first.missing ? '; read a field that only some kinds have with optional selection (.?field)' : '';
  return failure(source, `${first.message}${hint}${more.join('')}`, first.offset);
}

/** One problem shared by some kinds: `no field 'x' in A or B (when object is a K or L)`. */
function describe(group: readonly KindFailure[], kindCount: number): { message: string; offset: number; partial: boolean; missing: boolean } {
  const [{ message, offset, missing }] = group as [KindFailure];
  const text = missing ? `no field '${missing.field}' in ${listOf([...new Set(group.map((entry) => entry.missing?.type ?? ''))])}` : message;
  const partial = group.length < kindCount;
  return { message: partial ? `${text} (when object is a ${listOf(group.map((entry) => entry.kind))})` : text, offset, partial, missing: missing !== undefined };
}

function listOf(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
