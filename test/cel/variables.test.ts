import { describe, expect, it } from 'vitest';
import { compileCel, evaluateCel, toCelActivation } from '../../src/engine/cel/index.js';
import { fixtureActivation, valueOf, type FixtureName } from './cel-helpers.js';

describe('CEL sees the ValidatingAdmissionPolicy variables of real admission requests', () => {
  it.each<{ name: string; fixture: FixtureName; expression: string; expected: unknown }>([
    { name: 'object of a Pod', fixture: 'validate-create-pod', expression: 'object.metadata.name', expected: 'api-0' },
    { name: 'object of a Deployment (the workload, not its template)', fixture: 'validate-create-deployment', expression: 'object.kind', expected: 'Deployment' },
    { name: 'pod template of a Deployment', fixture: 'validate-create-deployment', expression: 'object.spec.template.spec.containers[0].image', expected: 'nginx:1.27' },
    { name: 'object of a NetworkPolicy', fixture: 'validate-create-networkpolicy', expression: "object.spec.policyTypes == ['Ingress', 'Egress']", expected: true },
    { name: 'oldObject is null on CREATE', fixture: 'validate-create-pod', expression: 'oldObject == null', expected: true },
    { name: 'oldObject on UPDATE', fixture: 'validate-update-pod', expression: "!has(oldObject.metadata.labels.tier) && object.metadata.labels.tier == 'backend'", expected: true },
    { name: 'request.operation', fixture: 'validate-update-pod', expression: 'request.operation', expected: 'UPDATE' },
    { name: 'request.namespace and name', fixture: 'validate-create-networkpolicy', expression: "request.namespace + '/' + request.name", expected: 'payments/allow-api-from-frontend' },
    { name: 'request.dryRun', fixture: 'validate-create-pod', expression: 'request.dryRun', expected: false },
    { name: 'request.userInfo', fixture: 'validate-create-pod', expression: "'system:masters' in request.userInfo.groups && request.userInfo.username == 'admin'", expected: true },
    { name: 'request.kind', fixture: 'validate-create-deployment', expression: "request.kind.group + '/' + request.kind.kind", expected: 'apps/Deployment' },
    { name: 'request has no object (as in Kubernetes)', fixture: 'validate-create-pod', expression: 'has(request.object)', expected: false },
    { name: 'namespaceObject.metadata.name', fixture: 'validate-create-pod', expression: 'namespaceObject.metadata.name', expected: 'payments' },
    { name: 'namespaceObject labels', fixture: 'validate-create-networkpolicy', expression: "namespaceObject.metadata.labels['env'] == 'prod'", expected: true },
    { name: 'namespaceObject annotations', fixture: 'validate-create-pod', expression: "namespaceObject.metadata.annotations['tierguard.io/contact']", expected: 'payments-oncall' },
  ])('$name', ({ fixture, expression, expected }) => {
    expect(valueOf(expression, fixtureActivation(fixture))).toEqual(expected);
  });

  it.each([
    { name: 'an undeclared variable', expression: 'params.maxReplicas > 1', message: 'Unknown variable: params' },
    { name: 'a misspelt variable', expression: 'objects.metadata.name', message: 'Unknown variable: objects' },
    { name: 'an unknown function', expression: 'object.metadata.name.shout()', message: "found no matching overload for 'dyn.shout()'" },
  ])('$name is a compile error', ({ expression, message }) => {
    const compiled = compileCel(expression);
    expect(compiled.ok).toBe(false);
    if (!compiled.ok) expect(compiled.error.message).toBe(message);
  });

  it('namespaceObject is null for cluster-scoped objects', () => {
    const activation = toCelActivation({ object: { kind: 'Namespace' }, oldObject: null, request: { operation: 'CREATE' }, namespaceObject: null });
    expect(valueOf("namespaceObject == null ? 'cluster' : namespaceObject.metadata.name", activation)).toBe('cluster');
  });

  it('converting the variables leaves the request untouched', () => {
    const object = { spec: { replicas: 3, ratio: 0.5 } };
    const activation = toCelActivation({ object, oldObject: null, request: { operation: 'CREATE' }, namespaceObject: null });
    expect(valueOf('object.spec.replicas + 1', activation)).toBe(4n);
    expect(object).toEqual({ spec: { replicas: 3, ratio: 0.5 } });
  });

  it('one converted activation serves many programs', () => {
    const activation = fixtureActivation('validate-create-pod');
    const programs = ['object.kind', 'request.operation', 'namespaceObject.metadata.name'].map((source) => compileCel(source));
    expect(programs.map((compiled) => (compiled.ok ? evaluateCel(compiled.program, activation) : compiled))).toEqual([
      { ok: true, value: 'Pod' },
      { ok: true, value: 'CREATE' },
      { ok: true, value: 'payments' },
    ]);
  });
});
