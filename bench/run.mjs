// tierguard HTTP benchmark: tierguard vs a bare node:https baseline.
//
// Run with `npm run bench` (builds dist/ first). See bench/README.md.
//
// For every scenario (fixture -> endpoint) and round, each server is started in
// a FRESH child process, warmed up (responses verified, not measured), then
// loaded with autocannon for BENCH_SECONDS. Server CPU is read from
// /proc/<pid>/stat around the measured window. Order alternates per round.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(BENCH_DIR, '..');
const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');
const BARE_SERVER = path.join(BENCH_DIR, 'bare-server.mjs');
const FIXTURE_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'admission-reviews');
const RESULTS_FILE = path.join(BENCH_DIR, 'results', 'latest.json');
const HOST = '127.0.0.1';
const SERVERNAME = 'localhost'; // SNI / cert name (SNI must not be an IP)
const READY_TIMEOUT_MS = 30_000;
// a measured run is flagged "noisy" when processes other than the server and the
// load generator (or the hypervisor, as steal) used more than this many cores
const NOISY_OTHER_CORES = 0.25;

const SCENARIOS = [
  { name: 'pod-mutate', fixture: 'mutate-create-pod.json', path: '/mutate' },
  { name: 'pod-validate', fixture: 'validate-create-pod.json', path: '/validate' },
  { name: 'netpol-mutate', fixture: 'mutate-create-networkpolicy.json', path: '/mutate' },
  { name: 'netpol-validate', fixture: 'validate-create-networkpolicy.json', path: '/validate' },
];

// ---------------------------------------------------------------- settings

function intEnv(name, def, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name}=${raw}: expected an integer in [${min}, ${max}]`);
  }
  return n;
}

/** A comma list from the environment: null when unset (all), [] for `none`. */
function listEnv(name) {
  const items = (process.env[name] || '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!items.length) return null;
  return items.length === 1 && items[0] === 'none' ? [] : items;
}

function readSettings() {
  const target = process.env.BENCH_TARGET || 'tierguard';
  if (target !== 'tierguard' && target !== 'bare') {
    throw new Error(`BENCH_TARGET=${target}: expected "tierguard" or "bare"`);
  }
  const only = listEnv('BENCH_SCENARIOS');
  for (const s of only ?? []) {
    if (!SCENARIOS.some((x) => x.name === s)) throw new Error(`BENCH_SCENARIOS: unknown scenario "${s}"`);
  }
  const soakSeconds = intEnv('SOAK_SECONDS', 60, 1, 3600);
  return {
    rounds: intEnv('BENCH_ROUNDS', 3, 1, 50),
    seconds: intEnv('BENCH_SECONDS', 5, 1, 300),
    warmupSeconds: intEnv('BENCH_WARMUP_SECONDS', 2, 1, 60),
    connections: intEnv('BENCH_CONNECTIONS', 16, 1, 1024),
    noisyRetries: intEnv('BENCH_NOISY_RETRIES', 1, 0, 3),
    pipelining: 1,
    target,
    scenarios: only ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS,
    sections: listEnv('BENCH_SECTIONS'), // checked against bench/sections/ by loadSections
    soakSeconds,
    // long enough for V8's heap to reach its working size before "RSS after warm-up" is read
    soakWarmupSeconds: intEnv('SOAK_WARMUP_SECONDS', 10, 1, 300),
    // a count bound as well as the time bound; the default is far above what one Node process
    // answers, so the time bound is the one that normally ends the soak
    soakMaxRequests: intEnv('SOAK_MAX_REQUESTS', soakSeconds * 50_000, 1_000, 1_000_000_000),
    keepTmp: process.env.BENCH_KEEP_TMP === '1',
  };
}

// ---------------------------------------------------------------- child process bookkeeping

/** @type {Set<import('node:child_process').ChildProcess>} */
const liveChildren = new Set();
let tmpDirToRemoveOnSignal = null;

function killAllChildren(signal = 'SIGKILL') {
  for (const child of liveChildren) {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

process.on('exit', () => killAllChildren('SIGKILL'));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\n${sig} received: killing ${liveChildren.size} child process(es)`);
    killAllChildren('SIGKILL');
    if (tmpDirToRemoveOnSignal) rmSync(tmpDirToRemoveOnSignal, { recursive: true, force: true });
    process.exit(130);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function logTail(file, max = 3000) {
  try {
    const s = readFileSync(file, 'utf8');
    return s.length > max ? '…' + s.slice(-max) : s;
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------- HTTPS helpers

function httpsRequest(ctx, { port, method = 'GET', path: p, body, timeoutMs = 2000 }) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: HOST,
        port,
        method,
        path: p,
        servername: SERVERNAME,
        ca: ctx.certs.caPem,
        agent: false,
        timeout: timeoutMs,
        headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

const CERT_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
]);

