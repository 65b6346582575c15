/**
 * Fault: one rule throws for one kind of request while the webhook is under load. That request
 * gets the failure-mode answer (`deny`: allowed false with code 500 naming the rule; `allow`:
 * allowed with a warning), every other concurrent request its normal answer, and the server
 * keeps serving. Three ways to throw, each with both failure modes:
 * - a CEL validation that errors on one object shape (a container without `securityContext`),
 *   through the real `serve` and a `--config` file;
 * - a compiled label rule whose pattern throws a JavaScript exception for one label value, and
 * - a namespace lookup that throws for one namespace (outside any rule),
 *   both passed to `createAdmissionHandler` through its options (no module mocks, no test hooks).
 */
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdmissionHandler } from '../../src/admission/handler.js';
import { createWebhookListener } from '../../src/admission/server.js';
import type { FailureMode } from '../../src/api/policy.js';
import { startServer } from '../../src/cli/serve.js';
import { parseServeOptions } from '../../src/config/options.js';
import type { CompiledGuardrail, PolicySet } from '../../src/engine/policy-set.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { parseManifestText } from '../../src/policy/manifests.js';
import { staticNamespaceLookup, type NamespaceLookup } from '../../src/policy/namespaces.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../../src/telemetry/metrics.js';
import { review } from '../helpers/fixtures.js';
import { request } from '../helpers/https.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait-for.js';
import { failures, startLoad, withUid, wrongVerdicts, type Attempt, type Shot } from './load.js';
import { requireLabel } from './support.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => { await Promise.all(closers.splice(0).map((close) => close())); });

interface Target {
  readonly port: number;
  readonly certs: TestCertificates;
  readonly metrics: Metrics;
}

/** A Pod CREATE for /validate, shaped by `edit`. */
function podShot(tag: string, edit: (pod: any, request: any) => void): Shot {
  const body = review('validate-create-pod');
  edit(body.request.object, body.request);
  return { path: '/validate', tag, body: withUid(body).body };
}

/**
 * Sends each shape once on its own (its expected answer), then all of them mixed from five
 * concurrent clients; returns the expected answers and every attempt under load.
 */
async function underLoad(target: Target, shapes: Readonly<Record<string, () => Shot>>): Promise<{ expected: Record<string, any>; attempts: readonly Attempt[] }> {
  const expected: Record<string, any> = {};
  for (const [tag, shot] of Object.entries(shapes)) {
    const { body, path: route } = shot();
    const { uid: _uid, ...response } = (await request({ port: target.port, ca: target.certs.caCert, path: route, body })).json().response;
    expected[tag] = response;
  }
  const tags = Object.keys(shapes);
  const maxRequests = 400;
  const traffic = startLoad({
    port: target.port,
    ca: target.certs.caCert,
    clients: ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, keepAlive: name !== 'e' })),
    next: (client, n) => shapes[tags[(n + client.name.charCodeAt(0)) % tags.length]!]!(),
    maxRequests,
    gapMs: 2,
  });
  // All of them, however long a busy machine takes: a count, not a time window.
  await waitFor(() => traffic.attempts.length >= maxRequests, { what: `${maxRequests} requests under load` });
  return { expected, attempts: await traffic.stop() };
}

async function errorCount(metrics: Metrics, reason: string): Promise<number> {
  return (await metrics.errors.get()).values.filter((value) => value.labels.reason === reason).reduce((sum, value) => sum + value.value, 0);
}

const count = (attempts: readonly Attempt[], tag: string) => attempts.filter((attempt) => attempt.tag === tag).length;

/** The server still answers after the load. */
async function stillServing(target: Target): Promise<void> {
  expect((await request({ port: target.port, ca: target.certs.caCert, method: 'GET', path: '/healthz' })).json()).toEqual({ status: 'ok' });
}

