/**
 * The install steps of docs/operations.md and the commands of docs/troubleshooting.md, run as
 * written against a real kube-apiserver after a real `helm install`: the release, namespace,
 * Deployment name and labels the pages name are the ones the chart creates. There is no kubelet
 * here, so no replica ever runs: `--wait` and `kubectl rollout status` are left out, and with the
 * chart's default failurePolicy Ignore the API server admits what tierguard would have checked.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { helm } from '../helpers/helm.js';
import { runCommand } from '../helpers/managed-process.js';
import { CLUSTER_START_TIMEOUT_MS, startCluster, type TestCluster } from '../helpers/kube-cluster.js';
import { describeCluster } from '../helpers/describe-cluster.js';
import { REPO_DIR } from '../helpers/fixtures.js';

/** The `kubectl` lines of the shell blocks under a heading of docs/troubleshooting.md, as written. */
function commandsUnder(heading: string): string[] {
  const page = readFileSync(path.join(REPO_DIR, 'docs', 'troubleshooting.md'), 'utf8');
  const section = page.split(/^## /m).find((part) => part.startsWith(heading));
  if (!section) throw new Error(`docs/troubleshooting.md has no section "${heading}"`);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap(([, block]) => (block ?? '').split('\n').filter((line) => line.startsWith('kubectl ')));
}

/** Shell words of a command without spaces inside quotes: the quotes go, as the shell takes them. */
const words = (command: string) => command.replace(/^kubectl /, '').split(' ').map((word) => word.replace(/'/g, ''));

describeCluster('the commands of the operations and troubleshooting pages', () => {
  let cluster: TestCluster;
  const kubectl = (command: string) => cluster.kubectl(words(command));

  beforeAll(async () => {
    cluster = await startCluster({ crds: false });
    // docs/operations.md, "failurePolicy is Ignore until you say otherwise", without --wait.
    const installed = await helm(['install', 'tierguard', './charts/tierguard', '-n', 'tierguard', '--create-namespace', '--set', 'image.repository=registry.example.com/tierguard', '--kubeconfig', cluster.kubeconfig.admin]);
    if (installed.code !== 0) throw new Error(`helm install failed: ${installed.stderr}`);
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('"failed calling webhook": each command runs on what the chart installed, and the label finds the release\'s webhooks', async () => {
    const commands = commandsUnder('`kubectl apply` fails with "failed calling webhook"');
    expect(commands).toHaveLength(3);
    for (const command of commands) {
      // `logs` would wait for a replica, and none runs without a kubelet: the Deployment it names must exist.
      const result = await kubectl(command.replace(/ logs (deploy\/\S+)$/, ' get $1 -o name'));
      expect(result.code, `${command}: ${result.stderr}`).toBe(0);
      if (command.includes(' logs ')) expect(result.stdout).toBe('deployment.apps/tierguard\n');
      if (command.includes('webhookconfigurations')) {
        expect(result.stdout).toMatch(/^validatingwebhookconfiguration\.admissionregistration\.k8s\.io\/tierguard\s/m);
        expect(result.stdout).toMatch(/^mutatingwebhookconfiguration\.admissionregistration\.k8s\.io\/tierguard\s/m);
      }
    }
  });

  it('"A Guardrail is not in force": both commands run on what the chart installed', async () => {
    const [list, condition, ...rest] = commandsUnder('A Guardrail is not in force');
    expect([list, condition, rest]).toEqual(['kubectl get tiers,guardrails', expect.stringMatching(/^kubectl get guardrail NAME /), []]);
    await cluster.apply(stringify({ apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name: 'security' }, spec: { priority: 100 } }));
    await cluster.apply(stringify({ apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', metadata: { name: 'probe' }, spec: { tier: 'security', priority: 1, labels: { match: { resources: ['Pod'] }, required: [{ key: 'team' }] } } }));
    const listed = await kubectl(list!);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^tier\.tierguard\.dev\/security\b/m);
    expect(listed.stdout).toMatch(/^guardrail\.tierguard\.dev\/probe\b/m);
    // Nothing serves the webhook here, so no status is written: the jsonpath is valid and finds nothing.
    const ready = await kubectl(condition!.replace(' NAME ', ' probe '));
    expect(ready).toMatchObject({ code: 0, stdout: '' });
  });

  it('"Upgrade": the stored Tiers and Guardrails, as kubectl prints them, go through the new version\'s lint, which finds one it would refuse', async () => {
    const section = readFileSync(path.join(REPO_DIR, 'docs', 'operations.md'), 'utf8').split(/^### /m).find((part) => part.startsWith('Upgrade'));
    const commands = [...(section ?? '').matchAll(/```sh\n([\s\S]*?)```/g)].map(([, block]) => block ?? '').find((block) => block.includes('tierguard lint'))?.trim().split('\n');
    expect(commands).toEqual(['kubectl get tiers,guardrails -o yaml > stored.yaml', 'tierguard lint --config stored.yaml']);
    // Stored while nothing answers the webhook (failurePolicy Ignore), as an older version would have admitted it.
    await cluster.apply(stringify({ apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', metadata: { name: 'typed-later' }, spec: { tier: 'security', priority: 2, validations: [{ resources: ['Pod'], expression: 'object.metadata.name + 1 == 2' }] } }));
    const stored = await kubectl('get tiers,guardrails -o yaml');
    expect(stored.code, stored.stderr).toBe(0);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-upgrade-'));
    try {
      writeFileSync(path.join(dir, 'stored.yaml'), stored.stdout);
      const lint = await runCommand({ command: process.execPath, args: [path.join(REPO_DIR, 'dist', 'cli', 'main.js'), 'lint', '--config', 'stored.yaml'], cwd: dir });
      expect(lint.code, lint.stderr).toBe(1);
      expect(lint.stdout).toBe('stored.yaml#1 (Guardrail typed-later) spec.validations[0].expression: CEL error at line 1, column 1: no such overload: string + int\n1 problem\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('"Upgrade": the helm upgrade of the page runs as written (without --wait: no replica runs here) and keeps failurePolicy Fail', async () => {
    const section = readFileSync(path.join(REPO_DIR, 'docs', 'operations.md'), 'utf8').split(/^### /m).find((part) => part.startsWith('Upgrade'));
    const block = [...(section ?? '').matchAll(/```sh\n([\s\S]*?)```/g)].map(([, text]) => text ?? '').find((text) => text.includes('helm upgrade'));
    const command = (block ?? '').replace(/\\\n\s*/g, '').split('\n').find((line) => line.startsWith('helm upgrade '));
    expect(command).toBe('helm upgrade tierguard ./charts/tierguard -n tierguard --reset-then-reuse-values --set webhook.failurePolicy=Fail --wait');
    const upgraded = await helm([...command!.replace(/^helm /, '').replace(/ --wait$/, '').split(' '), '--kubeconfig', cluster.kubeconfig.admin]);
    expect(upgraded.code, upgraded.stderr).toBe(0);
    const policies = await kubectl('get validatingwebhookconfigurations,mutatingwebhookconfigurations -l app.kubernetes.io/name=tierguard -o jsonpath={.items[*].webhooks[*].failurePolicy}');
    expect(new Set(policies.stdout.split(' '))).toEqual(new Set(['Fail']));
  });

  it('the last install step sets failurePolicy Fail on the release\'s webhooks', async () => {
    const upgraded = await helm(['upgrade', 'tierguard', './charts/tierguard', '-n', 'tierguard', '--reuse-values', '--set', 'webhook.failurePolicy=Fail', '--kubeconfig', cluster.kubeconfig.admin]);
    expect(upgraded.code, upgraded.stderr).toBe(0);
    const policies = await kubectl('get validatingwebhookconfigurations,mutatingwebhookconfigurations -l app.kubernetes.io/name=tierguard -o jsonpath={.items[*].webhooks[*].failurePolicy}');
    expect(policies.code, policies.stderr).toBe(0);
    expect(new Set(policies.stdout.split(' '))).toEqual(new Set(['Fail']));
  });
});
