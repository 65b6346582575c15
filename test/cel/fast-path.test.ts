/**
 * The closures of src/engine/cel/fast-path.ts answer only where the library answers the same:
 * over generated objects (Pod-like ones and arbitrary JSON, wrong types, doubles and `constructor`
 * keys included), whenever they answer on the JSON values, the library's value on the converted
 * ones is theirs, and otherwise they give up
 * (never throw anything else). The corpus is the bench's realistic set and expressions written for
 * each form the closures cover. The time bound is asked at each step of their loops.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateRealisticSet } from '../../bench/realistic-set.mjs';
import { celEnvironment } from '../../src/engine/cel/environment.js';
import { compileFastPath, GIVE_UP } from '../../src/engine/cel/fast-path.js';
import { CelDeadlineError, compileCel, evaluateCel, evaluateWithin, toCelActivation } from '../../src/engine/cel/index.js';
import type { CompiledCelProgram } from '../../src/engine/cel/compile.js';
import { rewriteParsedExpression } from '../../src/engine/cel/rewrite.js';

const WRITTEN = [
  'has(object.spec.a)',
  'has(object.spec.m.k) || has(object.metadata.labels.owner)',
  "object.spec.x == 1 || object.spec.s == 'a' || object.spec.b == true",
  "object.spec.x != 'a'",
  'object.spec.x < 3 && object.spec.x >= 0 || object.spec.x > 7 || object.spec.x <= 5',
  "object.spec.l.all(e, e == 'a')",
  "object.spec.l.exists(e, e.startsWith('a'))",
  'object.spec.l.all(e, e.all(e, e == 1))',
  'object.spec.l.exists(e, object.spec.l.all(f, f == e))',
  'size(object.spec.l) > 1',
  'object.spec.l.size() == 0',
  "object.?spec.?m.orValue({}).size() >= 1 || object.?spec.?l.orValue([]).size() > 0",
  'object.spec.b || object.spec.c',
  'object.spec.b && !object.spec.c',
  "object.kind == 'Pod' ? object.spec.b : object.spec.c",
  "object.?spec.?m[?'k'].orValue('') == 'v'",
  "object.?spec.?x.orValue('d') == 'd'",
  "object.?spec.?s.orValue(object.metadata.name) == 'a'",
  'object.?spec.?b.orValue(false)',
  "object.metadata['labels'].owner == 'a'",
  "dyn(object).spec.s.contains('a') || object.spec.s.endsWith('z')",
  "namespaceObject.?metadata.?labels[?'env'].orValue('') != 'prod' || request.operation == 'CREATE'",
  "object.metadata.name.matches('^[a-z]+-(allow|deny)-') || object.spec.s.matches('a')",
  'cidr(object.spec.s).prefixLength() > 8',
  "cidr(object.spec.s).containsIP('10.1.2.3') || cidr(object.spec.s).containsIP(object.spec.x)",
  "cidr(object.spec.s).containsIP(ip('::1')) || cidr('10.0.0.0/8').containsCIDR(object.spec.s)",
  'cidr(object.spec.s).ip().family() == 4 || ip(object.spec.s).family() == 6',
  'object.spec.l.all(e, cidr(e).prefixLength() >= 13)',
] as const;

/** `messageExpression`s: the closures must yield a string. */
const WRITTEN_MESSAGES = [
  "'pod ' + object.metadata.name + ' must set runAsNonRoot'",
  "object.spec.s + '/' + object.kind",
  "object.?metadata.?labels[?'owner'].orValue('nobody') + ' owns ' + object.metadata.name",
] as const;

const REALISTIC_VALIDATIONS: readonly { expression: string; messageExpression?: string }[] = generateRealisticSet({ seed: 1, guardrails: 100, namespaces: 10 }).guardrails.flatMap((guardrail) => guardrail.spec.validations ?? []);

const CORPUS: readonly string[] = [...new Set(REALISTIC_VALIDATIONS.map((validation) => validation.expression)), ...WRITTEN];
const MESSAGES: readonly string[] = [...new Set(REALISTIC_VALIDATIONS.flatMap((validation) => validation.messageExpression ?? [])), ...WRITTEN_MESSAGES];

/** The library alone: as compileCel parses, rewrites and checks, without the closures. */
function libraryProgram(expression: string) {
  const parsed = celEnvironment().parse(expression);
  expect(rewriteParsedExpression(parsed.ast)).toBeUndefined();
  const checked = parsed.check();
  expect(checked.valid, `${expression}: ${String(checked.error)}`).toBe(true);
  return parsed;
}

