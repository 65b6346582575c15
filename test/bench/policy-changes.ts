/**
 * BENCH DRIVER, not a test (run by bench/sections/policy-changes.mjs through vite-node): tierguard
 * with a large policy set in a real cluster (issue 11 items 3 and 5).
 *
 * A real control plane with the chart's CRDs; the realistic set of bench/realistic-set.mjs with
 * BENCH_POLICY_GUARDRAILS guardrails (default 1,000) and its namespaces created as cluster objects
 * before tierguard starts. Then:
 * - start to ready: spawn of `tierguard serve --kubeconfig` to `/readyz` 200 (polled every 10 ms), and its resident memory;
 * - Tier and Guardrail admission: sequential dry-run CREATEs of a new Guardrail and a new Tier,
 *   with the webhooks registered and not, in interleaved rounds, timed at the client, beside
 *   tierguard's own duration histogram for those kinds;
 * - hot reload: an edit of one Guardrail's spec until tierguard's `tierguard_policy_set_info`
 *   shows the next generation (its 50 ms debounce included);
 * - resident memory after all of it.
 * Prints one JSON line on stdout.
 */
import { readFileSync } from 'node:fs';
import { generateRealisticSet } from '../../bench/realistic-set.mjs';
import { metricSum, startCluster, startTierguard, waitFor, type TestCluster, type TierguardProcess } from '../helpers/kube-cluster.js';
import { apiClient, percentile, round, runDriver, type ApiRequest } from './api-client.js';

const GUARDRAILS = Number(process.env.BENCH_POLICY_GUARDRAILS ?? 1000);
const REQUESTS = Number(process.env.BENCH_POLICY_REQUESTS ?? 50);
// 6 rounds of 50: the p99 of 300 dry runs is their third slowest, not the slowest (with 100, one pause of the
// API server set it: the same code measured 27.8 and 51.3 ms)
const ROUNDS = Number(process.env.BENCH_POLICY_ROUNDS ?? 6);
const RELOADS = Number(process.env.BENCH_POLICY_RELOADS ?? 10);
const API = 'tierguard.dev/v1alpha1';

type Phase = 'without' | 'with';

const newGuardrail = {
  apiVersion: API, kind: 'Guardrail', metadata: { name: 'bench-new-guardrail' },
  spec: {
    tier: 'security', priority: 999, mode: 'Enforce',
    subject: { namespaces: { matchLabels: { env: 'prod' } } },
    ingress: [{ name: 'deny-dev', action: 'Deny', from: [{ namespaces: { matchLabels: { env: 'dev' } } }] }],
  },
};
const newTier = { apiVersion: API, kind: 'Tier', metadata: { name: 'bench-new-tier' }, spec: { priority: 999 } };
const targets = [
  { name: 'Guardrail', path: '/apis/tierguard.dev/v1alpha1/guardrails', body: JSON.stringify(newGuardrail) },
  { name: 'Tier', path: '/apis/tierguard.dev/v1alpha1/tiers', body: JSON.stringify(newTier) },
] as const;

const summary = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)), max: round(sorted.at(-1) ?? NaN) };
};

function residentMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : NaN;
}

async function generation(tierguard: TierguardProcess): Promise<number> {
  const match = /tierguard_policy_set_info\{generation="(\d+)"\} 1/.exec(await tierguard.metrics());
  return match ? Number(match[1]) : 0;
}

async function calls(tierguard: TierguardProcess, kind: string): Promise<{ count: number; sum: number }> {
  const text = await tierguard.metrics();
  return {
    count: metricSum(text, 'tierguard_admission_duration_seconds_count', { kind }),
    sum: metricSum(text, 'tierguard_admission_duration_seconds_sum', { kind }),
  };
}

async function switchTo(phase: Phase, cluster: TestCluster, tierguard: TierguardProcess, post: ApiRequest): Promise<void> {
  if (phase === 'with') await cluster.registerWebhooks({ name: 'tierguard', url: tierguard.url, caBundle: tierguard.caCert });
  else await cluster.unregisterWebhooks('tierguard');
  let settled = 0;
  await waitFor(async () => {
    const before = (await calls(tierguard, 'Guardrail')).count;
    await post('POST', `${targets[0].path}?dryRun=All`, targets[0].body);
    const called = (await calls(tierguard, 'Guardrail')).count > before;
    settled = called === (phase === 'with') ? settled + 1 : 0;
    return settled >= 5;
  }, { what: `the webhooks ${phase === 'with' ? 'in effect' : 'gone'}`, timeoutMs: 30_000, intervalMs: 50 });
}

