/**
 * Error text from the CEL library, made safe and positioned.
 *
 * Compile errors only describe the expression (policy text), so their summary is kept.
 * Evaluation errors may describe request data: a message is only ever built from the error's
 * code, type names, and identifiers or literals of the expression itself — never from the
 * library's message when that message can embed a runtime value (audited for
 * `@marcbachmann/cel-js` 8.0.0; unknown codes get a fixed text).
 */
import { withAuthorNames } from './internal-names.js';

export interface SourcePosition {
  /** 1-based line in the expression. */
  readonly line: number;
  /** 1-based column, in characters (code points) of that line. */
  readonly column: number;
}

/** Line and column of a UTF-16 `offset` in `source` (clamped to the source). */
export function positionOf(source: string, offset: number): SourcePosition {
  const before = source.slice(0, Math.max(0, Math.min(offset, source.length)));
  const lineStart = before.lastIndexOf('\n') + 1;
  const line = before.split('\n').length;
  return { line, column: Array.from(before.slice(lineStart)).length + 1 };
}

interface CelErrorLike {
  readonly code?: unknown;
  readonly summary?: unknown;
  readonly range?: { readonly start: number };
  readonly node?: { readonly op?: unknown; readonly args?: unknown };
}

export function celErrorOf(error: unknown): CelErrorLike | undefined {
  return typeof error === 'object' && error !== null && typeof (error as CelErrorLike).code === 'string' ? (error as CelErrorLike) : undefined;
}

/** The offset an error points at, 0 when it has none. */
export function offsetOf(error: CelErrorLike | undefined): number {
  return error?.range?.start ?? 0;
}

/** Library summary with internal function names mapped back to what the author wrote. */
export function summaryOf(error: CelErrorLike, fallback: string): string {
  const summary = typeof error.summary === 'string' ? error.summary : fallback;
  return withAuthorNames(summary);
}

/** Codes whose library message holds only fixed text, type names and expression identifiers. */
const SUMMARY_IS_SAFE = new Set([
  'division_by_zero', 'modulo_by_zero', 'no_matching_overload', 'no_such_overload', 'invalid_logical_operand',
  'invalid_condition_type', 'variable_type_mismatch', 'int_conversion_error', 'uint_conversion_error',
  'double_conversion_error', 'optional_value_missing', 'optional_expected', 'invalid_optional_argument',
  'invalid_timestamp', 'index_out_of_range', 'invalid_list_element_type', 'invalid_comparison_type',
  'unknown_variable', 'unsupported_type', 'invalid_comprehension_range', 'incompatible_argument_type',
  // Raised by tierguard's own functions, whose messages never include arguments.
  'invalid_regular_expression', 'invalid_ip', 'invalid_cidr',
]);

/** Codes whose library message may embed a value: replaced by fixed text. */
const FIXED_TEXT: Readonly<Record<string, string>> = {
  bool_conversion_error: 'bool() conversion error: invalid string value',
  invalid_duration: 'duration() conversion error: invalid duration string',
  numeric_overflow: 'integer overflow',
  index_out_of_bounds: 'list index out of bounds',
  field_type_mismatch: 'a field has an unexpected type',
  list_item_type_mismatch: 'a list element has an unexpected type',
};

/** `no such key: x` when `x` is written in the expression (`a.x`, `a['x']`), else no key. */
function noSuchKey(node: CelErrorLike['node']): string {
  const selected = Array.isArray(node?.args) ? (node.args as unknown[])[1] : undefined;
  if ((node?.op === '.' || node?.op === '.?') && typeof selected === 'string') return `no such key: ${selected}`;
  const literal = typeof selected === 'object' && selected !== null ? (selected as { op?: unknown; args?: unknown }) : undefined;
  if (literal?.op === 'value' && typeof literal.args === 'string') return `no such key: ${literal.args}`;
  return 'no such key';
}

/** A message for an evaluation failure that never contains request data. */
export function safeEvaluationMessage(error: unknown): string {
  const cel = celErrorOf(error);
  if (!cel) {
    if (error instanceof RangeError) return 'evaluation exceeded a size or depth limit';
    return `evaluation failed (${error instanceof Error ? error.name : typeof error})`;
  }
  const code = String(cel.code);
  if (code === 'no_such_key') return noSuchKey(cel.node);
  if (SUMMARY_IS_SAFE.has(code)) return summaryOf(cel, code);
  return FIXED_TEXT[code] ?? `evaluation error (${code})`;
}