// ---------------------------------------------------------------- servers

function serverCommand(ctx, kind, port, metricsPort) {
  if (kind === 'bare') return [BARE_SERVER, String(port), ctx.certs.cert, ctx.certs.key];
  if (kind === 'tierguard') {
    return [
      CLI, 'serve',
      // the embedded default guardrails, plus the fixtures' namespace so defaults are injected
      '--config', path.join(REPO_ROOT, 'policies', 'default'),
      '--config', path.join(BENCH_DIR, 'namespaces.yaml'),
      '--port', String(port),
      '--metrics-port', String(metricsPort),
      '--tls-cert', ctx.certs.cert,
      '--tls-key', ctx.certs.key,
      // the bench only ever listens on loopback
      '--address', HOST,
      '--metrics-address', HOST,
      ...(process.env.BENCH_LOG_LEVEL ? ['--log-level', process.env.BENCH_LOG_LEVEL] : []),
    ];
  }
  throw new Error(`unknown server kind ${kind}`);
}

/**
 * Start a server in a fresh child process and wait for GET /readyz == 200.
 * kind: 'bare' | 'tierguard'. The child is hard-killed after capSeconds no matter what.
 */
async function startServer(ctx, kind, { label = kind, capSeconds } = {}) {
  const port = await freePort();
  const metricsPort = await freePort();
  const args = serverCommand(ctx, kind, port, metricsPort);
  const logFile = path.join(ctx.logDir, `${String(++ctx.serverSeq).padStart(3, '0')}-${label}.log`);
  const fd = openSync(logFile, 'w');
  let child;
  try {
    child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', fd, fd], env: process.env });
  } finally {
    closeSync(fd);
  }
  liveChildren.add(child);
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      liveChildren.delete(child);
      resolve(exitInfo);
    });
    child.once('error', (err) => {
      exitInfo = { error: err.message };
      liveChildren.delete(child);
      resolve(exitInfo);
    });
  });
  const cap = capSeconds ?? READY_TIMEOUT_MS / 1000 + ctx.settings.warmupSeconds + ctx.settings.seconds + 60;
  const capTimer = setTimeout(() => {
    console.error(`  ! ${label} (pid ${child.pid}) exceeded its ${cap}s hard cap: SIGKILL`);
    child.kill('SIGKILL');
  }, cap * 1000);
  capTimer.unref();

  const server = {
    kind, label, port, metricsPort, pid: child.pid, logFile, child, exited,
    get exitInfo() { return exitInfo; },
    async stop() {
      clearTimeout(capTimer);
      if (exitInfo) return exitInfo;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      const info = await exited;
      clearTimeout(t);
      return info;
    },
  };

  try {
    await waitReady(ctx, server);
  } catch (err) {
    await server.stop();
    err.message += `\n--- ${label} log (${logFile}) ---\n${logTail(logFile)}`;
    throw err;
  }
  return server;
}

async function waitReady(ctx, server) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastErr = 'no attempt';
  while (Date.now() < deadline) {
    if (server.exitInfo) {
      throw new Error(`${server.label} exited before becoming ready: ${JSON.stringify(server.exitInfo)}`);
    }
    try {
      const res = await httpsRequest(ctx, { port: server.port, path: '/readyz', timeoutMs: 1000 });
      if (res.status === 200) return;
      lastErr = `GET /readyz -> ${res.status} ${res.body.slice(0, 200)}`;
    } catch (err) {
      if (CERT_ERRORS.has(err.code)) {
        throw new Error(`${server.label}: TLS verification against ca.crt failed (${err.code}): ${err.message}`);
      }
      lastErr = `${err.code ?? ''} ${err.message}`;
    }
    await sleep(100);
  }
  throw new Error(`${server.label} not ready within ${READY_TIMEOUT_MS / 1000}s (last: ${lastErr})`);
}

