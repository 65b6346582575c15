/**
 * TEST INFRASTRUCTURE — the built tierguard CLI (`node dist/cli/main.js serve`) as a child process
 * watching a real test cluster, with a certificate for 127.0.0.1 that the API server can be told
 * to trust (`registerWebhooks({ caBundle: tierguard.caCert })`).
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateCertificates } from '../../src/tls/certs.js';
import { REPO_DIR } from './fixtures.js';
import { freePort, spawnManaged, waitFor, type ManagedProcess } from './managed-process.js';
import type { TestCluster } from './kube-cluster.js';

const CLI = path.join(REPO_DIR, 'dist', 'cli', 'main.js');

export interface TierguardOptions {
  /** More `serve` flags, after the harness's own (so a repeated single-value flag overrides them). */
  readonly args?: readonly string[];
  /** Webhook port; default a free one (and one retry with new ports if it is taken meanwhile). */
  readonly port?: number;
  readonly metricsPort?: number;
  /** Whose kubeconfig tierguard uses; default the admin's. */
  readonly kubeconfig?: string;
  /**
   * `files` (default): a certificate for 127.0.0.1 made here, given with --tls-cert/--tls-key.
   * `self-managed`: none; `args` give --tls-secret and --webhook-configuration, and `caCert` is empty.
   */
  readonly certificates?: 'files' | 'self-managed';
}

export interface TierguardProcess {
  readonly port: number;
  readonly metricsPort: number;
  /** `https://127.0.0.1:PORT`, the base of `/mutate` and `/validate`. */
  readonly url: string;
  /** PEM of the CA that signed tierguard's serving certificate. */
  readonly caCert: string;
  readonly process: ManagedProcess;
  /** `performance.now()` just before the process was spawned (after its certificate was made), for start-to-ready figures. */
  readonly spawnedAt: number;
  /** Everything tierguard wrote so far (JSON log lines on stderr). */
  logs(): string;
  /** Resolves with the first log line matching `pattern`; rejects after `timeoutMs` (default 30 s) or if tierguard exits. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Polls `/readyz` on the metrics port every `intervalMs` (default 50) until 200 (default 60 s): watches synced, a policy set compiled. */
  waitReady(timeoutMs?: number, intervalMs?: number): Promise<void>;
  /** The `/metrics` text. */
  metrics(): Promise<string>;
  /** SIGTERM, then SIGKILL after 10 s; waits for the exit. */
  stop(): Promise<void>;
}

const exitedError = (child: ManagedProcess) => (child.alive() ? undefined : new Error(`tierguard exited early; the end of its output:\n${child.tail()}`));

async function metricsGet(port: number, urlPath: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}${urlPath}`, { signal: AbortSignal.timeout(5000) });
}

/**
 * Starts `node dist/cli/main.js serve --kubeconfig <admin> ...` on 127.0.0.1 with a fresh
 * certificate and `--shutdown-delay 0`, and resolves once both ports listen (not yet ready:
 * see `waitReady`). The cluster stops it too, before itself.
 */
export async function startTierguard(cluster: TestCluster, options: TierguardOptions = {}): Promise<TierguardProcess> {
  if (!existsSync(CLI)) throw new Error(`${path.relative(REPO_DIR, CLI)} is missing: run \`npm run build\` first (npm test does)`);
  const dir = mkdtempSync(path.join(cluster.dir, 'tierguard-'));
  const certs = generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 2 });
  const certFile = path.join(dir, 'tls.crt');
  const keyFile = path.join(dir, 'tls.key');
  writeFileSync(certFile, certs.cert);
  writeFileSync(keyFile, certs.key, { mode: 0o600 });
  const fixedPorts = options.port !== undefined || options.metricsPort !== undefined;
  for (let attempt = 1; ; attempt += 1) {
    const port = options.port ?? await freePort();
    const metricsPort = options.metricsPort ?? await freePort();
    const spawnedAt = performance.now();
    const child = spawnManaged({
      name: 'tierguard',
      command: process.execPath,
      logFile: path.join(dir, `tierguard-${attempt}.log`),
      cwd: REPO_DIR,
      args: [
        // TIERGUARD_CPU_PROF=DIR: a CPU profile of each tierguard, written there when it stops (for the benches).
        ...(process.env.TIERGUARD_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.TIERGUARD_CPU_PROF] : []),
        // TIERGUARD_NODE_FLAGS: more Node flags for each tierguard, space-separated (e.g. `--trace-gc`, whose lines go to its log).
        ...(process.env.TIERGUARD_NODE_FLAGS ? process.env.TIERGUARD_NODE_FLAGS.split(' ').filter(Boolean) : []),
        CLI, 'serve', '--kubeconfig', options.kubeconfig ?? cluster.kubeconfig.admin,
        '--address', '127.0.0.1', '--port', String(port), '--metrics-address', '127.0.0.1', '--metrics-port', String(metricsPort),
        ...(options.certificates === 'self-managed' ? [] : ['--tls-cert', certFile, '--tls-key', keyFile]), '--shutdown-delay', '0', ...(options.args ?? []),
      ],
    });
    const handle = tierguardHandle({ child, spawnedAt, port, metricsPort, caCert: options.certificates === 'self-managed' ? '' : certs.caCert });
    try {
      await waitFor(async () => (await metricsGet(metricsPort, '/healthz')).ok, { what: 'tierguard /healthz', timeoutMs: 60_000, abort: () => exitedError(child) });
      cluster.adopt(handle);
      return handle;
    } catch (error) {
      await child.stop(1000);
      const portTaken = /address already in use/i.test(child.output());
      if (attempt >= 2 || fixedPorts || !portTaken) throw error;
    }
  }
}

