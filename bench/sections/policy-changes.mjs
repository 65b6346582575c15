// tierguard with a large policy set in a real cluster (issue 11 items 3 and 5): time from start to
// ready and resident memory, Tier and Guardrail admission latency (dry-run CREATEs with the
// webhooks registered and not, interleaved), and hot reload after an edit. The control plane
// comes from KUBEBUILDER_ASSETS (test/helpers/kube-cluster.ts); without it this section is
// skipped. The driver is test/bench/policy-changes.ts, run with vite-node.
//
// Settings: BENCH_POLICY_GUARDRAILS (default 1000), BENCH_POLICY_REQUESTS (per target, phase and
// round, default 50), BENCH_POLICY_ROUNDS (default 2), BENCH_POLICY_RELOADS (default 10).
import { latencyColumns, runDriver, skipped } from './_cluster-driver.mjs';

export const title = 'policy changes at scale in a real cluster';

export function estimatedSeconds() {
  if (!process.env.KUBEBUILDER_ASSETS) return 0;
  const guardrails = Number(process.env.BENCH_POLICY_GUARDRAILS ?? 1000);
  const requests = Number(process.env.BENCH_POLICY_REQUESTS ?? 50) * Number(process.env.BENCH_POLICY_ROUNDS ?? 6);
  return 40 + Math.ceil(guardrails * 0.03) + Math.ceil(requests * 4 * 0.02);
}

export async function run(ctx) {
  if (!process.env.KUBEBUILDER_ASSETS) return skipped(title, 'policy changes');
  const result = await runDriver(ctx, 'policy-changes.ts', estimatedSeconds() + 300);
  const rows = result.rows.map((row) => ({ target: `${row.target} admission`, ...latencyColumns(row), tierguardMeanMs: row.tierguardMeanMs }));
  const summary = [
    `policy changes (${result.guardrails} guardrails, ${result.namespaces} namespaces as cluster objects): start to ready ${result.readyMs} ms, RSS ${result.readyRssMb} MB at ready and ${result.afterRssMb} MB after the runs`,
    `  admission added p99: ${result.rows.map((row) => `${row.target} ${row.addedP99} ms (tierguard's own mean ${row.tierguardMeanMs} ms)`).join(', ')}`,
    `  hot reload (edit to next generation in force, 50 ms debounce included): p50 ${result.reload.p50} ms, max ${result.reload.max} ms`,
  ];
  return { title, rows, summary };
}
