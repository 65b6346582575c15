/**
 * BENCH DRIVER, not a test (run by bench/sections/apiserver-latency.mjs through vite-node): the
 * latency tierguard's webhooks add to requests through a real kube-apiserver (issue 11 item 4).
 *
 * A real control plane (test/helpers/kube-cluster.ts, KUBEBUILDER_ASSETS) with the chart's CRDs,
 * a policy set applied as cluster objects, and the built tierguard. Then, in interleaved rounds,
 * sequential dry-run CREATEs of a Pod and a NetworkPolicy (`POST …?dryRun=All`, what
 * `kubectl create --dry-run=server` sends) over one keep-alive connection, timed at the client,
 * with four things registered in turn under the chart's webhook configurations: nothing;
 * tierguard; bench/bare-server.mjs, a webhook that only parses the review and allows it — the
 * API server's own cost of calling webhooks, the floor tierguard cannot go under; and the same
 * bare webhook answering each mutating call with the patch tierguard answers it with (asked of
 * tierguard's /mutate before the rounds) — the floor of a webhook that injects the same defaults,
 * since the API server's wait on a mutating webhook includes applying its patch.
 *
 * Beside the latencies, what explains them, per webhook call: how long the API server waited on
 * the webhook (its `apiserver_admission_webhook_admission_duration_seconds`, which also covers
 * encoding the review and applying a patch), how long tierguard's own duration histogram says it
 * took, and how many connections the API server opened to the webhook (from /proc/net/tcp, so a
 * handshake per call would show). Prints one JSON line on stdout.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateCertificates } from '../../src/tls/certs.js';
import { REPO_DIR, review } from '../helpers/fixtures.js';
import { request } from '../helpers/https.js';
import { metricSum, startCluster, startTierguard, waitFor, type TestCluster, type TierguardProcess } from '../helpers/kube-cluster.js';
import { freePort, isListening, spawnManaged } from '../helpers/managed-process.js';
import { benchNetworkPolicy, benchPod } from '../../bench/admitted-objects.mjs';
import { apiClient, loadAverage, percentile, round, runDriver, type ApiRequest } from './api-client.js';

const REQUESTS = Number(process.env.BENCH_APISERVER_REQUESTS ?? 200);
const ROUNDS = Number(process.env.BENCH_APISERVER_ROUNDS ?? 3);
const CONFIG = process.env.BENCH_APISERVER_CONFIG ?? path.join(REPO_DIR, 'examples', 'policies');
/** BENCH_APISERVER_SAMPLES=FILE: each request's time, target and phase as a JSON line, to see where the slow ones fall. */
const SAMPLES = process.env.BENCH_APISERVER_SAMPLES;

/** BENCH_APISERVER_TARGETS: which of them to send (default both). */
const TARGET_NAMES = (process.env.BENCH_APISERVER_TARGETS ?? 'pod,networkpolicy').split(',');
const targets = [
  { name: 'pod', path: '/api/v1/namespaces/payments/pods', body: JSON.stringify(benchPod) },
  { name: 'networkpolicy', path: '/apis/networking.k8s.io/v1/namespaces/payments/networkpolicies', body: JSON.stringify(benchNetworkPolicy) },
].filter((target) => TARGET_NAMES.includes(target.name));
if (targets.length === 0) throw new Error(`BENCH_APISERVER_TARGETS=${process.env.BENCH_APISERVER_TARGETS}: expected pod, networkpolicy or both`);

/**
 * What is registered: no webhook, tierguard's, the bare webhook's, or the bare webhook's answering
 * tierguard's defaults patch (`defaults`); the same configurations each time.
 */
const PHASES = ['without', 'with', 'bare', 'defaults'] as const;
type Phase = (typeof PHASES)[number];
type WebhookPhase = Exclude<Phase, 'without'>;

/** A webhook server the API server can be pointed at. */
interface Webhook {
  readonly name: string;
  readonly url: string;
  readonly caCert: string;
  readonly port: number;
}

/**
 * bench/bare-server.mjs on a free port with a certificate for 127.0.0.1, stopped with the cluster;
 * registered as `name`. With `patches` (kind → base64 JSONPatch), it answers /mutate with them.
 */
