/**
 * TEST INFRASTRUCTURE — a real Kubernetes control plane for tests, the way controller-runtime's
 * envtest starts one: etcd and kube-apiserver (and optionally kube-controller-manager) from the
 * directory named by `KUBEBUILDER_ASSETS`, on 127.0.0.1 only, in a temporary directory. No kubelet
 * runs, so no pod ever starts; webhooks are reached by URL. See ../shared/kube/README.md. It does
 * not import vitest, so the bench can start a cluster too (test/bench/); suites use describe-cluster.ts.
 *
 * @example
 * describeCluster('tierguard in a real cluster', () => {
 *   let cluster: TestCluster;
 *   beforeAll(async () => { cluster = await startCluster(); }, CLUSTER_START_TIMEOUT_MS);
 *   afterAll(() => cluster?.stop());
 *   it('lists tiers', async () => expect((await cluster.kubectl(['get', 'tiers'])).code).toBe(0));
 * });
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { generateCertificates } from '../../src/tls/certs.js';
import { REPO_DIR } from './fixtures.js';
import { layerBinary } from './helm.js';
import { freePort, isListening, removeOnDeath, runCommand, spawnManaged, waitFor, type CommandResult, type ManagedProcess } from './managed-process.js';

export { metricSum, startTierguard, startWebhook, type TierguardOptions, type TierguardProcess } from './tierguard-process.js';
export { waitFor } from './managed-process.js';

/** The envtest binaries directory, or undefined: then every `describeCluster` (describe-cluster.ts) is skipped. */
export const KUBE_ASSETS = process.env.KUBEBUILDER_ASSETS || undefined;

/** In the title of every skipped cluster suite (test/global-setup.ts says it once per run, plainly). */
export const CLUSTER_SKIP_REASON = 'KUBEBUILDER_ASSETS is not set';

/**
 * Every suite that needs a real cluster is titled `[cluster] ...`: .ci/run counts the tests under
 * that prefix in vitest's JSON results and fails when none passed or any was skipped.
 */
export const CLUSTER_SUITE_PREFIX = '[cluster]';

/** A generous `beforeAll` timeout for `startCluster` on a loaded 2-core machine (ms). */
export const CLUSTER_START_TIMEOUT_MS = 180_000;

const READY_TIMEOUT_MS = 90_000;
const CHART_CRDS = path.join(REPO_DIR, 'charts', 'tierguard', 'crds');
/** The CRDs of other projects beside the repository (`../shared/kube/crds`): PolicyReport, OpenReports, ClusterNetworkPolicy. */
export const SHARED_CRDS = path.join(REPO_DIR, '..', 'shared', 'kube', 'crds');

export type Identity = 'admin' | 'user';

/** The two identities of the token file. `user` is `jane` in group `developers`, with no RBAC rights. */
export const USERS = {
  admin: { name: 'admin', groups: ['system:masters'] },
  user: { name: 'jane', groups: ['developers'] },
} as const;

export interface ClusterOptions {
  /** Also run kube-controller-manager (service accounts and their tokens, namespace deletion, ReplicaSets). Default false. */
  readonly controllerManager?: boolean;
  /** Install the chart's CRDs (charts/tierguard/crds) and wait until they are Established. Default true. */
  readonly crds?: boolean;
}

export interface KubectlOptions {
  readonly as?: Identity;
  /** Written to kubectl's stdin (use with `-f -`). */
  readonly input?: string;
}

export interface ApplyOptions {
  readonly as?: Identity;
  /** `--dry-run=server`: admitted (webhooks included) and validated, but not stored. */
  readonly dryRun?: boolean;
}

export interface WebhookOptions {
  /** Name of both configurations. */
  readonly name: string;
  /** Base URL of the webhook, `https://127.0.0.1:PORT`; `/mutate` and `/validate` are appended. */
  readonly url: string;
  /** PEM CA bundle the API server verifies the webhook by (base64-encoded here). */
  readonly caBundle?: string;
  /** Default `Fail`, as the chart. */
  readonly failurePolicy?: 'Fail' | 'Ignore';
  /** Default 10, as the chart. */
  readonly timeoutSeconds?: number;
  /** Namespaces excluded besides kube-system, as the chart's release namespace; default [`tierguard`]. */
  readonly excludeNamespaces?: readonly string[];
}

