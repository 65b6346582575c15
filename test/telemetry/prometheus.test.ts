/**
 * tierguard's metrics as Prometheus users meet them: the built `tierguard serve` on 127.0.0.1,
 * real admission requests over TLS (allowed, denied, malformed), then `promtool check metrics` on
 * what `/metrics` serves, and a real Prometheus (2.42, Debian's package) scraping it every second:
 * the denial counter it stores matches the denials made, and each PromQL line of the Metrics page
 * (docs/metrics-and-alerts.md) returns what a dashboard would show.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePrometheus, PROMETHEUS, PROMTOOL } from '../helpers/describe-prometheus.js';
import { REPO_DIR, review } from '../helpers/fixtures.js';
import { request } from '../helpers/https.js';
import { freePort, runCommand, spawnManaged, type ManagedProcess } from '../helpers/managed-process.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait-for.js';

const CLI = path.join(REPO_DIR, 'dist', 'cli', 'main.js');
const STARTUP_MS = 60_000;
const DENIALS = 5;

const POLICIES = `apiVersion: tierguard.dev/v1alpha1
kind: Tier
metadata: {name: security}
spec: {priority: 100}
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: need-team}
spec:
  tier: security
  priority: 10
  labels:
    match: {resources: [Pod]}
    required: [{key: team}]
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: want-owner}
spec:
  tier: security
  priority: 20
  mode: Audit
  labels:
    match: {resources: [Pod]}
    required: [{key: owner}]
`;

interface Serving {
  readonly child: ChildProcess;
  readonly port: number;
  readonly metricsPort: number;
  readonly certs: TestCertificates;
}

/** `tierguard serve` with POLICIES, both ports chosen by the system, read from its "serving" line. */
async function serve(): Promise<Serving> {
  const certs = testCertificates();
  const policies = path.join(certs.dir, 'policies.yaml');
  writeFileSync(policies, POLICIES);
  const child = spawn(process.execPath, [CLI, 'serve', '--config', policies, '--tls-cert', certs.certFile, '--tls-key', certs.keyFile,
    '--address', '127.0.0.1', '--port', '0', '--metrics-address', '127.0.0.1', '--metrics-port', '0', '--log-level', 'warn'], { cwd: REPO_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
  const [port, metricsPort] = await new Promise<[number, number]>((resolve, reject) => {
    // Starting the built command takes seconds on a busy machine; the bound only turns a hang into a message.
    const timer = setTimeout(() => reject(new Error(`tierguard serve did not start:\n${stderr}`)), STARTUP_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const match = /serving https:\/\/127\.0\.0\.1:(\d+) \(metrics http:\/\/127\.0\.0\.1:(\d+)\/metrics\)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve([Number(match[1]), Number(match[2])]);
      }
    });
    void once(child, 'exit').then(([code]) => reject(new Error(`tierguard serve exited with ${code}:\n${stderr}`)));
  });
  return { child, port, metricsPort, certs };
}

/** A Pod CREATE as the API server sends it, with these labels. */
function podReview(labels: Record<string, string>, uid: string): string {
  const body = review('validate-create-pod');
  body.request.uid = uid;
  body.request.object.metadata.labels = labels;
  return JSON.stringify(body);
}

/** One Prometheus query's vector: labels and value of each element. */
async function query(port: number, promql: string): Promise<{ metric: Record<string, string>; value: number }[]> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = await response.json() as { status: string; error?: string; data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
  return body.data.result.map(({ metric, value }) => ({ metric, value: Number(value[1]) }));
}

/** The PromQL lines of docs/metrics-and-alerts.md (its ```promql block), without the comments. */
function readmeQueries(): string[] {
  const page = readFileSync(path.join(REPO_DIR, 'docs', 'metrics-and-alerts.md'), 'utf8');
  const block = /```promql\n([^]*?)```/.exec(page)?.[1] ?? '';
  return block.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
}

