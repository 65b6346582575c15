import { expect } from 'vitest';
import { compileCel, evaluateCel, toCelActivation, type CelCompileOptions } from '../../src/engine/cel/index.js';
import type { CompiledGuardrail } from '../../src/engine/policy-set.js';
import { evaluateValidations } from '../../src/engine/validations.js';
import { review } from '../helpers/fixtures.js';

export type FixtureName = 'validate-create-pod' | 'validate-create-deployment' | 'validate-create-networkpolicy' | 'validate-update-pod';

/** The namespace every fixture lives in, as the webhook would read it from its informer. */
export const PAYMENTS_NAMESPACE = {
  metadata: {
    name: 'payments',
    labels: { 'kubernetes.io/metadata.name': 'payments', env: 'prod', 'tierguard.io/require-owner': 'true' },
    annotations: { 'tierguard.io/contact': 'payments-oncall' },
  },
};

/** The variables of a captured AdmissionReview, converted as the engine converts them. */
export function fixtureActivation(name: FixtureName, namespaceObject: unknown = PAYMENTS_NAMESPACE): unknown {
  const { request } = review(name);
  return toCelActivation({ object: request.object, oldObject: request.oldObject, request, namespaceObject });
}

/** A request for an inline object (CREATE, no namespace object). */
export function objectActivation(object: unknown): unknown {
  return toCelActivation({ object, oldObject: null, request: { operation: 'CREATE', namespace: 'default' }, namespaceObject: null });
}

/** Compiles (failing the test on a compile error) and evaluates. */
export function run(expression: string, activation: unknown, options?: CelCompileOptions) {
  const compiled = compileCel(expression, options);
  if (!compiled.ok) expect.fail(`compile error in ${expression}: ${JSON.stringify(compiled.error)}`);
  return evaluateCel(compiled.program, activation);
}

/** Compiles and evaluates, failing the test on any error; returns the value. */
export function valueOf(expression: string, activation: unknown, options?: CelCompileOptions): unknown {
  const result = run(expression, activation, options);
  if (!result.ok) expect.fail(`evaluation error in ${expression}: ${result.error}`);
  return result.value;
}

/** The findings of the validations of `guardrails` for the CREATE of an empty Pod `name` in payments (no rule may error). */
export function podValidationFindings(guardrails: readonly CompiledGuardrail[], name: string) {
  const { findings, errors } = evaluateValidations({
    guardrails,
    resources: new Set(['Pod']),
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'payments' }, spec: { containers: [] } },
    oldObject: null,
    request: { operation: 'CREATE' },
    namespace: { name: 'payments', labels: {} },
    maxObjectValues: 200_000,
    maxValidations: 500,
  });
  expect(errors).toEqual([]);
  return findings;
}