describe.each<{ mode: FailureMode }>([{ mode: 'deny' }, { mode: 'allow' }])('an exception inside one rule under load, --failure-mode $mode', ({ mode }) => {
  it('a CEL validation that errors on one object shape: that request gets the failure-mode answer, the others their own', async () => {
    const certs = testCertificates();
    const policies = path.join(certs.dir, 'policies.yaml');
    // A classic CEL mistake: `c.securityContext` is an error, not null, when the field is absent.
    writeFileSync(policies, `apiVersion: tierguard.dev/v1alpha1
kind: Tier
metadata: {name: security}
spec: {priority: 100}
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: no-privileged}
spec:
  tier: security
  priority: 10
  validations:
    - resources: [Pod]
      expression: "object.spec.containers.all(c, !c.securityContext.privileged)"
      message: privileged containers bypass NetworkPolicy enforcement
`);
    // The generous CEL bound keeps a busy machine from turning a slow evaluation into a rule error.
    const running = await startServer(parseServeOptions({
      address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0, tlsCert: certs.certFile, tlsKey: certs.keyFile,
      config: [policies], failureMode: mode, celTimeoutMs: 10_000,
    }), silentLogger);
    closers.push(() => running.close());
    const target = { port: running.port, certs, metrics: running.metrics };
    const withContext = (privileged: boolean) => (pod: any) => { pod.spec.containers[0].securityContext = { privileged }; };
    const { expected, attempts } = await underLoad(target, {
      unprivileged: () => podShot('unprivileged', withContext(false)),
      privileged: () => podShot('privileged', withContext(true)),
      'no-security-context': () => podShot('no-security-context', () => {}),
    });

    expect(expected.unprivileged).toMatchObject({ allowed: true });
    expect(expected.privileged).toMatchObject({ allowed: false, status: { code: 403, message: expect.stringContaining('privileged containers bypass NetworkPolicy enforcement') } });
    if (mode === 'deny') {
      expect(expected['no-security-context']).toMatchObject({ allowed: false, status: { code: 500, reason: 'InternalError' } });
      expect(expected['no-security-context'].status.message).toMatch(/^Pod payments\/api-0 is denied by tierguard: 1 rule could not be evaluated \(failure mode deny\):\n- error in tier security, guardrail no-privileged, rule validations\[0\]: /);
    } else {
      expect(expected['no-security-context']).toMatchObject({ allowed: true });
      expect(expected['no-security-context'].warnings).toContainEqual(expect.stringMatching(/^rule not evaluated, allowed by failure mode: no-privileged\/validations\[0\]: /));
    }
    expect(failures(attempts)).toEqual([]);
    expect(wrongVerdicts(attempts, expected)).toEqual([]);
    expect(count(attempts, 'no-security-context')).toBeGreaterThan(20);
    expect(await errorCount(running.metrics, 'rule_error')).toBe(count(attempts, 'no-security-context') + 1);
    await stillServing(target);
    console.info(`CEL rule error, --failure-mode ${mode}: ${attempts.length} requests under load (${count(attempts, 'no-security-context')} hitting the error), 0 failed`);
  });

  it('a JavaScript exception in a compiled rule, and one in the namespace lookup: only those requests are affected', async () => {
    const certs = testCertificates();
    const metrics = createMetrics();
    const handler = createAdmissionHandler({
      policy: () => throwingSet,
      policyDocuments: () => [],
      namespaces: flakyNamespaces,
      engine: { excludedNamespaces: new Set() },
      failureMode: mode,
      metrics,
      logger: silentLogger,
    });
    const server = https.createServer({ cert: certs.cert, key: certs.key, minVersion: 'TLSv1.2' }, createWebhookListener({ handler, ready: () => true, maxBodyBytes: 1 << 20, metrics, logger: silentLogger }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
    const target = { port: (server.address() as AddressInfo).port, certs, metrics };
    const labelled = (team?: string) => (pod: any) => { pod.metadata.labels = team === undefined ? { app: 'api' } : { app: 'api', team }; };
    const { expected, attempts } = await underLoad(target, {
      'team-ok': () => podShot('team-ok', labelled('payments')),
      'team-throws': () => podShot('team-throws', labelled('boom')),
      'no-team': () => podShot('no-team', labelled()),
      'lookup-throws': () => podShot('lookup-throws', (pod, req) => { labelled('payments')(pod); pod.metadata.namespace = 'flaky'; req.namespace = 'flaky'; }),
    });

    expect(expected['team-ok']).toMatchObject({ allowed: true });
    expect(expected['no-team']).toMatchObject({ allowed: false, status: { code: 403, message: expect.stringContaining('missing required label team') } });
    if (mode === 'deny') {
      expect(expected['team-throws']).toMatchObject({
        allowed: false,
        status: { code: 500, message: 'Pod payments/api-0 is denied by tierguard: 1 rule could not be evaluated (failure mode deny):\n- error in tier security, guardrail require-team, rule labels.required: Cannot read properties of undefined (reading \'length\')' },
      });
      expect(expected['lookup-throws']).toMatchObject({ allowed: false, status: { code: 500, message: 'tierguard could not evaluate this request (failure mode deny): namespace cache unavailable' } });
    } else {
      expect(expected['team-throws']).toEqual({ allowed: true, warnings: [expect.stringMatching(/^rule not evaluated, allowed by failure mode: require-team\/labels\.required: Cannot read properties of undefined/)] });
      expect(expected['lookup-throws']).toEqual({ allowed: true, warnings: ['tierguard could not evaluate this request; allowed by failure mode allow'] });
    }
    expect(failures(attempts)).toEqual([]);
    expect(wrongVerdicts(attempts, expected)).toEqual([]);
    expect(count(attempts, 'team-throws')).toBeGreaterThan(20);
    expect(await errorCount(metrics, 'rule_error')).toBe(count(attempts, 'team-throws') + 1);
    expect(await errorCount(metrics, 'internal')).toBe(count(attempts, 'lookup-throws') + 1);
    await stillServing(target);
    console.info(`JavaScript exceptions, --failure-mode ${mode}: ${attempts.length} requests under load (${count(attempts, 'team-throws') + count(attempts, 'lookup-throws')} hitting them), 0 failed`);
  });
});

/**
 * The set compiled from `requireLabel('team')`, with the label rule given a pattern that fails
 * like a bug would (a TypeError) for the value `boom` and accepts every other value.
 */
const throwingSet: PolicySet = (() => {
  const compiled = compilePolicySet(parseManifestText(requireLabel('team'), 'policies.yaml'), { generation: 1 });
  if (!compiled.set) throw new Error('the test policy set does not compile');
  const set = compiled.set;
  const original = set.guardrails[0]!;
  const pattern = {
    source: '^.*$',
    test(value: string) {
      if (value === 'boom') return (undefined as unknown as string[]).length > 0;
      return true;
    },
  };
  const labels = original.labels!;
  const guardrail: CompiledGuardrail = { ...original, labels: { ...labels, required: labels.required.map((rule) => ({ ...rule, pattern })) } };
  const swap = (list: readonly CompiledGuardrail[]) => list.map((item) => (item === original ? guardrail : item));
  return { ...set, guardrails: swap(set.guardrails), labelGuardrails: { Pod: swap(set.labelGuardrails.Pod), NetworkPolicy: swap(set.labelGuardrails.NetworkPolicy), Namespace: swap(set.labelGuardrails.Namespace) } };
})();

/** Namespaces from a static list, except that looking up `flaky` throws. */
const flakyNamespaces: NamespaceLookup = (() => {
  const known = staticNamespaceLookup(['payments', 'flaky'].map((name) => ({ name, labels: { 'kubernetes.io/metadata.name': name }, annotations: {} })));
  return {
    get: (name: string) => {
      if (name === 'flaky') throw new Error('namespace cache unavailable');
      return known.get(name);
    },
    list: () => known.list(),
  };
})();