/** Creates every object with POSTs, a few at a time (kubectl's client-side throttling makes 2,000 objects take minutes). */
async function createAll(post: ApiRequest, set: ReturnType<typeof generateRealisticSet>): Promise<number> {
  const started = performance.now();
  const collections: Record<string, string> = { Namespace: '/api/v1/namespaces', Tier: '/apis/tierguard.dev/v1alpha1/tiers', Guardrail: '/apis/tierguard.dev/v1alpha1/guardrails' };
  for (const objects of [set.namespaces, set.tiers, set.guardrails]) {
    const queue = [...objects];
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let object = queue.shift(); object; object = queue.shift()) {
        let { status, text } = await post('POST', collections[object.kind]!, JSON.stringify(object));
        // kube-system and the like exist already: they get the generated labels.
        if (status === 409 && object.kind === 'Namespace') ({ status, text } = await post('PATCH', `/api/v1/namespaces/${object.metadata.name}`, JSON.stringify({ metadata: { labels: object.metadata.labels } }), 'application/merge-patch+json'));
        if (status !== 201 && status !== 200) throw new Error(`cannot create ${object.kind} ${object.metadata.name}: ${status} ${text.slice(0, 500)}`);
      }
    }));
  }
  return performance.now() - started;
}

type Times = Record<string, Record<Phase, number[]>>;
type Calls = Record<string, { count: number; sum: number }>;

/** REQUESTS dry runs of each target per phase and round, and tierguard's own time for those with the webhooks. */
async function timeAdmissions(cluster: TestCluster, tierguard: TierguardProcess, post: ApiRequest): Promise<{ times: Times; inTierguard: Calls }> {
  const times: Times = Object.fromEntries(targets.map((target) => [target.name, { without: [], with: [] }]));
  const inTierguard: Calls = Object.fromEntries(targets.map((target) => [target.name, { count: 0, sum: 0 }]));
  for (let r = 0; r < ROUNDS; r += 1) {
    for (const phase of ['without', 'with'] as const) {
      await switchTo(phase, cluster, tierguard, post);
      const before = Object.fromEntries(await Promise.all(targets.map(async (target) => [target.name, await calls(tierguard, target.name)] as const)));
      await dryRuns(post, phase, times);
      if (phase === 'without') continue;
      for (const target of targets) {
        const after = await calls(tierguard, target.name);
        const total = inTierguard[target.name]!;
        total.count += after.count - before[target.name]!.count;
        total.sum += after.sum - before[target.name]!.sum;
      }
    }
  }
  return { times, inTierguard };
}

async function dryRuns(post: ApiRequest, phase: Phase, times: Times): Promise<void> {
  for (let i = 0; i < REQUESTS; i += 1) {
    for (const target of targets) {
      const { status, ms, text } = await post('POST', `${target.path}?dryRun=All`, target.body);
      if (status !== 201) throw new Error(`${target.name} dry run (${phase} webhooks) answered ${status}: ${text.slice(0, 300)}`);
      times[target.name]![phase].push(ms);
    }
  }
}

async function main(): Promise<Record<string, unknown>> {
  const cluster = await startCluster();
  try {
    const set = generateRealisticSet({ guardrails: GUARDRAILS });
    const post = apiClient(cluster, { maxSockets: 8 });
    const createMs = await createAll(post, set);

    const tierguard = await startTierguard(cluster);
    await tierguard.waitReady(120_000, 10);
    // From the spawn: startTierguard first makes a certificate (two RSA keys, 0.6-0.9 s here), which is the harness's time.
    const readyMs = performance.now() - tierguard.spawnedAt;
    const readyRssMb = residentMb(tierguard.process.pid);
    if (process.env.BENCH_POLICY_LOGS) process.stderr.write(tierguard.logs());

    const { times, inTierguard } = await timeAdmissions(cluster, tierguard, post);

    // Hot reload: each edit changes one Guardrail's spec; the time until the next generation is in force.
    const edited = set.guardrails[0]!.metadata.name;
    const reloads: number[] = [];
    for (let i = 0; i < RELOADS; i += 1) {
      const before = await generation(tierguard);
      const started = performance.now();
      const patch = JSON.stringify({ spec: { description: `bench edit ${i}` } });
      const { status, text } = await post('PATCH', `/apis/tierguard.dev/v1alpha1/guardrails/${edited}`, patch, 'application/merge-patch+json');
      if (status !== 200) throw new Error(`edit of Guardrail ${edited} answered ${status}: ${text.slice(0, 300)}`);
      await waitFor(async () => (await generation(tierguard)) > before, { what: 'the edited set in force', timeoutMs: 60_000, intervalMs: 5 });
      reloads.push(performance.now() - started);
    }

    const rows = targets.map((target) => {
      const without = summary(times[target.name]!.without);
      const withWebhooks = summary(times[target.name]!.with);
      const own = inTierguard[target.name]!;
      return {
        target: target.name,
        requests: REQUESTS * ROUNDS,
        without,
        with: withWebhooks,
        addedP50: round(withWebhooks.p50 - without.p50),
        addedP99: round(withWebhooks.p99 - without.p99),
        tierguardMeanMs: own.count > 0 ? round((own.sum / own.count) * 1000) : NaN,
      };
    });
    return {
      guardrails: set.stats.guardrails,
      namespaces: set.stats.namespaces,
      createSeconds: round(createMs / 1000),
      readyMs: Math.round(readyMs),
      readyRssMb,
      rows,
      reload: summary(reloads),
      afterRssMb: residentMb(tierguard.process.pid),
    };
  } finally {
    await cluster.stop();
  }
}

runDriver(main);
