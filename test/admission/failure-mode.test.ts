/**
 * A rule that throws while it is evaluated is an error, not a violation: `--failure-mode` decides,
 * and other requests are unaffected. Served over real HTTPS with a policy set whose one guardrail
 * throws (passed in as a dependency, no module mocks).
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FailureMode } from '../../src/api/policy.js';
import { createAdmissionHandler } from '../../src/admission/handler.js';
import { createWebhookListener } from '../../src/admission/server.js';
import { buildChainIndex } from '../../src/engine/network/chain-index.js';
import type { CompiledGuardrail, PolicySet } from '../../src/engine/policy-set.js';
import { staticNamespaceLookup } from '../../src/policy/namespaces.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../../src/telemetry/metrics.js';
import { review } from '../helpers/fixtures.js';
import { request } from '../helpers/https.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';

const tier = { name: 'security', priority: 100 };
const exploding: CompiledGuardrail = {
  name: 'exploding',
  tier,
  priority: 1,
  mode: 'Enforce',
  compliance: [],
  labels: {
    resources: new Set(['Pod']),
    namespaces: (labels) => {
      if (labels['kubernetes.io/metadata.name'] === 'payments') throw new Error('selector blew up');
      return true;
    },
    namespaceSelector: {},
    required: [{ key: 'team', immutable: false }],
    defaults: [{ key: 'team', value: 'none' }],
  },
};
const set: PolicySet = { generation: 1, tiers: [tier], guardrails: [exploding], labelGuardrails: { Pod: [exploding], NetworkPolicy: [], Namespace: [] }, validationGuardrails: { Pod: [], NetworkPolicy: [], Namespace: [] }, network: { ingress: [], egress: [] }, networkIndex: { ingress: buildChainIndex([]), egress: buildChainIndex([]) } };

let certs: TestCertificates;
const servers: https.Server[] = [];

async function serve(failureMode: FailureMode, policyDocuments: Parameters<typeof createAdmissionHandler>[0]['policyDocuments'] = () => []): Promise<{ port: number; metrics: Metrics }> {
  const metrics = createMetrics();
  const handler = createAdmissionHandler({ policy: () => set, policyDocuments, namespaces: staticNamespaceLookup(['payments', 'other'].map((name) => ({ name, labels: { 'kubernetes.io/metadata.name': name }, annotations: {} }))), engine: { excludedNamespaces: new Set() }, failureMode, metrics, logger: silentLogger });
  const server = https.createServer({ cert: certs.cert, key: certs.key, minVersion: 'TLSv1.2' }, createWebhookListener({ handler, ready: () => true, maxBodyBytes: 1 << 20, metrics, logger: silentLogger }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, metrics };
}

beforeAll(() => { certs = testCertificates(); });
afterAll(async () => { await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))); });

async function post(port: number, path: string, body: unknown) {
  return (await request({ port, ca: certs.caCert, path, body: JSON.stringify(body) })).json().response;
}

describe('--failure-mode', () => {
  it('deny: the request gets a 500 AdmissionReview error naming the rule, and other namespaces are unaffected', async () => {
    const { port, metrics } = await serve('deny');
    const body = review('validate-create-pod');
    expect(await post(port, '/validate', body)).toEqual({
      uid: body.request.uid,
      allowed: false,
      status: {
        metadata: {},
        status: 'Failure',
        reason: 'InternalError',
        code: 500,
        message: 'Pod payments/api-0 is denied by tierguard: 1 rule could not be evaluated (failure mode deny):\n- error in tier security, guardrail exploding, rule labels.required: selector blew up',
      },
    });
    const mutateAnswer = await post(port, '/mutate', review('mutate-create-pod'));
    expect(mutateAnswer.allowed).toBe(false);
    expect(mutateAnswer.status.code).toBe(500);

    const other = review('validate-create-pod');
    other.request.namespace = 'other';
    const otherAnswer = await post(port, '/validate', other);
    expect(otherAnswer.allowed).toBe(false);
    expect(otherAnswer.status.code).toBe(403);
    expect(otherAnswer.status.message).toContain('missing required label team');
    expect((await metrics.errors.get()).values.find((v) => v.labels.reason === 'rule_error' && v.labels.webhook === 'validate')?.value).toBe(1);
  });

  it('allow: the request is allowed with a warning that says the rule was not evaluated', async () => {
    const { port } = await serve('allow');
    const body = review('validate-create-pod');
    expect(await post(port, '/validate', body)).toEqual({
      uid: body.request.uid,
      allowed: true,
      warnings: ['rule not evaluated, allowed by failure mode: exploding/labels.required: selector blew up'],
    });
    const mutateAnswer = await post(port, '/mutate', review('mutate-create-pod'));
    expect(mutateAnswer).toMatchObject({ allowed: true, warnings: ['rule not evaluated, allowed by failure mode: exploding/labels.defaults: selector blew up'] });
    expect(mutateAnswer.patch).toBeUndefined();
  });

  it('allow does not cover a Tier DELETE whose Guardrails cannot be read: it is refused with 500, never judged on a guess', async () => {
    const { port, metrics } = await serve('allow', (change) => {
      if (change.kind === 'Tier' && change.operation === 'DELETE') throw new Error('503 from the API server');
      return [];
    });
    const oldObject = { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name: 'security' }, spec: { priority: 100 } };
    const body = {
      apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
      request: { uid: 'tier-delete', kind: { group: 'tierguard.dev', version: 'v1alpha1', kind: 'Tier' }, name: 'security', operation: 'DELETE', userInfo: { username: 'admin' }, object: null, oldObject },
    };
    expect(await post(port, '/validate', body)).toEqual({
      uid: 'tier-delete',
      allowed: false,
      status: { metadata: {}, status: 'Failure', reason: 'InternalError', code: 500, message: 'tierguard cannot read the Tiers and Guardrails to judge this change; try again: 503 from the API server' },
    });
    expect((await metrics.errors.get()).values.find((value) => value.labels.reason === 'policy_read')?.value).toBe(1);
  });
});
