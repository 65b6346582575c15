/**
 * CEL validations through the real HTTPS webhook: decisions, messageExpression, Warn, metrics,
 * and the bounds that keep a rule author from hanging or crashing the webhook.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServeOptions } from '../../src/config/options.js';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { fixturePath, review } from '../helpers/fixtures.js';
import { httpGet, request } from '../helpers/https.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';

let server: RunningServer;
/** The same policies with the default CEL time bound of 100 ms, for the test of that bound only. */
let bounded: RunningServer;
let certs: TestCertificates;

beforeAll(async () => {
  certs = testCertificates();
  const options = (celTimeoutMs: number) => parseServeOptions({
    config: [fixturePath('policies', 'cel-guardrails.yaml')], address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0,
    tlsCert: certs.certFile, tlsKey: certs.keyFile, celTimeoutMs,
  });
  // A generous bound elsewhere: a busy machine must not turn an ordinary evaluation into a rule error.
  server = await startServer(options(10_000), silentLogger);
  bounded = await startServer(options(100), silentLogger);
});
afterAll(async () => { await server?.close(); await bounded?.close(); });

async function validate(body: unknown, on: RunningServer = server) {
  return (await request({ port: on.port, ca: certs.caCert, path: '/validate', body: JSON.stringify(body) })).json().response;
}

describe('CEL validations', () => {
  it.each([false, true])('deny a host-network Pod with the validation message (dryRun: %s)', async (dryRun) => {
    const body = review('validate-create-pod');
    body.request.dryRun = dryRun;
    body.request.object.spec.hostNetwork = true;
    const response = await validate(body);
    expect(response).toEqual({
      uid: body.request.uid,
      allowed: false,
      status: { metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403, message: 'Pod payments/api-0 is denied by tierguard (1 violation):\n- host-network pods bypass NetworkPolicy (tier security, guardrail no-host-network; CIS 5.2.4)' },
    });
  });

  it('see the workload object for a Deployment, and deny a host-network template', async () => {
    const body = review('validate-create-deployment');
    body.request.object.spec.template.spec.hostNetwork = true;
    const response = await validate(body);
    expect(response.status.message).toContain('- host-network pods bypass NetworkPolicy (tier security, guardrail no-host-network; CIS 5.2.4)');
  });

  it('allow an ordinary Pod', async () => {
    const body = review('validate-create-pod');
    expect(await validate(body)).toEqual({ uid: body.request.uid, allowed: true });
  });

  it('build messages with messageExpression, and warn for Warn guardrails', async () => {
    const body = review('validate-create-networkpolicy');
    body.request.object.spec.ingress[0].from.push({ ipBlock: { cidr: '::/0' } });
    const response = await validate(body);
    expect(response.allowed).toBe(false);
    expect(response.status.message).toBe('NetworkPolicy payments/allow-api-from-frontend is denied by tierguard (1 violation):\n'
      + '- NetworkPolicy allow-api-from-frontend allows ingress from a /0 block (tier security, guardrail no-open-ingress)');
    expect(response.warnings).toEqual(['owner-label: NetworkPolicy allow-api-from-frontend in payments has no owner label']);
  });

  it('allow the captured NetworkPolicy (10.0.0.0/8 with an except) with only the owner warning', async () => {
    const body = review('validate-create-networkpolicy');
    expect(await validate(body)).toEqual({ uid: body.request.uid, allowed: true, warnings: ['owner-label: NetworkPolicy allow-api-from-frontend in payments has no owner label'] });
  });

  it('count CEL findings in metrics by validation', async () => {
    const body = review('validate-create-pod');
    body.request.object.spec.hostNetwork = true;
    await validate(body);
    const metrics = (await httpGet(server.metricsPort, '/metrics')).text;
    expect(metrics).toMatch(/tierguard_admission_violations_total\{webhook="validate",kind="Pod",tier="security",guardrail="no-host-network",rule="validations\[0\]",mode="Enforce",dry_run="false"\} [1-9]/);
  });
});

describe('CEL bounds: a rule author cannot hang or crash the webhook', () => {
  it('run matches in linear time: a catastrophic pattern on a long name answers correctly', async () => {
    const body = review('validate-create-pod');
    body.request.object.metadata.name = `${'a'.repeat(5000)}!`;
    const response = await validate(body);
    expect(response.allowed).toBe(true);
    body.request.object.metadata.name = 'a'.repeat(5000);
    const denied = await validate(body);
    expect(denied.status.message).toContain('pod names made of a\'s only are not allowed');
  });

  it('stop an expensive evaluation at the time bound as an error (failure mode deny), while other requests are answered', async () => {
    const slow = review('validate-create-pod');
    slow.request.uid = 'slow-request';
    slow.request.object.spec.containers = Array.from({ length: 400 }, (_, i) => ({ name: `c${i}`, image: 'busybox' }));
    const normal = review('validate-create-pod');
    normal.request.uid = 'normal-request';
    // 400 containers make the `expensive` guardrail evaluate 64 million times: far over 100 ms on any machine.
    const [slowAnswer, normalAnswer] = await Promise.all([validate(slow, bounded), validate(normal, bounded)]);
    expect(slowAnswer.uid).toBe('slow-request');
    expect(slowAnswer.allowed).toBe(false);
    expect(slowAnswer.status.code).toBe(500);
    expect(slowAnswer.status.message).toBe('Pod payments/api-0 is denied by tierguard: 1 rule could not be evaluated (failure mode deny):\n'
      + '- error in tier security, guardrail expensive, rule validations[0]: evaluation exceeded the time limit of 100 ms for one request (--cel-timeout) (1 later validation not evaluated)');
    expect(normalAnswer).toEqual({ uid: 'normal-request', allowed: true });
  });

  it('refuse a very large object with a clear message, and never echo its content', async () => {
    const body = review('validate-create-pod');
    body.request.object.spec.containers[0].env = Array.from({ length: 205_000 }, (_, i) => `secret-${i}`);
    const response = await validate(body);
    expect(response.allowed).toBe(false);
    expect(response.status.code).toBe(500);
    expect(response.status.message).toContain('the object has more than 200000 values, too large for CEL validations');
    expect(response.status.message).not.toContain('secret-');
  });
});