describePrometheus('tierguard\'s metrics in Prometheus', () => {
  let tierguard: Serving;
  let prometheus: ManagedProcess;
  let prometheusPort: number;

  beforeAll(async () => {
    tierguard = await serve();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-prometheus-'));
    writeFileSync(path.join(dir, 'prometheus.yml'), `global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: tierguard
    static_configs: [{targets: ['127.0.0.1:${tierguard.metricsPort}'], labels: {namespace: tierguard}}]
`);
    prometheusPort = await freePort();
    prometheus = spawnManaged({
      name: 'prometheus',
      command: PROMETHEUS!,
      args: ['--config.file', path.join(dir, 'prometheus.yml'), '--storage.tsdb.path', path.join(dir, 'data'), '--web.listen-address', `127.0.0.1:${prometheusPort}`],
      logFile: path.join(dir, 'prometheus.log'),
    });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${prometheusPort}/-/ready`).catch(() => undefined))?.status === 200, { timeoutMs: STARTUP_MS, what: 'Prometheus ready' });
    // The requests come after a first scrape: a counter first seen at 5 has risen by nothing, for rate().
    await waitFor(async () => (await query(prometheusPort, 'up{job="tierguard"} == 1')).length > 0, { timeoutMs: STARTUP_MS, what: 'a first scrape of tierguard' });

    const post = (webhook: string, body: string) => request({ port: tierguard.port, ca: tierguard.certs.caCert, path: `/${webhook}`, body });
    const requests = async (round: number, denials: number) => {
      for (let i = 0; i < denials; i++) {
        const answer = (await post('validate', podReview({ app: 'api' }, `denied-${round}-${i}`))).json();
        expect(answer.response.allowed).toBe(false);
      }
      expect((await post('validate', podReview({ app: 'api', team: 'a', owner: 'b' }, `allowed-${round}`))).json().response.allowed).toBe(true);
      expect((await post('mutate', podReview({ app: 'api', team: 'a' }, `mutated-${round}`))).json().response.allowed).toBe(true);
      expect((await post('validate', '{"not": "a review"}')).json().response.allowed).toBe(false);
    };
    // A labelled series is born at its first increment, which rate() cannot see: one round makes
    // every series, and once Prometheus has them the second round is what rates are made of.
    await requests(1, 1);
    await waitFor(async () => (await query(prometheusPort, 'tierguard_admission_errors_total')).length > 0, { timeoutMs: STARTUP_MS, what: 'a scrape of the first round' });
    await requests(2, DENIALS - 1);
  }, STARTUP_MS * 4);

  afterAll(async () => {
    await prometheus?.stop();
    tierguard?.child.kill('SIGKILL');
  });

  it('serves metrics promtool check metrics finds nothing to fix in', async () => {
    const text = await (await fetch(`http://127.0.0.1:${tierguard.metricsPort}/metrics`)).text();
    expect(text).toContain('tierguard_admission_violations_total{');
    const result = await runCommand({ command: PROMTOOL!, args: ['check', 'metrics'], input: text });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('stores the denials made, by guardrail, as a real Prometheus scrapes them', { timeout: STARTUP_MS * 2 }, async () => {
    const promql = 'sum by (guardrail, mode) (tierguard_admission_violations_total{dry_run="false"})';
    await waitFor(async () => (await query(prometheusPort, promql)).some(({ value }) => value === DENIALS), { timeoutMs: STARTUP_MS, what: 'a scrape after the denials' });
    const byGuardrail = Object.fromEntries((await query(prometheusPort, promql)).map(({ metric, value }) => [`${metric.guardrail} ${metric.mode}`, value]));
    // every denied Pod broke need-team (Enforce) and want-owner (Audit); the allowed one neither
    expect(byGuardrail).toEqual({ 'need-team Enforce': DENIALS, 'want-owner Audit': DENIALS });
    const up = await query(prometheusPort, 'up{job="tierguard"}');
    expect(up.map(({ value }) => value)).toEqual([1]);
  });

  it('answers each PromQL line of docs/metrics-and-alerts.md', { timeout: STARTUP_MS * 2 }, async () => {
    const lines = readmeQueries();
    expect(lines).toHaveLength(5);
    // rate() needs two scrapes of the counters after the requests: wait until the first line sees the denials
    await waitFor(async () => (await query(prometheusPort, lines[0]!)).some(({ value }) => value > 0), { timeoutMs: STARTUP_MS, what: 'a rate of denials' });
    const [denials, findings, errors, errorShare, p99] = await Promise.all(lines.map((line) => query(prometheusPort, line)));
    expect(denials!.map(({ metric }) => metric)).toEqual([{ tier: 'security', guardrail: 'need-team' }]);
    expect(denials![0]!.value).toBeGreaterThan(0);
    expect(findings!.map(({ metric }) => metric)).toEqual([{ tier: 'security', guardrail: 'want-owner', mode: 'Audit' }]);
    expect(errors!.map(({ metric }) => metric)).toEqual([{ webhook: 'validate', reason: 'bad_request' }]);
    expect(errorShare).toHaveLength(1);
    expect(errorShare![0]!.value).toBeGreaterThan(0);
    expect(errorShare![0]!.value).toBeLessThan(1);
    expect(p99!.map(({ metric }) => metric.webhook).sort()).toEqual(['mutate', 'validate']);
    for (const { value } of p99!) expect(value).toBeGreaterThan(0);
  });
});
