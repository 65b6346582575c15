// Latency tierguard adds through a real kube-apiserver (issue 11 item 4): dry-run CREATEs of a
// Pod and a NetworkPolicy, sequential on one keep-alive connection, in interleaved rounds with
// nothing registered, with tierguard's webhooks, with a bare webhook (bench/bare-server.mjs
// under the same configurations: what the API server itself spends calling webhooks, the floor),
// and with the bare webhook answering each mutating call with tierguard's own patch (what the API
// server spends calling a webhook that injects the same defaults: the floor of a mutating webhook
// that does tierguard's job, since the API server applies the patch within its wait).
// Beside the latencies, per webhook call: the API server's own wait on the webhook
// (apiserver_admission_webhook_admission_duration_seconds), tierguard's duration histogram, and
// the connections the API server opened (a handshake per call would show there). The control
// plane comes from KUBEBUILDER_ASSETS (test/helpers/kube-cluster.ts); without it this section is
// skipped. The driver is test/bench/apiserver-latency.ts, run with vite-node (it shares the test
// harness). The load average goes with the figures: on a busy 2-core machine they are mostly the
// scheduler's.
//
// tierguard runs the realistic set (issue 11 item 4), the one the HTTP scenarios use (the same
// seed and sizes), applied as cluster objects; its guardrails admit the driver's Pod and
// NetworkPolicy (bench/admitted-objects.mjs, checked by test/bench/realistic-set.test.ts).
//
// Settings: BENCH_APISERVER_REQUESTS (per target and phase and round, default 200),
// BENCH_APISERVER_ROUNDS (default 3), BENCH_APISERVER_CONFIG (another policy folder to apply as
// cluster objects instead, e.g. examples/policies), BENCH_APISERVER_TARGETS (pod, networkpolicy or both).
import path from 'node:path';
import { generateRealisticSet, writeRealisticSet } from '../realistic-set.mjs';
import { latencyColumns, runDriver, skipped } from './_cluster-driver.mjs';

export const title = 'added latency through a real kube-apiserver';

export function estimatedSeconds() {
  if (!process.env.KUBEBUILDER_ASSETS) return 0;
  const requests = Number(process.env.BENCH_APISERVER_REQUESTS ?? 200) * Number(process.env.BENCH_APISERVER_ROUNDS ?? 3);
  // applying the realistic set's 1,000 namespaces as cluster objects takes about half a minute more
  return 70 + Math.ceil(requests * 8 * 0.012);
}

export async function run(ctx) {
  if (!process.env.KUBEBUILDER_ASSETS) return skipped(title, 'apiserver latency');
  const { seed, guardrails, namespaces } = ctx.settings.realistic;
  const config = process.env.BENCH_APISERVER_CONFIG
    ? { BENCH_APISERVER_CONFIG: process.env.BENCH_APISERVER_CONFIG }
    : { BENCH_APISERVER_CONFIG: realisticSet(ctx), BENCH_APISERVER_CONFIG_NAME: `the realistic set: seed ${seed}, ${guardrails} guardrails, ${namespaces} namespaces` };
  const result = await runDriver(ctx, 'apiserver-latency.ts', estimatedSeconds() + 240, config);
  const rows = result.rows.map((row) => ({
    target: row.target, ...latencyColumns(row),
    bareAddedP50ms: row.bareAddedP50, bareAddedP99ms: row.bareAddedP99, defaultsAddedP50ms: row.defaultsAddedP50, defaultsAddedP99ms: row.defaultsAddedP99,
  }));
  const signed = (ms) => (ms < 0 ? `${ms}` : `+${ms}`);
  const added = (p50, p99) => rows.map((row) => `${row.target} ${signed(row[p50])}/${signed(row[p99])} ms`).join(', ');
  const connections = (name) => (result.connectionsOpened[name] === null ? 'n/a' : result.connectionsOpened[name]);
  const { mutate, validate } = result.perCallMeanMs;
  const patched = result.patchedKinds.length > 0 ? result.patchedKinds.join(' and ') : 'no kind';
  const summary = [
    `apiserver latency (${result.config}, load ${result.loadAverage}): added p50/p99 ${added('addedP50ms', 'addedP99ms')}; a bare webhook adds ${added('bareAddedP50ms', 'bareAddedP99ms')}; the bare webhook answering tierguard's patch (${patched}) adds ${added('defaultsAddedP50ms', 'defaultsAddedP99ms')}`,
    `  per webhook call, mutate / validate: the API server waits ${mutate.apiServerOnTierguard} / ${validate.apiServerOnTierguard} ms on tierguard, whose own histogram says ${mutate.tierguard} / ${validate.tierguard} ms (mean ${result.webhookCallMeanMs} ms over ${result.webhookCalls} calls), ${mutate.apiServerOnBare} / ${validate.apiServerOnBare} ms on the bare webhook and ${mutate.apiServerOnBareDefaults} / ${validate.apiServerOnBareDefaults} ms on it with tierguard's patch; connections opened: tierguard ${connections('tierguard')} for ${result.apiServerCalls.tierguard} calls, bare ${connections('bare')} for ${result.apiServerCalls.bare}, bare with the patch ${connections('defaults')} for ${result.apiServerCalls.defaults}`,
  ];
  return { title, rows, summary };
}

/** The realistic set's folder: the HTTP scenarios' when they generated it, else written here with the same settings. */
function realisticSet(ctx) {
  const generated = ctx.policySets?.realistic?.config?.[0];
  if (generated) return generated;
  const dir = path.join(ctx.tmpDir, 'apiserver-realistic-set');
  writeRealisticSet(dir, generateRealisticSet(ctx.settings.realistic));
  return dir;
}
