/**
 * Compiles a CEL expression once: length check, parse (with the structural limits), the
 * compile-time rewrite (RE2 `matches`, literal checks), type check against the declared
 * variables, the expected result type, and, given the kinds `object` can be, the type check
 * against their Kubernetes schemas.
 */
import type { ParseResult } from '@marcbachmann/cel-js';
import type { PreparedCelActivation } from './activation.js';
import { CelDeadlineError, cooperativeShape } from './deadline.js';
import { celEnvironment } from './environment.js';
import { celErrorOf, offsetOf, positionOf, summaryOf } from './errors.js';
import { compileFastPath, type FastPath } from './fast-path.js';
import { CEL_LIMITS } from './limits.js';
import { rewriteParsedExpression } from './rewrite.js';
import { typedCheck, type CelObjectKind } from './typed.js';

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
  /** The closures of a validation or message of the common shape (./fast-path.ts); the library decides whenever they give up. */
  readonly #fast: FastPath | undefined;
  readonly nodes: number;
  readonly cooperative: boolean;
  readonly identifiers: ReadonlySet<string>;
  constructor(readonly source: string, readonly resultType: string, readonly expected: ExpectedType, run: ParseResult) {
    this.#run = run;
    this.#fast = expected === undefined ? undefined : compileFastPath(run.ast, expected);
    ({ nodes: this.nodes, cooperative: this.cooperative, identifiers: this.identifiers } = cooperativeShape(run.ast));
  }

  /** Evaluates against a request's variables; throws what the library throws. */
  run(activation: PreparedCelActivation): unknown {
    if (this.#fast) {
      try {
        return this.#fast(activation.raw);
      } catch (error) {
        // The time bound ends the evaluation; anything else is for the library to answer.
        if (error instanceof CelDeadlineError) throw error;
      }
    }
    return this.#run(activation.variables as Record<string, unknown>);
  }

  /** Whether the closures of ./fast-path.ts evaluate it first (for tests). */
  get hasFastPath(): boolean {
    return this.#fast !== undefined;
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
function wrongResult(resultType: string, expected: ExpectedType): string | undefined {
  if (expected === undefined) return undefined;
  const inner = /^dyn<(.*)>$/.exec(resultType)?.[1] ?? resultType;
  return inner !== 'dyn' && inner !== expected ? `expression must return ${expected}, but returns ${resultType}` : undefined;
}

/**
 * Results by expected type, object kinds and text, most recently used last. A compile depends on
 * nothing else, and its program keeps no state of its own between evaluations, so guardrails with
 * the same expression share one. Policy sets repeat expressions (the same check in guardrails of
 * several tiers or teams): the bench's set with 1,000 guardrails has 234 expressions, 74 distinct,
 * and compiling and type-checking all 234 for their kinds took 0.31 s of a CPU profile of its load.
 */
const compiled = new Map<string, CelCompileResult>();
const MAX_COMPILED = 4096;

/**
 * Compiles and type-checks `source`. Never throws for a bad expression: the error carries the
 * library's message (which describes only the expression) and the 1-based position. An expression
 * compiled before with the same options returns the same result.
 * @example compileCel("object.?metadata.?labels[?'owner'].orValue('') != ''", { expectBool: true })
 */
export function compileCel(source: string, options: CelCompileOptions = {}): CelCompileResult {
  if (options.expectBool && options.expectString) throw new TypeError('compileCel: expectBool and expectString are exclusive');
  const key = `${options.expectBool ? 'bool' : options.expectString ? 'string' : ''}|${options.objectKinds?.join(',') ?? ''}|${source}`;
  const known = compiled.get(key);
  if (known) {
    compiled.delete(key);
    compiled.set(key, known);
    return known;
  }
  const result = compileOnce(source, options);
  if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
  compiled.set(key, result);
  return result;
}

function compileOnce(source: string, options: CelCompileOptions): CelCompileResult {
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
  const typedAgainst = () => (options.objectKinds?.length ? typedCheck(source, parsed.ast, options.objectKinds, (type) => wrongResult(type, expected)) : undefined);
  if (!checked.valid) {
    // Untyped, `object.metadata.name + 1` is `dyn + int`, read as int: the error would be about a
    // later `== 'x'`. The schemas know the field is a string, so their diagnosis comes first.
    const typedError = typedAgainst()?.error;
    return typedError ? { ok: false, error: typedError } : libraryFailure(source, checked.error);
  }
  const resultType = checked.type ?? 'dyn';
  const wrong = wrongResult(resultType, expected);
  if (wrong) return failure(source, wrong, 0);
  const typed = typedAgainst();
  if (typed?.error) return { ok: false, error: typed.error };
  const program = new CompiledCelProgram(source, resultType, expected, parsed);
  return typed?.warning ? { ok: true, program, warning: typed.warning } : { ok: true, program };
}
