/**
 * CEL validations type-checked against the Kubernetes schemas (src/engine/cel/typed.ts), as
 * ValidatingAdmissionPolicy types `object`, `oldObject`, `request` and `namespaceObject`. Each
 * refused expression is also run untyped on real AdmissionReview bodies, to show the check only
 * refuses what could never hold at run time; each accepted one is run to show it still works.
 */
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileCel, evaluateCel, type CelCompileOptions } from '../../src/engine/cel/index.js';
import { objectKindsOf } from '../../src/engine/targets.js';
import { celEnvironment } from '../../src/engine/cel/environment.js';
import { kindSignature, typedEnvironment, type CelObjectKind } from '../../src/engine/cel/typed.js';
import type { RuleResource } from '../../src/api/policy.js';
import { REPO_DIR } from '../helpers/fixtures.js';
import { fixtureActivation, type FixtureName } from './cel-helpers.js';

const POD_FIXTURES: readonly FixtureName[] = ['validate-create-pod', 'validate-create-deployment', 'validate-update-pod'];

function typed(expression: string, resources: readonly RuleResource[], options: CelCompileOptions = { expectBool: true }) {
  return compileCel(expression, { ...options, objectKinds: objectKindsOf(resources) });
}

/** Evaluates without the typed check (what the webhook did before it). */
function runUntyped(expression: string, fixture: FixtureName) {
  const compiled = compileCel(expression, { expectBool: true });
  if (!compiled.ok) throw new Error(`untyped compile failed: ${compiled.error.message}`);
  return evaluateCel(compiled.program, fixtureActivation(fixture));
}

describe('expressions the Kubernetes types refuse, with the position of the problem', () => {
  it.each([
    {
      name: 'a string function given an int (the issue\'s first example)',
      expression: 'object.spec.containers.all(c, c.image.startsWith(1))',
      resources: ['Pod'] as const,
      message: "found no matching overload for 'string.startsWith(int)' (when object is a Pod); no field 'containers' in DeploymentSpec, StatefulSetSpec, DaemonSetSpec, ReplicaSetSpec, JobSpec or CronJobSpec (when object is a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob) at line 1, column 13 (to read fields that only some kinds have, select them optionally, object.?spec.?template, or under dyn(object))",
      line: 1, column: 31,
    },
    { name: 'string plus int (the issue\'s second example)', expression: 'object.metadata.name + 1 == 2', resources: ['Pod'] as const, message: 'no such overload: string + int', line: 1, column: 1 },
    // Untyped, name + 1 is dyn + int, read as int, and the untyped check blamed the == 'x'.
    { name: 'string plus int, compared with a string', expression: "object.metadata.name + 1 == 'x'", resources: ['Pod'] as const, message: 'no such overload: string + int', line: 1, column: 1 },
    { name: 'a misspelt field', expression: 'object.spec.podSelecter.size() > 0', resources: ['NetworkPolicy'] as const, message: "no field 'podSelecter' in NetworkPolicySpec", line: 1, column: 13 },
    { name: 'a misspelt field on a later line', expression: "object.metadata.name != '' &&\n  object.metadata.lables.size() > 0", resources: ['Namespace'] as const, message: "no field 'lables' in ObjectMeta", line: 2, column: 19 },
    { name: 'an int field compared with a string', expression: "object.spec.containers.all(c, c.ports.all(p, p.containerPort == 'http'))", resources: ['Pod'] as const,
      message: "no such overload: int == string (when object is a Pod); no field 'containers' in DeploymentSpec, StatefulSetSpec, DaemonSetSpec, ReplicaSetSpec, JobSpec or CronJobSpec (when object is a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob) at line 1, column 13 (to read fields that only some kinds have, select them optionally, object.?spec.?template, or under dyn(object))",
      line: 1, column: 46,
    },
    { name: 'a bool field used as a string', expression: "object.spec.template.spec.hostNetwork.startsWith('t')", resources: ['Pod'] as const,
      message: "found no matching overload for 'bool.startsWith(string)' (when object is a Deployment, StatefulSet, DaemonSet, ReplicaSet or Job); no field 'template' in PodSpec or CronJobSpec (when object is a Pod or CronJob) at line 1, column 13 (to read fields that only some kinds have, select them optionally, object.?spec.?template, or under dyn(object))",
      line: 1, column: 1,
    },
    { name: 'a label map compared with a string', expression: "object.metadata.labels == 'team'", resources: ['NetworkPolicy'] as const, message: 'no such overload: map<string, string> == string', line: 1, column: 1 },
    { name: 'a request field Kubernetes does not declare', expression: "request.uid != ''", resources: ['NetworkPolicy'] as const, message: "no field 'uid' in AdmissionRequest", line: 1, column: 9 },
    { name: 'a request field of the wrong type', expression: 'request.dryRun == 1', resources: ['Namespace'] as const, message: 'no such overload: bool == int', line: 1, column: 1 },
    { name: 'namespaceObject beyond what tierguard passes', expression: "namespaceObject.status.phase == 'Active'", resources: ['Pod'] as const, message: "no field 'status' in NamespaceObject", line: 1, column: 17 },
    { name: 'a result that is a string', expression: 'object.metadata.name', resources: ['Namespace'] as const, message: 'expression must return bool, but returns string', line: 1, column: 1 },
  ])('$name', ({ expression, resources, message, line, column }) => {
    expect(typed(expression, resources)).toEqual({ ok: false, error: { message, line, column } });
  });

  it('a messageExpression is typed too', () => {
    expect(typed("'replicas: ' + object.spec.replicas", ['Pod'], { expectString: true })).toEqual({
      ok: false,
      error: {
        message: "no such overload: string + int (when object is a Deployment, StatefulSet or ReplicaSet); no field 'replicas' in PodSpec, DaemonSetSpec, JobSpec or CronJobSpec (when object is a Pod, DaemonSet, Job or CronJob) at line 1, column 28 (to read fields that only some kinds have, select them optionally, object.?spec.?template, or under dyn(object))",
        line: 1, column: 1,
      },
    });
  });

  it.each(POD_FIXTURES)('the refused Pod expressions fail at run time on %s too: the check refuses nothing that could work', (fixture) => {
    for (const expression of ['object.spec.containers.all(c, c.image.startsWith(1))', 'object.metadata.name + 1 == 2']) {
      const result = runUntyped(expression, fixture);
      expect(result.ok, `${expression} on ${fixture}`).toBe(false);
    }
  });
});

