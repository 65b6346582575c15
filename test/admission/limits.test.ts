/**
 * The five limits of one admission request (issue 6, item 5), each through a real HTTPS request
 * to a server started in-process on 127.0.0.1: body size (`--max-body-bytes`), object size for CEL
 * (`--max-object-values`), CEL validations evaluated (`--max-validations`), CEL time
 * (`--cel-timeout`) and the time of the network override check (`--network-check-timeout`). Each refusal names the limit, its value and the flag that changes it; below
 * the limit the same request gets its ordinary verdict. The override check's bounds (time and
 * size) deny whatever `--failure-mode` says: a policy is never admitted unproven.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmissionHandler } from '../../src/admission/handler.js';
import { createWebhookListener } from '../../src/admission/server.js';
import type { FailureMode, Mode } from '../../src/api/policy.js';
import { checkManifests } from '../../src/cli/check.js';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { parseServeOptions, type ServeOptions } from '../../src/config/options.js';
import type { EngineOptions } from '../../src/engine/evaluate.js';
import { buildChainIndex } from '../../src/engine/network/chain-index.js';
import { MAX_REGION_BOXES } from '../../src/engine/network/region.js';
import type { CompiledGuardrail, PolicySet } from '../../src/engine/policy-set.js';
import { loadPolicySet } from '../../src/policy/load.js';
import { staticNamespaceLookup } from '../../src/policy/namespaces.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../../src/telemetry/metrics.js';
import { fixturePath, REPO_DIR, review } from '../helpers/fixtures.js';
import { request } from '../helpers/https.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';

const certs: TestCertificates = testCertificates();

/** A server with `options` over the CEL test policies (test/fixtures/policies/cel-guardrails.yaml), for one describe block. */
function serverWith(options: Partial<ServeOptions>): () => RunningServer {
  let server: RunningServer;
  beforeAll(async () => {
    // A generous CEL bound unless the test sets one: a busy machine must not turn an ordinary evaluation into a rule error.
    server = await startServer(parseServeOptions({
      config: [fixturePath('policies', 'cel-guardrails.yaml')], address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0,
      tlsCert: certs.certFile, tlsKey: certs.keyFile, celTimeoutMs: 10_000, ...options,
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
          + '- error in the validations of every guardrail: the object has more than 1000 values, too large for CEL validations (--max-object-values)',
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
        + '- error in the validations of every guardrail: 3 CEL validations apply to this object, more than the limit of 2 (--max-validations); none was evaluated',
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
    expect(response.warnings).toEqual([expect.stringMatching(/^rule not evaluated, allowed by failure mode: validations: 3 CEL validations apply to this object/)]);
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
  const generous = serverWith({ config: [fixturePath('policies', 'network-guardrails.yaml')], networkCheckTimeoutMs: 30_000 });

  it('decides a NetworkPolicy of 3,000 rules within a generous bound', async () => {
    const allowedEverywhereInCluster = await validate(generous(), networkPolicyWithRules(3000));
    expect(allowedEverywhereInCluster).toEqual({ uid: review('validate-create-networkpolicy').request.uid, allowed: true });
    const internet = networkPolicyWithRules(3000);
    internet.request.object.spec.egress.push({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] });
    const denied = await validate(generous(), internet);
    expect(denied.allowed).toBe(false);
    expect(denied.status.message).toContain('rule deny-internet');
  });
});

/**
 * Issue 10 item 5: the override check proves a NetworkPolicy overrides no tier; when it stops at a
 * bound nothing is proven, and an Enforce guardrail denies the policy whatever `--failure-mode`
 * says (`allow` here). The time bound is driven by a clock that moves one second each time it is
 * read, so the result does not depend on how fast the machine is.
 */
/** The note beside what the override check finds in a namespace the server does not know. */
const UNKNOWN_NAMESPACE = 'namespace payments is unknown to tierguard: the override check took it to have any labels';

describe('a check stopped at a bound denies, even with --failure-mode allow', () => {
  const uid = review('validate-create-networkpolicy').request.uid;
  const sizeBound = serverWith({ config: [fixturePath('policies', 'network-guardrails.yaml')], failureMode: 'allow' });

  it(`the size bound: a NetworkPolicy padded past ${MAX_REGION_BOXES} connection sets is denied with 403, naming the bound`, async () => {
    const response = await validate(sizeBound(), networkPolicyWithPodPeers(MAX_REGION_BOXES + 1));
    expect(response).toEqual({
      uid,
      allowed: false,
      status: {
        metadata: {},
        status: 'Failure',
        reason: 'Forbidden',
        code: 403,
        message: 'NetworkPolicy payments/allow-api-from-frontend is denied by tierguard (override check unproven):\n'
          + `- spec.egress[0]: ${SIZE_BOUND_MESSAGE} (tier security, guardrail no-internet)`,
      },
      // The server knows no namespace here: the check took payments to have any labels.
      warnings: [UNKNOWN_NAMESPACE],
    });
  });

  it('the same policy one connection set under the bound is allowed: the check, not a violation, denied it', async () => {
    expect(await validate(sizeBound(), networkPolicyWithPodPeers(MAX_REGION_BOXES - 1))).toEqual({ uid, allowed: true });
  });

  describe('the time bound', () => {
    let policy: PolicySet;
    beforeAll(async () => {
      policy = (await loadPolicySet([fixturePath('policies', 'network-guardrails.yaml')], { generation: 1 })).set!;
    });

    it('a check that outlasts --network-check-timeout is denied with 403 naming the bound; counted as check_bound, not as a rule error', async () => {
      const webhook = await handlerServer({ policy, failureMode: 'allow', networkCheckBudget: { timeoutMs: 2000, now: tickingClock(1000) } });
      const response = await post(webhook.port, networkPolicyWithRules(3000));
      expect(response).toEqual({
        uid,
        allowed: false,
        status: {
          metadata: {},
          status: 'Failure',
          reason: 'Forbidden',
          code: 403,
          // The clock is read when the check starts, before each policy rule and every 64 steps:
          // the third read, before egress[1] (egress[0] takes fewer steps), is past the 2 s.
          message: 'NetworkPolicy payments/allow-api-from-frontend is denied by tierguard (override check unproven):\n'
            + `- spec.egress[1]: ${timeBoundMessage(2000)} (tier security, guardrail no-internet)`,
        },
        warnings: [UNKNOWN_NAMESPACE],
      });
      const errors = (await webhook.metrics.errors.get()).values;
      expect(errors.map(({ labels, value }) => [labels.reason, value])).toEqual([['check_bound', 1]]);
      expect((await webhook.metrics.violations.get()).values).toEqual([]);
    });

    it('a policy rule of many connection sets asks the clock at every guardrail rule: the ticking clock stops it within egress[0]', async () => {
      // 100 pod peers in a namespace the server does not know: some 200 boxes in egress[0], each
      // guardrail rule compared with all of them. Counted as one step per rule, the two rules of
      // no-internet would not reach a read, and the policy would be allowed.
      const webhook = await handlerServer({ policy, failureMode: 'allow', networkCheckBudget: { timeoutMs: 2000, now: tickingClock(1000) } });
      const response = await post(webhook.port, networkPolicyWithPodPeers(100));
      expect(response.allowed).toBe(false);
      expect(response.status?.message).toContain(`- spec.egress[0]: ${timeBoundMessage(2000)}`);
      const withTime = await handlerServer({ policy, failureMode: 'allow', networkCheckBudget: { timeoutMs: 1e12, now: tickingClock(1000) } });
      expect(await post(withTime.port, networkPolicyWithPodPeers(100))).toEqual({ uid, allowed: true });
    });

    it('the same policy with time to spare is allowed', async () => {
      const webhook = await handlerServer({ policy, failureMode: 'allow', networkCheckBudget: { timeoutMs: 1e12, now: tickingClock(1000) } });
      expect(await post(webhook.port, networkPolicyWithRules(3000))).toEqual({ uid, allowed: true });
    });

    it('against Warn guardrails only, the unproven check is a warning and the policy is admitted', async () => {
      const warnOnly = withMode(policy, 'Warn');
      const webhook = await handlerServer({ policy: warnOnly, failureMode: 'deny', networkCheckBudget: { timeoutMs: 0, now: () => 0 } });
      expect(await post(webhook.port, networkPolicyWithRules(3))).toEqual({
        uid,
        allowed: true,
        warnings: ['no-internet: spec.egress[0]: override check unproven at its time limit 0 ms (--network-check-timeout); split the policy', UNKNOWN_NAMESPACE],
      });
    });

    it('against Audit guardrails only, it is only counted and logged', async () => {
      const webhook = await handlerServer({ policy: withMode(policy, 'Audit'), failureMode: 'deny', networkCheckBudget: { timeoutMs: 0, now: () => 0 } });
      expect(await post(webhook.port, networkPolicyWithRules(3))).toEqual({ uid, allowed: true });
      expect((await webhook.metrics.errors.get()).values.map(({ labels, value }) => [labels.reason, value])).toEqual([['check_bound', 1]]);
    });
  });
});

describe('tierguard check: a check stopped at a bound denies, even with --failure-mode allow', () => {
  it.each([
    { name: 'the size bound (the command line)', budget: undefined, policy: () => networkPolicyWithPodPeers(MAX_REGION_BOXES + 1), line: SIZE_BOUND_MESSAGE, at: 'spec.egress[0]' },
    // The ticking clock's third read, before egress[1], is past the 2 s (as in the webhook above).
    { name: 'the time bound (checkManifests, as the command runs it, with a ticking clock)', budget: { timeoutMs: 2000, now: tickingClock(1000) }, policy: () => networkPolicyWithRules(3000), line: timeBoundMessage(2000), at: 'spec.egress[1]' },
  ])('$name', async ({ budget, policy, line, at }) => {
    const object = policy().request.object;
    const expected = {
      kind: 'NetworkPolicy', namespace: 'payments', name: 'allow-api-from-frontend', allowed: false,
      violations: [{ kind: 'unproven', tier: 'security', guardrail: 'no-internet', rule: 'network-override', mode: 'Enforce', path: at, message: line }],
    };
    if (budget) {
      const loaded = await loadPolicySet([fixturePath('policies', 'network-guardrails.yaml')], { generation: 1 });
      const [result] = await checkManifests({ set: loaded.set!, documents: [{ source: { file: 'padded.json', document: 1 }, value: object }], namespaces: [], engine: { excludedNamespaces: new Set(), networkCheckBudget: budget }, failureMode: 'allow' });
      expect(result).toMatchObject(expected);
      expect(result!.error).toBeUndefined();
      return;
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-bound-'));
    writeFileSync(path.join(dir, 'padded.json'), JSON.stringify(object));
    const { code, stdout, stderr } = await tierguardCheck(['--config', fixturePath('policies', 'network-guardrails.yaml'), '-f', dir, '--failure-mode', 'allow', '-o', 'json']);
    expect(stderr).toBe('');
    expect(code).toBe(1);
    expect(JSON.parse(stdout).results).toEqual([expect.objectContaining(expected)]);
  }, 120_000); // the command reads a 1 MB manifest: generous for a loaded machine
});

const SIZE_BOUND_MESSAGE = `the override check stopped at its limit of ${MAX_REGION_BOXES} connection sets (a fixed bound, no flag) before it could prove that this NetworkPolicy allows no traffic this guardrail denies; split the policy into smaller NetworkPolicies`;

function timeBoundMessage(ms: number): string {
  return `the override check stopped at its time limit of ${ms} ms for one request (--network-check-timeout) before it could prove that this NetworkPolicy allows no traffic this guardrail denies; split the policy into smaller NetworkPolicies`;
}

/**
 * A NetworkPolicy in `payments` with one egress rule to 10.0.0.1 (which the `no-internet` guardrail
 * passes) and to `pods` pod selectors no guardrail rule is about: it is allowed, and each pod peer
 * is one connection set the check carries past every rule.
 */
function networkPolicyWithPodPeers(pods: number) {
  const body = networkPolicyWithRules(1);
  body.request.object.spec.egress = [{ to: [{ ipBlock: { cidr: '10.0.0.1/32' } }, ...Array.from({ length: pods }, (_, i) => ({ podSelector: { matchLabels: { app: `p${i}` } } }))] }];
  return body;
}

/** A clock (milliseconds) that moves `stepMs` forward each time it is read. */
function tickingClock(stepMs: number): () => number {
  let now = 0;
  return () => (now += stepMs);
}

/** The policy set with every guardrail in `mode`. */
function withMode(set: PolicySet, mode: Mode): PolicySet {
  const changed = new Map(set.guardrails.map((guardrail) => [guardrail, { ...guardrail, mode }]));
  const swap = <T extends CompiledGuardrail>(guardrail: T): T => (changed.get(guardrail) ?? guardrail) as T;
  const network = Object.fromEntries((['ingress', 'egress'] as const).map((direction) => [direction, set.network[direction].map((tier) => ({ ...tier, guardrails: tier.guardrails.map(swap) }))])) as unknown as PolicySet['network'];
  return {
    ...set,
    guardrails: set.guardrails.map(swap),
    network,
    networkIndex: { ingress: buildChainIndex(network.ingress), egress: buildChainIndex(network.egress) },
  };
}

interface HandlerServer {
  readonly port: number;
  readonly metrics: Metrics;
}

const handlerServers: https.Server[] = [];
afterAll(async () => { await Promise.all(handlerServers.map((server) => new Promise((resolve) => server.close(resolve)))); });

/** The admission handler over HTTPS with engine options a server's flags cannot give (an injected clock). */
async function handlerServer(options: { policy: PolicySet; failureMode: FailureMode; networkCheckBudget: NonNullable<EngineOptions['networkCheckBudget']> }): Promise<HandlerServer> {
  const metrics = createMetrics();
  const handler = createAdmissionHandler({
    policy: () => options.policy, policyDocuments: () => [], namespaces: staticNamespaceLookup([]),
    engine: { excludedNamespaces: new Set(), networkCheckBudget: options.networkCheckBudget }, failureMode: options.failureMode, metrics, logger: silentLogger,
  });
  const server = https.createServer({ cert: certs.cert, key: certs.key, minVersion: 'TLSv1.2' }, createWebhookListener({ handler, ready: () => true, maxBodyBytes: 1 << 22, metrics, logger: silentLogger }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  handlerServers.push(server);
  return { port: (server.address() as AddressInfo).port, metrics };
}

async function post(port: number, body: object) {
  const answer = await request({ port, ca: certs.caCert, path: '/validate', body: JSON.stringify(body) });
  expect(answer.status).toBe(200);
  return answer.json().response;
}

const CLI = path.join(REPO_DIR, 'dist', 'cli', 'main.js');

/** The built command, as a pipeline runs it; no kill timeout of its own (the test's timeout bounds it). */
function tierguardCheck(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'check', ...args], { cwd: REPO_DIR, maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}
