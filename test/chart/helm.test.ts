/**
 * The chart with the real Helm (v3.17, see test/helpers/helm.ts): lint, rendering in each
 * certificate mode, and the rendered objects against a real kube-apiserver
 * (`kubectl apply --dry-run=server --validate=strict`: schema, defaulting, validation, RBAC).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { generateCertificates } from '../../src/tls/certs.js';
import { helm } from '../helpers/helm.js';
import { CLUSTER_START_TIMEOUT_MS, startCluster, webhookConfigurations, type TestCluster } from '../helpers/kube-cluster.js';
import { describeCluster } from '../helpers/describe-cluster.js';
import { REPO_DIR } from '../helpers/fixtures.js';

const RELEASE = 'tg';
const NAMESPACE = 'tierguard';
const FULLNAME = `${RELEASE}-tierguard`;
/** The API server version of the test cluster (KUBEBUILDER_ASSETS), for `.Capabilities`. */
const KUBE_VERSION = '1.26.0';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [key: string]: any;
}

/**
 * Kinds of other projects: the test cluster has no cert-manager or prometheus-operator CRDs, so
 * the API server cannot check these. They are rendered and counted here; their schemas are not.
 */
const FOREIGN_GROUPS = /^(cert-manager\.io|monitoring\.coreos\.com)\//;

let providedCa: string | undefined;
/** A real CA, base64-encoded as `certificates.caBundle` expects (`base64 -w0 ca.crt`). */
function caBundle(): string {
  providedCa ??= Buffer.from(generateCertificates({ dnsNames: ['tg-tierguard.tierguard.svc'], days: 1, keyBits: 1024 }).caCert).toString('base64');
  return providedCa;
}

