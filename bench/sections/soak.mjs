// Soak (issue 6, item 6): tierguard from dist/ under a sustained mix of Pod, workload and
// NetworkPolicy reviews on /mutate and /validate, for SOAK_SECONDS (default 60) at the highest
// rate the machine sustains (BENCH_CONNECTIONS connections, no rate cap), also bounded by
// SOAK_MAX_REQUESTS. Every answer is checked against the verdict expected for its payload, and the
// server's resident memory is sampled to show that it does not grow without bound.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { clearInterval, setInterval } from 'node:timers';
import jsonpatch from 'fast-json-patch';

export const title = 'soak';

// Captured CREATE and UPDATE reviews, each sent three ways, as a cluster would: to /mutate
// (allowed, with a patch adding the namespace's domain label); to /validate as captured (denied:
// the label is missing, as when no mutating webhook ran); and to /validate with that patch
// applied (allowed).
const OBJECTS = [
  'mutate-create-pod.json',
  'mutate-create-pod-generatename.json',
  'validate-update-pod.json',
  'mutate-create-deployment.json',
  'mutate-create-cronjob.json',
  'mutate-create-networkpolicy.json',
  'validate-create-networkpolicy-dryrun.json',
];
// A ReplicaSet its Deployment controls (captured from kube-controller-manager): both webhooks
// leave it alone (the Deployment's template was judged at its own admission), so it is sent once
// to each and allowed without a patch.
const LEFT_ALONE = ['mutate-create-replicaset.json'];
// Captured DELETE reviews, sent to /validate: allowed.
const DELETES = ['validate-delete-pod.json', 'validate-delete-networkpolicy-dryrun.json'];

const SAMPLE_EVERY_MS = 5000;
// The soak fails when RSS grows after warm-up by more than BOTH bounds. A healthy server's RSS
// goes up and down with V8's heap (measured here: 230 to 285 MiB over a 60 s soak, so a reading
// after warm-up at a trough and one at the end at a peak differ by ~55 MiB). With ~250 MiB after
// warm-up the effective bound is +125 MiB: a leak of ~350 B per request crosses it within the
// ~385,000 requests of a 60 s soak here; smaller leaks need a longer SOAK_SECONDS to show.
const RSS_LIMIT = { ratio: 0.5, mib: 64 };

export function estimatedSeconds(settings) {
  return settings.soakWarmupSeconds + settings.soakSeconds + 5;
}

/** What is wrong with one answer to `item`, or null. */
function problemOf(ctx, item, status, body) {
  if (status !== 200) return `HTTP ${status}`;
  const bad = ctx.checkAdmissionBody(body, item.uid);
  if (bad) return bad;
  const { allowed, patch } = JSON.parse(body).response;
  if (allowed === item.allowed && Boolean(patch) === item.patched) return null;
  return `allowed=${allowed} patch=${Boolean(patch)}, want allowed=${item.allowed} patch=${item.patched}`;
}

async function post(ctx, server, item) {
  const res = await ctx.httpsRequest({ port: server.port, method: 'POST', path: item.path, body: item.body, timeoutMs: 5000 });
  return { res, problem: problemOf(ctx, item, res.status, res.body) };
}

