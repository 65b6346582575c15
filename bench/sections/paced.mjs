// What one webhook call costs when calls arrive apart, as the API server sends them (issue 11
// item 4: through the API server, tierguard's own histogram said 0.41 / 0.65 ms per call in the
// sixth full run, several times what the same request costs back to back). One client, one
// keep-alive connection, one request at a time: back to back, then 1 ms and 10 ms apart (timers,
// so a little more). For each server (tierguard with the realistic set when the run prepared it,
// else the default set; the bare server of the HTTP scenarios), in fresh processes and
// interleaved rounds: the server's CPU per request and the client's latency. The CPU comes from
// /proc in clock ticks (10 ms here): 10 ms apart, a 3 s window holds about 250 calls, 9 to 30
// ticks, so those figures are good to about ±5–15%. On a host whose CPU slows after it idles, both servers' costs
// rise with the gap; the ratio says how much of the rise is tierguard's own work.
//
// Settings: BENCH_PACED_SECONDS (per window, default 3), BENCH_PACED_ROUNDS (default 2).
import https from 'node:https';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import path from 'node:path';

export const title = 'paced requests: cost per call when calls arrive apart';

const FIXTURE_TARGETS = [
  { name: 'pod-validate', fixture: 'validate-create-pod.json', path: '/validate' },
  { name: 'netpol-validate', fixture: 'validate-create-networkpolicy.json', path: '/validate' },
];
/**
 * With the realistic set, also the Pod and NetworkPolicy it admits, as the `*-admitted` scenarios
 * send them (bodies made by bench/run.mjs's preflight, in `ctx.fixtures`): the objects the
 * API-latency section creates, so these rows are the calls whose latency item 4 measures.
 */
const ADMITTED_TARGETS = [
  { name: 'pod-validate-admitted', fixture: 'admitted Pod', admitted: true, path: '/validate' },
  { name: 'netpol-validate-admitted', fixture: 'admitted NetworkPolicy', admitted: true, path: '/validate' },
];
const targetsOf = (set) => (set === 'realistic' ? [...FIXTURE_TARGETS, ...ADMITTED_TARGETS] : FIXTURE_TARGETS);
const GAPS_MS = [0, 1, 10];

