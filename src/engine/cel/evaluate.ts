/**
 * Evaluates a compiled expression against prepared request variables. Never throws, but for the
 * cooperative time bound (`CelDeadlineError`, ./deadline.ts): every other failure is returned, with a message that names the problem and its position in the
 * expression but never contains request data.
 */
import { CEL_MAP_PROTOTYPE, PreparedCelActivation } from './activation.js';
import { CompiledCelProgram, type CelProgram } from './compile.js';
import { CelDeadlineError } from './deadline.js';
import { celErrorOf, offsetOf, positionOf, safeEvaluationMessage } from './errors.js';

/**
 * `value` is a CEL value: boolean, string, bigint (int), number (double), null, arrays, maps
 * (objects), or library values (`net.IP`, optionals, ...) when the expression returns them.
 */
export type CelEvaluateResult = { ok: true; value: unknown } | { ok: false; error: string };

/** The CEL type name of a run-time value, for messages (never the value itself). */
function celTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  switch (typeof value) {
    case 'bigint': return 'int';
    case 'number': return 'double';
    case 'boolean': return 'bool';
    case 'string': return 'string';
    case 'object': return value instanceof Map || [null, Object.prototype, CEL_MAP_PROTOTYPE].includes(Object.getPrototypeOf(value)) ? 'map' : 'value';
    default: return typeof value;
  }
}

function failure(program: CompiledCelProgram, message: string, offset: number): CelEvaluateResult {
  const { line, column } = positionOf(program.source, offset);
  return { ok: false, error: `${message} (line ${line}, column ${column})` };
}

/**
 * @param activation the result of `toCelActivation` for the request.
 * @example
 * const compiled = compileCel('!has(object.spec.hostNetwork) || !object.spec.hostNetwork', { expectBool: true });
 * if (compiled.ok) evaluateCel(compiled.program, toCelActivation({ object, oldObject: null, request, namespaceObject }));
 */
export function evaluateCel(program: CelProgram, activation: unknown): CelEvaluateResult {
  if (!(program instanceof CompiledCelProgram)) return { ok: false, error: 'not a program compiled by compileCel' };
  if (!(activation instanceof PreparedCelActivation)) return { ok: false, error: 'variables were not prepared by toCelActivation' };
  let value: unknown;
  try {
    value = program.run(activation);
  } catch (error) {
    // The bound ends the request's CEL evaluation, not just this expression.
    if (error instanceof CelDeadlineError) throw error;
    return failure(program, safeEvaluationMessage(error), offsetOf(celErrorOf(error)));
  }
  if (value instanceof Promise) {
    value.catch(() => undefined);
    return failure(program, 'expression evaluated asynchronously', 0);
  }
  if (program.expected === 'bool' && typeof value !== 'boolean') {
    return failure(program, `expression must evaluate to bool, got ${celTypeName(value)}`, 0);
  }
  if (program.expected === 'string' && typeof value !== 'string') {
    return failure(program, `expression must evaluate to string, got ${celTypeName(value)}`, 0);
  }
  return { ok: true, value };
}