describe('expressions the Kubernetes types accept, which still work', () => {
  it.each([
    { name: 'the design\'s host-network rule (a field only Pods have, behind has())', expression: '!has(object.spec.hostNetwork) || !object.spec.hostNetwork', resources: ['Pod'] as const },
    { name: 'optional selection through every place a pod spec can be', expression: '!object.?spec.?hostNetwork.orValue(false) && !object.?spec.?template.?spec.?hostNetwork.orValue(false) && !object.?spec.?jobTemplate.?spec.?template.?spec.?hostNetwork.orValue(false)', resources: ['Pod'] as const },
    { name: 'a kind dispatch under dyn()', expression: "(object.kind == 'Pod' ? dyn(object).spec : dyn(object).spec.template.spec).containers.all(c, c.image != '')", resources: ['Pod'] as const },
    { name: 'oldObject is null on CREATE', expression: 'oldObject == null || oldObject.metadata.name == object.metadata.name', resources: ['Pod'] as const },
    { name: 'an update that changes nothing', expression: 'object != oldObject || true', resources: ['Pod'] as const },
    { name: 'int fields are int', expression: 'object.?spec.?containers.orValue([]).all(c, c.?ports.orValue([]).all(p, p.containerPort + 1 > 1))', resources: ['Pod'] as const },
    { name: 'request as Kubernetes declares it', expression: "request.operation in ['CREATE', 'UPDATE'] && request.kind.group in ['', 'apps'] && !request.userInfo.groups.exists(g, g == 'system:anonymous')", resources: ['Pod'] as const },
    { name: 'namespace labels', expression: "namespaceObject.?metadata.?labels[?'env'].orValue('') != 'dev'", resources: ['Pod'] as const },
    { name: 'string functions and regular expressions on typed fields', expression: "object.metadata.name.matches('^[a-z0-9-]+$') && object.metadata.name.lowerAscii() == object.metadata.name", resources: ['NetworkPolicy'] as const },
  ])('$name', ({ expression, resources }) => {
    const result = typed(expression, resources);
    expect(result, JSON.stringify(result)).toEqual({ ok: true, program: expect.anything() });
    if ((resources as readonly RuleResource[]).includes('Pod')) for (const fixture of POD_FIXTURES) expect(runUntyped(expression, fixture), `${expression} on ${fixture}`).toEqual({ ok: true, value: true });
  });

  it('int-or-string fields stay dynamic, as in Kubernetes', () => {
    const expression = "object.spec.ingress.all(r, r.?ports.orValue([]).all(p, !has(p.port) || p.port == 443 || p.port == 'https'))";
    expect(typed(expression, ['NetworkPolicy']).ok).toBe(true);
    expect(runUntyped(expression, 'validate-create-networkpolicy')).toEqual({ ok: true, value: false });
  });
});