/** The mix with the expected answer of each item; the mutated bodies come from tierguard's patches. */
async function buildMix(ctx, server) {
  const read = (f) => readFileSync(path.join(ctx.fixtureDir, f), 'utf8');
  const mix = [];
  for (const f of OBJECTS) {
    const body = read(f);
    const review = JSON.parse(body);
    const uid = review.request.uid;
    const mutate = { name: `${f} /mutate`, path: '/mutate', body, uid, allowed: true, patched: true };
    const { res, problem } = await post(ctx, server, mutate);
    if (problem) throw new Error(`soak: ${mutate.name}: ${problem}: ${res.body.slice(0, 300)}`);
    const ops = JSON.parse(Buffer.from(JSON.parse(res.body).response.patch, 'base64').toString('utf8'));
    review.request.object = jsonpatch.applyPatch(review.request.object, ops).newDocument;
    mix.push(
      mutate,
      { name: `${f} /validate`, path: '/validate', body, uid, allowed: false, patched: false },
      { name: `${f} /validate (mutated)`, path: '/validate', body: JSON.stringify(review), uid, allowed: true, patched: false },
    );
  }
  for (const f of LEFT_ALONE) {
    const body = read(f);
    const uid = JSON.parse(body).request.uid;
    mix.push(
      { name: `${f} /mutate`, path: '/mutate', body, uid, allowed: true, patched: false },
      { name: `${f} /validate`, path: '/validate', body, uid, allowed: true, patched: false },
    );
  }
  for (const f of DELETES) {
    const body = read(f);
    mix.push({ name: `${f} /validate`, path: '/validate', body, uid: JSON.parse(body).request.uid, allowed: true, patched: false });
  }
  return mix;
}

/** Sends each item once and returns what was wrong: the verifying pass before and after the load. */
async function verifyMix(ctx, server, mix) {
  const problems = [];
  for (const item of mix) {
    try {
      const { res, problem } = await post(ctx, server, item);
      if (problem) problems.push(`${item.name}: ${problem}: ${res.body.slice(0, 200)}`);
    } catch (err) {
      problems.push(`${item.name}: ${err.message}`);
    }
  }
  return problems;
}

/** autocannon requests cycling through the mix; every 200 answer is checked into `tally`. */
function loadRequests(ctx, mix) {
  const tally = { answers: 0, wrong: 0, examples: new Set() };
  const requests = mix.map((item) => ({
    method: 'POST',
    path: item.path,
    body: item.body,
    headers: { 'content-type': 'application/json' },
    onResponse(status, body) {
      tally.answers++;
      if (status !== 200) return; // counted as non-200 from runLoad's status counts
      const problem = problemOf(ctx, item, status, body);
      if (!problem) return;
      tally.wrong++;
      if (tally.examples.size < 3) tally.examples.add(`${item.name}: ${problem}`);
    },
  }));
  return { requests, tally };
}

/** Errors (timeouts included), non-200 answers and wrong answers of one load run. */
function countsOf(run, tally) {
  const total = Object.values(run.statusCounts).reduce((a, b) => a + b, 0);
  return { total, errors: run.errors, timeouts: run.timeouts, non200: total - (run.statusCounts[200] ?? 0), wrong: tally.wrong };
}

function problemsOf(phase, counts, tally) {
  const { errors, timeouts, non200, wrong } = counts;
  if (!errors && !non200 && !wrong) return [];
  const examples = tally.examples.size ? ` (e.g. ${[...tally.examples].join('; ')})` : '';
  return [`${phase}: ${errors} errors (${timeouts} timeouts), ${non200} non-200, ${wrong} wrong answers${examples}`];
}

/** The line the bench prints and keeps in its summary. */
function verdictLine({ counts, run, rss, growth, countBoundReached, failed }) {
  const signed = (x) => (x >= 0 ? '+' : '') + x.toFixed(1);
  const mib = (x) => (x === null ? 'n/a' : x.toFixed(1));
  return (
    `soak: ${counts.total} requests in ${run.elapsedS.toFixed(1)} s (${Math.round(run.rps)} req/s${countBoundReached ? ', count bound reached' : ''}), ` +
    `${counts.errors} errors (${counts.timeouts} timeouts), ${counts.non200} non-200, ${counts.wrong} wrong answers, ` +
    `p50 ${run.p50ms?.toFixed(2)} ms, p99 ${run.p99ms?.toFixed(2)} ms, ` +
    `RSS start ${mib(rss.start)} MiB, after warm-up ${mib(rss.warm)} MiB → end ${mib(rss.end)} MiB ` +
    (growth ? `(growth ${signed(growth.ratio * 100)}% / ${signed(growth.mib)} MiB after warm-up)` : '(growth n/a)') +
    `: ${failed ? 'FAIL' : 'PASS'}`
  );
}