// ---------------------------------------------------------------- verification

function checkAdmissionBody(text, uid) {
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    return 'response is not JSON';
  }
  if (json?.apiVersion !== 'admission.k8s.io/v1') return `apiVersion=${json?.apiVersion}`;
  if (json?.kind !== 'AdmissionReview') return `kind=${json?.kind}`;
  if (json?.response?.uid !== uid) return `response.uid=${json?.response?.uid} (want ${uid})`;
  if (typeof json.response.allowed !== 'boolean') return 'response.allowed is not a boolean';
  return null;
}

/** One explicit request with a readable error, returns a short description of the answer. */
async function verifyOnce(ctx, server, scenario) {
  const fx = ctx.fixtures[scenario.fixture];
  const res = await httpsRequest(ctx, { port: server.port, method: 'POST', path: scenario.path, body: fx.body, timeoutMs: 5000 });
  if (res.status !== 200) {
    throw new Error(`${server.label} ${scenario.name}: POST ${scenario.path} -> HTTP ${res.status}: ${res.body.slice(0, 500)}`);
  }
  const problem = checkAdmissionBody(res.body, fx.uid);
  if (problem) throw new Error(`${server.label} ${scenario.name}: bad AdmissionReview (${problem}): ${res.body.slice(0, 500)}`);
  const r = JSON.parse(res.body).response;
  return {
    allowed: r.allowed,
    patched: Boolean(r.patch),
    warnings: Array.isArray(r.warnings) ? r.warnings.length : 0,
    status: r.status?.code ?? null,
    bytes: Buffer.byteLength(res.body),
  };
}

// ---------------------------------------------------------------- load + CPU

let clkTck = null;
function ticksPerSecond() {
  if (clkTck === null) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
    } catch {
      clkTck = 100;
      console.error('  ! getconf CLK_TCK failed, assuming 100');
    }
  }
  return clkTck;
}

/** utime+stime (clock ticks) of a process, or null if /proc is unavailable. */
function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm)": index 0 is field 3 (state) -> utime (14) = 11, stime (15) = 12
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return null;
  }
}

/** Host-wide CPU from /proc/stat (ticks): busy (excl. idle/iowait/steal) and steal. */
function hostTicks() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal = 0] = f;
    return { busy: user + nice + system + irq + softirq, steal };
  } catch {
    return null;
  }
}

// Latency histogram: 10 µs buckets up to 10 s (autocannon's request timeout).
const BUCKET_US = 10;
const MAX_BUCKETS = (10_000_000 / BUCKET_US) + 1;

function percentile(hist, count, p) {
  if (count === 0) return null;
  const rank = Math.ceil((p / 100) * count);
  let acc = 0;
  for (let i = 0; i < hist.length; i++) {
    acc += hist[i];
    if (acc >= rank) return ((i + 0.5) * BUCKET_US) / 1000; // ms, bucket midpoint
  }
  return null;
}

/**
 * Run autocannon against a server for `seconds` (bounded by an outer watchdog).
 * With verifyUid, every body is checked (used for warmup only: it costs client CPU).
 * With server, utime+stime of the server process is read around the run.
 * `requests` (autocannon's per-request list: path, body, onResponse) replaces path and body for
 * a mix; `maxRequests` ends the run after that many requests if `seconds` has not already.
 */
