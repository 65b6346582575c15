/**
 * CEL for tierguard validations: the only module that knows the CEL library
 * (`@marcbachmann/cel-js`, pinned), so that it could be swapped behind these functions.
 *
 * - {@link compileCel} once per expression when the policy set loads (parse limits in
 *   {@link CEL_LIMITS}, variables in {@link CEL_VARIABLES}, unknown identifiers are errors);
 * - {@link toCelActivation} once per request (JSON integers become CEL `int`);
 * - {@link evaluateCel} per expression and request: returns (throws only `CelDeadlineError`), never echoes request data.
 *
 * Kubernetes behaviour: optional syntax (`a.?b`, `m[?k]`, `orValue`), `has()`, short-circuit
 * `||`/`&&`, RE2 `matches`/`find`/`findAll` in linear time, the strings helpers and the
 * `ip()`/`cidr()` network library. Evaluation time is bounded by the caller: with a hard bound
 * (`vm`), or with {@link evaluateWithin}, asked at every comprehension step, for the programs
 * whose `cooperative` says it holds for them.
 */
export { toCelActivation, toCelValue, type CelActivation } from './activation.js';
export { compileCel, type CelCompileError, type CelCompileOptions, type CelCompileResult, type CelCompileWarning, type CelProgram } from './compile.js';
export { CEL_VARIABLES, type CelVariableName } from './environment.js';
export { type CelObjectKind } from './typed.js';
export { KIND_TYPES, KUBERNETES_SCHEMA_VERSION } from './kubernetes-types.js';
export { evaluateCel, type CelEvaluateResult } from './evaluate.js';
export { checkCelDeadline, CelDeadlineError, evaluateWithin } from './deadline.js';
export { CEL_LIMITS } from './limits.js';