const KEYS = ['kind', 'spec', 'metadata', 'labels', 'name', 'containers', 'initContainers', 'image', 'securityContext', 'privileged', 'allowPrivilegeEscalation', 'runAsNonRoot', 'ports', 'hostPort', 'resources', 'limits', 'cpu', 'volumes', 'hostPath', 'hostNetwork', 'hostPID', 'hostIPC', 'template', 'jobTemplate', 'serviceAccountName', 'podSelector', 'matchLabels', 'matchExpressions', 'owner', 'app.kubernetes.io/name', 'ingress', 'egress', 'from', 'to', 'ipBlock', 'cidr', 'except', 'x', 'l', 'm', 'k', 'a', 'b', 'c', 's', 'constructor'];
const STRINGS = ['', 'a', 'v', 'z', 'abz', 'Pod', 'CronJob', 'prod', 'staging', 'default', 'true', 'mirror.gcr.io/app:1', 'registry.example.com/x:latest', 'busybox', 'x@sha256:00', '500m', 'api-allow-web'];
// Addresses and CIDRs as Kubernetes reads them and not: a leading zero, a prefix too long, IPv4-mapped IPv6.
const ADDRESSES = ['10.0.0.0/8', '10.1.0.0/16', '169.254.0.0/16', '169.254.170.2/32', '0.0.0.0/0', '192.168.1.7/24', 'fd00::/48', '::/0', '10.1.2.3', '169.254.170.2', '::1', '10.0.0.0/33', '010.0.0.0/8', '::ffff:10.0.0.1', '10.0.0.0'];

// Numbers as JSON has them: integers, a double, -0, integers past 2^53 and past int64 (a double to CEL).
const leaf = fc.oneof(fc.constantFrom(...STRINGS, ...ADDRESSES), fc.boolean(), fc.integer({ min: -2, max: 9 }), fc.constantFrom(1.5, -0, 2 ** 53, 1e20), fc.constant(null));
const { json } = fc.letrec<{ json: unknown }>((tie) => ({
  json: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('json'), { maxLength: 3 }), fc.dictionary(fc.constantFrom(...KEYS), tie('json'), { maxKeys: 4 })),
}));
/** A field that is mostly what the expressions expect and sometimes anything. */
const mostly = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ weight: 5, arbitrary }, { weight: 1, arbitrary: json });
const container = fc.record({
  image: mostly(fc.constantFrom(...STRINGS)),
  securityContext: mostly(fc.record({ privileged: mostly(fc.boolean()), allowPrivilegeEscalation: mostly(fc.boolean()), runAsNonRoot: mostly(fc.boolean()) }, { requiredKeys: [] })),
  ports: mostly(fc.array(fc.record({ hostPort: mostly(fc.integer({ min: 0, max: 3 })) }, { requiredKeys: [] }), { maxLength: 2 })),
  resources: mostly(fc.record({ limits: mostly(fc.dictionary(fc.constantFrom('cpu', 'memory'), fc.constantFrom('', '500m'))) }, { requiredKeys: [] })),
}, { requiredKeys: [] });
const peer = fc.record({ ipBlock: mostly(fc.record({ cidr: mostly(fc.constantFrom(...ADDRESSES)), except: mostly(fc.array(fc.constantFrom(...ADDRESSES), { maxLength: 2 })) }, { requiredKeys: [] })) }, { requiredKeys: [] });
const networkRules = (peers: 'from' | 'to') => mostly(fc.array(fc.record({ [peers]: mostly(fc.array(peer, { maxLength: 2 })) }, { requiredKeys: [] }), { maxLength: 2 }));
const podSpec = fc.record({
  containers: mostly(fc.array(container, { maxLength: 3 })),
  initContainers: mostly(fc.array(container, { maxLength: 1 })),
  volumes: mostly(fc.array(fc.dictionary(fc.constantFrom('name', 'hostPath', 'emptyDir'), json, { maxKeys: 2 }), { maxLength: 2 })),
  hostNetwork: mostly(fc.boolean()),
  hostPID: mostly(fc.boolean()),
  hostIPC: mostly(fc.boolean()),
  serviceAccountName: mostly(fc.constantFrom('default', 'api')),
  securityContext: mostly(fc.record({ runAsNonRoot: mostly(fc.boolean()) }, { requiredKeys: [] })),
  ingress: networkRules('from'),
  egress: networkRules('to'),
  x: mostly(fc.constantFrom(...ADDRESSES)), l: mostly(fc.array(fc.oneof(json, fc.constantFrom(...ADDRESSES)), { maxLength: 3 })), m: json, a: json, b: mostly(fc.boolean()), c: mostly(fc.boolean()),
  s: mostly(fc.constantFrom(...STRINGS, ...ADDRESSES)),
  podSelector: mostly(fc.record({ matchLabels: mostly(fc.dictionary(fc.constantFrom('app', 'tier'), fc.constantFrom('a', 'b'))), matchExpressions: fc.array(json, { maxLength: 1 }) }, { requiredKeys: [] })),
}, { requiredKeys: [] });
const podLike = fc.record({
  kind: mostly(fc.constantFrom('Pod', 'CronJob', 'Deployment')),
  metadata: mostly(fc.record({ name: fc.constantFrom('api-0', 'web', 'api-allow-web', 'x-deny-y', 'Api-allow-b'), labels: mostly(fc.dictionary(fc.constantFrom('owner', 'app.kubernetes.io/name', 'env', 'constructor'), fc.constantFrom('', 'a'))) }, { requiredKeys: [] })),
  spec: mostly(fc.oneof(podSpec, fc.record({ template: fc.record({ spec: podSpec }) }), fc.record({ jobTemplate: fc.record({ spec: fc.record({ template: fc.record({ spec: podSpec }) }) }) }))),
}, { requiredKeys: [] });
const variables = fc.record({
  object: fc.oneof({ weight: 4, arbitrary: podLike }, { weight: 1, arbitrary: json }),
  env: fc.constantFrom(undefined, 'prod', 'staging', ''),
  operation: fc.constantFrom('CREATE', 'UPDATE'),
}).map(({ object, env, operation }) => toCelActivation({
  object,
  oldObject: null,
  request: { operation, namespace: 'payments' },
  namespaceObject: { metadata: { name: 'payments', labels: env === undefined ? {} : { env } } },
}) as { variables: Readonly<Record<string, unknown>>; raw: Readonly<Record<string, unknown>> });