async function runLoad(ctx, { server, path: p = '/', body, requests, maxRequests, seconds, verifyUid = null, connections = ctx.settings.connections }) {
  const hist = new Uint32Array(MAX_BUCKETS);
  let ok = 0;
  const statusCounts = {};
  const opts = {
    url: `https://${HOST}:${server.port}${p}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    pipelining: ctx.settings.pipelining,
    duration: seconds,
    servername: SERVERNAME,
    timeout: 10,
    ...(requests ? { requests } : {}),
    ...(maxRequests ? { maxOverallRequests: maxRequests } : {}),
  };
  if (verifyUid) opts.verifyBody = (b) => checkAdmissionBody(b, verifyUid) === null;

  const cpu0 = cpuTicks(server.pid);
  const host0 = hostTicks();
  const client0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const instance = autocannon(opts);
  instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
    statusCounts[statusCode] = (statusCounts[statusCode] ?? 0) + 1;
    if (statusCode >= 200 && statusCode < 300) {
      ok++;
      hist[Math.min(MAX_BUCKETS - 1, Math.floor((responseTimeMs * 1000) / BUCKET_US))]++;
    }
  });
  let watchdog;
  const result = await Promise.race([
    instance,
    new Promise((_, reject) => {
      watchdog = setTimeout(() => {
        instance.stop();
        reject(new Error(`autocannon did not finish within ${seconds + 20}s`));
      }, (seconds + 20) * 1000);
    }),
  ]).finally(() => clearTimeout(watchdog));
  const elapsedS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu1 = cpuTicks(server.pid);
  const host1 = hostTicks();
  const clientUsage = process.cpuUsage(client0);
  const clientSeconds = (clientUsage.user + clientUsage.system) / 1e6;

  const cpuTicksUsed = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
  const cpuSeconds = cpuTicksUsed !== null ? cpuTicksUsed / ticksPerSecond() : null;
  return {
    requests: ok,
    elapsedS: round(elapsedS, 3),
    rps: round(ok / elapsedS, 1),
    p50ms: round(percentile(hist, ok, 50), 3),
    p99ms: round(percentile(hist, ok, 99), 3),
    cpuTicks: cpuTicksUsed,
    cpuSeconds: cpuSeconds !== null ? round(cpuSeconds, 3) : null,
    cpuUsPerReq: cpuSeconds !== null && ok > 0 ? round((cpuSeconds * 1e6) / ok, 1) : null,
    cpuUtil: cpuSeconds !== null ? round(cpuSeconds / elapsedS, 3) : null,
    // diagnostics: cores used by the load generator (this process), by everything
    // else on the host, and stolen by the hypervisor, during the window
    clientCores: round(clientSeconds / elapsedS, 2),
    otherCores:
      host0 && host1 && cpuSeconds !== null
        ? round(Math.max(0, (host1.busy - host0.busy) / ticksPerSecond() - cpuSeconds - clientSeconds) / elapsedS, 2)
        : null,
    stealCores: host0 && host1 ? round((host1.steal - host0.steal) / ticksPerSecond() / elapsedS, 2) : null,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    mismatches: result.mismatches,
    resets: result.resets,
    statusCounts,
  };
}

function loadProblems(r) {
  const bad = [];
  for (const k of ['errors', 'timeouts', 'non2xx', 'mismatches']) if (r[k]) bad.push(`${k}=${r[k]}`);
  if (r.requests === 0) bad.push('no successful requests');
  return bad;
}

const noiseOf = (r) => (r.otherCores ?? 0) + (r.stealCores ?? 0);

/** One fresh process: start, verify, warm up (verified), measure, stop. */
async function measureServer(ctx, kind, scenario, roundNo) {
  const fx = ctx.fixtures[scenario.fixture];
  const label = `${ctx.labels[kind]}-${scenario.name}-r${roundNo}`;
  const server = await startServer(ctx, ctx.kinds[kind], { label });
  try {
    const answer = await verifyOnce(ctx, server, scenario);
    const warm = await runLoad(ctx, { server, path: scenario.path, body: fx.body, seconds: ctx.settings.warmupSeconds, verifyUid: fx.uid });
    const warmBad = loadProblems(warm);
    if (warmBad.length) {
      throw new Error(`${label}: warmup failed (${warmBad.join(', ')}; status codes ${JSON.stringify(warm.statusCounts)})`);
    }
    const m = await runLoad(ctx, { server, path: scenario.path, body: fx.body, seconds: ctx.settings.seconds });
    const bad = loadProblems(m);
    if (server.exitInfo) {
      throw new Error(
        `${label}: server process exited during the measured window ${JSON.stringify(server.exitInfo)} ` +
          `(the bench did not stop it; ${bad.join(', ') || 'no errors'}, ${m.requests} ok)`,
      );
    }
    if (bad.length) {
      throw new Error(`${label}: errors during measurement (${bad.join(', ')}; status codes ${JSON.stringify(m.statusCounts)}, ${m.requests} ok)`);
    }
    const noisy = noiseOf(m) > NOISY_OTHER_CORES;
    return { ...m, round: roundNo, pid: server.pid, noisy, answer, warmupRps: warm.rps };
  } catch (err) {
    if (!/--- .* log/.test(err.message)) err.message += `\n--- ${label} log (${server.logFile}) ---\n${logTail(server.logFile)}`;
    throw err;
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------- stats + printing

function round(x, digits) {
  if (x === null || x === undefined || Number.isNaN(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function median(values) {
  const v = values.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function fmt(x, digits = 0) {
  if (x === null || x === undefined) return 'n/a';
  return typeof x === 'number' ? x.toFixed(digits) : String(x);
}

function printTable(columns, rows) {
  const cells = rows.map((r) => columns.map((c) => (c.fmt ? c.fmt(r[c.key], r) : fmt(r[c.key]))));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((row) => row[i].length)));
  const line = (vals) => vals.map((v, i) => (columns[i].left ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  console.log('  ' + line(columns.map((c) => c.title)));
  console.log('  ' + widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells) console.log('  ' + line(row));
}

/** Generic printer for section rows (array of flat objects). */
function printRows(rows) {
  if (!rows?.length) {
    console.log('  (no rows)');
    return;
  }
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  printTable(
    keys.map((k, i) => ({ key: k, title: k, left: i === 0, fmt: (v) => (typeof v === 'number' ? String(round(v, 3)) : fmt(v)) })),
    rows,
  );
}

function summarize(rounds) {
  return {
    rps: round(median(rounds.map((r) => r.rps)), 1),
    p50ms: round(median(rounds.map((r) => r.p50ms)), 3),
    p99ms: round(median(rounds.map((r) => r.p99ms)), 3),
    cpuUsPerReq: round(median(rounds.map((r) => r.cpuUsPerReq)), 1),
    cpuUtil: round(median(rounds.map((r) => r.cpuUtil)), 3),
    rpsMin: Math.min(...rounds.map((r) => r.rps)),
    rpsMax: Math.max(...rounds.map((r) => r.rps)),
  };
}

function printScenario(ctx, sc) {
  const rows = ['bare', 'target'].map((k) => {
    const s = sc.servers[k];
    return {
      server: ctx.labels[k],
      ...s.median,
      spread: s.median.rps ? ((s.median.rpsMax - s.median.rpsMin) / s.median.rps) * 100 : null,
      ratio: k === 'bare' ? 1 : sc.ratio.rps,
      cpuRatio: k === 'bare' ? 1 : sc.ratio.cpuUsPerReq,
      answer: s.rounds[0]?.answer,
    };
  });
  console.log(`\n${sc.name}  (POST ${sc.path}, ${sc.fixture}, ${sc.bodyBytes} B body)`);
  printTable(
    [
      { key: 'server', title: 'server', left: true, fmt: (v) => v },
      { key: 'rps', title: 'req/s', fmt: (v) => fmt(v, 0) },
      { key: 'spread', title: 'spread', fmt: (v) => (v === null ? 'n/a' : `±${fmt(v / 2, 1)}%`) },
      { key: 'p50ms', title: 'p50 ms', fmt: (v) => fmt(v, 2) },
      { key: 'p99ms', title: 'p99 ms', fmt: (v) => fmt(v, 2) },
      { key: 'cpuUsPerReq', title: 'CPU µs/req', fmt: (v) => fmt(v, 1) },
      { key: 'cpuUtil', title: 'CPU util', fmt: (v) => (v === null ? 'n/a' : `${fmt(v * 100, 0)}%`) },
      { key: 'ratio', title: 'req/s vs bare', fmt: (v) => (v === null ? 'n/a' : `${v.toFixed(2)}x`) },
      { key: 'cpuRatio', title: 'CPU/req vs bare', fmt: (v) => (v === null ? 'n/a' : `${v.toFixed(2)}x`) },
      {
        key: 'answer', title: 'answer', left: true,
        fmt: (a) => (a ? `allowed=${a.allowed}${a.patched ? ' +patch' : ''}${a.warnings ? ` ${a.warnings} warn` : ''} ${a.bytes}B` : ''),
      },
    ],
    rows,
  );
}

// ---------------------------------------------------------------- certificates

/** Certificates from the built CLI (`tierguard certs`): the bench runs after `npm run build`. */
async function makeCerts(tmpDir) {
  const certs = { dir: tmpDir, ca: path.join(tmpDir, 'ca.crt'), cert: path.join(tmpDir, 'tls.crt'), key: path.join(tmpDir, 'tls.key') };
  const args = [CLI, 'certs', '--service', 'localhost', '--namespace', 'bench', '--ip', '127.0.0.1', '--dns', 'localhost', '--out', tmpDir];
  if (!existsSync(CLI)) throw new Error(`${path.relative(REPO_ROOT, CLI)} does not exist: run npm run bench (it builds first)`);
  execFileSync(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  for (const f of [certs.ca, certs.cert, certs.key]) if (!existsSync(f)) throw new Error(`tierguard certs did not write ${path.basename(f)}`);
  certs.source = 'cli';
  certs.caPem = readFileSync(certs.ca);
  return certs;
}

// ---------------------------------------------------------------- sections

/**
 * Optional bench/sections/*.mjs modules: `export async function run(ctx)` -> rows | {title, rows,
 * summary?, failures?}, and optionally `estimatedSeconds(settings)`. `wanted` (BENCH_SECTIONS,
 * file names without .mjs) selects some; null selects all.
 */
async function loadSections(wanted) {
  const dir = path.join(BENCH_DIR, 'sections');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.mjs') && !f.startsWith('_')).sort() : [];
  const names = files.map((f) => f.replace(/\.mjs$/, ''));
  for (const w of wanted ?? []) {
    if (!names.includes(w)) throw new Error(`BENCH_SECTIONS: unknown section "${w}" (known: ${names.join(', ')})`);
  }
  const out = [];
  for (const [i, f] of files.entries()) {
    if (wanted && !wanted.includes(names[i])) continue;
    const mod = await import(pathToFileURL(path.join(dir, f)).href);
    if (typeof mod.run !== 'function') throw new Error(`bench/sections/${f} does not export run(ctx)`);
    out.push({ file: f, title: mod.title ?? names[i], run: mod.run, estimatedSeconds: mod.estimatedSeconds });
  }
  return out;
}

// ---------------------------------------------------------------- main

function estimateSeconds(settings, sections) {
  const perServerRun = 1.5 /* spawn + ready + verify + stop */ + settings.warmupSeconds + settings.seconds;
  const scenarios = 2 + settings.scenarios.length * settings.rounds * 2 * perServerRun;
  const sectionSeconds = sections.map((s) => s.estimatedSeconds?.(settings) ?? 0);
  const total = scenarios + sectionSeconds.reduce((a, b) => a + b, 0);
  // sections without an estimate get 300 s each under the hard cap
  const hardCap = scenarios * (2 + settings.noisyRetries) + 120 + sectionSeconds.reduce((a, b) => a + 300 + b, 0);
  return { total: Math.ceil(total), hardCap: Math.ceil(hardCap), perServerRun };
}

function fmtDuration(s) {
  const m = Math.floor(s / 60);
  return m ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

async function main() {
  const startedAt = Date.now();
  const settings = readSettings();
  const sections = await loadSections(settings.sections);
  const est = estimateSeconds(settings, sections);
  const hardCapS = est.hardCap;

  const cpus = os.cpus();
  console.log('tierguard HTTP benchmark');
  console.log(`  node ${process.version}, ${cpus.length} CPU(s) ${cpus[0]?.model ?? ''}, ${os.platform()} ${os.release()}`);
  console.log(
    `  scenarios=${settings.scenarios.map((s) => s.name).join(',') || 'none'} rounds=${settings.rounds} ` +
      `warmup=${settings.warmupSeconds}s measure=${settings.seconds}s connections=${settings.connections} pipelining=1 target=${settings.target}`,
  );
  console.log(
    `  estimated runtime: ~${fmtDuration(est.total)}` +
      (settings.noisyRetries && settings.scenarios.length ? ` (+${fmtDuration(est.perServerRun)} per retried noisy run)` : '') +
      (sections.length ? ` incl. ${sections.length} extra section(s) (${sections.map((s) => s.title).join(', ')})` : '') +
      ` (hard cap ${fmtDuration(hardCapS)})`,
  );
  console.log('  load generator (autocannon) runs in this process on the same machine: compare ratios, not absolute numbers.');

  if (settings.target === 'tierguard' && !existsSync(CLI)) {
    throw new Error(`${path.relative(REPO_ROOT, CLI)} not found: run \`npm run build\` first (or use npm run bench)`);
  }

  const globalCap = setTimeout(() => {
    console.error(`\nERROR: benchmark exceeded its hard cap of ${hardCapS}s, killing children`);
    killAllChildren('SIGKILL');
    process.exit(1);
  }, hardCapS * 1000);
  globalCap.unref();

  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-bench-'));
  if (!settings.keepTmp) tmpDirToRemoveOnSignal = tmpDir;
  const logDir = path.join(tmpDir, 'logs');
  mkdirSync(logDir);
  let success = false;
  try {
    const certs = await makeCerts(tmpDir);
    console.log(`  certificates: ${certs.source === 'cli' ? 'tierguard CLI (dist/cli/main.js certs)' : 'FALLBACK generator'} in ${tmpDir}`);

    const fixtures = {};
    for (const sc of settings.scenarios) {
      const body = readFileSync(path.join(FIXTURE_DIR, sc.fixture), 'utf8');
      const uid = JSON.parse(body)?.request?.uid;
      if (!uid) throw new Error(`${sc.fixture}: no request.uid`);
      fixtures[sc.fixture] = { body, uid, bytes: Buffer.byteLength(body) };
    }

    const targetKind = settings.target === 'bare' ? 'bare' : 'tierguard';
    const ctx = {
      repoRoot: REPO_ROOT,
      benchDir: BENCH_DIR,
      fixtureDir: FIXTURE_DIR,
      tmpDir,
      logDir,
      serverSeq: 0,
      settings,
      certs,
      fixtures,
      scenarios: settings.scenarios,
      kinds: { bare: 'bare', target: targetKind },
      labels: { bare: 'bare', target: settings.target === 'bare' ? 'bare#2' : 'tierguard' },
      results: [],
      // helpers for sections
      startServer: (kind, opts) => startServer(ctx, kind, opts),
      runLoad: (opts) => runLoad(ctx, opts),
      verifyOnce: (server, scenario) => verifyOnce(ctx, server, scenario),
      measureServer: (which, scenario, roundNo) => measureServer(ctx, which, scenario, roundNo),
      httpsRequest: (opts) => httpsRequest(ctx, opts),
      checkAdmissionBody,
      median,
      printRows,
    };

    for (const sc of settings.scenarios) {
      const entry = {
        name: sc.name, path: sc.path, fixture: sc.fixture, bodyBytes: fixtures[sc.fixture].bytes,
        servers: { bare: { label: 'bare', rounds: [] }, target: { label: ctx.labels.target, kind: targetKind, rounds: [] } },
      };
      for (let r = 1; r <= settings.rounds; r++) {
        const order = r % 2 === 1 ? ['bare', 'target'] : ['target', 'bare'];
        for (const which of order) {
          // a run disturbed by other host load is redone (fresh process, bounded by
          // BENCH_NOISY_RETRIES); the least disturbed attempt is kept
          let res = null;
          for (let attempt = 0; attempt <= settings.noisyRetries; attempt++) {
            const cur = await measureServer(ctx, which, sc, r);
            cur.attempt = attempt + 1;
            if (!res || noiseOf(cur) < noiseOf(res)) res = cur;
            if (!cur.noisy) break;
            if (attempt < settings.noisyRetries) {
              console.log(`  [${sc.name} r${r}] ${ctx.labels[which]}: noisy (other host load ${fmt(noiseOf(cur), 2)} cores), retrying`);
            }
          }
          entry.servers[which].rounds.push(res);
          console.log(
            `  [${sc.name} r${r}] ${ctx.labels[which].padEnd(9)} ${fmt(res.rps, 0).padStart(7)} req/s  ` +
              `p50 ${fmt(res.p50ms, 2)} ms  p99 ${fmt(res.p99ms, 2)} ms  CPU ${fmt(res.cpuUsPerReq, 1)} µs/req  ` +
              `[cores: server ${fmt(res.cpuUtil, 2)} client ${fmt(res.clientCores, 2)} other ${fmt(res.otherCores, 2)} steal ${fmt(res.stealCores, 2)}]` +
              (res.noisy ? `  <- NOISY: other host load ${fmt(res.otherCores + (res.stealCores ?? 0), 2)} cores` : '') +
              (!res.noisy && res.cpuUtil !== null && res.cpuUtil < 0.85 ? '  <- server not saturated' : ''),
          );
        }
      }
      for (const k of ['bare', 'target']) entry.servers[k].median = summarize(entry.servers[k].rounds);
      const b = entry.servers.bare.median;
      const t = entry.servers.target.median;
      entry.ratio = {
        rps: b.rps ? round(t.rps / b.rps, 3) : null,
        cpuUsPerReq: b.cpuUsPerReq && t.cpuUsPerReq ? round(t.cpuUsPerReq / b.cpuUsPerReq, 3) : null,
      };
      ctx.results.push(entry);
    }

    if (ctx.results.length) console.log('\n=== results (medians over rounds; spread = (max-min)/2 of req/s over rounds) ===');
    for (const sc of ctx.results) printScenario(ctx, sc);

    const sectionResults = [];
    for (const s of sections) {
      console.log(`\n=== section: ${s.title} (bench/sections/${s.file}) ===`);
      const out = await s.run(ctx);
      const rows = Array.isArray(out) ? out : (out?.rows ?? []);
      const { title = s.title, summary = [], failures = [], ...details } = Array.isArray(out) ? {} : (out ?? {});
      printRows(rows);
      sectionResults.push({ ...details, file: s.file, title, rows, summary, failures });
    }

    const summary = ctx.results.map(
      (sc) =>
        `${sc.name}: ${ctx.labels.target} ${fmt(sc.ratio.rps, 2)}x bare ` +
        `(${fmt(sc.servers.target.median.rps, 0)} vs ${fmt(sc.servers.bare.median.rps, 0)} req/s); ` +
        `CPU/req ${fmt(sc.ratio.cpuUsPerReq, 2)}x (${fmt(sc.servers.target.median.cpuUsPerReq, 0)} vs ${fmt(sc.servers.bare.median.cpuUsPerReq, 0)} µs)`,
    );
    const allRuns = ctx.results.flatMap((sc) => [...sc.servers.bare.rounds, ...sc.servers.target.rounds]);
    const noisyRuns = allRuns.filter((r) => r.noisy).length;
    if (noisyRuns) {
      summary.push(
        `WARNING: ${noisyRuns} of ${allRuns.length} measured runs had other host load > ${NOISY_OTHER_CORES} cores: ` +
          'req/s is unreliable, rerun on a quiet machine (CPU µs/req is less affected).',
      );
    }
    summary.push(...sectionResults.flatMap((s) => s.summary));
    const failures = sectionResults.flatMap((s) => s.failures.map((f) => `${s.title}: ${f}`));
    const elapsedS = (Date.now() - startedAt) / 1000;
    mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
    const strip = ({ statusCounts, ...rest }) => ({ ...rest, statusCounts });
    writeFileSync(
      RESULTS_FILE,
      JSON.stringify(
        {
          generatedAt: new Date().toISOString(),
          elapsedSeconds: round(elapsedS, 1),
          environment: { node: process.version, cpus: cpus.length, cpuModel: cpus[0]?.model ?? null, platform: `${os.platform()} ${os.release()}`, clkTck: ticksPerSecond() },
          settings: { ...settings, scenarios: settings.scenarios.map((s) => s.name) },
          certSource: certs.source,
          scenarios: ctx.results.map((sc) => ({
            ...sc,
            servers: Object.fromEntries(Object.entries(sc.servers).map(([k, v]) => [k, { ...v, rounds: v.rounds.map(strip) }])),
          })),
          sections: sectionResults,
          summary,
          failures,
        },
        null,
        2,
      ) + '\n',
    );

    console.log(`\n=== summary (${fmtDuration(elapsedS)}, results in ${path.relative(REPO_ROOT, RESULTS_FILE)}) ===`);
    for (const line of summary) console.log(line);
    // a section's failures (e.g. the soak's wrong answers) fail the run once results are saved
    for (const f of failures) console.log(`FAIL ${f}`);
    success = failures.length === 0;
  } finally {
    killAllChildren('SIGKILL');
    clearTimeout(globalCap);
    if (success && !settings.keepTmp) rmSync(tmpDir, { recursive: true, force: true });
    else console.error(`(temp dir with certs and server logs kept: ${tmpDir})`);
  }
  return success;
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err) => {
    console.error(`\nERROR: ${err?.stack ?? err}`);
    killAllChildren('SIGKILL');
    process.exit(1);
  },
);
