/**
 * The five limits of one admission request (issue 6, item 5), each through a real HTTPS request
 * to a server started in-process on 127.0.0.1: body size (`--max-body-bytes`), object size for CEL
 * (`--max-object-values`), CEL validations evaluated (`--max-validations`), CEL time
 * (`--cel-timeout`) and the time of the network override check (`--network-check-timeout`). Each refusal names the limit, its value and the flag that changes it; below
 * the limit the same request gets its ordinary verdict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { parseServeOptions, type ServeOptions } from '../../src/config/options.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { fixturePath, review } from '../helpers/fixtures.js';
import { request } from '../helpers/https.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';

const certs: TestCertificates = testCertificates();

/** A server with `options` over the CEL test policies (test/fixtures/policies/cel-guardrails.yaml), for one describe block. */
function serverWith(options: Partial<ServeOptions>): () => RunningServer {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(parseServeOptions({
      config: [fixturePath('policies', 'cel-guardrails.yaml')], address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0,
      tlsCert: certs.certFile, tlsKey: certs.keyFile, ...options,
    }), silentLogger);
  });
  afterAll(async () => { await server?.close(); });
  return () => server;
}

async function validate(server: RunningServer, body: string | object, headers: Record<string, string> = {}) {
  const answer = await request({ port: server.port, ca: certs.caCert, path: '/validate', body: typeof body === 'string' ? body : JSON.stringify(body), headers });
  expect(answer.status).toBe(200);
  return answer.json().response;
}

/** A Pod whose containers carry `values` environment variables (two JSON values each: the map and its name). */
function podWithEnv(values: number) {
  const body = review('validate-create-pod');
  body.request.object.spec.containers[0].env = Array.from({ length: values }, (_, i) => ({ name: `VAR_${i}` }));
  return body;
}

/** The JSON values `--max-object-values` counts: every object, list and scalar of object and oldObject. */
function countValues(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 1;
  return 1 + (Array.isArray(value) ? value : Object.values(value)).reduce((sum: number, child) => sum + countValues(child), 0);
}

describe('--max-body-bytes: the size of the AdmissionReview body', () => {
  const server = serverWith({ maxBodyBytes: 8192 });
  const body = JSON.stringify(review('validate-create-pod'));
  const padded = (size: number) => `${body}${' '.repeat(size - Buffer.byteLength(body))}`;

  it.each([
    { name: 'declared in Content-Length', headers: (size: number) => ({ 'content-length': String(size) }) },
    { name: 'sent chunked', headers: () => ({}) },
  ])('refuses a body one byte over the limit with 413, $name', async ({ headers }) => {
    const response = await validate(server(), padded(8193), headers(8193));
    expect(response).toEqual({
      uid: '',
      allowed: false,
      status: { metadata: {}, status: 'Failure', reason: 'RequestEntityTooLarge', code: 413, message: 'request body is larger than the limit of 8192 bytes (--max-body-bytes)' },
    });
  });

  it('reads a body of exactly the limit', async () => {
    expect(await validate(server(), padded(8192))).toEqual({ uid: review('validate-create-pod').request.uid, allowed: true });
  });
});

describe('--max-object-values: the size of the object given to CEL validations', () => {
  const server = serverWith({ maxObjectValues: 1000 });

  it('refuses an object (with its oldObject) of more values as a rule error naming the limit and the flag', async () => {
    const body = podWithEnv(500);
    expect(countValues(body.request.object) + countValues(body.request.oldObject)).toBeGreaterThan(1000);
    const response = await validate(server(), body);
    expect(response).toEqual({
      uid: body.request.uid,
      allowed: false,
      status: {
        metadata: {},
        status: 'Failure',
        reason: 'InternalError',
        code: 500,
        message: 'Pod payments/api-0 is denied by tierguard: 1 rule could not be evaluated (failure mode deny):\n'
          + '- error in tier -, guardrail -, rule validations: the object has more than 1000 values, too large for CEL validations (--max-object-values)',
      },
    });
  });

  it('evaluates an object under the limit', async () => {
    const body = podWithEnv(300);
    expect(countValues(body.request.object)).toBeLessThan(1000);
    expect(await validate(server(), body)).toEqual({ uid: body.request.uid, allowed: true });
  });

  it('counts oldObject too, as an UPDATE carries both', async () => {
    const body = review('validate-update-pod');
    const env = Array.from({ length: 260 }, (_, i) => ({ name: `VAR_${i}` }));
    body.request.object.spec.containers[0].env = env;
    body.request.oldObject.spec.containers[0].env = env;
    expect(countValues(body.request.object)).toBeLessThan(1000);
    const response = await validate(server(), body);
    expect(response.status.message).toContain('the object has more than 1000 values, too large for CEL validations (--max-object-values)');
  });
});