async function startBareWebhook(cluster: TestCluster, name: string, patches?: Record<string, string>): Promise<Webhook> {
  const certs = generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 2 });
  const certFile = path.join(cluster.dir, `${name}-tls.crt`);
  const keyFile = path.join(cluster.dir, `${name}-tls.key`);
  writeFileSync(certFile, certs.cert);
  writeFileSync(keyFile, certs.key, { mode: 0o600 });
  const patchesFile = path.join(cluster.dir, `${name}-patches.json`);
  if (patches) writeFileSync(patchesFile, JSON.stringify(patches));
  const port = await freePort();
  const child = spawnManaged({
    name: `${name}-webhook`, command: process.execPath, logFile: path.join(cluster.dir, `${name}-webhook.log`),
    args: [path.join(REPO_DIR, 'bench', 'bare-server.mjs'), String(port), certFile, keyFile, ...(patches ? [patchesFile] : [])],
  });
  cluster.adopt({ stop: () => child.stop() });
  await waitFor(() => isListening(port), { what: `the ${name} webhook to listen`, timeoutMs: 30_000, abort: () => (child.alive() ? undefined : new Error(child.tail())) });
  return { name, url: `https://127.0.0.1:${port}`, caCert: certs.caCert, port };
}

/**
 * tierguard's patch for each target's CREATE, by kind, asked of its /mutate directly: a captured
 * review of the kind (test/fixtures/admission-reviews/) around the target's object. A target that
 * tierguard does not patch gets none (its `defaults` phase then equals `bare` for that kind).
 */
async function tierguardPatches(tierguard: TierguardProcess): Promise<Record<string, string>> {
  const patches: Record<string, string> = {};
  for (const target of targets) {
    const envelope = review(`mutate-create-${target.name}`);
    const object = JSON.parse(target.body);
    envelope.request.object = object;
    envelope.request.name = object.metadata.name;
    envelope.request.namespace = object.metadata.namespace;
    const answer = await request({ port: tierguard.port, ca: tierguard.caCert, path: '/mutate', body: JSON.stringify(envelope) });
    const response = answer.json().response;
    if (answer.status !== 200 || response?.allowed !== true) throw new Error(`tierguard's /mutate did not allow the ${target.name} target: ${answer.text.slice(0, 300)}`);
    if (response.patch) patches[envelope.request.kind.kind] = response.patch;
  }
  return patches;
}

/**
 * The connections to 127.0.0.1:`port` the kernel knows now, open or closed within the last
 * minute (TIME_WAIT), each named by its client port; undefined where /proc/net/tcp is not there.
 */
function connectionsTo(port: number): Set<number> | undefined {
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return undefined;
  }
  const LISTEN = '0A';
  const clientPorts = new Set<number>();
  for (const line of table.split('\n').slice(1)) {
    const [, local, remote, state] = line.trim().split(/\s+/);
    if (!local || !remote || state === LISTEN) continue;
    const localPort = parseInt(local.split(':')[1]!, 16);
    const remotePort = parseInt(remote.split(':')[1]!, 16);
    if (localPort === port) clientPorts.add(remotePort);
    else if (remotePort === port) clientPorts.add(localPort);
  }
  return clientPorts;
}

/** How many of `after`'s connections `before` did not have; undefined when either is unknown. */
function newConnections(before: Set<number> | undefined, after: Set<number> | undefined): number | undefined {
  if (!before || !after) return undefined;
  return [...after].filter((clientPort) => !before.has(clientPort)).length;
}

/**
 * REQUESTS sequential dry runs of each target, appended to `times[target][phase]`; the labels the
 * API server answered a target's first dry run of the phase with go to `labels`, under
 * `"<target> <phase>"`.
 */
async function timeRequests(post: ApiRequest, phase: Phase, times: Record<string, Record<Phase, number[]>>, labels: Map<string, string>): Promise<void> {
  for (let i = 0; i < REQUESTS; i += 1) {
    for (const target of targets) {
      const { status, ms, text } = await post('POST', `${target.path}?dryRun=All`, target.body);
      if (status !== 201) throw new Error(`${target.name} dry run (${phase}) answered ${status}: ${text.slice(0, 300)}`);
      if (i === 0 && !labels.has(`${target.name} ${phase}`)) labels.set(`${target.name} ${phase}`, JSON.stringify(JSON.parse(text).metadata?.labels ?? {}));
      times[target.name]![phase].push(ms);
      if (SAMPLES) appendFileSync(SAMPLES, `${JSON.stringify({ at: Date.now(), target: target.name, phase, ms })}\n`);
    }
  }
}


/**
 * The defaults phase stands for a webhook that injects what tierguard injects: each target's dry
 * run must come back with the same labels through both (checked after the first round's, so a
 * wrong floor stops the run at once).
 */
