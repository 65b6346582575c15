/**
 * BENCH DRIVER, not a test (run by bench/sections/apiserver-latency.mjs through vite-node): the
 * latency tierguard's webhooks add to requests through a real kube-apiserver (issue 11 item 4).
 *
 * A real control plane (test/helpers/kube-cluster.ts, KUBEBUILDER_ASSETS) with the chart's CRDs,
 * a policy set applied as cluster objects, and the built tierguard. Then, in interleaved rounds
 * with the webhooks registered and not, sequential dry-run CREATEs of a Pod and a NetworkPolicy
 * (`POST …?dryRun=All`, what `kubectl create --dry-run=server` sends) over one keep-alive
 * connection, timed at the client; and tierguard's own duration histogram over the same requests.
 * Prints one JSON line on stdout.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { REPO_DIR } from '../helpers/fixtures.js';
import { metricSum, startCluster, startTierguard, waitFor, type TestCluster, type TierguardProcess } from '../helpers/kube-cluster.js';

const REQUESTS = Number(process.env.BENCH_APISERVER_REQUESTS ?? 200);
const ROUNDS = Number(process.env.BENCH_APISERVER_ROUNDS ?? 3);
const CONFIG = process.env.BENCH_APISERVER_CONFIG ?? path.join(REPO_DIR, 'examples', 'policies');

const pod = {
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'bench', namespace: 'payments', labels: { app: 'api', team: 'payments', 'segment.tierguard.dev/domain': 'payments', 'data-classification': 'internal' } },
  spec: { containers: [{ name: 'api', image: 'registry.example/api:1' }] },
};
const networkPolicy = {
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
  metadata: { name: 'bench', namespace: 'payments', labels: { 'segment.tierguard.dev/domain': 'payments' } },
  spec: { podSelector: { matchLabels: { app: 'api' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }] },
};
const targets = [
  { name: 'pod', path: '/api/v1/namespaces/payments/pods', body: JSON.stringify(pod) },
  { name: 'networkpolicy', path: '/apis/networking.k8s.io/v1/namespaces/payments/networkpolicies', body: JSON.stringify(networkPolicy) },
] as const;

type Phase = 'without' | 'with';

function client(cluster: TestCluster) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(cluster.caFile) });
  const url = new URL(cluster.server);
  return (requestPath: string, body: string): Promise<{ status: number; ms: number; text: string }> => new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = https.request({
      host: url.hostname, port: url.port, method: 'POST', path: `${requestPath}?dryRun=All`, agent,
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${cluster.token.admin}`, 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - started) / 1e6, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const percentile = (sorted: readonly number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const round = (value: number) => Math.round(value * 100) / 100;

async function admissionCalls(tierguard: TierguardProcess): Promise<{ count: number; sum: number }> {
  const text = await tierguard.metrics();
  return { count: metricSum(text, 'tierguard_admission_duration_seconds_count'), sum: metricSum(text, 'tierguard_admission_duration_seconds_sum') };
}

/** Registers or removes the webhooks and waits until the API server acts on it. */
async function switchTo(phase: Phase, cluster: TestCluster, tierguard: TierguardProcess, post: ReturnType<typeof client>): Promise<void> {
  if (phase === 'with') await cluster.registerWebhooks({ name: 'tierguard', url: tierguard.url, caBundle: tierguard.caCert });
  else await cluster.unregisterWebhooks('tierguard');
  let settled = 0;
  await waitFor(async () => {
    const before = (await admissionCalls(tierguard)).count;
    await post(targets[0].path, targets[0].body);
    const called = (await admissionCalls(tierguard)).count > before;
    settled = called === (phase === 'with') ? settled + 1 : 0;
    return settled >= 5;
  }, { what: `the webhooks ${phase === 'with' ? 'in effect' : 'gone'}`, timeoutMs: 30_000, intervalMs: 50 });
}

/** REQUESTS sequential dry runs of each target, appended to `times[target][phase]`. */
async function timeRequests(post: ReturnType<typeof client>, phase: Phase, times: Record<string, Record<Phase, number[]>>): Promise<void> {
  for (let i = 0; i < REQUESTS; i += 1) {
    for (const target of targets) {
      const { status, ms, text } = await post(target.path, target.body);
      if (status !== 201) throw new Error(`${target.name} dry run (${phase} webhooks) answered ${status}: ${text.slice(0, 300)}`);
      times[target.name]![phase].push(ms);
    }
  }
}

async function main(): Promise<void> {
  const cluster = await startCluster();
  try {
    await cluster.apply(readFileSync(path.join(REPO_DIR, 'examples', 'manifests', 'namespaces.yaml'), 'utf8'));
    const applied = await cluster.kubectl(['apply', '-f', CONFIG]);
    if (applied.code !== 0) throw new Error(`cannot apply ${CONFIG}: ${applied.stderr}`);
    const tierguard = await startTierguard(cluster);
    await tierguard.waitReady();
    const ready = await cluster.kubectl(['wait', '--for=condition=Ready', '--timeout=120s', 'guardrails', '--all']);
    if (ready.code !== 0) throw new Error(`guardrails not Ready: ${ready.stderr}`);
    const post = client(cluster);
    const times: Record<string, Record<Phase, number[]>> = Object.fromEntries(targets.map((target) => [target.name, { without: [], with: [] }]));
    let inTierguard = { count: 0, sum: 0 };
    for (let r = 0; r < ROUNDS; r += 1) {
      for (const phase of ['without', 'with'] as const) {
        await switchTo(phase, cluster, tierguard, post);
        const before = await admissionCalls(tierguard);
        await timeRequests(post, phase, times);
        if (phase === 'with') {
          const after = await admissionCalls(tierguard);
          inTierguard = { count: inTierguard.count + after.count - before.count, sum: inTierguard.sum + after.sum - before.sum };
        }
      }
    }
    const rows = targets.map((target) => {
      const summary = (phase: Phase) => {
        const sorted = [...times[target.name]![phase]].sort((a, b) => a - b);
        return { p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)) };
      };
      const without = summary('without');
      const withWebhooks = summary('with');
      return { target: target.name, requests: REQUESTS * ROUNDS, without, with: withWebhooks, addedP50: round(withWebhooks.p50 - without.p50), addedP99: round(withWebhooks.p99 - without.p99) };
    });
    const webhookCallMs = inTierguard.count > 0 ? round((inTierguard.sum / inTierguard.count) * 1000) : NaN;
    process.stdout.write(`${JSON.stringify({ config: path.relative(REPO_DIR, CONFIG), rows, webhookCalls: inTierguard.count, webhookCallMeanMs: webhookCallMs })}\n`);
  } finally {
    await cluster.stop();
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exitCode = 1;
});