function settings() {
  const int = (name, def, max) => {
    const raw = process.env[name];
    if (raw === undefined || raw === '') return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${name}=${raw}: expected an integer in [1, ${max}]`);
    return n;
  };
  return { seconds: int('BENCH_PACED_SECONDS', 3, 60), rounds: int('BENCH_PACED_ROUNDS', 2, 10) };
}

export function estimatedSeconds() {
  const { seconds, rounds } = settings();
  // per round, target and server: start (~2 s), a warm-up, and one window per gap
  return rounds * targetsOf('realistic').length * 2 * (4 + GAPS_MS.length * seconds) + hostReferenceSeconds();
}

/** Runs of the host reference per gap. */
const REFERENCE_RUNS = 200;
const hostReferenceSeconds = () => Math.ceil((REFERENCE_RUNS * GAPS_MS.reduce((sum, gap) => sum + gap + 0.2, 0)) / 1000);

/**
 * What this host does to the same fixed computation when it runs after a pause: one JSON.parse
 * and JSON.stringify of a fixture body (some tens of µs, nothing but its own data), timed in this
 * process back to back and after each gap. Every server's cost per call rises with the gap
 * whatever its code; this row says by how much for a computation that is not a server's at all.
 * The likely cause is cold caches after the CPU went idle (this host is a virtual machine, its
 * kernel set to halt an idle vCPU at once: `haltpoll.guest_halt_poll_ns=0`); not confirmed, as
 * the VM has no hardware counters.
 */
async function hostReference(body) {
  const work = () => JSON.stringify(JSON.parse(body)).length;
  for (let i = 0; i < 1_000; i++) work();
  const out = {};
  for (const gap of GAPS_MS) {
    const times = [];
    for (let i = 0; i < REFERENCE_RUNS; i++) {
      await (gap > 0 ? sleep(gap) : nextTurn());
      const t0 = performance.now();
      work();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    out[gap] = percentile(times, 0.5) * 1000;
  }
  return out;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

export async function run(ctx) {
  const { seconds, rounds } = settings();
  const set = ctx.policySets?.realistic ? 'realistic' : 'default';
  const targets = targetsOf(set);
  // cells[target][gap][kind] = per-round measurements
  const cells = new Map();
  for (let round = 0; round < rounds; round++) {
    for (const target of targets) {
      const body = target.admitted ? ctx.fixtures[target.fixture]?.body : readFileSync(path.join(ctx.fixtureDir, target.fixture), 'utf8');
      if (body === undefined) throw new Error(`paced: no body for ${target.fixture} (bench/run.mjs makes it at the realistic set's preflight)`);
      const uid = JSON.parse(body).request.uid;
      // the two servers take turns going first
      const kinds = round % 2 === 0 ? ['tierguard', 'bare'] : ['bare', 'tierguard'];
      for (const kind of kinds) {
        const server = await ctx.startServer(kind, { label: `paced-${target.name}-${kind}`, set });
        const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
        try {
          const post = async () => {
            const res = await ctx.httpsRequest({ port: server.port, method: 'POST', path: target.path, body, timeoutMs: 10_000, agent });
            const problem = res.status === 200 ? ctx.checkAdmissionBody(res.body, uid) : `HTTP ${res.status}`;
            if (problem) throw new Error(`${kind} ${target.path}: ${problem}`);
          };
          // warm-up: the JIT and the connection
          const warmEnd = performance.now() + 1_000;
          while (performance.now() < warmEnd) await post();
          for (const gap of GAPS_MS) {
            const latencies = [];
            const cpu0 = ctx.cpuSeconds(server.pid);
            const start = performance.now();
            const end = start + seconds * 1000;
            while (performance.now() < end && latencies.length < 200_000) {
              if (gap > 0) await sleep(gap);
              const t0 = performance.now();
              await post();
              latencies.push(performance.now() - t0);
            }
            const cpu = ctx.cpuSeconds(server.pid) - cpu0;
            latencies.sort((a, b) => a - b);
            const byGap = cells.get(target.name) ?? new Map();
            cells.set(target.name, byGap);
            const byKind = byGap.get(gap) ?? { tierguard: [], bare: [] };
            byGap.set(gap, byKind);
            byKind[kind].push({
              requests: latencies.length,
              meanGapMs: latencies.length ? (performance.now() - start - latencies.reduce((a, b) => a + b, 0)) / latencies.length : null,
              cpuUs: (cpu * 1e6) / latencies.length,
              p50us: percentile(latencies, 0.5) * 1000,
              p99us: percentile(latencies, 0.99) * 1000,
            });
          }
        } finally {
          agent.destroy();
          await server.stop();
        }
      }
    }
  }
  const median = (values) => ctx.median(values);
  const round1 = (v) => Math.round(v * 10) / 10;
  const rows = [];
  for (const target of targets) {
    for (const gap of GAPS_MS) {
      const { tierguard, bare } = cells.get(target.name).get(gap);
      const m = (list, key) => median(list.map((r) => r[key]));
      rows.push({
        scenario: `${target.name}${set === 'default' ? '' : `@${set}`}`,
        gapMs: gap,
        requests: m(tierguard, 'requests'),
        meanGapMs: round1(m(tierguard, 'meanGapMs')),
        tierguardCpuUs: Math.round(m(tierguard, 'cpuUs')),
        bareCpuUs: Math.round(m(bare, 'cpuUs')),
        cpuRatio: round1(m(tierguard, 'cpuUs') / m(bare, 'cpuUs')),
        tierguardP50us: Math.round(m(tierguard, 'p50us')),
        bareP50us: Math.round(m(bare, 'p50us')),
        tierguardP99us: Math.round(m(tierguard, 'p99us')),
        bareP99us: Math.round(m(bare, 'p99us')),
      });
    }
  }
  const reference = await hostReference(readFileSync(path.join(ctx.fixtureDir, FIXTURE_TARGETS[1].fixture), 'utf8'));
  const at = (name, gap) => rows.find((row) => (row.scenario === name || row.scenario.startsWith(`${name}@`)) && row.gapMs === gap);
  const summary = targets.map(({ name }) => {
    const first = at(name, 0);
    const last = at(name, GAPS_MS.at(-1));
    return `paced ${first.scenario}: server CPU per call back to back tierguard ${first.tierguardCpuUs} µs, bare ${first.bareCpuUs} µs; ${GAPS_MS.at(-1)} ms apart tierguard ${last.tierguardCpuUs} µs, bare ${last.bareCpuUs} µs (${rounds} rounds, load average at the end ${os.loadavg()[0].toFixed(2)})`;
  });
  const gaps = GAPS_MS.map((gap) => `${gap === 0 ? 'back to back' : `${gap} ms apart`} ${Math.round(reference[gap])} µs`).join(', ');
  summary.push(`paced host reference: one JSON.parse + JSON.stringify of ${FIXTURE_TARGETS[1].fixture} in the harness (no server), p50 of ${REFERENCE_RUNS}: ${gaps}`);
  return { title, rows, summary, hostReferenceUs: Object.fromEntries(GAPS_MS.map((gap) => [gap, Math.round(reference[gap])])) };
}