function tierguardHandle(context: { child: ManagedProcess; spawnedAt: number; port: number; metricsPort: number; caCert: string }): TierguardProcess {
  const { child, spawnedAt, port, metricsPort, caCert } = context;
  return {
    port, metricsPort, caCert, process: child, spawnedAt, url: `https://127.0.0.1:${port}`,
    logs: () => child.output(),
    waitForLog: (pattern, timeoutMs = 30_000) => waitFor(
      () => child.output().split('\n').find((line) => pattern.test(line)),
      { what: `a tierguard log line matching ${pattern}`, timeoutMs, abort: () => exitedError(child) },
    ),
    async waitReady(timeoutMs = 60_000, intervalMs = 50) {
      await waitFor(async () => (await metricsGet(metricsPort, '/readyz')).status === 200, {
        what: 'tierguard /readyz to answer 200', timeoutMs, intervalMs, abort: () => exitedError(child),
      }).catch((error: Error) => {
        throw child.alive() ? new Error(`${error.message}\n--- the end of tierguard's output:\n${child.tail()}`, { cause: error }) : error;
      });
    },
    async metrics() {
      const res = await metricsGet(metricsPort, '/metrics');
      if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
      return res.text();
    },
    stop: () => child.stop(10_000),
  };
}

/**
 * tierguard as a cluster's admission webhook: started (`startTierguard`), ready, registered by URL
 * with its CA, and in effect. The API server picks new webhook configurations up asynchronously,
 * so this dry-runs a Namespace until tierguard has answered one (a dry run leaves nothing behind).
 */
export async function startWebhook(cluster: TestCluster, options: TierguardOptions = {}): Promise<TierguardProcess> {
  const tierguard = await startTierguard(cluster, options);
  await tierguard.waitReady();
  await cluster.registerWebhooks({ name: 'tierguard', url: tierguard.url, caBundle: tierguard.caCert });
  const probe = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'webhook-probe' } };
  await waitFor(async () => {
    await cluster.apply(probe, { dryRun: true }).catch(() => undefined);
    return metricSum(await tierguard.metrics(), 'tierguard_admission_requests_total', { kind: 'Namespace', dry_run: 'true' }) > 0;
  }, { what: 'the API server to call tierguard', timeoutMs: 30_000, intervalMs: 250 });
  return tierguard;
}

/**
 * The sum of a metric's series in Prometheus text whose labels include all of `labels`, e.g.
 * `metricSum(text, 'tierguard_admission_requests_total', { webhook: 'validate' })`; 0 when none.
 */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const series = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => series[key] === value)) sum += Number(match[3]);
  }
  return sum;
}