const row = (phase, { seconds, requests, run, problems, rss }) => ({
  phase,
  s: seconds ?? '',
  requests: requests ?? '',
  'req/s': run ? Math.round(run.rps) : '',
  'p50 ms': run?.p50ms ?? '',
  'p99 ms': run?.p99ms ?? '',
  'server cores': run?.cpuUtil ?? '',
  problems: problems ?? '',
  'RSS MiB': rss ?? 'n/a',
});

export async function run(ctx) {
  const { soakSeconds, soakWarmupSeconds, soakMaxRequests } = ctx.settings;
  const server = await ctx.startServer('tierguard', { label: 'soak', capSeconds: estimatedSeconds(ctx.settings) + 120 });
  try {
    const rss = { start: ctx.rssMiB(server.pid) };
    const rows = [row('start', { rss: rss.start })];
    const mix = await buildMix(ctx, server);
    const before = await verifyMix(ctx, server, mix);
    if (before.length) throw new Error(`soak: unexpected answers before any load, so none was run:\n  ${before.join('\n  ')}`);
    const failures = [];

    const warm = loadRequests(ctx, mix);
    const warmRun = await ctx.runLoad({ server, requests: warm.requests, seconds: soakWarmupSeconds });
    const warmCounts = countsOf(warmRun, warm.tally);
    rss.warm = ctx.rssMiB(server.pid);
    failures.push(...problemsOf('warm-up', warmCounts, warm.tally));
    rows.push(row('warm-up', { seconds: soakWarmupSeconds, requests: warmCounts.total, run: warmRun, rss: rss.warm }));

    const soak = loadRequests(ctx, mix);
    const t0 = Date.now();
    const sample = () => row('soak', { seconds: Math.round((Date.now() - t0) / 1000), requests: soak.tally.answers, rss: ctx.rssMiB(server.pid) });
    const sampler = setInterval(() => rows.push(sample()), SAMPLE_EVERY_MS);
    const soakRun = await ctx.runLoad({ server, requests: soak.requests, seconds: soakSeconds, maxRequests: soakMaxRequests }).finally(() => clearInterval(sampler));
    const counts = countsOf(soakRun, soak.tally);
    rss.end = ctx.rssMiB(server.pid);
    failures.push(...problemsOf('soak', counts, soak.tally));
    if (server.exitInfo) failures.push(`the server exited during the soak: ${JSON.stringify(server.exitInfo)}`);
    else failures.push(...(await verifyMix(ctx, server, mix)).map((p) => `after the load: ${p}`));
    const problems = counts.errors + counts.non200 + counts.wrong;
    rows.push(row('soak total', { seconds: soakRun.elapsedS, requests: counts.total, run: soakRun, problems, rss: rss.end }));

    const growth = rss.warm && rss.end ? { mib: rss.end - rss.warm, ratio: (rss.end - rss.warm) / rss.warm } : null;
    if (growth && growth.ratio > RSS_LIMIT.ratio && growth.mib > RSS_LIMIT.mib) {
      failures.push(`RSS grew ${growth.mib.toFixed(1)} MiB (${(growth.ratio * 100).toFixed(0)}%) after warm-up: more than +${RSS_LIMIT.ratio * 100}% and +${RSS_LIMIT.mib} MiB`);
    }
    const countBoundReached = counts.total >= soakMaxRequests;
    const line = verdictLine({ counts, run: soakRun, rss, growth, countBoundReached, failed: failures.length > 0 });
    console.log(`  ${line}`);
    for (const f of failures) console.log(`  FAIL ${f}`);
    return {
      rows,
      summary: [line],
      failures,
      soak: {
        mix: mix.map(({ name, allowed, patched }) => ({ name, allowed, patched })),
        counts, warmCounts, countBoundReached, rss, rssLimit: RSS_LIMIT,
        ...Object.fromEntries(['elapsedS', 'rps', 'p50ms', 'p99ms', 'cpuUtil', 'clientCores', 'otherCores'].map((k) => [k, soakRun[k]])),
      },
    };
  } finally {
    await server.stop();
  }
}