export interface TestCluster {
  /** `https://127.0.0.1:PORT` of kube-apiserver. */
  readonly server: string;
  /** The temporary directory (certificates, kubeconfigs, etcd data, logs); removed by `stop`. */
  readonly dir: string;
  /** PEM file of the CA that signed the API server's certificate. */
  readonly caFile: string;
  readonly kubeconfig: { readonly admin: string; readonly user: string };
  readonly token: { readonly admin: string; readonly user: string };
  /** Runs kubectl as `admin` (default) or `user`; never throws on a non-zero exit. */
  kubectl(args: readonly string[], options?: KubectlOptions): Promise<CommandResult>;
  /** `kubectl apply -f -` of YAML text or objects; throws with kubectl's stderr when it fails; returns stdout. */
  apply(manifests: string | object | readonly object[], options?: ApplyOptions): Promise<string>;
  /** A client-node configuration for the admin identity. */
  kubeConfig(): KubeConfig;
  /** Creates (or replaces) a Mutating- and a ValidatingWebhookConfiguration as the chart renders them, reaching `url`. */
  registerWebhooks(options: WebhookOptions): Promise<void>;
  unregisterWebhooks(name: string): Promise<void>;
  /** Processes to stop (first, in reverse order) with the cluster, e.g. tierguard. */
  adopt(stoppable: { stop(): Promise<void> }): void;
  /** Stops everything started for this cluster, waits for the exits, removes `dir`. */
  stop(): Promise<void>;
}

interface Binaries {
  readonly etcd: string;
  readonly apiserver: string;
  readonly controllerManager: string;
  readonly kubectl: string;
}

/** kubectl: from KUBEBUILDER_ASSETS, else from PATH, else the one beside Helm in the layer package. */
export function findKubectl(assets = KUBE_ASSETS): string {
  const candidates = [assets, ...(process.env.PATH ?? '').split(path.delimiter)].filter(Boolean).map((dir) => path.join(dir as string, 'kubectl'));
  return candidates.find((file) => existsSync(file)) ?? layerBinary('kubectl');
}

function binaries(): Binaries {
  if (!KUBE_ASSETS) throw new Error(`cannot start a cluster: ${CLUSTER_SKIP_REASON}`);
  const inAssets = (name: string, required: boolean) => {
    const file = path.join(KUBE_ASSETS, name);
    if (required && !existsSync(file)) throw new Error(`${name} not found in KUBEBUILDER_ASSETS=${KUBE_ASSETS}`);
    return file;
  };
  return {
    etcd: inAssets('etcd', true),
    apiserver: inAssets('kube-apiserver', true),
    controllerManager: inAssets('kube-controller-manager', false),
    kubectl: findKubectl(KUBE_ASSETS),
  };
}

interface Pki {
  readonly caFile: string;
  readonly caKeyFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly saPublicFile: string;
  readonly saPrivateFile: string;
  readonly tokenFile: string;
  readonly token: { admin: string; user: string };
}

function writePki(dir: string): Pki {
  const files = (name: string) => path.join(dir, name);
  const tls = generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 2 });
  const sa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const token = { admin: randomBytes(24).toString('hex'), user: randomBytes(24).toString('hex') };
  const pki: Pki = {
    caFile: files('ca.crt'), caKeyFile: files('ca.key'), certFile: files('apiserver.crt'), keyFile: files('apiserver.key'),
    saPublicFile: files('sa.pub'), saPrivateFile: files('sa.key'), tokenFile: files('tokens.csv'), token,
  };
  writeFileSync(pki.caFile, tls.caCert);
  writeFileSync(pki.caKeyFile, tls.caKey, { mode: 0o600 });
  writeFileSync(pki.certFile, tls.cert);
  writeFileSync(pki.keyFile, tls.key, { mode: 0o600 });
  writeFileSync(pki.saPublicFile, sa.publicKey);
  writeFileSync(pki.saPrivateFile, sa.privateKey, { mode: 0o600 });
  const line = (id: Identity) => `${token[id]},${USERS[id].name},${USERS[id].name},"${USERS[id].groups.join(',')}"`;
  writeFileSync(pki.tokenFile, `${line('admin')}\n${line('user')}\n`, { mode: 0o600 });
  return pki;
}

