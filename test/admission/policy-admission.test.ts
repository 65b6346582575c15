/**
 * tierguard admits its own Tier and Guardrail objects over real HTTPS: a change that would not
 * compile together with the loaded policy set is refused with every problem, so a broken
 * guardrail is never stored, and `kubectl apply --dry-run=server` works as a policy linter.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServeOptions } from '../../src/config/options.js';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { review, TEST_DIR } from '../helpers/fixtures.js';
import { request } from '../helpers/https.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';

let server: RunningServer;
let certs: TestCertificates;

beforeAll(async () => {
  certs = testCertificates();
  server = await startServer(parseServeOptions({
    config: ['examples/policies'], address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0, tlsCert: certs.certFile, tlsKey: certs.keyFile,
  }), silentLogger);
});
afterAll(async () => { await server?.close(); });

const guardrail = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', metadata: { name }, spec });
const tier = (name: string, priority: number) => ({ apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name }, spec: { priority } });

/** An AdmissionReview for a cluster-scoped tierguard object, built on a captured envelope. */
function policyReview(options: { operation: 'CREATE' | 'UPDATE' | 'DELETE'; object?: any; oldObject?: any; dryRun?: boolean }) {
  const body = review('validate-create-namespace');
  const target = options.object ?? options.oldObject;
  body.request.kind = { group: 'tierguard.dev', version: 'v1alpha1', kind: target.kind };
  body.request.resource = { group: 'tierguard.dev', version: 'v1alpha1', resource: `${target.kind.toLowerCase()}s` };
  body.request.requestKind = body.request.kind;
  body.request.requestResource = body.request.resource;
  body.request.name = target.metadata.name;
  delete body.request.namespace;
  body.request.operation = options.operation;
  body.request.object = options.object ?? null;
  body.request.oldObject = options.oldObject ?? null;
  body.request.dryRun = options.dryRun ?? false;
  return body;
}

async function validate(body: unknown) {
  return (await request({ port: server.port, ca: certs.caCert, path: '/validate', body: JSON.stringify(body) })).json().response;
}

const good = guardrail('staging-isolation', {
  tier: 'security', priority: 300,
  subject: { namespaces: { matchLabels: { env: 'staging' } } },
  ingress: [{ name: 'deny-dev', action: 'Deny', from: [{ namespaces: { matchLabels: { env: 'dev' } } }] }],
});

const broken = guardrail('broken', {
  tier: 'secrity', priority: 5,
  subject: { namespaces: { matchLabels: { env: 'prod' } } },
  ingress: [{ name: 'r', action: 'Deny', from: [{ networks: ['10.1.2.3/8'] }, { namespaces: {}, pods: { namespaceSelector: {}, podSelector: {} } }] }],
  labels: { match: { resources: ['Pod'] }, required: [{ key: '-team' }] },
});

const brokenMessage = 'Guardrail broken is invalid: 4 problems:\n'
  + '- spec.ingress[0].from[0].networks[0]: "10.1.2.3/8" has host bits set; did you mean 10.0.0.0/8?\n'
  + '- spec.ingress[0].from[1]: peer must have exactly one of namespaces, pods, networks, nodes; found namespaces, pods\n'
  + '- spec.labels.required[0].key: label key "-team": name part must be 1-63 characters of [A-Za-z0-9-_.], starting and ending with an alphanumeric\n'
  + '- spec.tier: tier "secrity" does not exist (known tiers: security, platform)';

