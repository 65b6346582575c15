import { describe, expect, it } from 'vitest';
import { CEL_LIMITS, compileCel, type CelCompileOptions } from '../../src/engine/cel/index.js';

type Row = { name: string; expression: string; options?: CelCompileOptions; message: string; line: number; column: number };

function expectCompileError({ expression, options, message, line, column }: Row): void {
  const compiled = compileCel(expression, options);
  expect(compiled.ok).toBe(false);
  if (!compiled.ok) expect(compiled.error).toEqual({ message, line, column });
}

describe('compile errors carry the message and the 1-based position in the expression', () => {
  it.each<Row>([
    { name: 'dangling operator at the end', expression: 'object.spec.replicas +', message: 'Unexpected token: EOF', line: 1, column: 23 },
    { name: 'doubled operator', expression: 'object.spec.replicas ++ 1', message: 'Unexpected token: PLUS', line: 1, column: 23 },
    { name: 'assignment instead of comparison', expression: "request.operation = 'CREATE'", message: 'Unexpected character: =', line: 1, column: 19 },
    { name: 'unterminated string', expression: "object.metadata.name == 'api", message: 'Unterminated string', line: 1, column: 25 },
    { name: 'unclosed parenthesis', expression: '(object.spec.replicas > 1', message: 'Expected RPAREN, got EOF', line: 1, column: 26 },
    { name: 'syntax error on a later line', expression: 'has(object.spec) &&\n  object.spec.containers.all(c,\n    c.image ! "")', message: 'Expected RPAREN, got NOT', line: 3, column: 13 },
    { name: 'unknown variable on a later line', expression: 'object.spec.replicas > 1 &&\n  spec.replicas < 10', message: 'Unknown variable: spec', line: 2, column: 3 },
    { name: 'type error: int + string', expression: "object.spec.replicas > 1 && 1 + 'a' == 2", message: 'no such overload: int + string', line: 1, column: 29 },
    { name: 'type error on a later line', expression: "has(object.spec) &&\n  size(object.spec) > 'x'", message: 'no such overload: int > string', line: 2, column: 3 },
    { name: 'ternary branches of different types', expression: "object.spec.x ? 1 : 'one'", message: "Ternary branches must have the same type, got 'int' and 'string'", line: 1, column: 1 },
    { name: 'has() needs a field selection', expression: 'has(object)', message: 'has() invalid argument', line: 1, column: 5 },
    { name: 'columns count characters, not UTF-16 units', expression: "'ünï😀' == object.x && nope", message: 'Unknown variable: nope', line: 1, column: 23 },
    { name: 'validation must return bool', expression: 'object.spec.replicas + 1', options: { expectBool: true }, message: 'expression must return bool, but returns int', line: 1, column: 1 },
    { name: 'messageExpression must return string', expression: "object.metadata.name == 'x'", options: { expectString: true }, message: 'expression must return string, but returns bool', line: 1, column: 1 },
    { name: 'reserved word', expression: 'object.spec.replicas > 1 && while', message: 'Reserved identifier: while', line: 1, column: 29 },
  ])('$name', (row) => expectCompileError(row));
});

describe('parse limits (CEL_LIMITS) are compile errors', () => {
  it.each<Row>([
    {
      name: 'expression longer than maxExpressionLength',
      expression: `object.x == '${'a'.repeat(CEL_LIMITS.maxExpressionLength)}'`,
      message: `expression is longer than ${CEL_LIMITS.maxExpressionLength} characters`,
      line: 1,
      column: CEL_LIMITS.maxExpressionLength + 1,
    },
    {
      name: 'more than maxAstNodes nodes',
      expression: Array.from({ length: CEL_LIMITS.maxAstNodes }, () => '1').join('+'),
      message: `Exceeded maxAstNodes (${CEL_LIMITS.maxAstNodes})`,
      line: 1,
      column: 1,
    },
    {
      name: 'nesting deeper than maxDepth',
      expression: `${'('.repeat(CEL_LIMITS.maxDepth + 1)}1${')'.repeat(CEL_LIMITS.maxDepth + 1)}`,
      message: `Exceeded maxDepth (${CEL_LIMITS.maxDepth})`,
      line: 1,
      column: CEL_LIMITS.maxDepth + 1,
    },
    {
      name: 'list literal longer than maxListElements',
      expression: `object.x in [${Array.from({ length: CEL_LIMITS.maxListElements + 1 }, (_, i) => i).join(',')}]`,
      message: `Exceeded maxListElements (${CEL_LIMITS.maxListElements})`,
      line: 1,
      column: 13 + Array.from({ length: CEL_LIMITS.maxListElements }, (_, i) => `${i},`).join('').length + 1,
    },
  ])('$name', (row) => expectCompileError(row));

  it('an expression just within the node limit compiles', () => {
    expect(compileCel(Array.from({ length: CEL_LIMITS.maxAstNodes / 2 }, () => '1').join('+')).ok).toBe(true);
  });

  it('dyn results are accepted and checked when evaluated', () => {
    const compiled = compileCel('object.spec.hostNetwork', { expectBool: true });
    expect(compiled.ok && compiled.program.resultType).toBe('dyn');
  });

  it('expectBool and expectString together are a programming error', () => {
    expect(() => compileCel('true', { expectBool: true, expectString: true })).toThrow(TypeError);
  });
});
