/**
 * Self-managed certificates and readiness against a real kube-apiserver, with tierguard running as
 * the chart's ServiceAccount under the chart's own RBAC (rendered by a real Helm): a webhook
 * registered by URL on 127.0.0.1, /readyz only once every webhook configuration trusts the CA,
 * an overwritten caBundle published again, rotation under requests, and no webhook connection
 * accepted before a policy set is in force.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { applyChartRbac, chartServiceAccountKubeconfig } from '../helpers/chart-identity.js';
import { CLUSTER_START_TIMEOUT_MS, startCluster, startTierguard, waitFor, type TestCluster, type TierguardProcess } from '../helpers/kube-cluster.js';
import { describeCluster } from '../helpers/describe-cluster.js';
import { isListening } from '../helpers/managed-process.js';

const NAMESPACE = 'tierguard';
const SECRET = 'tierguard-tls';

describeCluster('self-managed certificates and readiness in a real cluster', () => {
  let cluster: TestCluster;
  let kubeconfig: string;

  /** The webhook configurations' caBundles, decoded, one per webhook. */
  async function caBundles(): Promise<string[]> {
    const bundles: string[] = [];
    for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
      const result = await cluster.kubectl(['get', kind, 'tierguard', '-o', 'jsonpath={range .webhooks[*]}{.clientConfig.caBundle}{"\\n"}{end}']);
      if (result.code !== 0) continue;
      bundles.push(...result.stdout.split('\n').filter((line) => line !== '').map((line) => Buffer.from(line, 'base64').toString('utf8')));
    }
    return bundles;
  }
  async function secret(): Promise<Record<string, string>> {
    const result = await cluster.kubectl(['get', 'secret', SECRET, '-n', NAMESPACE, '-o', 'jsonpath={.data}']);
    if (result.code !== 0 || !result.stdout) return {};
    return Object.fromEntries(Object.entries(JSON.parse(result.stdout) as Record<string, string>).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
  }
  const readyz = async (tierguard: TierguardProcess) => (await fetch(`http://127.0.0.1:${tierguard.metricsPort}/readyz`)).status;
  /** A NetworkPolicy dry run through the API server: the webhook is called over TLS by URL. */
  const dryRunNetworkPolicy = (name: string) => cluster.kubectl(['create', '--dry-run=server', '-n', 'default', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name }, spec: { podSelector: {}, policyTypes: ['Ingress'] } }),
  });
  const selfManaged = (extra: string[] = []) => startTierguard(cluster, {
    kubeconfig,
    certificates: 'self-managed',
    args: ['--namespace', NAMESPACE, '--tls-secret', SECRET, '--webhook-configuration', 'tierguard', '--ip', '127.0.0.1', '--cert-check-interval', '500', ...extra],
  });

  beforeAll(async () => {
    cluster = await startCluster();
    await cluster.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
    // The chart's ServiceAccount and RBAC, as a real Helm renders them: tierguard gets no more than an install grants.
    await applyChartRbac(cluster, NAMESPACE);
    kubeconfig = await chartServiceAccountKubeconfig(cluster, NAMESPACE);
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => { await cluster?.stop(); }, 60_000);

  it('is not ready while its webhook configurations do not exist, and says which; once registered by URL without a caBundle it publishes the CA, the API server trusts it (127.0.0.1 SAN) and /readyz is 200', async () => {
    const tierguard = await selfManaged();
    await tierguard.waitForLog(/webhook configuration not found: not ready until it exists and trusts the CA.*"names":\["tierguard"\]/);
    expect(await readyz(tierguard)).toBe(503);

    await cluster.registerWebhooks({ name: 'tierguard', url: tierguard.url });
    await tierguard.waitReady();
    const stored = await secret();
    expect(stored['ca.crt']).toContain('BEGIN CERTIFICATE');
    expect(await caBundles()).toEqual(Array(3).fill(stored['ca.crt']));
    // The API server calls the webhook by URL and verifies its certificate: no x509 error.
    const result = await waitFor(async () => {
      const attempt = await dryRunNetworkPolicy('probe');
      return attempt.code === 0 ? attempt : undefined;
    }, { what: 'a dry run through the webhook', timeoutMs: 30_000 });
    expect(result.stderr).not.toMatch(/x509|failed calling webhook/);
    expect(await requestsAnswered(tierguard)).toBeGreaterThan(0);
    await tierguard.stop();
  });

  it('publishes the CA bundle again within seconds when something overwrites it (a helm upgrade, an Argo CD sync)', async () => {
    const tierguard = await selfManaged();
    await cluster.registerWebhooks({ name: 'tierguard', url: tierguard.url, caBundle: (await secret())['ca.crt'] ?? '' });
    await tierguard.waitReady();
    const ca = (await secret())['ca.crt'];
    // What a re-rendered chart whose lookup came back empty applies: the webhooks without a caBundle.
    await cluster.registerWebhooks({ name: 'tierguard', url: tierguard.url, caBundle: '' });
    await waitFor(async () => ((await caBundles()).every((bundle) => bundle === ca) ? true : undefined), { what: 'the caBundle published again', timeoutMs: 15_000 });
    await tierguard.waitForLog(/webhook configuration changed; publishing the CA bundle again/);
    await tierguard.waitReady(15_000);
    const result = await waitFor(async () => {
      const attempt = await dryRunNetworkPolicy('after-overwrite');
      return attempt.code === 0 ? attempt : undefined;
    }, { what: 'a dry run through the webhook', timeoutMs: 30_000 });
    expect(result.stderr).toBe('');
    await tierguard.stop();
  });

  it('rotates the serving certificate and the CA under requests through the API server without a single failure', async () => {
    // Start from no Secret, so the short lifetimes below apply from the first certificate on.
    await cluster.kubectl(['delete', 'secret', SECRET, '-n', NAMESPACE, '--ignore-not-found']);
    const tierguard = await selfManaged(['--cert-validity', '12s', '--ca-validity', '30s']);
    await cluster.registerWebhooks({ name: 'tierguard', url: tierguard.url, caBundle: '' });
    await tierguard.waitReady();
    const served = new Set<string>();
    let mostCas = 0;
    const failures: string[] = [];
    let requests = 0;
    let done = false;
    // Bounded: two clients, at most 150 dry runs each, until three serving certificates have been stored.
    const rotations = waitFor(async () => {
      const stored = await secret();
      if (stored['tls.crt']) served.add(stored['tls.crt']);
      mostCas = Math.max(mostCas, splitCertificates(stored['ca.crt'] ?? '').length);
      return served.size >= 3 && mostCas >= 2 ? true : undefined;
    }, { what: 'two rotations of the serving certificate and a new CA', timeoutMs: 90_000, intervalMs: 500 })
      .catch((error: Error) => { throw new Error(`${error.message}; tierguard said:\n${tierguard.logs().split('\n').slice(-30).join('\n')}`); })
      .finally(() => { done = true; });
    const client = async (id: number) => {
      for (let i = 0; i < 150 && !done; i += 1) {
        const result = await dryRunNetworkPolicy(`load-${id}-${i}`);
        requests += 1;
        if (result.code !== 0) failures.push(result.stderr.trim());
      }
    };
    await Promise.all([client(1), client(2), rotations]);
    console.log(`rotation under requests: ${requests} dry runs through the API server, ${failures.length} failed; ${served.size} serving certificates, up to ${mostCas} CAs in the bundle`);
    expect(failures).toEqual([]);
    expect(served.size).toBeGreaterThanOrEqual(3);
    expect(mostCas).toBe(2);
    expect(requests).toBeGreaterThan(10);
    await tierguard.stop();
  }, 150_000);

  it('accepts no webhook connection before a policy set is in force; then --config files and cluster objects make one set', async () => {
    await cluster.unregisterWebhooks('tierguard');
    const dir = mkdtempSync(path.join(cluster.dir, 'config-'));
    const file = path.join(dir, 'policies.yaml');
    writeFileSync(file, 'apiVersion: tierguard.dev/v1alpha1\nkind: Tier\nmetadata: {name: files}\nspec: {priority: [unclosed\n');
    const tierguard = await startTierguard(cluster, { args: ['--config', dir, '--config-poll-interval', '200'] });
    await tierguard.waitForLog(/waiting for a policy set before accepting webhook connections/);
    expect(await isListening(tierguard.port)).toBe(false);
    expect(await readyz(tierguard)).toBe(503);

    writeFileSync(file, 'apiVersion: tierguard.dev/v1alpha1\nkind: Tier\nmetadata: {name: files}\nspec: {priority: 999}\n');
    await tierguard.waitReady();
    expect(await isListening(tierguard.port)).toBe(true);

    // A cluster Guardrail in the tier that only the --config file declares comes into force.
    await cluster.apply({ apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', metadata: { name: 'in-file-tier' }, spec: { tier: 'files', priority: 1, labels: { match: { resources: ['Pod'] }, required: [{ key: 'team' }] } } });
    await waitFor(async () => {
      const condition = await cluster.kubectl(['get', 'guardrail', 'in-file-tier', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
      return condition.stdout === 'True' ? true : undefined;
    }, { what: 'the Guardrail in the files tier Ready', timeoutMs: 30_000 });
    await tierguard.stop();
  });
});

function splitCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

async function requestsAnswered(tierguard: TierguardProcess): Promise<number> {
  const text = await tierguard.metrics();
  return text.split('\n').filter((line) => line.startsWith('tierguard_admission_requests_total{')).reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}
