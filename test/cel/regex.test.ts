import { describe, expect, it } from 'vitest';
import { compileCel } from '../../src/engine/cel/index.js';
import { fixtureActivation, objectActivation, run, valueOf, type FixtureName } from './cel-helpers.js';

describe('matches uses RE2 semantics', () => {
  it.each<{ name: string; fixture: FixtureName; expression: string; expected: unknown }>([
    { name: 'unanchored: a substring matches', fixture: 'validate-create-pod', expression: "object.metadata.name.matches('pi-')", expected: true },
    { name: 'anchored pattern', fixture: 'validate-create-pod', expression: "object.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')", expected: true },
    { name: 'no match', fixture: 'validate-create-pod', expression: "object.metadata.name.matches('^web')", expected: false },
    { name: 'global form matches(s, re)', fixture: 'validate-create-deployment', expression: "matches(object.spec.template.spec.containers[0].image, ':[0-9]+\\\\.[0-9]+$')", expected: true },
    { name: 'inside all()', fixture: 'validate-create-pod', expression: "object.spec.containers.all(c, c.image.matches('^nginx:'))", expected: true },
    { name: 'inside map() and filter()', fixture: 'validate-create-networkpolicy', expression: "object.metadata.labels.filter(k, k.matches('^app')).map(k, k.matches('kubernetes'))", expected: [true] },
    { name: 'inside cel.bind()', fixture: 'validate-create-pod', expression: "cel.bind(n, object.metadata.name, n.matches('-[0-9]+$'))", expected: true },
    { name: 'RE2 character classes', fixture: 'validate-create-pod', expression: "object.metadata.uid.matches('^[[:xdigit:]-]{36}$') && object.metadata.name.matches('\\\\d$')", expected: true },
    { name: 'RE2 inline flags', fixture: 'validate-create-pod', expression: "object.kind.matches('(?i)^POD$')", expected: true },
    { name: 'pattern computed from the object', fixture: 'validate-create-pod', expression: "object.metadata.labels['app.kubernetes.io/name'].matches('^' + object.metadata.labels.app + '$')", expected: true },
    { name: 'find (Kubernetes regex library)', fixture: 'validate-create-pod', expression: "object.spec.containers[0].image.find('[0-9.]+$')", expected: '1.27' },
    { name: 'find without a match is empty', fixture: 'validate-create-pod', expression: "object.metadata.name.find('[A-Z]+')", expected: '' },
    { name: 'findAll', fixture: 'validate-create-networkpolicy', expression: "object.metadata.name.findAll('[a-z]+')", expected: ['allow', 'api', 'from', 'frontend'] },
    { name: 'findAll with a limit', fixture: 'validate-create-networkpolicy', expression: "object.metadata.name.findAll('[a-z]+', 2)", expected: ['allow', 'api'] },
  ])('$name', ({ fixture, expression, expected }) => {
    expect(valueOf(expression, fixtureActivation(fixture))).toEqual(expected);
  });
});

describe('matches runs in linear time', () => {
  // No timing assertion: a backtracking engine would not finish these before the test timeout.
  it.each([
    { name: 'nested quantifier, no match', input: `${'a'.repeat(100_000)}!`, pattern: '^(a+)+$', expected: false },
    { name: 'nested quantifier, match', input: 'a'.repeat(100_000), pattern: '^(a+)+$', expected: true },
    { name: 'alternation blow-up', input: `${'a'.repeat(50_000)}b`, pattern: '^(a|aa)+$', expected: false },
    { name: 'the 26-character case that took 6 s with RegExp', input: `${'a'.repeat(26)}!`, pattern: '^(a+)+$', expected: false },
  ])('$name', ({ input, pattern, expected }) => {
    expect(valueOf(`object.value.matches('${pattern}')`, objectActivation({ value: input }))).toBe(expected);
  });

  it('a catastrophic pattern taken from the object is still linear', () => {
    const activation = objectActivation({ value: `${'a'.repeat(100_000)}!`, pattern: '^(a+)+$' });
    expect(valueOf('object.value.matches(object.pattern)', activation)).toBe(false);
  });
});

describe('invalid patterns', () => {
  it.each([
    { name: 'unclosed class', expression: "object.metadata.name.matches('[a-z')", column: 30, detail: 'missing closing ]' },
    { name: 'backreference (not RE2)', expression: "object.metadata.name.matches('(a)\\\\1')", column: 30, detail: 'invalid escape sequence' },
    { name: 'lookahead (not RE2)', expression: "object.metadata.name.matches('a(?=b)')", column: 30, detail: 'invalid or unsupported Perl syntax' },
    { name: 'global form', expression: "matches(object.metadata.name, '*')", column: 31, detail: 'missing argument to repetition operator' },
    { name: 'find', expression: "object.metadata.name.find('(')", column: 27, detail: 'missing closing )' },
    { name: 'second line', expression: "object.metadata.name != '' &&\n  object.metadata.name.matches('a{2,1}')", column: 32, detail: 'invalid repeat count' },
  ])('a literal $name is a compile error at the pattern', ({ expression, column, detail }) => {
    const compiled = compileCel(expression);
    expect(compiled.ok).toBe(false);
    if (compiled.ok) return;
    expect(compiled.error.column).toBe(column);
    expect(compiled.error.line).toBe(expression.includes('\n') ? 2 : 1);
    expect(compiled.error.message).toContain('invalid regular expression (RE2 syntax)');
    expect(compiled.error.message).toContain(detail);
  });

  it('a computed invalid pattern is an evaluation error that does not echo it', () => {
    const result = run("object.value.matches(object.value + '(')", objectActivation({ value: 'SECRET-token' }));
    expect(result).toEqual({ ok: false, error: 'invalid regular expression (RE2 syntax) (line 1, column 1)' });
  });

  it('matches on a non-string reports the name the author wrote', () => {
    const result = run("object.port.matches('^8')", objectActivation({ port: 8080 }));
    expect(result).toEqual({ ok: false, error: "found no matching overload for 'int.matches(string)' (line 1, column 1)" });
  });
});