describe('Tier and Guardrail admission', () => {
  it('admits a guardrail that compiles with the loaded set', async () => {
    const body = policyReview({ operation: 'CREATE', object: good });
    expect(await validate(body)).toEqual({ uid: body.request.uid, allowed: true });
  });

  it.each([false, true])('refuses a broken guardrail with every problem and its field path (dryRun: %s)', async (dryRun) => {
    const body = policyReview({ operation: 'CREATE', object: broken, dryRun });
    const response = await validate(body);
    expect(response.allowed).toBe(false);
    expect(response.status.code).toBe(422);
    expect(response.status.reason).toBe('Invalid');
    expect(response.status.message.split('\n').sort()).toEqual(brokenMessage.split('\n').sort());
  });

  it('refuses a tier whose priority is taken', async () => {
    const response = await validate(policyReview({ operation: 'CREATE', object: tier('network', 100) }));
    expect(response.status.code).toBe(422);
    expect(response.status.message).toBe('Tier network is invalid: 1 problem:\n- spec.priority: priority 100 is already used by tier security (examples/policies/tiers.yaml#1); tier priorities must be unique');
  });

  it('refuses deleting a tier that guardrails still use, naming them', async () => {
    const response = await validate(policyReview({ operation: 'DELETE', oldObject: tier('platform', 200) }));
    expect(response.allowed).toBe(false);
    expect(response.status.message).toBe('Tier platform cannot be deleted: 2 Guardrails still name it:\n'
      + '- Guardrail owner-label: spec.tier: still names tier "platform"; delete or move it first\n'
      + '- Guardrail data-classification: spec.tier: still names tier "platform"; delete or move it first');
  });

  it('admits an UPDATE of a loaded guardrail in place of its old version', async () => {
    const body = policyReview({ operation: 'UPDATE', object: guardrail('prod-isolation', { tier: 'security', priority: 100, subject: { namespaces: { matchLabels: { env: 'prod' } } }, ingress: [{ name: 'deny-from-dev', action: 'Deny', from: [{ namespaces: { matchLabels: { env: 'dev' } } }] }] }) });
    expect(await validate(body)).toEqual({ uid: body.request.uid, allowed: true });
  });

  it('warns when the new guardrail can never apply', async () => {
    const shadowed = guardrail('late-dev-block', { tier: 'security', priority: 900, subject: { namespaces: { matchLabels: { env: 'prod' } } }, ingress: [{ name: 'deny-dev', action: 'Deny', from: [{ namespaces: { matchLabels: { env: 'dev' } } }] }] });
    const response = await validate(policyReview({ operation: 'CREATE', object: shadowed }));
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual(['Guardrail late-dev-block can never apply: earlier rules (prod-isolation) decide everything it matches']);
  });

  it('warns when the new guardrail ties in priority with an overlapping one', async () => {
    const tie = guardrail('aaa-tie', { tier: 'security', priority: 110, subject: { namespaces: {} }, egress: [{ name: 'deny-all', action: 'Deny', to: [{ networks: ['0.0.0.0/0'] }] }] });
    const response = await validate(policyReview({ operation: 'CREATE', object: tie }));
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual(['Guardrails aaa-tie and prod-egress tie at priority 110 in tier security: name order decides between overlapping rules …']);
  });

  it('leaves tierguard objects alone on /mutate', async () => {
    const body = policyReview({ operation: 'CREATE', object: broken });
    const response = (await request({ port: server.port, ca: certs.caCert, path: '/mutate', body: JSON.stringify(body) })).json().response;
    expect(response).toEqual({ uid: body.request.uid, allowed: true });
  });
});

/** YAML scenario cases in test/cases/policy-admission/, each sent as-is and as a dry run. */
describe('policy admission scenarios', () => {
  const dir = path.join(TEST_DIR, 'cases', 'policy-admission');
  const cases = readdirSync(dir).filter((file) => file.endsWith('.yaml')).sort()
    .map((file) => ({ name: file.replace(/\.yaml$/, ''), ...parse(readFileSync(path.join(dir, file), 'utf8')) }));
  it.each(cases.flatMap((scenario) => [false, true].map((dryRun) => ({ ...scenario, dryRun, label: `${scenario.name}${dryRun ? ' (dry run)' : ''}: ${scenario.description}` }))))('$label', async (scenario) => {
    const body = policyReview({ operation: scenario.operation, object: scenario.object, oldObject: scenario.oldObject, dryRun: scenario.dryRun });
    const response = await validate(body);
    expect(response.uid).toBe(body.request.uid);
    expect(response.allowed).toBe(scenario.expect.allowed);
    expect(response.warnings ?? []).toEqual(scenario.expect.warnings ?? []);
    if (scenario.expect.allowed) return;
    expect(response.status.code).toBe(422);
    const lines: string[] = response.status.message.split('\n').slice(1).map((line: string) => line.replace(/^- /, ''));
    if (scenario.expect.problems) expect(lines.sort()).toEqual([...scenario.expect.problems].sort());
    for (const pattern of scenario.expect.problemsMatch ?? []) expect(lines.some((line) => new RegExp(pattern).test(line))).toBe(true);
  });
});