function sameLabels(labels: Map<string, string>): void {
  for (const target of targets) {
    const [tierguard, bare] = [labels.get(`${target.name} with`), labels.get(`${target.name} defaults`)];
    if (tierguard !== bare) throw new Error(`the ${target.name} dry run's labels differ between tierguard (${tierguard}) and the bare webhook with its patch (${bare})`);
  }
}

/** Sum and count of a histogram's series with `labels`, to subtract one reading from another. */
interface Tally { count: number; sum: number }
const tally = (text: string, histogram: string, labels: Record<string, string> = {}): Tally => ({ count: metricSum(text, `${histogram}_count`, labels), sum: metricSum(text, `${histogram}_sum`, labels) });
const minus = (a: Tally, b: Tally): Tally => ({ count: a.count - b.count, sum: a.sum - b.sum });
const plus = (a: Tally, b: Tally): Tally => ({ count: a.count + b.count, sum: a.sum + b.sum });
const meanMs = (t: Tally) => (t.count > 0 ? round((t.sum / t.count) * 1000) : NaN);

/** A reading per kind of webhook call: mutating, then validating. */
interface Calls { mutate: Tally; validate: Tally }
const zero = (): Calls => ({ mutate: { count: 0, sum: 0 }, validate: { count: 0, sum: 0 } });
const add = (total: Calls, after: Calls, before: Calls): Calls => ({ mutate: plus(total.mutate, minus(after.mutate, before.mutate)), validate: plus(total.validate, minus(after.validate, before.validate)) });

const API_SERVER_WEBHOOK = 'apiserver_admission_webhook_admission_duration_seconds';
const TIERGUARD_DURATION = 'tierguard_admission_duration_seconds';
/** How long the API server waited on each webhook call, by its type (`admit` or `validating`). */
const apiServerWaits = (text: string): Calls => ({ mutate: tally(text, API_SERVER_WEBHOOK, { type: 'admit' }), validate: tally(text, API_SERVER_WEBHOOK, { type: 'validating' }) });
/** tierguard's duration histogram, by webhook. */
const tierguardTimes = (text: string): Calls => ({ mutate: tally(text, TIERGUARD_DURATION, { webhook: 'mutate' }), validate: tally(text, TIERGUARD_DURATION, { webhook: 'validate' }) });