function writeKubeconfig(file: string, options: { server: string; caFile: string; user: string; token: string }): void {
  writeFileSync(file, stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: options.server, 'certificate-authority': options.caFile } }],
    users: [{ name: options.user, user: { token: options.token } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: options.user } }],
    'current-context': 'test',
  }), { mode: 0o600 });
}

/** Loopback traffic must never go through a proxy set in the environment. */
function childEnv(): NodeJS.ProcessEnv {
  const noProxy = ['127.0.0.1', 'localhost', process.env.NO_PROXY ?? process.env.no_proxy].filter(Boolean).join(',');
  return { ...process.env, NO_PROXY: noProxy, no_proxy: noProxy };
}

/** Why a process died early: its exit and the end of its log. */
function earlyExit(child: ManagedProcess): Error | undefined {
  if (child.alive()) return undefined;
  return new Error(`${child.name} exited early; the end of its output:\n${child.tail()}`);
}

const portInUse = (child: ManagedProcess) => /address already in use/i.test(child.output());

/**
 * Starts a process on freshly picked ports and waits until `ready`; when it exits because a port was
 * taken meanwhile (another test picked the same free port), tries once more with new ports.
 */
async function startOnFreePorts(options: {
  start: (ports: number[]) => ManagedProcess;
  portCount: number;
  /** Resolves when `child` is ready; rejects with `earlyExit(child)` when it dies first. */
  ready: (child: ManagedProcess, ports: number[]) => Promise<unknown>;
}): Promise<{ child: ManagedProcess; ports: number[] }> {
  for (let attempt = 1; ; attempt += 1) {
    const ports: number[] = [];
    while (ports.length < options.portCount) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const child = options.start(ports);
    try {
      await options.ready(child, ports);
      return { child, ports };
    } catch (error) {
      const timedOut = child.alive();
      await child.stop(1000);
      if (attempt < 2 && portInUse(child)) continue;
      if (!timedOut) throw error;
      throw new Error(`${(error as Error).message}\n--- the end of ${child.name}'s output:\n${child.tail()}`, { cause: error });
    }
  }
}

function getStatus(url: string, options: { ca: string; token: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca: options.ca, headers: { Authorization: `Bearer ${options.token}` }, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 5 s`)));
    req.on('error', reject);
  });
}

function startEtcd(context: { dir: string; bin: Binaries; env: NodeJS.ProcessEnv }): Promise<{ child: ManagedProcess; url: string }> {
  let attempt = 0;
  return startOnFreePorts({
    portCount: 2,
    start: ([client, peer]) => spawnManaged({
      name: 'etcd',
      command: context.bin.etcd,
      logFile: path.join(context.dir, 'etcd.log'),
      env: context.env,
      args: [
        // A fresh data dir per attempt: a failed start may leave a half-made member behind.
        `--data-dir=${path.join(context.dir, `etcd-data-${(attempt += 1)}`)}`,
        `--listen-client-urls=http://127.0.0.1:${client}`, `--advertise-client-urls=http://127.0.0.1:${client}`,
        `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-cluster=default=http://127.0.0.1:${peer}`, '--name=default', '--logger=zap', '--log-level=warn',
      ],
    }),
    // etcd answers /health on its client port once it has a leader (a single member elects itself).
    ready: (child, [client]) => waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${client}/health`, { signal: AbortSignal.timeout(5000) });
      return res.ok && ((await res.json()) as { health?: string }).health === 'true';
    }, { what: 'etcd /health', timeoutMs: READY_TIMEOUT_MS, abort: () => earlyExit(child) }),
  }).then(({ child, ports }) => ({ child, url: `http://127.0.0.1:${ports[0]}` }));
}