describe('expressions that fail for some of the kinds they see', () => {
  it('are accepted with a warning naming the kinds, the field and the position, and that warning is true at run time', () => {
    const expression = "object.spec.containers.all(c, c.image.startsWith('registry.example/'))";
    expect(typed(expression, ['Pod'])).toEqual({
      ok: true,
      program: expect.anything(),
      warning: { message: "no field 'containers'", on: 'workloads', line: 1, column: 13 },
    });
    expect(typed("object.spec.template.spec.hostNetwork != true", ['Pod'])).toEqual({
      ok: true,
      program: expect.anything(),
      warning: { message: "no field 'template'", on: 'Pod or CronJob', line: 1, column: 13 },
    });
    expect(runUntyped(expression, 'validate-create-pod')).toEqual({ ok: true, value: false });
    expect(runUntyped(expression, 'validate-create-deployment')).toMatchObject({ ok: false, error: expect.stringMatching(/^no such key: containers/) });
  });

  it('raise no warning when has() of the same field guards the read', () => {
    for (const expression of ['!has(object.spec.template) || !object.spec.template.spec.?hostNetwork.orValue(false)', '!(has(object.spec.hostNetwork) && object.spec.hostNetwork)']) {
      expect(typed(expression, ['Pod']), expression).toEqual({ ok: true, program: expect.anything() });
      for (const fixture of POD_FIXTURES) expect(runUntyped(expression, fixture), `${expression} on ${fixture}`).toEqual({ ok: true, value: true });
    }
  });
});

describe('kinds with the same signature get the same check (only the first of them is checked)', () => {
  const KINDS = objectKindsOf(['Pod', 'NetworkPolicy', 'Namespace']);
  const FIELDS = ['spec', 'template', 'jobTemplate', 'containers', 'initContainers', 'hostNetwork', 'metadata', 'labels', 'name', 'replicas', 'status', 'phase', 'selector', 'matchLabels', 'kind', 'ports', 'image', 'podSelector', 'ingress'];
  const chain = fc.tuple(fc.constantFrom('object', 'oldObject'), fc.array(fc.tuple(fc.constantFrom('.', '.?', '[0]'), fc.constantFrom(...FIELDS)), { minLength: 1, maxLength: 6 }))
    .map(([root, steps]) => root + steps.map(([op, field]) => (op === '[0]' ? `[0].${field}` : `${op}${field}`)).join(''));
  const expression = fc.tuple(chain, fc.constantFrom('size(X) > 0', 'X == null', 'has(X)', "X == 'a'", 'X.all(c, c.name != \'\')', 'X.orValue(1) == 1', 'dyn(object) == X', 'cel.bind(v, X, v == v)'))
    .map(([selection, shape]) => shape.replace('X', selection));

  it('for generated selections of object and oldObject, in expressions of several shapes', () => {
    fc.assert(fc.property(expression, (source) => {
      const ast = celEnvironment().parse(source).ast;
      const valid = (kind: CelObjectKind) => typedEnvironment(kind).parse(source).check().valid;
      const bySignature = new Map<string, boolean>();
      for (const kind of KINDS) {
        const signature = kindSignature(ast, kind);
        const known = bySignature.get(signature);
        if (known === undefined) bySignature.set(signature, valid(kind));
        else expect(valid(kind), `${source} for ${kind}`).toBe(known);
      }
    }), { numRuns: 400 });
  });

  it('the workloads with a pod template share one signature for template reads', () => {
    const ast = celEnvironment().parse("object.?spec.?template.?spec.?containers.orValue([]).all(c, c.image != '')").ast;
    const signatures = new Set(objectKindsOf(['Pod']).map((kind) => kindSignature(ast, kind)));
    // Pod and CronJob lack the field at the same step; the five workloads with a template reach the same type.
    expect(signatures.size).toBe(2);
  });
});

describe('the generated types', () => {
  it('are what scripts/gen-cel-types.mjs writes from the installed @kubernetes/client-node', () => {
    const output = execFileSync(process.execPath, ['scripts/gen-cel-types.mjs', '--check'], { cwd: REPO_DIR, encoding: 'utf8' });
    expect(output).toMatch(/^gen-cel-types: src\/engine\/cel\/kubernetes-types\.ts is up to date \(\d+ types, Kubernetes 1\.34\.0\)$/m);
  });

  it('cover every kind a rule resource can see', () => {
    expect(objectKindsOf(['Pod'])).toEqual(['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob']);
    expect(objectKindsOf(['NetworkPolicy', 'Namespace'])).toEqual(['NetworkPolicy', 'Namespace']);
  });
});