describe('the CEL fast path', () => {
  it('takes the common forms and leaves the rest to the library', () => {
    const fast = (expression: string, options: { expectBool?: boolean; expectString?: boolean } = { expectBool: true }) => {
      const compiled = compileCel(expression, options);
      if (!compiled.ok) throw new Error(compiled.error.message);
      return (compiled.program as CompiledCelProgram).hasFastPath;
    };
    for (const expression of WRITTEN) expect(fast(expression), expression).toBe(true);
    expect(fast('object.metadata.name.matches(object.spec.s)')).toBe(false);
    expect(fast("cidr('10.0.0.0/8').masked() == cidr('10.0.0.0/8')")).toBe(false);
    expect(fast('ip(object.spec.s).isLoopback()')).toBe(false);
    expect(fast('object.spec.x + 1 > 2')).toBe(false);
    expect(fast("object.kind in ['Pod']")).toBe(false);
    expect(fast('object.spec.x == 1.5')).toBe(false);
    expect(fast('object.spec.x == 0u')).toBe(false);
    for (const expression of MESSAGES) expect(fast(expression, { expectString: true }), expression).toBe(true);
    expect(fast('object.metadata.name.lowerAscii()', { expectString: true })).toBe(false);
    const realistic = CORPUS.slice(0, -WRITTEN.length);
    // all 20: the 5 with `matches` or `cidr()` too since the closures cover them
    expect(realistic.filter((expression) => fast(expression)).length).toBe(realistic.length);
  });

  it('answers only as the library does, over generated objects', () => {
    let answered = 0;
    let gaveUp = 0;
    const cases = [...CORPUS.map((expression) => ({ expression, result: 'bool' as const })), ...MESSAGES.map((expression) => ({ expression, result: 'string' as const }))];
    for (const { expression, result } of cases) {
      const library = libraryProgram(expression);
      const fast = compileFastPath(library.ast, result);
      if (!fast) continue;
      let mine = 0;
      fc.assert(fc.property(variables, (activation) => {
        let value: unknown;
        try {
          value = fast(activation.raw);
        } catch (error) {
          expect(error).toBe(GIVE_UP);
          gaveUp++;
          return;
        }
        mine++;
        answered++;
        expect(library(activation.variables as Record<string, unknown>), expression).toBe(value);
      }), { numRuns: 300, seed: 11 });
      // Each expression's closures answered for some objects: the comparison above was made.
      expect(mine, expression).toBeGreaterThan(0);
    }
    // And not only on a few objects: a fifth of all the cases, at least, were answered (about a third when written).
    expect(answered * 5).toBeGreaterThan(answered + gaveUp);
  });

  it('leaves to the library what it does not answer, errors included', () => {
    const program = (expression: string) => {
      const compiled = compileCel(expression, { expectBool: true });
      if (!compiled.ok) throw new Error(compiled.error.message);
      expect((compiled.program as CompiledCelProgram).hasFastPath).toBe(true);
      return compiled.program;
    };
    const on = (spec: unknown) => toCelActivation({ object: { spec }, oldObject: null, request: {}, namespaceObject: null });
    // A comparison with null, a map with a `constructor` key, an int against a double: the library's answers.
    expect(evaluateCel(program('object.spec.x == null'), on({ x: null }))).toEqual({ ok: true, value: true });
    expect(evaluateCel(program('object.spec.x == null'), on({ x: 'a' }))).toEqual({ ok: true, value: false });
    expect(evaluateCel(program("has(object.spec.m.k)"), on({ m: { constructor: 'x', k: 'y' } }))).toEqual({ ok: true, value: true });
    expect(evaluateCel(program('object.spec.x == 1'), on({ x: 1.0 }))).toEqual({ ok: true, value: true });
    expect(evaluateCel(program('object.spec.x == 1'), on({ x: 1.5 }))).toEqual({ ok: true, value: false });
    // The library's error, with its position.
    expect(evaluateCel(program("object.spec.s.startsWith('a')"), on({}))).toEqual({ ok: false, error: 'no such key: s (line 1, column 13)' });
    expect(evaluateCel(program('object.spec.b && true'), on({ b: 'yes' }))).toMatchObject({ ok: false });
  });

  it('writes none of the expression into its code, and reads a key Object.prototype has only from the map itself', () => {
    // Field names and literals that would be code, or would find Object.prototype's members.
    const key = "x'); throw 1; ('";
    const literal = '"; k = 0; //';
    const expression = `object.?metadata.?labels[?${JSON.stringify(key)}].orValue('') == ${JSON.stringify(literal)} || object.spec.toString == 'a' || object.spec['__proto__'] == 'b' || has(object.spec.constructor)`;
    const library = libraryProgram(expression);
    const fast = compileFastPath(library.ast, 'bool');
    expect(fast).toBeDefined();
    const code = String(fast);
    for (const text of ['throw 1', 'k = 0', 'toString', '__proto__', 'constructor', 'labels', 'metadata', 'spec']) expect(code).not.toContain(text);
    const answer = (json: string) => {
      const activation = toCelActivation({ object: JSON.parse(json), oldObject: null, request: {}, namespaceObject: null }) as { variables: Record<string, unknown>; raw: Readonly<Record<string, unknown>> };
      try {
        return fast!(activation.raw);
      } catch (error) {
        expect(error).toBe(GIVE_UP);
        return GIVE_UP;
      }
    };
    expect(answer(JSON.stringify({ metadata: { labels: { [key]: literal } } }))).toBe(true);
    expect(answer('{"spec": {"toString": "a"}}')).toBe(true);
    expect(answer('{"spec": {"toString": "z", "__proto__": "b"}}')).toBe(true);
    expect(answer('{"spec": {"toString": "z", "__proto__": "z", "constructor": 1}}')).toBe(GIVE_UP);
    // Object.prototype's `toString` is not a field of the map: the library says so, not the fast path.
    expect(answer('{"spec": {}}')).toBe(GIVE_UP);
    const absent = libraryProgram('!has(object.spec.toString) && !has(object.spec.constructor) && !has(object.spec.__proto__)');
    const absentFast = compileFastPath(absent.ast, 'bool');
    for (const spec of ['{}', '{"toString": 1}', '{"constructor": 1}', '{"__proto__": 1}']) {
      const activation = toCelActivation({ object: JSON.parse(`{"spec": ${spec}}`), oldObject: null, request: {}, namespaceObject: null }) as { variables: Record<string, unknown>; raw: Readonly<Record<string, unknown>> };
      expect(absent(activation.variables), spec).toBe(spec === '{}');
      // A map with a `constructor` key is a `Map` to the library (./activation.ts): the fast path leaves it.
      let fast: unknown;
      try {
        fast = absentFast!(activation.raw);
      } catch (error) {
        fast = error;
      }
      expect(fast, spec).toBe(spec === '{"constructor": 1}' ? GIVE_UP : spec === '{}');
    }
    const compiled = compileCel('object.spec.toString == "a"', { expectBool: true });
    if (!compiled.ok) throw new Error(compiled.error.message);
    expect(evaluateCel(compiled.program, toCelActivation({ object: { spec: {} }, oldObject: null, request: {}, namespaceObject: null }))).toEqual({ ok: false, error: 'no such key: toString (line 1, column 13)' });
  });

  it('asks the time bound at each step of its loops', () => {
    const compiled = compileCel("object.spec.l.all(e, e == 'a')", { expectBool: true });
    if (!compiled.ok) throw new Error(compiled.error.message);
    expect((compiled.program as CompiledCelProgram).hasFastPath).toBe(true);
    const activation = toCelActivation({ object: { spec: { l: ['a', 'a', 'a', 'b'] } }, oldObject: null, request: {}, namespaceObject: null });
    let reads = 0;
    expect(evaluateWithin(() => ++reads > 10, () => evaluateCel(compiled.program, activation))).toEqual({ ok: true, value: false });
    expect(reads).toBe(4);
    reads = 0;
    expect(() => evaluateWithin(() => ++reads >= 3, () => evaluateCel(compiled.program, activation))).toThrow(CelDeadlineError);
    expect(reads).toBe(3);
  });
});
