/**
 * Structural limits on CEL expressions, checked when an expression is compiled (never per
 * request). They bound the work of the parser, the type checker and the evaluator's recursion
 * over the expression tree; the size of the request object and the time of one evaluation are
 * bounded by the caller (request size limit, `vm` watchdog).
 */
export const CEL_LIMITS = Object.freeze({
  /** Characters in one expression, as Kubernetes allows for a ValidatingAdmissionPolicy expression. */
  maxExpressionLength: 5120,
  /**
   * Nodes in the parsed tree. Chains of binary operators (`a || b || ...`) build trees as deep as
   * they are long, and evaluation recurses over them: this keeps that recursion far from the stack limit.
   */
  maxAstNodes: 2000,
  /** Nesting of parentheses, calls, macros and field selections. */
  maxDepth: 64,
  /** Elements of one list literal `[...]`. */
  maxListElements: 256,
  /** Entries of one map literal `{...}`. */
  maxMapEntries: 256,
  /** Arguments of one function call. */
  maxCallArguments: 16,
});