describe('--max-validations: the CEL validations evaluated for one request', () => {
  // cel-guardrails.yaml has 3 validations for Pods and 2 for NetworkPolicies.
  const server = serverWith({ maxValidations: 2 });

  it('refuses a Pod that 3 validations apply to, evaluating none, with a message naming the limit and the flag', async () => {
    const body = review('validate-create-pod');
    body.request.object.spec.hostNetwork = true;
    const response = await validate(server(), body);
    expect(response.status).toEqual({
      metadata: {},
      status: 'Failure',
      reason: 'InternalError',
      code: 500,
      message: 'Pod payments/api-0 is denied by tierguard: 1 rule could not be evaluated (failure mode deny):\n'
        + '- error in tier -, guardrail -, rule validations: 3 CEL validations apply to this object, more than the limit of 2 (--max-validations); none was evaluated',
    });
  });

  it('evaluates the 2 validations of a NetworkPolicy', async () => {
    const body = review('validate-create-networkpolicy');
    body.request.object.spec.ingress[0].from.push({ ipBlock: { cidr: '0.0.0.0/0' } });
    const response = await validate(server(), body);
    expect(response.status.code).toBe(403);
    expect(response.status.message).toContain('NetworkPolicy allow-api-from-frontend allows ingress from a /0 block');
  });
});

describe('--max-validations with --failure-mode allow', () => {
  const server = serverWith({ maxValidations: 2, failureMode: 'allow' });

  it('admits with a warning instead, as for any rule that cannot be evaluated', async () => {
    const body = review('validate-create-pod');
    const response = await validate(server(), body);
    expect(response.allowed).toBe(true);
    // Warnings are cut to 119 characters; the log line has the whole message.
    expect(response.warnings).toEqual([expect.stringMatching(/^rule not evaluated, allowed by failure mode: -\/validations: 3 CEL validations apply to this object/)]);
  });
});

describe('--cel-timeout: the time the CEL validations of one request may take', () => {
  const server = serverWith({ celTimeoutMs: 50 });

  it('stops an evaluation at the bound as a rule error naming the bound and the flag', async () => {
    // The `expensive` guardrail is cubic in the number of containers: 400 of them take far more than 50 ms.
    const body = review('validate-create-pod');
    body.request.object.spec.containers = Array.from({ length: 400 }, (_, i) => ({ name: `c${i}`, image: 'busybox' }));
    const response = await validate(server(), body);
    expect(response.uid).toBe(body.request.uid);
    expect(response.status.code).toBe(500);
    expect(response.status.message).toBe('Pod payments/api-0 is denied by tierguard: 1 rule could not be evaluated (failure mode deny):\n'
      + '- error in tier security, guardrail expensive, rule validations[0]: evaluation exceeded the time limit of 50 ms for one request (--cel-timeout) (1 later validation not evaluated)');
  });
});

/** A NetworkPolicy in `payments` with `rules` egress rules, each to its own /32 in 10.0.0.0/8 on its own port. */
function networkPolicyWithRules(rules: number) {
  const body = review('validate-create-networkpolicy');
  body.request.namespace = 'payments';
  body.request.object.metadata.namespace = 'payments';
  body.request.object.spec = {
    podSelector: {},
    policyTypes: ['Egress'],
    egress: Array.from({ length: rules }, (_, i) => ({ to: [{ ipBlock: { cidr: `10.${(i >> 8) & 255}.${i & 255}.1/32` } }], ports: [{ port: 1024 + i }] })),
  };
  return body;
}

describe('--network-check-timeout: the time the override check of one NetworkPolicy may take', () => {
  const bounded = serverWith({ config: [fixturePath('policies', 'network-guardrails.yaml')], networkCheckTimeoutMs: 1 });
  const generous = serverWith({ config: [fixturePath('policies', 'network-guardrails.yaml')], networkCheckTimeoutMs: 30_000 });

  it('stops the check at the bound as a rule error naming the bound and the flag', async () => {
    const body = networkPolicyWithRules(3000);
    const response = await validate(bounded(), body);
    expect(response.allowed).toBe(false);
    expect(response.status.code).toBe(500);
    expect(response.status.message).toContain('error in tier -, guardrail -, rule network-override: the override check exceeded the time limit of 1 ms for one request (--network-check-timeout)');
  });

  it('decides the same NetworkPolicy within a generous bound', async () => {
    const allowedEverywhereInCluster = await validate(generous(), networkPolicyWithRules(3000));
    expect(allowedEverywhereInCluster).toEqual({ uid: review('validate-create-networkpolicy').request.uid, allowed: true });
    const internet = networkPolicyWithRules(3000);
    internet.request.object.spec.egress.push({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] });
    const denied = await validate(generous(), internet);
    expect(denied.allowed).toBe(false);
    expect(denied.status.message).toContain('rule deny-internet');
  });
});
