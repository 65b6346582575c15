/**
 * The two time bounds of CEL validations (src/engine/cel/deadline.ts, src/admission/bounded.ts):
 * expressions whose only loops are `all`/`exists`/`exists_one` get the cooperative bound, asked at
 * every comprehension step and between expressions; `map`, `filter`, `cel.bind` and `replace`, or
 * an object too large for the work between two checks to stay small, get the hard `vm` bound.
 * The deadline here is a count of clock reads, not a clock: nothing is timed.
 */
import { describe, expect, it } from 'vitest';
import { boundedRunner } from '../../src/review/bounded.js';
import { compileCel, evaluateWithin } from '../../src/engine/cel/index.js';
import type { CompiledGuardrail } from '../../src/engine/policy-set.js';
import { COOPERATIVE_MAX_WORK, evaluateValidations, type BoundedRunner } from '../../src/engine/validations.js';
import { compilePolicySet } from '../../src/policy/compile.js';

const API = 'tierguard.dev/v1alpha1';

function guardrailsWith(expressions: readonly string[]): readonly CompiledGuardrail[] {
  const documents = [
    { apiVersion: API, kind: 'Tier', metadata: { name: 'security' }, spec: { priority: 10 } },
    {
      apiVersion: API, kind: 'Guardrail', metadata: { name: 'cel' },
      spec: { tier: 'security', priority: 1, validations: expressions.map((expression, i) => ({ resources: ['Pod'], expression, message: `m${i}` })) },
    },
  ].map((value, i) => ({ source: { file: 'test', document: i + 1 }, value }));
  const { set, problems } = compilePolicySet({ documents }, { generation: 1, shadows: 'none' });
  if (!set) throw new Error(problems.map((p) => p.message).join('; '));
  return set.validationGuardrails.Pod;
}

function pod(containers: number, image = 'busybox') {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api-0', namespace: 'payments' }, spec: { containers: Array.from({ length: containers }, (_, i) => ({ name: `c${i}`, image })) } };
}

/** A runner whose bounds are recorded; the cooperative one expires after `reads` reads of its clock. */
function recordingRunner(reads = Infinity) {
  const used: string[] = [];
  let asked = 0;
  const hard = <T>(fn: () => T): T => {
    used.push('hard');
    return fn();
  };
  const cooperative = <T>(fn: () => T): T => {
    used.push('cooperative');
    return evaluateWithin(() => ++asked >= reads, fn);
  };
  const runner: BoundedRunner = Object.assign(hard, { cooperative, timeoutMs: 50 });
  return { runner, used, asked: () => asked };
}

function evaluate(expressions: readonly string[], object: unknown, runner: BoundedRunner, annotations: Record<string, string> = {}) {
  const { findings, errors } = evaluateValidations({
    guardrails: guardrailsWith(expressions),
    resources: new Set(['Pod']),
    object,
    oldObject: null,
    request: { operation: 'CREATE' },
    namespace: { name: 'payments', labels: {}, annotations },
    runBounded: runner,
    maxObjectValues: 200_000,
    maxValidations: 500,
  });
  return { findings, errors };
}

const CUBIC = "object.spec.containers.all(a, object.spec.containers.all(b, object.spec.containers.all(c, a.name != '' || b.name != '' || c.name != '')))";

