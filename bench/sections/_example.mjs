// Template for an extra benchmark section. Files in bench/sections/ ending in
// .mjs are imported by bench/run.mjs (sorted by name) and run after the HTTP
// scenarios; files starting with "_" (like this one) are skipped.
//
// export const title = 'engine';           // optional heading
// export async function run(ctx) -> rows    // array of flat objects, printed as a table
//                                           // (or { title, rows, summary?, failures? }); rows also go
//                                           // to latest.json; summary lines join the summary, and
//                                           // failures make the bench exit 1 (see soak.mjs)
// export function estimatedSeconds(settings) // optional: for the runtime estimate and the hard cap
//
// ctx provides: settings {rounds, seconds, warmupSeconds, connections, target},
//   repoRoot, benchDir, tmpDir, certs {ca, cert, key, caPem}, fixtures
//   {'<file>.json': {body, uid, bytes}}, scenarios, results (HTTP results so far, each with its
//   scenario and policy set), policySets {default, realistic?: {config, stats, ...}},
//   startServer(kind, {label, capSeconds, set}) -> server {port, pid, readyMs, stop()} (ALWAYS stop() in
//   finally; set: 'default' (the default) or 'realistic' if BENCH_SET prepared it, see policySets),
//   runLoad({server, path, body, seconds, verifyUid?}) -> {rps, p50ms, p99ms, cpuUsPerReq, ...}
//   (or {server, requests, seconds, maxRequests?} for a mix: autocannon's requests list),
//   httpsRequest({port, method, path, body, timeoutMs?, agent?}) -> {status, headers, body} (a new
//   connection per call unless given an https.Agent), checkAdmissionBody(text, uid) -> problem | null,
//   cpuSeconds(pid) and rssMiB(pid) (from /proc; null without it),
//   fixtureDir, median(values), printRows(rows).
//
// Keep loops bounded in count and time (e.g. iterate for ctx.settings.seconds).

export const title = 'example';

export async function run(ctx) {
  return ctx.results.map((sc) => ({
    scenario: sc.name,
    bareCpuUsPerReq: sc.servers.bare.median.cpuUsPerReq,
    targetCpuUsPerReq: sc.servers.target.median.cpuUsPerReq,
    extraCpuUsPerReq:
      sc.servers.target.median.cpuUsPerReq !== null && sc.servers.bare.median.cpuUsPerReq !== null
        ? sc.servers.target.median.cpuUsPerReq - sc.servers.bare.median.cpuUsPerReq
        : null,
  }));
}