async function main(): Promise<Record<string, unknown>> {
  const cluster = await startCluster();
  try {
    await cluster.apply(readFileSync(path.join(REPO_DIR, 'examples', 'manifests', 'namespaces.yaml'), 'utf8'));
    const applied = await cluster.kubectl(['apply', '-f', CONFIG]);
    if (applied.code !== 0) throw new Error(`cannot apply ${CONFIG}: ${applied.stderr}`);
    const tierguard: TierguardProcess = await startTierguard(cluster);
    await tierguard.waitReady();
    const ready = await cluster.kubectl(['wait', '--for=condition=Ready', '--timeout=120s', 'guardrails', '--all']);
    if (ready.code !== 0) throw new Error(`guardrails not Ready: ${ready.stderr}`);
    const patches = await tierguardPatches(tierguard);
    const webhooks: Record<WebhookPhase, Webhook> = {
      with: { name: 'tierguard', url: tierguard.url, caCert: tierguard.caCert, port: tierguard.port },
      bare: await startBareWebhook(cluster, 'bare'),
      defaults: await startBareWebhook(cluster, 'bare-defaults', patches),
    };
    const post = apiClient(cluster);
    const apiServerMetrics = async () => (await post('GET', '/metrics')).text;
    const tierguardCalls = async () => metricSum(await tierguard.metrics(), `${TIERGUARD_DURATION}_count`);

    /** Registers the phase's webhooks (removing the others) and waits until the API server calls exactly those. */
    const switchTo = async (phase: Phase): Promise<void> => {
      for (const [other, webhook] of Object.entries(webhooks)) if (other !== phase) await cluster.unregisterWebhooks(webhook.name);
      if (phase !== 'without') await cluster.registerWebhooks({ name: webhooks[phase].name, url: webhooks[phase].url, caBundle: webhooks[phase].caCert });
      // A Pod dry run calls a mutating and a validating webhook: 2 calls with one set registered.
      const expectedCalls = phase === 'without' ? 0 : 2;
      let settled = 0;
      await waitFor(async () => {
        const before = { api: metricSum(await apiServerMetrics(), `${API_SERVER_WEBHOOK}_count`), tierguard: await tierguardCalls() };
        await post('POST', `${targets[0]!.path}?dryRun=All`, targets[0]!.body);
        const calls = metricSum(await apiServerMetrics(), `${API_SERVER_WEBHOOK}_count`) - before.api;
        const tierguardCalled = (await tierguardCalls()) > before.tierguard;
        settled = calls === expectedCalls && tierguardCalled === (phase === 'with') ? settled + 1 : 0;
        return settled >= 5;
      }, { what: `only the ${phase} webhooks in effect`, timeoutMs: 60_000, intervalMs: 50 });
    };

    const times: Record<string, Record<Phase, number[]>> = Object.fromEntries(targets.map((target) => [target.name, { without: [], with: [], bare: [], defaults: [] }]));
    const apiServerSide: Record<WebhookPhase, Calls> = { with: zero(), bare: zero(), defaults: zero() };
    let inTierguard = zero();
    const opened: Record<WebhookPhase, number | undefined> = { with: 0, bare: 0, defaults: 0 };
    const labels = new Map<string, string>();
    for (let r = 0; r < ROUNDS; r += 1) {
      for (const phase of PHASES) {
        await switchTo(phase);
        if (phase === 'without') {
          await timeRequests(post, phase, times, labels);
          continue;
        }
        const before = { api: apiServerWaits(await apiServerMetrics()), tierguard: tierguardTimes(await tierguard.metrics()) };
        const connectionsBefore = connectionsTo(webhooks[phase].port);
        await timeRequests(post, phase, times, labels);
        apiServerSide[phase] = add(apiServerSide[phase], apiServerWaits(await apiServerMetrics()), before.api);
        if (phase === 'with') inTierguard = add(inTierguard, tierguardTimes(await tierguard.metrics()), before.tierguard);
        const fresh = newConnections(connectionsBefore, connectionsTo(webhooks[phase].port));
        const sofar = opened[phase];
        opened[phase] = fresh === undefined || sofar === undefined ? undefined : sofar + fresh;
        if (phase === 'defaults' && r === 0) sameLabels(labels);
      }
    }
    const rows = targets.map((target) => {
      const summary = (phase: Phase) => {
        const sorted = [...times[target.name]![phase]].sort((a, b) => a - b);
        return { p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)) };
      };
      const without = summary('without');
      const withWebhooks = summary('with');
      const bareWebhook = summary('bare');
      const bareDefaults = summary('defaults');
      return {
        target: target.name, requests: REQUESTS * ROUNDS, without, with: withWebhooks, bare: bareWebhook, defaults: bareDefaults,
        addedP50: round(withWebhooks.p50 - without.p50), addedP99: round(withWebhooks.p99 - without.p99),
        bareAddedP50: round(bareWebhook.p50 - without.p50), bareAddedP99: round(bareWebhook.p99 - without.p99),
        defaultsAddedP50: round(bareDefaults.p50 - without.p50), defaultsAddedP99: round(bareDefaults.p99 - without.p99),
      };
    });
    return {
      config: process.env.BENCH_APISERVER_CONFIG_NAME ?? path.relative(REPO_DIR, CONFIG),
      loadAverage: loadAverage(),
      rows,
      webhookCalls: inTierguard.mutate.count + inTierguard.validate.count,
      webhookCallMeanMs: meanMs(plus(inTierguard.mutate, inTierguard.validate)),
      perCallMeanMs: Object.fromEntries((['mutate', 'validate'] as const).map((call) => [call, {
        apiServerOnTierguard: meanMs(apiServerSide.with[call]), tierguard: meanMs(inTierguard[call]),
        apiServerOnBare: meanMs(apiServerSide.bare[call]), apiServerOnBareDefaults: meanMs(apiServerSide.defaults[call]),
      }])),
      /** The kinds whose mutating call the `defaults` webhook answered with tierguard's patch. */
      patchedKinds: Object.keys(patches),
      connectionsOpened: { tierguard: opened.with ?? null, bare: opened.bare ?? null, defaults: opened.defaults ?? null },
      apiServerCalls: Object.fromEntries((['with', 'bare', 'defaults'] as const).map((phase) => [phase === 'with' ? 'tierguard' : phase, apiServerSide[phase].mutate.count + apiServerSide[phase].validate.count])),
    };
  } finally {
    await cluster.stop();
  }
}

runDriver(main);