const MODES = [
  { name: 'self-managed (the default)', values: () => ({}), foreign: [] },
  {
    name: 'cert-manager with the chart-made CA',
    values: () => ({ certificates: { mode: 'cert-manager' } }),
    foreign: ['Certificate/tg-tierguard-ca', 'Certificate/tg-tierguard-serving', 'Issuer/tg-tierguard-ca', 'Issuer/tg-tierguard-selfsigned'],
  },
  {
    name: 'cert-manager with a ClusterIssuer',
    values: () => ({ certificates: { mode: 'cert-manager', certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer' } } } }),
    foreign: ['Certificate/tg-tierguard-serving'],
  },
  { name: 'provided', values: () => ({ certificates: { mode: 'provided', secretName: 'my-tls', caBundle: caBundle() } }), foreign: [] },
  { name: 'client CA from a Secret', values: () => ({ clientCA: { secretName: 'apiserver-client-ca' } }), foreign: [] },
  { name: 'client CA from a ConfigMap, cert-manager certificates', values: () => ({ clientCA: { configMapName: 'apiserver-client-ca', key: 'ca.pem' }, certificates: { mode: 'cert-manager' } }), foreign: ['Certificate/tg-tierguard-ca', 'Certificate/tg-tierguard-serving', 'Issuer/tg-tierguard-ca', 'Issuer/tg-tierguard-selfsigned'] },
  {
    name: 'NetworkPolicy on (the API server by CIDR, metrics from monitoring)',
    values: () => ({ networkPolicy: { enabled: true, webhookFrom: [{ ipBlock: { cidr: '10.0.0.0/24' } }, { ipBlock: { cidr: '192.168.10.5/32' } }] } }),
    foreign: [],
  },
  {
    name: 'alerts without the ServiceMonitor',
    values: () => ({ metrics: { prometheusRule: { enabled: true } } }),
    foreign: ['PrometheusRule/tg-tierguard'],
  },
  {
    name: 'self-managed with monitoring',
    values: () => ({ metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } } }),
    foreign: ['PrometheusRule/tg-tierguard', 'ServiceMonitor/tg-tierguard'],
  },
];

const POLICY_REPORT_CRDS = ['wgpolicyk8s.io_clusterpolicyreports.yaml', 'wgpolicyk8s.io_policyreports.yaml'];
const OPEN_REPORTS_CRDS = ['openreports.io_clusterreports.yaml', 'openreports.io_reports.yaml'];

/** The report values: which CRDs the chart renders (files in files/report-crds) and which API group tierguard may write. */
const REPORTS = [
  { name: 'PolicyReports, CRDs from Kyverno or Policy Reporter (the default)', values: {}, format: 'policyreport', crds: [], group: 'wgpolicyk8s.io', resources: ['policyreports', 'clusterpolicyreports'] },
  { name: 'PolicyReports with the chart\'s CRDs', values: { reports: { installCRDs: true } }, format: 'policyreport', crds: POLICY_REPORT_CRDS, group: 'wgpolicyk8s.io', resources: ['policyreports', 'clusterpolicyreports'] },
  { name: 'OpenReports, CRDs from OpenReports', values: { reports: { format: 'openreports' } }, format: 'openreports', crds: [], group: 'openreports.io', resources: ['reports', 'clusterreports'] },
  { name: 'OpenReports with the chart\'s CRDs', values: { reports: { format: 'openreports', installCRDs: true } }, format: 'openreports', crds: OPEN_REPORTS_CRDS, group: 'openreports.io', resources: ['reports', 'clusterreports'] },
  { name: 'no reports (installCRDs has nothing to install)', values: { reports: { format: 'none', installCRDs: true } }, format: 'none', crds: [], group: undefined, resources: [] },
];
const REPORT_GROUPS = ['wgpolicyk8s.io', 'openreports.io'];
/** What the report writer does to reports (src/cluster/report-writer.ts): read, list, create, replace, delete stale ones. */
const REPORT_VERBS = ['get', 'list', 'create', 'update', 'delete'];
const crdFile = (file: string) => parse(readFileSync(path.join(REPO_DIR, 'charts', 'tierguard', 'files', 'report-crds', file), 'utf8')) as K8sObject;

/**
 * The image every install must name (no tierguard image is published); given with --set, which
 * takes precedence over the values of each case.
 */
const IMAGE_REPOSITORY = 'registry.example.com/tierguard';
const WITH_IMAGE = ['--set', `image.repository=${IMAGE_REPOSITORY}`];

async function render(values: object, extra: string[] = []): Promise<K8sObject[]> {
  const result = await helm(['template', RELEASE, 'charts/tierguard', '--namespace', NAMESPACE, '--kube-version', KUBE_VERSION, ...WITH_IMAGE, '--values', '-', ...extra], { input: stringify(values) });
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}): ${result.stderr}`);
  // YAML 1.1, as Helm and the API server read it: `defaultMode: 0444` is octal there.
  return parseAllDocuments(result.stdout, { version: '1.1' }).map((doc) => doc.toJS() as K8sObject | null).filter((object): object is K8sObject => object !== null);
}

function lint(values: object): ReturnType<typeof helm> {
  return helm(['lint', '--strict', 'charts/tierguard', '--namespace', NAMESPACE, ...WITH_IMAGE, '--values', '-'], { input: stringify(values) });
}

const ref = (object: K8sObject) => `${object.kind}/${object.metadata.name}`;
const byKind = (objects: K8sObject[], kind: string) => objects.filter((object) => object.kind === kind);

describe('helm lint and template', () => {
  it.each(MODES)('helm lint --strict passes: $name', async ({ values }) => {
    const result = await lint(values());
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it.each(MODES)('renders $name, with the expected objects of other projects', async ({ values, foreign }) => {
    const objects = await render(values());
    expect(objects.filter((object) => FOREIGN_GROUPS.test(object.apiVersion)).map(ref).sort()).toEqual(foreign);
    for (const kind of ['Deployment', 'Service', 'ServiceAccount', 'ClusterRole', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      expect(byKind(objects, kind).map(ref), kind).toEqual([`${kind}/${FULLNAME}`]);
    }
  });

  it.each([
    { name: 'self-managed', values: {}, caBundle: undefined, injection: undefined },
    { name: 'cert-manager', values: { certificates: { mode: 'cert-manager' } }, caBundle: undefined, injection: `${NAMESPACE}/tg-tierguard-serving` },
    { name: 'provided', values: { certificates: { mode: 'provided', caBundle: 'Q0E=' } }, caBundle: 'Q0E=', injection: undefined },
  ])('$name: the caBundle of every webhook and the CA injection annotation', async ({ values, caBundle: bundle, injection }) => {
    const objects = await render(values);
    for (const configuration of [...byKind(objects, 'MutatingWebhookConfiguration'), ...byKind(objects, 'ValidatingWebhookConfiguration')]) {
      expect(configuration.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe(injection);
      for (const webhook of configuration.webhooks) expect(webhook.clientConfig.caBundle, webhook.name).toBe(bundle);
    }
  });

  it('refuses the provided mode without a caBundle', async () => {
    const result = await helm(['template', RELEASE, 'charts/tierguard', '--namespace', NAMESPACE, ...WITH_IMAGE, '--set', 'certificates.mode=provided']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/certificates\.caBundle/);
  });

  it('matches the webhook configurations the cluster tests register (test/helpers/kube-cluster.ts), with failurePolicy Fail as they do', async () => {
    const objects = await render({ webhook: { failurePolicy: 'Fail' } });
    const url = 'https://127.0.0.1:8443';
    const registered = webhookConfigurations({ name: FULLNAME, url, excludeNamespaces: [NAMESPACE] }) as K8sObject[];
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const rendered = byKind(objects, kind)[0]!;
      const ours = registered.find((object) => object.kind === kind)!;
      const comparable = (webhooks: any[], path: (clientConfig: any) => string) => webhooks.map(({ clientConfig, ...webhook }) => ({ ...webhook, path: path(clientConfig) }));
      expect(comparable(ours.webhooks, (clientConfig) => new URL(clientConfig.url).pathname), kind)
        .toEqual(comparable(rendered.webhooks, (clientConfig) => clientConfig.service.path));
    }
  });
});

/** What a user who forgot the image must read: that none is published, and how to make one. */
function expectImageHelp(output: string): void {
  expect(output).toContain('image.repository is required: no tierguard image is published');
  expect(output).toContain('Build one from the Dockerfile at the root of the tierguard repository');
  expect(output).toContain('docker build -t registry.example.com/tierguard:0.1.0 . && docker push registry.example.com/tierguard:0.1.0');
  expect(output).toContain('--set image.repository=registry.example.com/tierguard');
}

const deploymentOf = (objects: K8sObject[]) => byKind(objects, 'Deployment')[0]!;
const containerOf = (objects: K8sObject[]) => deploymentOf(objects).spec.template.spec.containers[0];
const webhooksOf = (objects: K8sObject[]) => [...byKind(objects, 'MutatingWebhookConfiguration'), ...byKind(objects, 'ValidatingWebhookConfiguration')].flatMap((configuration) => configuration.webhooks as any[]);

describe('a first install cannot stop Pods being created', () => {
  it('helm template without image.repository stops with how to build and push the image', async () => {
    const result = await helm(['template', RELEASE, 'charts/tierguard', '--namespace', NAMESPACE]);
    expect(result.code).not.toBe(0);
    expectImageHelp(result.stderr);
  });

  it('helm lint without image.repository passes but names the missing value (Helm lints `required` as INFO, so chart CI needs no image)', async () => {
    const result = await helm(['lint', '--strict', 'charts/tierguard', '--namespace', NAMESPACE]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout + result.stderr).toContain('Missing required value: image.repository is required');
  });

  it.each([
    { name: 'the repository alone: the chart\'s appVersion as tag', values: {}, image: `${IMAGE_REPOSITORY}:0.1.0` },
    { name: 'a tag', values: { image: { tag: '0.1.1' } }, image: `${IMAGE_REPOSITORY}:0.1.1` },
    { name: 'a digest, which wins over the tag', values: { image: { tag: '0.1.1', digest: `sha256:${'a'.repeat(64)}` } }, image: `${IMAGE_REPOSITORY}@sha256:${'a'.repeat(64)}` },
  ])('image from $name', async ({ values, image }) => {
    expect(containerOf(await render(values)).image).toBe(image);
  });

  it('defaults to failurePolicy Ignore on all three webhooks; the last install step of docs/operations.md sets Fail on all three', async () => {
    expect(webhooksOf(await render({})).map((webhook) => [webhook.name, webhook.failurePolicy])).toEqual([
      ['mutate.tierguard.dev', 'Ignore'], ['validate.tierguard.dev', 'Ignore'], ['policies.tierguard.dev', 'Ignore'],
    ]);
    expect(webhooksOf(await render({ webhook: { failurePolicy: 'Fail' } })).map((webhook) => webhook.failurePolicy)).toEqual(['Fail', 'Fail', 'Fail']);
  });
});

describe('clientCA: only the API server may call the webhooks', () => {
  const probes = (container: any) => ['startupProbe', 'livenessProbe', 'readinessProbe'].map((probe) => [probe, container[probe].httpGet]);

  it('off by default: no --client-ca, and the probes on the webhook port over HTTPS', async () => {
    const container = containerOf(await render({}));
    expect(container.args).not.toContain('--client-ca');
    expect(container.volumeMounts.map((mount: any) => mount.name)).not.toContain('client-ca');
    expect(probes(container)).toEqual([
      ['startupProbe', { path: '/healthz', port: 'webhook', scheme: 'HTTPS' }],
      ['livenessProbe', { path: '/healthz', port: 'webhook', scheme: 'HTTPS' }],
      ['readinessProbe', { path: '/readyz', port: 'webhook', scheme: 'HTTPS' }],
    ]);
  });

  it.each([
    { name: 'a Secret', values: { clientCA: { secretName: 'apiserver-client-ca' } }, key: 'ca.crt', source: { secret: { secretName: 'apiserver-client-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o444 } } },
    { name: 'a ConfigMap under another key', values: { clientCA: { configMapName: 'apiserver-client-ca', key: 'ca.pem' } }, key: 'ca.pem', source: { configMap: { name: 'apiserver-client-ca', items: [{ key: 'ca.pem', path: 'ca.pem' }], defaultMode: 0o444 } } },
  ])('from $name: mounted read-only, passed as --client-ca FILE, and the probes on the metrics port over HTTP', async ({ values, key, source }) => {
    const objects = await render(values);
    const container = containerOf(objects);
    expect(container.args[container.args.indexOf('--client-ca') + 1]).toBe(`/client-ca/${key}`);
    expect(container.volumeMounts).toContainEqual({ name: 'client-ca', mountPath: '/client-ca', readOnly: true });
    expect(deploymentOf(objects).spec.template.spec.volumes).toContainEqual({ name: 'client-ca', ...source });
    expect(probes(container)).toEqual([
      ['startupProbe', { path: '/healthz', port: 'metrics', scheme: 'HTTP' }],
      ['livenessProbe', { path: '/healthz', port: 'metrics', scheme: 'HTTP' }],
      ['readinessProbe', { path: '/readyz', port: 'metrics', scheme: 'HTTP' }],
    ]);
    expect(container.ports).toContainEqual({ name: 'metrics', containerPort: 9090, protocol: 'TCP' });
  });

  it('refuses a Secret and a ConfigMap both', async () => {
    const result = await helm(['template', RELEASE, 'charts/tierguard', '--namespace', NAMESPACE, ...WITH_IMAGE, '--set', 'clientCA.secretName=a', '--set', 'clientCA.configMapName=b']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('clientCA: set secretName or configMapName, not both');
  });
});

describe('networkPolicy: who may connect to tierguard', () => {
  const labels = { 'app.kubernetes.io/name': 'tierguard', 'app.kubernetes.io/instance': RELEASE };

  it('is off by default', async () => {
    expect(byKind(await render({}), 'NetworkPolicy')).toEqual([]);
  });

  it('on: ingress to the webhook port from the given peers only, to the metrics port from the monitoring namespace only, egress untouched', async () => {
    const objects = await render({ networkPolicy: { enabled: true, webhookFrom: [{ ipBlock: { cidr: '10.0.0.0/24' } }] } });
    const [policy, ...others] = byKind(objects, 'NetworkPolicy');
    expect(others).toEqual([]);
    expect(policy!.metadata).toMatchObject({ name: FULLNAME, namespace: NAMESPACE });
    expect(policy!.spec).toEqual({
      podSelector: { matchLabels: labels },
      policyTypes: ['Ingress'],
      ingress: [
        { from: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ protocol: 'TCP', port: 8443 }] },
        { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: 9090 }] },
      ],
    });
    // The ports it opens are the ones the pods serve on, and its selector picks tierguard's pods.
    const pod = deploymentOf(objects).spec.template;
    expect(pod.metadata.labels).toMatchObject(labels);
    expect(pod.spec.containers[0].ports.map((port: any) => port.containerPort)).toEqual([8443, 9090]);
  });

  it.each([
    { name: 'another namespace by name', metrics: { namespace: 'observability' }, from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } } }] },
    {
      name: 'a namespace selector, which replaces the name rather than adding to it, and a pod selector',
      metrics: { namespaceSelector: { matchLabels: { team: 'observability' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } },
      from: [{ namespaceSelector: { matchLabels: { team: 'observability' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }],
    },
  ])('on: metrics from $name', async ({ metrics, from }) => {
    const apiServerPods = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { component: 'kube-apiserver' } } }];
    const [policy] = byKind(await render({ networkPolicy: { enabled: true, webhookFrom: apiServerPods, metrics } }), 'NetworkPolicy');
    expect(policy!.spec.ingress[0].from).toEqual(apiServerPods);
    expect(policy!.spec.ingress[1].from).toEqual(from);
  });

  it('on without webhookFrom: refused, since the API server could not reach tierguard', async () => {
    const result = await helm(['template', RELEASE, 'charts/tierguard', '--namespace', NAMESPACE, ...WITH_IMAGE, '--set', 'networkPolicy.enabled=true']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('networkPolicy.webhookFrom is required when networkPolicy.enabled is true');
  });
});

describe('alerts', () => {
  const alerts = async (values: object) => byKind(await render(values), 'PrometheusRule').flatMap((rule) => rule.spec.groups.flatMap((group: any) => group.rules.map((entry: any) => entry.alert)));
  const others = ['TierguardDenialsSpike', 'TierguardWebhookErrors', 'TierguardHighLatency', 'TierguardCertificateExpiring', 'TierguardPolicyReloadFailing'];

  it.each([
    { name: 'off by default', values: {}, expected: [] },
    { name: 'with the ServiceMonitor: TierguardDown on its scrape job, and the rest', values: { metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } } }, expected: ['TierguardDown', ...others] },
    { name: 'without the ServiceMonitor: no TierguardDown, which would fire forever with no target', values: { metrics: { prometheusRule: { enabled: true } } }, expected: others },
  ])('$name', async ({ values, expected }) => {
    expect(await alerts(values)).toEqual(expected);
  });

  it('TierguardDown watches the job the ServiceMonitor creates (the Service\'s name) in the release namespace', async () => {
    const objects = await render({ metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } } });
    const down = byKind(objects, 'PrometheusRule')[0]!.spec.groups[0].rules.find((entry: any) => entry.alert === 'TierguardDown');
    expect(down.expr).toBe(`absent(up{job="${FULLNAME}",namespace="${NAMESPACE}"} == 1)`);
    const monitor = byKind(objects, 'ServiceMonitor')[0]!;
    expect(monitor.spec.jobLabel).toBeUndefined();
    expect(monitor.spec.selector.matchLabels).toEqual(byKind(objects, 'Service')[0]!.spec.selector);
    expect(byKind(objects, 'Service')[0]!.metadata.name).toBe(FULLNAME);
  });
});

describe('reports: values, CRDs and RBAC', () => {
  it.each(REPORTS)('helm lint --strict passes: $name', async ({ values }) => {
    const result = await lint(values);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it.each(REPORTS)('$name: the CRDs, the report RBAC of that group only, and the serve flags', async ({ values, format, crds, group, resources }) => {
    const objects = await render(values);
    expect(byKind(objects, 'CustomResourceDefinition').map((crd) => crd.metadata.name).sort()).toEqual(crds.map((file) => crdFile(file).metadata.name).sort());
    const rules = byKind(objects, 'ClusterRole')[0]!.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    const reportRules = rules.filter((rule) => rule.apiGroups.some((name) => REPORT_GROUPS.includes(name)));
    expect(reportRules).toEqual(group ? [{ apiGroups: [group], resources, verbs: REPORT_VERBS }] : []);
    const args: string[] = byKind(objects, 'Deployment')[0]!.spec.template.spec.containers[0].args;
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect([flag('--reports'), flag('--audit-interval'), flag('--lease-name')]).toEqual([format, '1h', FULLNAME]);
  });

  it('renders the CRD files as their projects publish them, kept on uninstall', async () => {
    const rendered = byKind(await render({ reports: { installCRDs: true } }), 'CustomResourceDefinition');
    for (const crd of rendered) {
      const file = crdFile(POLICY_REPORT_CRDS.find((name) => name.startsWith(`wgpolicyk8s.io_${crd.spec.names.plural}.`))!);
      expect(crd.spec).toEqual(file.spec);
      expect(crd.metadata.annotations).toEqual({ ...file.metadata.annotations, 'helm.sh/resource-policy': 'keep' });
    }
  });

  it('passes --audit-interval as given', async () => {
    const args: string[] = byKind(await render({ audit: { interval: '15m' } }), 'Deployment')[0]!.spec.template.spec.containers[0].args;
    expect(args[args.indexOf('--audit-interval') + 1]).toBe('15m');
  });

  it('grants the Lease of --lease-name in the release namespace, whatever the certificate mode', async () => {
    for (const mode of MODES) {
      const role = byKind(await render(mode.values()), 'Role')[0]!;
      expect(role.metadata.namespace, mode.name).toBe(NAMESPACE);
      expect(role.rules.filter((rule: any) => rule.apiGroups.includes('coordination.k8s.io')), mode.name).toEqual([
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [FULLNAME], verbs: ['get', 'update'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      ]);
    }
  });
});

describeCluster('the rendered chart in a real API server', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    // No CRDs yet: the chart's own come with --include-crds, as `helm install` sends them.
    cluster = await startCluster({ crds: false });
    await cluster.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it.each(MODES)('$name: every object is accepted by kubectl apply --dry-run=server', async ({ values }) => {
    const objects = (await render(values(), ['--include-crds'])).filter((object) => !FOREIGN_GROUPS.test(object.apiVersion));
    const result = await cluster.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], { input: objects.map((object) => stringify(object)).join('---\n') });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    const accepted = result.stdout.trim().split('\n');
    expect(accepted).toHaveLength(objects.length);
    for (const line of accepted) expect(line).toMatch(/ created \(server dry run\)$/);
  });

  it.each(REPORTS)('$name: every object is accepted by kubectl apply --dry-run=server', async ({ values }) => {
    const objects = await render(values);
    const result = await cluster.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], { input: objects.map((object) => stringify(object)).join('---\n') });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(objects.length);
  });

  it.each(REPORTS.filter((mode) => !mode.crds.length))('$name: the service account may do what the audit and the report writer do, and no more', async ({ values, group, resources }) => {
    const rbac = (await render(values)).filter((object) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(object.kind));
    await cluster.apply(rbac);
    const asked: { what: string; expected: boolean; attributes: Record<string, string> }[] = [];
    const ask = (expected: boolean, verb: string, groupResource: string, where: { namespace?: string; name?: string; subresource?: string } = {}) => {
      const [resource, ...groupParts] = groupResource.split('.');
      asked.push({ what: `${verb} ${groupResource} ${JSON.stringify(where)}`, expected, attributes: { verb, group: groupParts.join('.'), resource: resource!, ...where } });
    };
    for (const resource of ['pods', 'deployments.apps', 'statefulsets.apps', 'daemonsets.apps', 'replicasets.apps', 'jobs.batch', 'cronjobs.batch']) {
      ask(true, 'list', resource);
      ask(true, 'watch', resource);
      ask(false, 'create', resource, { namespace: 'default' });
    }
    for (const reportGroup of REPORT_GROUPS) {
      const plurals = reportGroup === 'wgpolicyk8s.io' ? ['policyreports', 'clusterpolicyreports'] : ['reports', 'clusterreports'];
      for (const verb of ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']) {
        for (const plural of plurals) ask(reportGroup === group && resources.includes(plural) && REPORT_VERBS.includes(verb), verb, `${plural}.${reportGroup}`, plural.startsWith('cluster') ? {} : { namespace: 'payments' });
      }
    }
    // What the policy set is computed from: listed and watched; a namespace the cache has not seen
    // yet is read by name (a miss, which the real-cluster RBAC test cannot bring about on demand).
    for (const resource of ['namespaces', 'networkpolicies.networking.k8s.io', 'tiers.tierguard.dev', 'guardrails.tierguard.dev']) {
      ask(true, 'list', resource);
      ask(true, 'watch', resource);
    }
    ask(true, 'get', 'namespaces', { name: 'payments' });
    ask(false, 'update', 'namespaces', { name: 'payments' });
    // The status of Tiers and Guardrails is merge-patched, never replaced; their spec is never written.
    for (const resource of ['tiers.tierguard.dev', 'guardrails.tierguard.dev']) {
      ask(true, 'patch', resource, { subresource: 'status' });
      ask(false, 'update', resource, { subresource: 'status' });
      ask(false, 'update', resource);
    }
    ask(true, 'get', 'leases.coordination.k8s.io', { namespace: NAMESPACE, name: FULLNAME });
    ask(true, 'update', 'leases.coordination.k8s.io', { namespace: NAMESPACE, name: FULLNAME });
    ask(true, 'create', 'leases.coordination.k8s.io', { namespace: NAMESPACE });
    ask(false, 'update', 'leases.coordination.k8s.io', { namespace: NAMESPACE, name: 'other' });
    ask(false, 'create', 'leases.coordination.k8s.io', { namespace: 'default' });
    // One SubjectAccessReview per question, as the API server's RBAC authorizer answers them.
    const reviews = asked.map(({ attributes }) => ({
      apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
      spec: { user: `system:serviceaccount:${NAMESPACE}:${FULLNAME}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`, 'system:authenticated'], resourceAttributes: attributes },
    }));
    const result = await cluster.kubectl(['create', '-o', 'jsonpath={.status.allowed}{"\\n"}', '-f', '-'], { input: reviews.map((review) => stringify(review)).join('---\n') });
    expect(result.code, result.stderr).toBe(0);
    const answers = result.stdout.trim().split('\n').map((line) => line === 'true');
    expect(answers).toHaveLength(asked.length);
    expect(Object.fromEntries(asked.map(({ what }, index) => [what, answers[index]]))).toEqual(Object.fromEntries(asked.map(({ what, expected }) => [what, expected])));
  });

  /**
   * `helm install --dry-run=server`: what `helm install` would do, NOTES included, without
   * installing; a release name of its own, since other tests here create the RBAC of RELEASE.
   */
  const installDryRun = (args: string[]) => helm(['install', 'fresh', 'charts/tierguard', '--namespace', NAMESPACE, '--dry-run=server', '--kubeconfig', cluster.kubeconfig.admin, ...args]);

  it('helm install without image.repository stops before anything is sent, with how to build and push the image', async () => {
    const result = await installDryRun([]);
    expect(result.code).not.toBe(0);
    expectImageHelp(result.stderr);
  });

  it.each([
    { name: 'Ignore (the default): NOTES says how to switch to Fail once tierguard serves', args: [], says: ['failurePolicy is Ignore: while no replica answers, Pods, workloads, NetworkPolicies and Namespaces\nare admitted unchecked', '--reuse-values --set webhook.failurePolicy=Fail'], not: 'delete the webhook' },
    { name: 'Fail: NOTES says how to uninstall without bricking the cluster', args: ['--set', 'webhook.failurePolicy=Fail'], says: ['cannot be created or changed outside the excluded namespaces, nor can Tiers and Guardrails', 'To uninstall, delete the webhook\nconfigurations FIRST'], not: 'failurePolicy is Ignore' },
  ])('helm install, failurePolicy $name', async ({ args, says, not }) => {
    const result = await installDryRun([...WITH_IMAGE, ...args]);
    expect(result.code, result.stderr).toBe(0);
    for (const text of says) expect(result.stdout).toContain(text);
    expect(result.stdout).not.toContain(not);
  });

  it('self-managed: rendering against the cluster keeps the caBundle tierguard patched in (lookup)', async () => {
    const live = (await render({})).filter((object) => /WebhookConfiguration$/.test(object.kind));
    const bundle = caBundle();
    for (const configuration of live) {
      for (const webhook of configuration.webhooks) {
        webhook.clientConfig.caBundle = bundle;
        // Nothing serves these webhooks; Ignore keeps the cluster usable while they exist.
        webhook.failurePolicy = 'Ignore';
      }
    }
    await cluster.apply(live);
    try {
      const rendered = (await render({}, ['--dry-run=server', '--kubeconfig', cluster.kubeconfig.admin])).filter((object) => /WebhookConfiguration$/.test(object.kind));
      expect(rendered.flatMap((configuration) => configuration.webhooks.map((webhook: any) => webhook.clientConfig.caBundle))).toEqual([bundle, bundle, bundle]);
    } finally {
      await cluster.unregisterWebhooks(FULLNAME);
    }
  });
});