async function startApiserver(context: { dir: string; bin: Binaries; env: NodeJS.ProcessEnv; pki: Pki; etcdUrl: string; serviceAccountAdmission: boolean }): Promise<{ child: ManagedProcess; port: number }> {
  const { pki } = context;
  const ca = readFileSync(pki.caFile, 'utf8');
  const { child, ports } = await startOnFreePorts({
    portCount: 1,
    start: ([port]) => spawnManaged({
      name: 'kube-apiserver',
      command: context.bin.apiserver,
      logFile: path.join(context.dir, 'kube-apiserver.log'),
      env: context.env,
      args: [
        `--etcd-servers=${context.etcdUrl}`,
        '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${port}`,
        `--cert-dir=${path.join(context.dir, 'apiserver-certs')}`,
        `--tls-cert-file=${pki.certFile}`, `--tls-private-key-file=${pki.keyFile}`, `--client-ca-file=${pki.caFile}`,
        `--token-auth-file=${pki.tokenFile}`, '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${pki.saPublicFile}`, `--service-account-signing-key-file=${pki.saPrivateFile}`,
        '--service-cluster-ip-range=10.96.0.0/16', '--endpoint-reconciler-type=none', '--allow-privileged=true',
        // Without kube-controller-manager no namespace gets its "default" ServiceAccount, and this
        // admission plugin would refuse every Pod for the lack of it.
        ...(context.serviceAccountAdmission ? [] : ['--disable-admission-plugins=ServiceAccount']),
      ],
    }),
    ready: (child, [port]) => waitFor(
      async () => (await getStatus(`https://127.0.0.1:${port}/readyz`, { ca, token: pki.token.admin })) === 200,
      { what: 'kube-apiserver /readyz to answer 200', timeoutMs: READY_TIMEOUT_MS, intervalMs: 250, abort: () => earlyExit(child) },
    ),
  });
  return { child, port: ports[0]! };
}

async function startControllerManager(context: { dir: string; bin: Binaries; env: NodeJS.ProcessEnv; pki: Pki; kubeconfig: string }): Promise<ManagedProcess> {
  if (!existsSync(context.bin.controllerManager)) throw new Error(`kube-controller-manager not found in KUBEBUILDER_ASSETS=${KUBE_ASSETS}`);
  const { pki } = context;
  const { child } = await startOnFreePorts({
    portCount: 1,
    start: ([port]) => spawnManaged({
      name: 'kube-controller-manager',
      command: context.bin.controllerManager,
      logFile: path.join(context.dir, 'kube-controller-manager.log'),
      env: context.env,
      args: [
        `--kubeconfig=${context.kubeconfig}`, '--leader-elect=false', '--bind-address=127.0.0.1', `--secure-port=${port}`,
        `--service-account-private-key-file=${pki.saPrivateFile}`, `--root-ca-file=${pki.caFile}`,
        `--cluster-signing-cert-file=${pki.caFile}`, `--cluster-signing-key-file=${pki.caKeyFile}`,
        `--cert-dir=${path.join(context.dir, 'controller-manager-certs')}`,
      ],
    }),
    // Its /healthz needs authentication it would delegate to the API server; being up and
    // listening is enough here: callers wait for what they need (e.g. a ServiceAccount).
    ready: (child, [port]) => waitFor(() => isListening(port!), { what: 'kube-controller-manager to listen', timeoutMs: READY_TIMEOUT_MS, intervalMs: 250, abort: () => earlyExit(child) }),
  });
  return child;
}