describe('which bound an expression gets', () => {
  it.each([
    { expression: "object.spec.containers.all(c, c.image.startsWith('registry/'))", cooperative: true },
    { expression: 'object.spec.containers.all(c, c.?ports.orValue([]).all(p, p.?hostPort.orValue(0) == 0))', cooperative: true },
    { expression: "object.spec.containers.exists_one(c, c.name == 'x') || object.metadata.name.matches('^a')", cooperative: true },
    { expression: CUBIC, cooperative: true },
    { expression: "object.spec.containers.map(c, c.image).all(i, i != '')", cooperative: false },
    { expression: "object.spec.containers.filter(c, c.image == '').size() == 0", cooperative: false },
    { expression: 'cel.bind(n, object.spec.containers.size(), n < 9)', cooperative: false },
    { expression: "object.metadata.name.replace('a', 'bb') != ''", cooperative: false },
  ])('$expression: cooperative $cooperative', ({ expression, cooperative }) => {
    const compiled = compileCel(expression, { expectBool: true });
    if (!compiled.ok) expect.fail(compiled.error.message);
    expect(compiled.program.cooperative).toBe(cooperative);
    expect(compiled.program.nodes).toBeGreaterThan(3);

    const { runner, used } = recordingRunner();
    const { errors } = evaluate([expression], pod(2), runner);
    expect(errors).toEqual([]);
    expect(used).toEqual([cooperative ? 'cooperative' : 'hard']);
  });

  it(`takes the hard bound when nodes times the object's size passes ${COOPERATIVE_MAX_WORK}`, () => {
    const expression = "object.spec.containers.all(c, c.image.startsWith('registry/'))";
    const nodes = (compileCel(expression, { expectBool: true }) as { program: { nodes: number } }).program.nodes;
    const small = recordingRunner();
    evaluate([expression], pod(2), small.runner);
    expect(small.used).toEqual(['cooperative']);
    // One image long enough that nodes × characters passes the bound.
    const large = recordingRunner();
    evaluate([expression], pod(1, 'r'.repeat(Math.ceil(COOPERATIVE_MAX_WORK / nodes) + 1)), large.runner);
    expect(large.used).toEqual(['hard']);
    // The namespace counts too: its annotations may hold 256 kB that an expression can read.
    const annotated = recordingRunner();
    evaluate([expression], pod(2), annotated.runner, { note: 'n'.repeat(Math.ceil(COOPERATIVE_MAX_WORK / nodes) + 1) });
    expect(annotated.used).toEqual(['hard']);
  });
});

describe('the cooperative bound', () => {
  it('stops a cubic expression at the first comprehension step after the deadline, and names the bound', () => {
    // 60 containers: 216,000 steps; the clock says the deadline passed at its 10th reading.
    const { runner, asked } = recordingRunner(10);
    const { findings, errors } = evaluate([CUBIC, "object.metadata.name != ''"], pod(60), runner);
    expect(findings).toEqual([]);
    expect(errors).toEqual([{
      tier: 'security', guardrail: 'cel', rule: 'validations[0]',
      message: 'evaluation exceeded the time limit of 50 ms for one request (--cel-timeout) (1 later validation not evaluated)',
    }]);
    // Each enclosing `all` catches the error of its step and tries the next one, which asks again:
    // one reading per level of nesting after the first, not one per remaining step.
    expect(asked()).toBeLessThan(20);
  });

  it('stops between expressions too, when one without a loop ends after the deadline', () => {
    // The clock is read before each expression: the second reading says the deadline passed.
    const { runner } = recordingRunner(2);
    const { findings, errors } = evaluate(["object.metadata.name == 'x'", "object.metadata.name != 'x'", "object.metadata.name != 'y'"], pod(1), runner);
    expect(findings.map((f) => f.rule)).toEqual(['validations[0]']);
    expect(errors).toEqual([{
      tier: 'security', guardrail: 'cel', rule: 'validations[1]',
      message: 'evaluation exceeded the time limit of 50 ms for one request (--cel-timeout) (1 later validation not evaluated)',
    }]);
  });

  it('stops findAll between two matches', () => {
    const { runner, asked } = recordingRunner(5);
    const object = { ...pod(1), metadata: { name: 'ab'.repeat(1000), namespace: 'payments' } };
    const { errors } = evaluate(["object.metadata.name.findAll('a').size() > 0"], object, runner);
    expect(errors.map((e) => e.message)).toEqual(['evaluation exceeded the time limit of 50 ms for one request (--cel-timeout)']);
    expect(asked()).toBe(5);
  });

  it('gives the same verdicts as the hard bound when there is time', () => {
    const expressions = [CUBIC, "object.spec.containers.all(c, c.image.startsWith('registry/'))", "object.spec.containers.exists(c, c.name == 'c1')"];
    const cooperative = evaluate(expressions, pod(5), recordingRunner().runner);
    const hard = evaluate(expressions, pod(5), Object.assign(<T>(fn: () => T): T => fn(), {}));
    expect(cooperative).toEqual(hard);
    expect(cooperative.findings.map((f) => f.rule)).toEqual(['validations[1]']);
  });

  it('through the runner serve uses: a clock deadline stops the cubic expression on 400 containers', () => {
    const { errors } = evaluate([CUBIC], pod(400), boundedRunner(20));
    expect(errors).toEqual([{ tier: 'security', guardrail: 'cel', rule: 'validations[0]', message: 'evaluation exceeded the time limit of 20 ms for one request (--cel-timeout)' }]);
  });
});
