import { describe, expect, it } from 'vitest';
import { compileCel, evaluateCel, toCelActivation } from '../../src/engine/cel/index.js';
import { review } from '../helpers/fixtures.js';
import { objectActivation, run, valueOf } from './cel-helpers.js';

const SECRET = 'hunter2-TOPSECRET-4f9a';

/** A real Pod carrying a secret-looking value in several places. */
function podWithSecret(): unknown {
  const { request } = review('validate-create-pod');
  const object = structuredClone(request.object);
  object.metadata.annotations['example.com/token'] = SECRET;
  object.spec.containers[0].env = [{ name: 'PASSWORD', value: SECRET }];
  object.metadata.labels.secretKey = SECRET;
  return toCelActivation({ object, oldObject: null, request, namespaceObject: null });
}

describe('evaluation errors never contain request data', () => {
  const token = "object.metadata.annotations['example.com/token']";
  it.each([
    { name: 'int() of a string', expression: `int(${token}) > 0` },
    { name: 'bool() of a string', expression: `bool(${token})` },
    { name: 'double() of a string', expression: `double(${token}) > 0.0` },
    { name: 'duration() of a string', expression: `duration(${token}) > duration('1s')` },
    { name: 'timestamp() of a string', expression: `timestamp(${token} + '-padding-padding') > timestamp('2020-01-01T00:00:00Z')` },
    { name: 'map lookup with a key from the object', expression: `object.metadata.labels[${token}] == 'x'` },
    { name: 'missing key named by the object', expression: 'object.metadata.annotations[object.metadata.labels.secretKey]' },
    { name: 'regex built from the object', expression: `object.metadata.name.matches(${token} + '(')` },
    { name: 'find() with a pattern from the object', expression: `object.metadata.name.find('[' + ${token})` },
    { name: 'ip() of a string', expression: `ip(${token}).family() == 4` },
    { name: 'cidr() of a string', expression: `cidr(${token}).prefixLength() > 0` },
    { name: 'operator on mixed types', expression: `${token} + 1 == 2` },
    { name: 'string used as a condition', expression: `${token} ? true : false` },
    { name: 'string used as a bool operand', expression: `${token} || false` },
    { name: 'comprehension over a string', expression: `${token}.all(c, true)` },
    { name: 'integer overflow of an object value', expression: 'object.spec.terminationGracePeriodSeconds * 9223372036854775807 > 0' },
    { name: 'list index from the object', expression: 'object.spec.containers[object.spec.terminationGracePeriodSeconds].name' },
    { name: 'substring out of range', expression: `${token}.substring(1000)` },
    { name: 'charAt out of range', expression: `${token}.charAt(1000)` },
    { name: 'json of bytes from the object', expression: `bytes(${token}).json().x` },
    { name: 'env value compared with wrong type', expression: 'object.spec.containers[0].env[0].value > 1' },
    { name: 'validation returning the secret', expression: token, bool: true },
  ])('$name', ({ expression, bool }) => {
    const result = run(expression, podWithSecret(), bool ? { expectBool: true } : undefined);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).not.toContain(SECRET);
      expect(result.error).not.toContain('hunter2');
      expect(result.error).toMatch(/\(line \d+, column \d+\)$/);
    }
  });

  it('names a key written in the expression', () => {
    expect(run('object.spec.hostNetwork', podWithSecret())).toEqual({ ok: false, error: 'no such key: hostNetwork (line 1, column 13)' });
  });
});

describe('huge or deep inputs evaluate or fail clearly, and never throw', () => {
  const big = { items: Array.from({ length: 100_000 }, (_, i) => i) };
  it.each([
    { name: 'all() over 100k elements', expression: 'object.items.all(x, x >= 0)', expected: true },
    { name: 'map() over 100k elements', expression: 'object.items.map(x, x * 2).size()', expected: 100_000n },
    { name: 'filter() over 100k elements', expression: 'object.items.filter(x, x % 2 == 0).size()', expected: 50_000n },
    { name: 'membership in 100k elements', expression: '99999 in object.items', expected: true },
  ])('$name', ({ expression, expected }) => {
    expect(valueOf(expression, objectActivation(big))).toBe(expected);
  });

  function deeplyNested(depth: number): unknown {
    const root: Record<string, unknown> = {};
    let node = root;
    for (let i = 0; i < depth; i++) node = (node.a = {}) as Record<string, unknown>;
    return root;
  }

  it('converts a 100k-deep object without recursion', () => {
    expect(valueOf('has(object.a.a.a)', objectActivation(deeplyNested(100_000)))).toBe(true);
  });

  it('deep equality beyond the stack is an evaluation error', () => {
    const nested = deeplyNested(100_000);
    const activation = toCelActivation({ object: nested, oldObject: nested, request: {}, namespaceObject: null });
    expect(run('object == oldObject', activation)).toEqual({ ok: false, error: 'evaluation exceeded a size or depth limit (line 1, column 1)' });
  });

  it('a string growing past the engine limit is an evaluation error', () => {
    const expression = 'cel.bind(a, object.s + object.s, cel.bind(b, a + a, cel.bind(c, b + b, c + c + c + c + c + c + c + c)))';
    expect(run(expression, objectActivation({ s: 'x'.repeat(20_000_000) }))).toEqual({ ok: false, error: 'evaluation exceeded a size or depth limit (line 1, column 1)' });
  });

  it('a key like __proto__ or constructor is only data', () => {
    const object = JSON.parse('{"__proto__": {"polluted": true}, "metadata": {}}');
    const activation = objectActivation(object);
    expect(valueOf("object['__proto__'].polluted && !has(object.metadata.constructor)", activation)).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('the API refuses what it did not produce', () => {
  it.each([
    { name: 'a program not from compileCel', program: { source: 'true', resultType: 'bool', nodes: 1, cooperative: true, identifiers: new Set<string>() }, activation: objectActivation({}), error: 'not a program compiled by compileCel' },
    { name: 'raw variables instead of toCelActivation', program: undefined, activation: { object: {}, oldObject: null, request: {}, namespaceObject: null }, error: 'variables were not prepared by toCelActivation' },
  ])('$name', ({ program, activation, error }) => {
    const compiled = compileCel('true');
    if (!compiled.ok) expect.fail('true must compile');
    expect(evaluateCel(program ?? compiled.program, activation)).toEqual({ ok: false, error });
  });

  it('a dyn validation that returns a non-bool is an evaluation error', () => {
    expect(run('object.kind', objectActivation({ kind: 'Pod' }), { expectBool: true })).toEqual({ ok: false, error: 'expression must evaluate to bool, got string (line 1, column 1)' });
  });
});