/**
 * Starts etcd and kube-apiserver (and kube-controller-manager when asked) on free 127.0.0.1
 * ports, waits until the API server is ready, and installs the chart's CRDs (default).
 * Everything is torn down by `stop()`, and killed if the test process exits first.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const bin = binaries();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-cluster-'));
  const leftover = removeOnDeath(dir);
  const env = childEnv();
  const owned: Array<{ stop(): Promise<void> }> = [];
  const stop = async () => {
    for (const item of owned.splice(0).reverse()) await item.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    leftover.release();
  };
  try {
    const pki = writePki(dir);
    const etcd = await startEtcd({ dir, bin, env });
    owned.push({ stop: () => etcd.child.stop() });
    const controllerManager = options.controllerManager ?? false;
    const apiserver = await startApiserver({ dir, bin, env, pki, etcdUrl: etcd.url, serviceAccountAdmission: controllerManager });
    owned.push({ stop: () => apiserver.child.stop() });
    const server = `https://127.0.0.1:${apiserver.port}`;
    const kubeconfig = { admin: path.join(dir, 'admin.kubeconfig'), user: path.join(dir, 'user.kubeconfig') };
    writeKubeconfig(kubeconfig.admin, { server, caFile: pki.caFile, user: USERS.admin.name, token: pki.token.admin });
    writeKubeconfig(kubeconfig.user, { server, caFile: pki.caFile, user: USERS.user.name, token: pki.token.user });
    if (controllerManager) {
      const manager = await startControllerManager({ dir, bin, env, pki, kubeconfig: kubeconfig.admin });
      owned.push({ stop: () => manager.stop() });
    }
    const cluster = clusterHandle({ server, dir, caFile: pki.caFile, kubeconfig, token: pki.token, kubectlPath: bin.kubectl, env, owned, stop });
    // The serviceaccount controller makes "default" in every namespace; the ServiceAccount
    // admission plugin (on with a controller manager) refuses Pods until it exists.
    if (controllerManager) {
      await waitFor(async () => (await cluster.kubectl(['get', 'serviceaccount', 'default', '--namespace=default'])).code === 0, {
        what: 'the default ServiceAccount of namespace default', timeoutMs: READY_TIMEOUT_MS, intervalMs: 250,
      });
    }
    if (options.crds ?? true) await installCrds(cluster, [CHART_CRDS]);
    // tierguard's own namespace, as the chart's release namespace: its Lease lives there.
    await cluster.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tierguard' } });
    return cluster;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Applies CRD files (or directories of them) and waits until the API server serves them; throws with kubectl's stderr otherwise. */
export async function installCrds(cluster: TestCluster, paths: readonly string[]): Promise<void> {
  const files = paths.flatMap((file) => ['-f', file]);
  const must = async (args: string[]) => {
    const result = await cluster.kubectl(args);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  };
  await must(['apply', ...files]);
  await must(['wait', '--for=condition=Established', '--timeout=60s', ...files]);
}

