/**
 * The CEL variables are a converted copy of the request's JSON: integers as bigint, maps with no
 * inherited property at all, `undefined` dropped. Shallow levels are converted by recursion and
 * deeper ones iteratively; both must give the same value, whatever the depth.
 */
import { describe, expect, it } from 'vitest';
import { compileCel, evaluateCel, toCelActivation, toCelValue } from '../../src/engine/cel/index.js';

/** A plain rendering that shows bigints and which objects inherit anything. */
function render(value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return value.map(render);
  if (typeof value !== 'object' || value === null) return value;
  const inherits = ['constructor', 'toString', 'hasOwnProperty', '__proto__'].some((key) => key in value && !Object.prototype.hasOwnProperty.call(value, key));
  return { inherits, entries: Object.keys(value).map((key) => [key, render((value as Record<string, unknown>)[key])]) };
}

/** `depth` levels alternating objects and arrays, with scalars of every kind at each level. */
function nested(depth: number): unknown {
  let value: unknown = { leaf: 1 };
  for (let i = depth - 1; i >= 0; i--) {
    value = i % 2 === 0
      ? { n: i, half: i + 0.5, s: `s${i}`, t: true, z: null, u: undefined, child: value }
      : [i, value, undefined, 'x'];
  }
  return value;
}

/** What conversion must give for `nested(depth)`, built independently. */
function expected(depth: number): unknown {
  let value: unknown = { inherits: false, entries: [['leaf', '1n']] };
  for (let i = depth - 1; i >= 0; i--) {
    value = i % 2 === 0
      ? { inherits: false, entries: [['n', `${i}n`], ['half', i + 0.5], ['s', `s${i}`], ['t', true], ['z', null], ['child', value]] }
      : [`${i}n`, value, null, 'x'];
  }
  return value;
}

describe('toCelValue', () => {
  it.each([1, 2, 63, 64, 65, 66, 130, 300].map((depth) => ({ name: `${depth} levels`, depth })))('converts $name', ({ depth }) => {
    expect(render(toCelValue(nested(depth)))).toEqual(expected(depth));
  });

  it('keeps keys like __proto__ and toString as data, inheriting nothing', () => {
    const value = toCelValue(JSON.parse('{"__proto__": {"polluted": 1}, "toString": "c", "a": {}}')) as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(['__proto__', 'toString', 'a']);
    expect(render(value)).toEqual({ inherits: false, entries: [['__proto__', { inherits: false, entries: [['polluted', '1n']] }], ['toString', 'c'], ['a', { inherits: false, entries: [] }]] });
    expect((value.a as Record<string, unknown>).polluted).toBeUndefined();
    expect('toString' in (value.a as object)).toBe(false);
  });

  it('makes an object with a key constructor a Map (the library tells maps by value.constructor), at any depth', () => {
    for (const depth of [0, 3, 70]) {
      let input: unknown = JSON.parse('{"constructor": "c", "__proto__": {"n": 1}}');
      for (let i = 0; i < depth; i++) input = { a: input };
      let value = toCelValue(input);
      for (let i = 0; i < depth; i++) value = (value as Record<string, unknown>).a;
      expect(value).toEqual(new Map<string, unknown>([['constructor', 'c'], ['__proto__', expect.objectContaining({ n: 1n })]]));
    }
  });

  it('converts 10,000 levels of objects with a key constructor without deep recursion', () => {
    let input: Record<string, unknown> = { constructor: 'leaf' };
    for (let i = 0; i < 10_000; i++) input = { constructor: 'c', next: input };
    let value = toCelValue(input) as Map<string, unknown>;
    for (let i = 0; i < 10_000; i++) value = value.get('next') as Map<string, unknown>;
    expect(value).toEqual(new Map([['constructor', 'leaf']]));
  });

  it.each<{ expression: string; labels: Record<string, string>; value: boolean }>([
    { expression: "object.metadata.labels.all(k, k != 'bad')", labels: { constructor: 'x', bad: '1' }, value: false },
    { expression: "!('bad' in object.metadata.labels)", labels: { constructor: 'x', bad: '1' }, value: false },
    { expression: "object.metadata.labels['constructor'] == 'x'", labels: { constructor: 'x' }, value: true },
    { expression: "object.metadata.?labels[?'owner'].orValue('') != ''", labels: { constructor: 'x' }, value: false },
    { expression: 'size(object.metadata.labels) == 3', labels: { constructor: 'x', toString: 'y', hasOwnProperty: 'z' }, value: true },
    { expression: "object.metadata.labels == {'constructor': 'x'}", labels: { constructor: 'x' }, value: false },
  ])('judges labels $labels with a key constructor: $expression is $value', ({ expression, labels, value }) => {
    // A map literal drops a key `constructor` (library behaviour), so the last one compares unequal.
    const compiled = compileCel(expression, { expectBool: true });
    if (!compiled.ok) expect.fail(compiled.error.message);
    const activation = toCelActivation({ object: { metadata: { name: 'a', labels } }, oldObject: null, request: {}, namespaceObject: null });
    expect(evaluateCel(compiled.program, activation)).toEqual({ ok: true, value });
  });

  it('does not modify its input', () => {
    const input = nested(70);
    const before = JSON.stringify(input);
    toCelValue(input);
    expect(JSON.stringify(input)).toBe(before);
  });

  it.each([
    { name: 'a map of the object', expression: 'object.metadata', type: 'map' },
    { name: 'a map literal', expression: "dyn({'a': 1})", type: 'map' },
    { name: 'a list', expression: 'object.spec.containers', type: 'list' },
  ])('names $name a $type when a bool was expected', ({ expression, type }) => {
    const compiled = compileCel(expression, { expectBool: true });
    if (!compiled.ok) expect.fail(compiled.error.message);
    const activation = toCelActivation({ object: { metadata: { name: 'a' }, spec: { containers: [] } }, oldObject: null, request: {}, namespaceObject: null });
    expect(evaluateCel(compiled.program, activation)).toEqual({ ok: false, error: `expression must evaluate to bool, got ${type} (line 1, column 1)` });
  });
});
