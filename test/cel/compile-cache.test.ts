/**
 * Expressions and label patterns are compiled once per distinct text (and, for CEL, options):
 * what one compile gave is what every later compile of the same text gives, guardrails that
 * share an expression each keep their own message, and other options compile on their own.
 */
import { describe, expect, it } from 'vitest';
import { compileCel } from '../../src/engine/cel/index.js';
import { objectKindsOf } from '../../src/engine/targets.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { formatProblem } from '../../src/policy/problems.js';
import { podValidationFindings } from './cel-helpers.js';

const API = 'tierguard.dev/v1alpha1';
const TIER = { apiVersion: API, kind: 'Tier', metadata: { name: 'security' }, spec: { priority: 10 } };

function compileSet(guardrails: readonly Record<string, unknown>[]) {
  const documents = [TIER, ...guardrails].map((value, i) => ({ source: { file: 'test', document: i + 1 }, value }));
  return compilePolicySet({ documents }, { generation: 1, shadows: 'none' });
}

const guardrail = (name: string, spec: Record<string, unknown>) => ({ apiVersion: API, kind: 'Guardrail', metadata: { name }, spec: { tier: 'security', priority: 1, ...spec } });

describe('a CEL expression compiled again', () => {
  it('with other options is compiled for them, in any order', () => {
    for (let round = 0; round < 2; round += 1) {
      expect(compileCel("'text'", { expectBool: true })).toMatchObject({ ok: false, error: { message: 'expression must return bool, but returns string' } });
      expect(compileCel("'text'", { expectString: true })).toMatchObject({ ok: true });
      expect(compileCel("'text'")).toMatchObject({ ok: true });
    }
    const expression = "object.spec.containers.all(c, c.image.startsWith('registry.example/'))";
    for (let round = 0; round < 2; round += 1) {
      expect(compileCel(expression, { expectBool: true, objectKinds: objectKindsOf(['Pod']) })).toMatchObject({ ok: true, warning: { message: "no field 'containers'", on: 'workloads' } });
      expect(compileCel(expression, { expectBool: true, objectKinds: ['Pod'] })).not.toHaveProperty('warning');
      expect(compileCel(expression, { expectBool: true, objectKinds: ['Deployment'] })).toMatchObject({ ok: false, error: { message: "no field 'containers' in DeploymentSpec" } });
    }
  });

  it('with the same options gives the same program, and an error the same error', () => {
    const first = compileCel("object.metadata.name.startsWith('ok-')", { expectBool: true, objectKinds: ['Pod'] });
    expect(compileCel("object.metadata.name.startsWith('ok-')", { expectBool: true, objectKinds: ['Pod'] })).toBe(first);
    const error = compileCel('object.spec.replicas +', { expectBool: true });
    expect(compileCel('object.spec.replicas +', { expectBool: true })).toEqual(error);
  });
});

describe('guardrails that share an expression', () => {
  it('share its program, and each denies with its own guardrail, rule and message', () => {
    const expression = "object.metadata.name.startsWith('ok-')";
    const { set, problems } = compileSet([
      guardrail('names-a', { validations: [{ resources: ['Pod'], expression, message: 'team A: names start with ok-' }] }),
      guardrail('names-b', { validations: [{ resources: ['Pod'], expression: 'true', message: 'never' }, { resources: ['Pod'], expression, messageExpression: "'team B: ' + object.metadata.name" }] }),
    ]);
    expect(problems).toEqual([]);
    const guardrails = set!.validationGuardrails.Pod;
    const programs = guardrails.flatMap((entry) => entry.validations ?? []).filter((validation) => validation.expression === expression).map((validation) => validation.program);
    expect(programs).toHaveLength(2);
    expect(programs[0]).toBe(programs[1]);
    expect(podValidationFindings(guardrails, 'api').map(({ guardrail: name, rule, message }) => ({ name, rule, message }))).toEqual([
      { name: 'names-a', rule: 'validations[0]', message: 'team A: names start with ok-' },
      { name: 'names-b', rule: 'validations[1]', message: 'team B: api' },
    ]);
    expect(podValidationFindings(guardrails, 'ok-api')).toEqual([]);
  });
});

describe('label patterns', () => {
  it('shared by guardrails hold for each, and an invalid one is reported for every guardrail that has it', () => {
    const labels = (pattern: string) => ({ labels: { match: { resources: ['Pod'] }, required: [{ key: 'team', pattern }] } });
    const good = compileSet([guardrail('a', labels('[a-z]+')), guardrail('b', labels('[a-z]+'))]);
    expect(good.problems).toEqual([]);
    const patterns = good.set!.guardrails.map((entry) => entry.labels?.required[0]?.pattern);
    expect(patterns.map((pattern) => [pattern?.test('payments'), pattern?.test('Payments'), pattern?.test('pay-ments')])).toEqual([[true, false, false], [true, false, false]]);

    for (let round = 0; round < 2; round += 1) {
      const bad = compileSet([guardrail('a', labels('(a')), guardrail('b', labels('(a'))]);
      expect(bad.problems.map(formatProblem)).toEqual([
        'test#2 (Guardrail a) spec.labels.required[0].pattern: invalid RE2 pattern: error parsing regexp: missing closing ): `(a`',
        'test#3 (Guardrail b) spec.labels.required[0].pattern: invalid RE2 pattern: error parsing regexp: missing closing ): `(a`',
      ]);
    }
  });
});