function clusterHandle(context: {
  server: string; dir: string; caFile: string; kubeconfig: TestCluster['kubeconfig']; token: TestCluster['token'];
  kubectlPath: string; env: NodeJS.ProcessEnv; owned: Array<{ stop(): Promise<void> }>; stop: () => Promise<void>;
}): TestCluster {
  const { server, dir, caFile, kubeconfig, token } = context;
  const kubectl = (args: readonly string[], options: KubectlOptions = {}) => runCommand({
    command: context.kubectlPath,
    args: [`--kubeconfig=${kubeconfig[options.as ?? 'admin']}`, ...args],
    env: context.env,
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  const cluster: TestCluster = {
    server, dir, caFile, kubeconfig, token, kubectl,
    async apply(manifests, options = {}) {
      const input = typeof manifests === 'string' ? manifests : toYaml(manifests);
      const result = await kubectl(['apply', ...(options.dryRun ? ['--dry-run=server'] : []), '-f', '-'], { input, ...(options.as ? { as: options.as } : {}) });
      if (result.code !== 0) throw new Error(`kubectl apply failed (${result.code}): ${result.stderr.trim()}`);
      return result.stdout;
    },
    kubeConfig() {
      const config = new KubeConfig();
      config.loadFromFile(kubeconfig.admin);
      return config;
    },
    async registerWebhooks(options) {
      await cluster.apply(webhookConfigurations(options));
    },
    async unregisterWebhooks(name) {
      const result = await kubectl(['delete', '--ignore-not-found', `mutatingwebhookconfiguration/${name}`, `validatingwebhookconfiguration/${name}`]);
      if (result.code !== 0) throw new Error(`deleting webhook configurations ${name} failed: ${result.stderr.trim()}`);
    },
    adopt(stoppable) {
      context.owned.push(stoppable);
    },
    stop: context.stop,
  };
  return cluster;
}

function toYaml(manifests: object | readonly object[]): string {
  const list = Array.isArray(manifests) ? manifests : [manifests];
  return list.map((item) => stringify(item)).join('---\n');
}


type Rule = { apiGroups: string[]; apiVersions: string[]; operations: string[]; resources: string[]; scope: 'Namespaced' | 'Cluster' };
const rule = (apiGroup: string, resources: string[], operations: string[], scope: Rule['scope'] = 'Namespaced'): Rule => ({
  apiGroups: [apiGroup], apiVersions: [apiGroup === 'tierguard.dev' ? 'v1alpha1' : 'v1'], operations, resources, scope,
});
const CREATE_UPDATE = ['CREATE', 'UPDATE'];
/** What both webhooks see of Pods, workloads and NetworkPolicies (charts/tierguard/templates/*webhookconfiguration.yaml). */
const WORKLOAD_RULES = [
  rule('', ['pods'], CREATE_UPDATE),
  rule('apps', ['deployments', 'statefulsets', 'daemonsets', 'replicasets'], CREATE_UPDATE),
  rule('batch', ['jobs', 'cronjobs'], CREATE_UPDATE),
  rule('networking.k8s.io', ['networkpolicies'], CREATE_UPDATE),
];

/**
 * The chart's two webhook configurations with `clientConfig.url` instead of a Service: the same
 * webhooks, rules, operations, paths, sideEffects, matchPolicy and namespace exclusion by
 * `kubernetes.io/metadata.name`. test/chart/helm.test.ts compares them with `helm template`.
 */
export function webhookConfigurations(options: WebhookOptions): [object, object] {
  const common = {
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: options.failurePolicy ?? 'Fail',
    timeoutSeconds: options.timeoutSeconds ?? 10,
    matchPolicy: 'Equivalent',
  };
  const clientConfig = (webhookPath: string) => ({
    url: `${options.url}${webhookPath}`,
    ...(options.caBundle ? { caBundle: Buffer.from(options.caBundle).toString('base64') } : {}),
  });
  const namespaceSelector = {
    matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', ...(options.excludeNamespaces ?? ['tierguard'])] }],
  };
  const metadata = { name: options.name, labels: { 'app.kubernetes.io/part-of': 'tierguard' } };
  const mutating = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata,
    webhooks: [{
      name: 'mutate.tierguard.dev', ...common, reinvocationPolicy: 'Never', clientConfig: clientConfig('/mutate'), namespaceSelector,
      rules: [...WORKLOAD_RULES, rule('', ['namespaces'], ['CREATE'], 'Cluster')],
    }],
  };
  const validating = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata,
    webhooks: [
      {
        name: 'validate.tierguard.dev', ...common, clientConfig: clientConfig('/validate'), namespaceSelector,
        rules: [
          ...WORKLOAD_RULES,
          rule('', ['namespaces'], CREATE_UPDATE, 'Cluster'),
          rule('', ['namespaces/status', 'namespaces/finalize'], ['UPDATE'], 'Cluster'),
        ],
      },
      {
        name: 'policies.tierguard.dev', ...common, clientConfig: clientConfig('/validate'),
        rules: [rule('tierguard.dev', ['tiers', 'guardrails'], ['CREATE', 'UPDATE', 'DELETE'], 'Cluster')],
      },
    ],
  };
  return [mutating, validating];
}
