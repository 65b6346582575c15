/**
 * `tierguard audit` as a user runs it, through the built command: exit codes (0 no Enforce
 * guardrail fails, 1 one does, 2 errors), the JSON shape of issue 12 and the text output.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_DIR } from '../helpers/fixtures.js';

const CLI = path.join(REPO_DIR, 'dist', 'cli', 'main.js');
const EXAMPLES = ['--config', path.join(REPO_DIR, 'examples', 'policies')];

function tierguard(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'audit', ...args], { cwd: REPO_DIR, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

function manifest(text: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-audit-'));
  const file = path.join(dir, 'objects.yaml');
  writeFileSync(file, text);
  return file;
}

/** What `kubectl get ... -o yaml` prints: a List. A prod namespace, a labelled Pod, a NetworkPolicy isolating it for Ingress only. */
const CLUSTER = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: payments, labels: {env: prod, segment.tierguard.dev/domain: payments}}
- apiVersion: v1
  kind: Pod
  metadata: {name: api-0, namespace: payments, labels: {app: api, segment.tierguard.dev/domain: payments, team: pay, data.tierguard.dev/classification: internal}}
  spec: {containers: [{name: c, image: busybox}]}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: api-ingress, namespace: payments, labels: {segment.tierguard.dev/domain: payments}}
  spec:
    podSelector: {matchLabels: {app: api}}
    ingress: [{from: [{podSelector: {}}]}]
`;

describe('tierguard audit', () => {
  it('exit 1 when an Enforce guardrail fails; JSON with results and isolation in the documented shape', async () => {
    const { code, stdout } = await tierguard('-f', path.join(REPO_DIR, 'examples', 'manifests'), ...EXAMPLES, '-o', 'json');
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(Object.keys(report)).toEqual(['results', 'isolation']);
    const tooOpen = report.results.find((result: any) => result.name === 'allow-everything');
    expect(tooOpen).toMatchObject({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace: 'payments' });
    expect(tooOpen.violations).toContainEqual({
      tier: 'security', guardrail: 'prod-egress', rule: 'no-internet', mode: 'Enforce', path: 'spec.egress[0]', compliance: ['PCI-DSS 1.3.4'],
      message: expect.stringMatching(/^NetworkPolicy payments\/allow-everything egress\[0\] allows TCP 443 to /),
      connection: expect.stringMatching(/^egress\[0\] allows TCP 443 to /),
    });
    for (const result of report.results) expect(Object.keys(result).sort()).toEqual(expect.arrayContaining(['kind', 'name', 'namespace', 'violations']));
  });

  it('reports the pods a Deny guardrail does not reach: Egress is not isolated by an Ingress-only NetworkPolicy', async () => {
    const { code, stdout } = await tierguard('-f', manifest(CLUSTER), ...EXAMPLES, '-o', 'json');
    const report = JSON.parse(stdout);
    expect(report.results).toEqual([]);
    expect(report.isolation).toEqual([
      { tier: 'security', guardrail: 'prod-egress', mode: 'Enforce', namespace: 'payments', direction: 'Egress', pods: 1, example: { app: 'api', 'segment.tierguard.dev/domain': 'payments', team: 'pay', 'data.tierguard.dev/classification': 'internal' } },
    ]);
    expect(code).toBe(1);
  });

  it('exit 0 once a NetworkPolicy isolates the pods for Egress too; the text output says what it evaluated', async () => {
    const isolated = CLUSTER.replace('    ingress: [{from: [{podSelector: {}}]}]', '    policyTypes: [Ingress, Egress]\n    ingress: [{from: [{podSelector: {}}]}]\n    egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}]}]');
    const { code, stdout } = await tierguard('-f', manifest(isolated), ...EXAMPLES);
    expect(stdout).toBe('3 objects evaluated (0 left alone): 0 failing an Enforce guardrail, 0 with other findings or errors; 0 isolation gaps\n');
    expect(code).toBe(0);
  });

  it('text output: one block per object with findings, the mode of non-Enforce ones, one line per isolation gap', async () => {
    const { stdout } = await tierguard('-f', manifest(CLUSTER.replace('team: pay, ', '')), ...EXAMPLES);
    expect(stdout.split('\n')).toEqual([
      'WARN Pod payments/api-0',
      '  - [Warn] metadata.labels[team]: missing required label team (tier platform, guardrail owner-label)',
      'NOT ISOLATED namespace payments, Egress: 1 pod of guardrail prod-egress (tier security) selected by no NetworkPolicy for Egress, so its Deny rules are not enforced there (e.g. app=api,segment.tierguard.dev/domain=payments,data.tierguard.dev/classification=internal)',
      '3 objects evaluated (0 left alone): 0 failing an Enforce guardrail, 1 with other findings or errors; 1 isolation gap',
      '',
    ]);
  });

  it.each([
    { name: 'a path that does not exist', args: ['-f', '/nonexistent/objects.yaml'], stderr: 'cannot read the manifests' },
    { name: 'a policy set that does not compile', args: ['-f', path.join(REPO_DIR, 'examples', 'manifests'), '--config', path.join(REPO_DIR, 'test', 'fixtures', 'policies', 'broken.yaml')], stderr: 'problem' },
    { name: 'neither -f nor --kubeconfig', args: [], stderr: 'give -f PATH... (manifests) or --kubeconfig FILE (a cluster, read-only)' },
    { name: 'both -f and --kubeconfig', args: ['-f', path.join(REPO_DIR, 'examples', 'manifests'), '--kubeconfig', '/nonexistent'], stderr: 'give -f PATH... (manifests) or --kubeconfig FILE' },
    { name: 'a kubeconfig that cannot be read', args: ['--kubeconfig', '/nonexistent/kubeconfig'], stderr: 'cannot read the cluster: cannot load --kubeconfig /nonexistent/kubeconfig' },
  ])('exit 2 for $name', async ({ args, stderr }) => {
    const result = await tierguard(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(stderr);
  });
});
