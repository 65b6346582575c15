/**
 * The Helm chart, tested without helm: values against values.schema.json, and facts read from the
 * template text where the templates are literal (webhook rules, namespace exclusion, the serve
 * flags, alert expressions). Rendering is not tested here.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { isMap, parse, parseDocument, type YAMLMap } from 'yaml';
import { checkedKinds } from '../../src/engine/targets.js';
import { CRD_GROUP, CRD_VERSION, guardrailCrd, tierCrd } from '../../src/policy/crd.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { REPO_DIR } from '../helpers/fixtures.js';

const CHART = path.join(REPO_DIR, 'charts', 'tierguard');
const template = (name: string) => readFileSync(path.join(CHART, 'templates', name), 'utf8');

type Values = Record<string, unknown>;
const defaults = parse(readFileSync(path.join(CHART, 'values.yaml'), 'utf8')) as Values;

/** Helm's merge of user values over the chart's: maps merge, everything else replaces. */
function merged(base: Values, override: Values): Values {
  const out: Values = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    const bothMaps = [current, value].every((item) => typeof item === 'object' && item !== null && !Array.isArray(item));
    out[key] = bothMaps ? merged(current as Values, value as Values) : value;
  }
  return out;
}

describe('values', () => {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  const validate = ajv.compile(JSON.parse(readFileSync(path.join(CHART, 'values.schema.json'), 'utf8')));
  const problems = (values: Values) => (validate(values) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`));

  it('values.yaml validates against values.schema.json', () => {
    expect(problems(defaults)).toEqual([]);
  });

  it.each([
    { name: 'self-managed certificates with their lifetimes', values: { certificates: { mode: 'self-managed', selfManaged: { certValidity: '30d', caValidity: '365d', checkIntervalMs: 60000 } } } },
    { name: 'cert-manager with a ClusterIssuer', values: { certificates: { mode: 'cert-manager', certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer' } } } } },
    { name: 'provided certificates with a CA bundle', values: { certificates: { mode: 'provided', secretName: 'my-tls', caBundle: 'TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpKUTBGVVJTMHRMUzB0Q2c9PQ==' } } },
    { name: 'Ignore for Tier/Guardrail objects only', values: { webhook: { policyFailurePolicy: 'Ignore' } } },
    { name: 'monitoring on', values: { metrics: { serviceMonitor: { enabled: true, interval: '15s' }, prometheusRule: { enabled: true, p99LatencySeconds: 0.25 } } } },
    { name: 'extra excluded namespaces', values: { webhook: { excludeNamespaces: ['monitoring', 'cert-manager'] } } },
    { name: 'admin groups and users', values: { admin: { groups: ['system:masters', 'platform-admins'], users: ['alice@example.com', 'system:serviceaccount:argocd:argocd-application-controller'] } } },
    { name: 'no admins at all', values: { admin: { groups: [], users: [] } } },
    { name: 'OpenReports with the chart\'s CRDs', values: { reports: { format: 'openreports', installCRDs: true } } },
    { name: 'no reports, audited every 30 minutes', values: { reports: { format: 'none' }, audit: { interval: '30m' } } },
    { name: 'the NetworkPolicy with the API server\'s subnet and another monitoring namespace', values: { networkPolicy: { enabled: true, webhookFrom: [{ ipBlock: { cidr: '10.0.0.0/24' } }], metrics: { namespace: 'monitoring', namespaceSelector: { matchLabels: { team: 'observability' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } } } } },
    { name: 'a client CA from a Secret', values: { clientCA: { secretName: 'apiserver-client-ca' } } },
    { name: 'a client CA from a ConfigMap under another key', values: { clientCA: { configMapName: 'apiserver-client-ca', key: 'ca.pem' } } },
  ])('accepts $name', ({ values }) => {
    expect(problems(merged(defaults, values))).toEqual([]);
  });

  it.each([
    { name: 'an unknown key (typo)', values: { replicas: 3 }, problem: 'must NOT have additional properties' },
    { name: 'an unknown nested key', values: { webhook: { failurePolicies: 'Fail' } }, problem: 'must NOT have additional properties' },
    { name: 'failurePolicy Maybe', values: { webhook: { failurePolicy: 'Maybe' } }, problem: '/webhook/failurePolicy must be equal to one of the allowed values' },
    { name: 'timeoutSeconds above 30', values: { webhook: { timeoutSeconds: 31 } }, problem: '/webhook/timeoutSeconds must be <= 30' },
    { name: 'timeoutSeconds as a string', values: { webhook: { timeoutSeconds: '10' } }, problem: '/webhook/timeoutSeconds must be integer' },
    { name: 'an excluded namespace that is not a name', values: { webhook: { excludeNamespaces: ['Kube_System'] } }, problem: '/webhook/excludeNamespaces/0 must match pattern' },
    { name: 'an unknown certificate mode', values: { certificates: { mode: 'vault' } }, problem: '/certificates/mode must be equal to one of the allowed values' },
    { name: 'a self-managed lifetime without a unit', values: { certificates: { mode: 'self-managed', selfManaged: { certValidity: '90' } } }, problem: '/certificates/selfManaged/certValidity must match pattern "^[0-9]+(ms|s|m|h|d)$"' },
    { name: 'provided certificates without a CA bundle', values: { certificates: { mode: 'provided' } }, problem: '/certificates/caBundle must NOT have fewer than 1 characters' },
    { name: 'failureMode open', values: { failureMode: 'open' }, problem: '/failureMode must be equal to one of the allowed values' },
    { name: 'logLevel trace', values: { logLevel: 'trace' }, problem: '/logLevel must be equal to one of the allowed values' },
    { name: 'zero replicas', values: { replicaCount: 0 }, problem: '/replicaCount must be >= 1' },
    { name: 'an admin group with a comma (the flag splits on commas)', values: { admin: { groups: ['cn=admins,dc=example'] } }, problem: '/admin/groups/0 must match pattern' },
    { name: 'admin users as a string', values: { admin: { users: 'alice' } }, problem: '/admin/users must be array' },
    { name: 'an unknown report format', values: { reports: { format: 'sarif' } }, problem: '/reports/format must be equal to one of the allowed values' },
    { name: 'installCRDs as a string', values: { reports: { installCRDs: 'yes' } }, problem: '/reports/installCRDs must be boolean' },
    { name: 'a client CA key with a slash (not a Secret or ConfigMap key)', values: { clientCA: { secretName: 'ca', key: 'dir/ca.crt' } }, problem: '/clientCA/key must match pattern' },
    { name: 'an unknown clientCA key', values: { clientCA: { secret: 'ca' } }, problem: 'must NOT have additional properties' },
    { name: 'a NetworkPolicy peer of an unknown kind', values: { networkPolicy: { enabled: true, webhookFrom: [{ nodeSelector: {} }] } }, problem: '/networkPolicy/webhookFrom/0 must NOT have additional properties' },
    { name: 'a NetworkPolicy ipBlock without a cidr', values: { networkPolicy: { enabled: true, webhookFrom: [{ ipBlock: {} }] } }, problem: '/networkPolicy/webhookFrom/0/ipBlock must have required property \'cidr\'' },
    { name: 'an audit interval without a unit', values: { audit: { interval: '3600' } }, problem: '/audit/interval must match pattern' },
  ])('refuses $name', ({ values, problem }) => {
    expect(problems(merged(defaults, values as Values)).join('\n')).toContain(problem);
  });

  it('documents every value with a comment (on the key or on a map around it)', () => {
    const undocumented: string[] = [];
    const walk = (map: YAMLMap, at: string, inherited: boolean) => {
      map.items.forEach((pair, index) => {
        const key = String((pair.key as { value: unknown }).value);
        const own = Boolean((pair.key as { commentBefore?: string }).commentBefore ?? (index === 0 ? map.commentBefore : undefined));
        if (isMap(pair.value) && pair.value.items.length > 0) walk(pair.value, `${at}${key}.`, inherited || own);
        else if (!own && !inherited) undocumented.push(`${at}${key}`);
      });
    };
    const document = parseDocument(readFileSync(path.join(CHART, 'values.yaml'), 'utf8'));
    walk(document.contents as YAMLMap, '', false);
    expect(undocumented).toEqual([]);
  });
});

interface Rule {
  apiGroups: string[];
  apiVersions: string[];
  operations: string[];
  resources: string[];
  scope: string;
}

interface Webhook {
  name: string;
  text: string;
  rules: Rule[];
}

/** The webhooks of a configuration template, with their literal rule lists. */
function webhooksOf(text: string): Webhook[] {
  const chunks = text.split(/^ {2}- name: /m).slice(1);
  return chunks.map((chunk) => {
    const name = chunk.slice(0, chunk.indexOf('\n')).trim();
    const rules = chunk.split(/^ {6}- apiGroups: /m).slice(1).map((ruleText) => {
      const field = (key: string) => {
        const match = new RegExp(`^\\s*${key}: (.*)$`, 'm').exec(`apiGroups: ${ruleText}`);
        if (!match) throw new Error(`webhook ${name}: a rule without ${key}`);
        return match[1]!.trim();
      };
      return { apiGroups: JSON.parse(field('apiGroups')), apiVersions: JSON.parse(field('apiVersions')), operations: JSON.parse(field('operations')), resources: JSON.parse(field('resources')), scope: field('scope') };
    });
    return { name, text: chunk, rules };
  });
}

/** `apps/Deployment` → group apps, resource deployments. */
function resourceOf(groupKind: string): { group: string; resource: string } {
  const [group, kind] = groupKind.split('/') as [string, string];
  const lower = kind.toLowerCase();
  return { group, resource: lower.endsWith('y') ? `${lower.slice(0, -1)}ies` : `${lower}s` };
}

describe('webhook configurations', () => {
  const mutating = webhooksOf(template('mutatingwebhookconfiguration.yaml'));
  const validating = webhooksOf(template('validatingwebhookconfiguration.yaml'));
  const byName = (name: string) => [...mutating, ...validating].find((webhook) => webhook.name === name)!;
  const covers = (webhook: Webhook, group: string, resource: string) => webhook.rules.filter((rule) => rule.apiGroups.includes(group) && rule.resources.includes(resource));

  it('has the three webhooks', () => {
    expect(mutating.map((webhook) => webhook.name)).toEqual(['mutate.tierguard.dev']);
    expect(validating.map((webhook) => webhook.name)).toEqual(['validate.tierguard.dev', 'policies.tierguard.dev']);
  });

  it.each(['mutate.tierguard.dev', 'validate.tierguard.dev'])('%s covers every kind the code checks, on CREATE and UPDATE (Namespaces: cluster-scoped, mutated on CREATE only)', (name) => {
    const webhook = byName(name);
    expect(checkedKinds().length).toBeGreaterThanOrEqual(9);
    expect(checkedKinds()).toContain('/Namespace');
    for (const kind of checkedKinds()) {
      const { group, resource } = resourceOf(kind);
      const rules = covers(webhook, group, resource);
      expect(rules, `${name} has no rule for ${kind} (${group}/${resource})`).not.toHaveLength(0);
      const namespace = kind === '/Namespace';
      const operations = namespace && name === 'mutate.tierguard.dev' ? ['CREATE'] : ['CREATE', 'UPDATE'];
      expect(rules.flatMap((rule) => rule.operations)).toEqual(expect.arrayContaining(operations));
      for (const rule of rules) expect(rule.scope).toBe(namespace ? 'Cluster' : 'Namespaced');
    }
  });

  it('routes nothing to the webhooks that the code does not handle', () => {
    const handled = new Set([
      ...checkedKinds().map((kind) => { const { group, resource } = resourceOf(kind); return `${group}/${resource}`; }),
      '/namespaces/status',
      '/namespaces/finalize',
      `${CRD_GROUP}/${tierCrd().spec.names.plural}`,
      `${CRD_GROUP}/${guardrailCrd().spec.names.plural}`,
    ]);
    const routed = [...mutating, ...validating].flatMap((webhook) => webhook.rules.flatMap((rule) => rule.apiGroups.flatMap((group) => rule.resources.map((resource) => `${group}/${resource}`))));
    expect(routed.filter((entry) => !handled.has(entry))).toEqual([]);
  });

  it('validates Namespace CREATE and UPDATE, and relabelling through the status and finalize subresources; mutates Namespace CREATE only', () => {
    expect(covers(byName('validate.tierguard.dev'), '', 'namespaces')).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['namespaces'], scope: 'Cluster' }]);
    expect(covers(byName('validate.tierguard.dev'), '', 'namespaces/status')).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['namespaces/status', 'namespaces/finalize'], scope: 'Cluster' }]);
    expect(covers(byName('mutate.tierguard.dev'), '', 'namespaces')).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['namespaces'], scope: 'Cluster' }]);
    expect([...mutating, byName('policies.tierguard.dev')].flatMap((webhook) => webhook.rules).filter((rule) => rule.resources.some((resource) => resource.startsWith('namespaces/')))).toEqual([]);
  });

  it('validates Tier and Guardrail CREATE, UPDATE and DELETE at the CRDs\' group and version', () => {
    const webhook = byName('policies.tierguard.dev');
    expect(webhook.rules).toEqual([{
      apiGroups: [CRD_GROUP],
      apiVersions: [CRD_VERSION],
      operations: ['CREATE', 'UPDATE', 'DELETE'],
      resources: [tierCrd().spec.names.plural, guardrailCrd().spec.names.plural],
      scope: 'Cluster',
    }]);
    expect(webhook.text).toContain('path: /validate');
  });

  it.each([
    { name: 'mutate.tierguard.dev', path: '/mutate', failurePolicy: '{{ .Values.webhook.failurePolicy }}' },
    { name: 'validate.tierguard.dev', path: '/validate', failurePolicy: '{{ .Values.webhook.failurePolicy }}' },
    { name: 'policies.tierguard.dev', path: '/validate', failurePolicy: '{{ .Values.webhook.policyFailurePolicy | default .Values.webhook.failurePolicy }}' },
  ])('$name: v1 reviews, no side effects, Equivalent matching, failurePolicy and timeout from values, $path', ({ name, path: route, failurePolicy }) => {
    const { text } = byName(name);
    expect(text).toMatch(/^ {4}admissionReviewVersions: \["v1"\]$/m);
    expect(text).toMatch(/^ {4}sideEffects: None$/m);
    expect(text).toMatch(/^ {4}matchPolicy: Equivalent$/m);
    expect(text).toContain(`    failurePolicy: ${failurePolicy}\n`);
    expect(text).toContain('    timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}\n');
    expect(text).toContain(`        path: ${route}\n`);
    expect(text).toContain('        name: {{ include "tierguard.fullname" . }}\n        namespace: {{ .Release.Namespace }}\n');
    expect(text).toMatch(/caBundle: \{\{ \. \}\}/);
    expect(text).not.toContain('objectSelector');
  });

  it.each(['mutate.tierguard.dev', 'validate.tierguard.dev'])('%s excludes kube-system and the release namespace by kubernetes.io/metadata.name', (name) => {
    const { text } = byName(name);
    const selector = /namespaceSelector:\n\s+matchExpressions:\n\s+- key: (\S+)\n\s+operator: (\S+)\n\s+values:\n((?:\s+- .*\n|\s+\{\{-.*\n)+)/.exec(text);
    expect(selector, `${name} has no namespaceSelector`).not.toBeNull();
    const [, key, operator, values] = selector!;
    expect(key).toBe('kubernetes.io/metadata.name');
    expect(operator).toBe('NotIn');
    const entries = values!.split('\n').map((line) => line.trim()).filter((line) => line.startsWith('- '));
    expect(entries).toContain('- kube-system');
    expect(entries).toContain('- {{ .Release.Namespace | quote }}');
    expect(values).toContain('{{- range .Values.webhook.excludeNamespaces }}');
  });

  it('lets cert-manager inject the CA into both configurations', () => {
    for (const name of ['mutatingwebhookconfiguration.yaml', 'validatingwebhookconfiguration.yaml']) {
      expect(template(name)).toContain('cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ include "tierguard.servingCertificateName" . }}');
    }
    expect(template('certificate.yaml')).toContain('name: {{ include "tierguard.servingCertificateName" . }}');
  });
});

describe('Deployment', () => {
  const deployment = template('deployment.yaml');
  const argsBlock = /^ {10}args:\n((?: {12}.*\n)+)/m.exec(deployment)?.[1] ?? '';
  const args = argsBlock.split('\n').map((line) => line.trim()).filter((line) => line.startsWith('- ')).map((line) => line.slice(2).replace(/^"(.*)"$/, '$1'));
  let helpFlags: Set<string>;

  beforeAll(() => {
    const main = path.join(REPO_DIR, 'dist', 'cli', 'main.js');
    if (!existsSync(main)) throw new Error('dist/cli/main.js is missing: run npm run build first');
    const help = execFileSync(process.execPath, [main, 'serve', '--help'], { encoding: 'utf8' });
    helpFlags = new Set(help.match(/--[a-z][a-z-]*/g) ?? []);
  });

  it('runs `tierguard serve` with flags that serve --help lists', () => {
    expect(args[0]).toBe('serve');
    const flags = args.filter((arg) => arg.startsWith('--'));
    expect(flags.length).toBeGreaterThan(5);
    expect(flags.filter((flag) => !helpFlags.has(flag))).toEqual([]);
  });

  it.each([
    { flag: '--port', value: '8443' },
    { flag: '--metrics-port', value: '9090' },
    { flag: '--namespace', value: '{{ .Release.Namespace | quote }}' },
    { flag: '--exclude-namespace', value: 'kube-system' },
    { flag: '--tls-cert', value: '/tls/tls.crt' },
    { flag: '--tls-key', value: '/tls/tls.key' },
    { flag: '--failure-mode', value: '{{ .Values.failureMode | quote }}' },
    { flag: '--admin-groups', value: '{{ join "," .Values.admin.groups | quote }}' },
    { flag: '--admin-users', value: '{{ join "," .Values.admin.users | quote }}' },
    { flag: '--audit-interval', value: '{{ .Values.audit.interval | quote }}' },
    { flag: '--reports', value: '{{ .Values.reports.format | quote }}' },
    { flag: '--lease-name', value: '{{ include "tierguard.fullname" . | quote }}' },
  ])('passes $flag $value', ({ flag, value }) => {
    expect(args[args.indexOf(flag) + 1]).toBe(value);
  });

  it('serves on the ports the Service and probes use', () => {
    expect(deployment).toMatch(/- name: webhook\n\s+containerPort: 8443/);
    expect(deployment).toMatch(/- name: metrics\n\s+containerPort: 9090/);
    const service = template('service.yaml');
    expect(service).toMatch(/- name: https\n\s+port: 443\n\s+targetPort: webhook/);
    expect(service).toMatch(/- name: metrics\n\s+port: 9090\n\s+targetPort: metrics/);
    // The probes' port and scheme depend on clientCA (rendered in helm.test.ts): the webhook port, or the metrics port.
    expect(deployment).toContain('{{- $probe := dict "port" "webhook" "scheme" "HTTPS" }}');
    expect(deployment).toContain('{{- $probe = dict "port" "metrics" "scheme" "HTTP" }}');
    for (const [probe, route] of [['livenessProbe', '/healthz'], ['readinessProbe', '/readyz'], ['startupProbe', '/healthz']]) {
      expect(deployment).toMatch(new RegExp(`${probe}:\\n\\s+httpGet:\\n\\s+path: ${route}\\n\\s+port: \\{\\{ \\$probe.port \\}\\}\\n\\s+scheme: \\{\\{ \\$probe.scheme \\}\\}`));
    }
  });

  it('is hardened: non-root, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp, /tmp in memory', () => {
    for (const fact of ['runAsNonRoot: true', 'readOnlyRootFilesystem: true', 'allowPrivilegeEscalation: false', 'drop:\n                - ALL', 'type: RuntimeDefault', 'mountPath: /tmp', 'emptyDir:', 'runAsUser: 65532']) {
      expect(deployment).toContain(fact);
    }
  });

  it('runs 2 spread replicas with requests and limits, and a PodDisruptionBudget', () => {
    expect(defaults.replicaCount).toBe(2);
    expect(deployment).toContain('replicas: {{ .Values.replicaCount }}');
    expect(deployment).toMatch(/podAntiAffinity:\n\s+preferredDuringSchedulingIgnoredDuringExecution:[\s\S]*topologyKey: kubernetes.io\/hostname/);
    expect(defaults.resources).toMatchObject({ requests: { cpu: expect.anything(), memory: expect.anything() }, limits: { memory: expect.anything() } });
    expect(template('poddisruptionbudget.yaml')).toMatch(/kind: PodDisruptionBudget[\s\S]*minAvailable:/);
  });
});

describe('RBAC', () => {
  const rbac = template('rbac.yaml');

  it('patches only its own two webhook configurations, by name', () => {
    expect(rbac).toMatch(/resources: \["mutatingwebhookconfigurations", "validatingwebhookconfigurations"\]\n\s+resourceNames: \[\{\{ \$fullname \| quote \}\}\]\n\s+verbs: \["get", "list", "watch", "patch"\]/);
    expect(rbac).toContain('{{- $fullname := include "tierguard.fullname" . -}}');
    for (const name of ['mutatingwebhookconfiguration.yaml', 'validatingwebhookconfiguration.yaml']) {
      expect(template(name)).toMatch(/^metadata:\n(?: {2}#.*\n)*\s+name: \{\{ include "tierguard.fullname" \. \}\}$/m);
    }
  });

  it('reads what it watches, writes only the status of Tiers and Guardrails, and its own Secret', () => {
    expect(rbac).toMatch(/resources: \["namespaces"\]\n\s+verbs: \["get", "list", "watch"\]/);
    // What is watched is only listed and watched; namespaces are also read one by one (a cache miss).
    expect(rbac).toMatch(/resources: \["networkpolicies"\]\n\s+verbs: \["list", "watch"\]/);
    expect(rbac).toMatch(/resources: \["tiers", "guardrails"\]\n\s+verbs: \["list", "watch"\]/);
    // The status writer merge-patches: no `update`, which could replace a status whole.
    expect(rbac).toMatch(/resources: \["tiers\/status", "guardrails\/status"\]\n\s+verbs: \["patch"\]/);
    expect(rbac).toMatch(/resources: \["secrets"\]\n\s+resourceNames: \[\{\{ include "tierguard.tlsSecretName" \. \| quote \}\}\]\n\s+verbs: \["get", "update"\]/);
    expect(rbac).toContain('create cannot be restricted by resourceNames');
    expect(rbac).toMatch(/resources: \["pods"\]\n\s+verbs: \["list", "watch"\]/);
    expect(rbac).toMatch(/resources: \["deployments", "statefulsets", "daemonsets", "replicasets"\]\n\s+verbs: \["list", "watch"\]/);
    expect(rbac).toMatch(/resources: \["jobs", "cronjobs"\]\n\s+verbs: \["list", "watch"\]/);
    expect(rbac).toMatch(/resources: \["leases"\]\n\s+resourceNames: \[\{\{ \$fullname \| quote \}\}\]\n\s+verbs: \["get", "update"\]/);
    expect(rbac).not.toMatch(/verbs: \[[^\]]*"\*"/);
    expect(rbac).not.toMatch(/resources: \[[^\]]*"\*"/);
  });
});

describe('PrometheusRule', () => {
  const rules = template('prometheusrule.yaml');
  const expressions = [...rules.matchAll(/expr: (\|-\n(?: {12}.*\n)+|.*)/g)].map((match) => match[1]!);

  it('uses only metrics tierguard exports (and Prometheus\'s own up)', async () => {
    const exported = await createMetrics().registry.getMetricsAsJSON();
    const names = new Set(exported.flatMap((metric) => (String(metric.type) === 'histogram' ? ['_bucket', '_sum', '_count'].map((suffix) => `${metric.name}${suffix}`) : [metric.name])));
    const used = new Set([...rules.matchAll(/\btierguard_[a-z0-9_]+/g)].map((match) => match[0]));
    expect(used.size).toBeGreaterThanOrEqual(5);
    expect([...used].filter((name) => !names.has(name))).toEqual([]);
    // Every metric selector in an expression: tierguard's, or `up`.
    const selectors = expressions.flatMap((expr) => [...expr.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((match) => match[1]!));
    expect(selectors.filter((name) => !name.startsWith('tierguard_') && name !== 'up')).toEqual([]);
  });

  it.each([
    { alert: 'TierguardDenialsSpike', needs: ['rate({{ $denials }}[10m])'] },
    { alert: 'TierguardWebhookErrors', needs: ['rate(tierguard_admission_errors_total'] },
    { alert: 'TierguardHighLatency', needs: ['histogram_quantile(0.99', 'rate(tierguard_admission_duration_seconds_bucket'] },
    { alert: 'TierguardCertificateExpiring', needs: ['tierguard_tls_certificate_expiry_timestamp_seconds', '- time() <', '* 86400'] },
  ])('$alert', ({ alert, needs }) => {
    const block = rules.slice(rules.indexOf(`- alert: ${alert}`));
    const next = block.indexOf('- alert:', 1);
    const body = next < 0 ? block : block.slice(0, next);
    expect(body, `${alert} is missing`).toContain(`alert: ${alert}`);
    for (const need of needs) expect(body).toContain(need);
  });

  it('counts denials as Enforce violations outside dry runs', () => {
    expect(rules).toContain('{{- $denials := printf "tierguard_admission_violations_total{%s,mode=\\"Enforce\\",dry_run=\\"false\\"}" $ns -}}');
  });

  it('takes the certificate expiry threshold in days, 7 by default', () => {
    expect((defaults.metrics as any).prometheusRule.certificateExpiryDays).toBe(7);
  });
});

describe('templates', () => {
  const files = readdirSync(path.join(CHART, 'templates'));

  it('has the conventional files', () => {
    expect(files.sort()).toEqual([
      'NOTES.txt', '_helpers.tpl', 'certificate.yaml', 'deployment.yaml', 'mutatingwebhookconfiguration.yaml', 'networkpolicy.yaml', 'poddisruptionbudget.yaml',
      'prometheusrule.yaml', 'rbac.yaml', 'report-crds.yaml', 'service.yaml', 'servicemonitor.yaml', 'validatingwebhookconfiguration.yaml',
    ]);
    const chart = parse(readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8'));
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'tierguard', type: 'application' });
  });

  it.each(files)('%s: every if/range/with/define has its end', (file) => {
    const actions = [...template(file).matchAll(/\{\{-?\s*(if|range|with|define|else if|else|end)\b/g)].map((match) => match[1]);
    let depth = 0;
    for (const action of actions) {
      if (action === 'if' || action === 'range' || action === 'with' || action === 'define') depth++;
      if (action === 'end') depth--;
      expect(depth, file).toBeGreaterThanOrEqual(0);
    }
    expect(depth, file).toBe(0);
  });

  it('uses only helpers that _helpers.tpl defines', () => {
    const defined = new Set([...template('_helpers.tpl').matchAll(/define "([^"]+)"/g)].map((match) => match[1]));
    const used = files.flatMap((file) => [...template(file).matchAll(/include "([^"]+)"/g)].map((match) => match[1]));
    expect(used.filter((name) => !defined.has(name))).toEqual([]);
  });

  it('reads only values that values.yaml declares', () => {
    const declared = (dotted: string) => dotted.split('.').reduce<unknown>((node, key) => (node as Values | undefined)?.[key], defaults) !== undefined;
    const read = files.flatMap((file) => [...template(file).matchAll(/\.Values\.([A-Za-z0-9_.]+)/g)].map((match) => match[1]!.replace(/\.$/, '')));
    expect([...new Set(read)].filter((name) => !declared(name))).toEqual([]);
  });
});
