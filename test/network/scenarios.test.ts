/**
 * YAML scenario cases (test/cases/network/*.yaml), each run through the engine and through the
 * real HTTPS webhook, which must agree with the expected verdict, findings and messages.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NAMESPACE_NAME_LABEL } from '../../src/api/kube.js';
import { parseServeOptions } from '../../src/config/options.js';
import { startServer } from '../../src/cli/serve.js';
import { decide } from '../../src/engine/decision.js';
import { validate } from '../../src/engine/evaluate.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { parseManifestText } from '../../src/policy/manifests.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { review, TEST_DIR } from '../helpers/fixtures.js';
import { request } from '../helpers/https.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';

const CASES_DIR = path.join(TEST_DIR, 'cases', 'network');
const TIERS = readFileSync(path.join(CASES_DIR, '_tiers.yaml'), 'utf8');

interface Scenario {
  name: string;
  description: string;
  namespaces: { name: string; labels: Record<string, string> }[];
  guardrails: unknown[];
  networkPolicy: { metadata: { name: string; namespace: string } };
  expect: { allowed: boolean; findings: string[]; messages?: string[]; warnings?: string[] };
}

const scenarios: Scenario[] = readdirSync(CASES_DIR)
  .filter((file) => file.endsWith('.yaml') && !file.startsWith('_'))
  .sort()
  .map((file) => ({ name: file.replace(/\.yaml$/, ''), ...parse(readFileSync(path.join(CASES_DIR, file), 'utf8')) }));

/** The scenario's whole policy file: tiers, guardrails and namespaces. */
function policyText(scenario: Scenario): string {
  const namespaces = scenario.namespaces.map((ns) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns.name, labels: ns.labels } }));
  return [TIERS, ...[...scenario.guardrails, ...namespaces].map((doc) => stringify(doc))].join('---\n');
}

const key = (finding: { path: string; guardrail: string; rule: string; mode: string }) => `${finding.path} ${finding.guardrail}/${finding.rule} ${finding.mode}`;

describe('network scenarios through the engine', () => {
  it.each(scenarios.map((scenario) => ({ ...scenario, label: `${scenario.name}: ${scenario.description}` })))('$label', (scenario) => {
    const compiled = compilePolicySet(parseManifestText(policyText(scenario), `${scenario.name}.yaml`), { generation: 1 });
    expect(compiled.problems).toEqual([]);
    const namespaceName = scenario.networkPolicy.metadata.namespace;
    const known = compiled.namespaces.find((ns) => ns.name === namespaceName);
    const result = validate(compiled.set!, {
      operation: 'CREATE',
      kind: { group: 'networking.k8s.io', kind: 'NetworkPolicy' },
      namespace: { name: namespaceName, labels: known?.labels ?? { [NAMESPACE_NAME_LABEL]: namespaceName }, known: known !== undefined },
      object: scenario.networkPolicy,
      knownNamespaces: compiled.namespaces,
    }, { excludedNamespaces: new Set() });
    expect(result.errors).toEqual([]);
    expect(result.findings.map(key).sort()).toEqual([...scenario.expect.findings].sort());
    if (scenario.expect.messages) expect(result.findings.map((f) => f.message)).toEqual(scenario.expect.messages);
    const decision = decide(result, { failureMode: 'deny', subject: 'NetworkPolicy' });
    expect(decision.allowed).toBe(scenario.expect.allowed);
    if (scenario.expect.warnings) expect(decision.warnings).toEqual(scenario.expect.warnings);
  });
});

describe('network scenarios through the HTTPS webhook', () => {
  let certs: TestCertificates;
  let dir: string;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(() => {
    certs = testCertificates();
    dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-scenarios-'));
  });
  afterAll(async () => { await Promise.all(closers.map((close) => close())); });

  it.each(scenarios)('$name', async (scenario) => {
    const file = path.join(dir, `${scenario.name}.yaml`);
    writeFileSync(file, policyText(scenario));
    const server = await startServer(parseServeOptions({
      config: [file], address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0, tlsCert: certs.certFile, tlsKey: certs.keyFile,
    }), silentLogger);
    closers.push(() => server.close());
    const body = review('validate-create-networkpolicy');
    body.request.namespace = scenario.networkPolicy.metadata.namespace;
    body.request.name = scenario.networkPolicy.metadata.name;
    body.request.object = scenario.networkPolicy;
    const response = (await request({ port: server.port, ca: certs.caCert, path: '/validate', body: JSON.stringify(body) })).json().response;
    expect(response.uid).toBe(body.request.uid);
    expect(response.allowed).toBe(scenario.expect.allowed);
    const enforced = scenario.expect.findings.filter((finding) => finding.endsWith(' Enforce'));
    if (!scenario.expect.allowed) {
      expect(response.status.code).toBe(403);
      const lines = response.status.message.split('\n').slice(1);
      expect(lines).toHaveLength(enforced.length);
      for (const message of scenario.expect.messages ?? []) expect(lines.some((line: string) => line.endsWith(message))).toBe(true);
    }
    if (scenario.expect.warnings) expect(response.warnings ?? []).toEqual(scenario.expect.warnings);
  });
});
