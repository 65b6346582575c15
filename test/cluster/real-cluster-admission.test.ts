/**
 * What users of tierguard rely on, shown against a real kube-apiserver with the real kubectl
 * (issue 10): the Tiers and Guardrails of examples/policies applied as cluster objects, and then
 * what kubectl prints (exit code, `Warning:` lines, the webhook's message) and what is stored
 * afterwards — for NetworkPolicies that override a tier, workloads, namespace relabelling,
 * broken Guardrails, CEL validations, a YAML manifest read by kubectl and by `check`, a Guardrail
 * added while tierguard runs, and the metrics of all of it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO_DIR } from '../helpers/fixtures.js';
import {
  CLUSTER_START_TIMEOUT_MS, metricSum, startCluster, startWebhook, waitFor,
  type TestCluster, type TierguardProcess,
} from '../helpers/kube-cluster.js';
import { describeCluster } from '../helpers/describe-cluster.js';
import type { CommandResult } from '../helpers/managed-process.js';

const POLICIES = path.join(REPO_DIR, 'examples', 'policies');
const MANIFESTS = path.join(REPO_DIR, 'examples', 'manifests');
const manifest = (name: string) => path.join(MANIFESTS, name);
const REQUESTS = 'tierguard_admission_requests_total';
const VIOLATIONS = 'tierguard_admission_violations_total';
/** kubectl as jane of group developers, impersonated through the admin's kubeconfig. */
const AS_JANE = ['--as=jane', '--as-group=developers'];
const DRY_RUN = '--dry-run=server';
const dryRunFlag = (dryRun: boolean) => (dryRun ? [DRY_RUN] : []);

/** `tierguard check` of the built CLI, as a user runs it. */
const runCheck = (args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> => new Promise((resolve) => {
  execFile(process.execPath, [path.join(REPO_DIR, 'dist', 'cli', 'main.js'), 'check', ...args], { cwd: REPO_DIR }, (error, stdout, stderr) => {
    resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
  });
});

/** Both documented in README.md (The override check): the webhook's message, after kubectl's prefix. */
const TOO_OPEN_MESSAGE = [
  'admission webhook "validate.tierguard.dev" denied the request: NetworkPolicy payments/allow-everything is denied by tierguard (2 violations):',
  '- spec.ingress[0]: NetworkPolicy payments/allow-everything ingress[0] allows TCP 1 from namespace scratch; denied by tier security, guardrail prod-isolation, rule deny-from-dev (PCI-DSS 1.3.1, NIST SP 800-53 SC-7)',
  '- spec.egress[0]: NetworkPolicy payments/allow-everything egress[0] allows TCP 443 to 0.0.0.0/5; denied by tier security, guardrail prod-egress, rule no-internet (PCI-DSS 1.3.4)',
].join('\n');

const relabelMessage = (namespace: string) => [
  `admission webhook "validate.tierguard.dev" denied the request: Namespace ${namespace} is denied by tierguard (3 violations):`,
  `- metadata.labels[env]: namespace ${namespace} would change a label this guardrail selects namespaces on (no rule gains or loses it): env "prod" → "dev" (tier security, guardrail domain-labels; PCI-DSS 1.3.1)`,
  `- metadata.labels[env]: namespace ${namespace} would leave the subject, and enter the peers of ingress rule deny-from-dev: env "prod" → "dev" (tier security, guardrail prod-isolation; PCI-DSS 1.3.1, NIST SP 800-53 SC-7)`,
  `- metadata.labels[env]: namespace ${namespace} would leave the subject: env "prod" → "dev" (tier security, guardrail prod-egress; PCI-DSS 1.3.4)`,
  'Namespace labels that guardrails select on can be changed only by a tierguard admin (a member of system:masters): ask one to make this change.',
].join('\n');

/** A Pod of payments (env=prod) without a `team` label: admitted with owner-label's warning, until a guardrail requires it. */
const teamlessPod = (name: string) => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name, namespace: 'payments', labels: { app: name } },
  spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
});

/** Guardrails the CRD schema accepts (a non-empty string) but tierguard cannot compile. */
const BROKEN_GUARDRAILS = [
  {
    name: 'bad-cel',
    spec: { tier: 'platform', priority: 500, validations: [{ resources: ['Pod'], expression: 'object.metadata.name == ' }] },
    problem: '- spec.validations[0].expression: CEL error at line 1, column 25: Unexpected token: EOF',
  },
  {
    // Parses, but does not type-check against the Pod and workload schemas (Kubernetes 1.34 OpenAPI).
    name: 'bad-cel-type',
    spec: { tier: 'platform', priority: 505, validations: [{ resources: ['Pod'], expression: 'object.metadata.name + 1 == 2' }] },
    problem: '- spec.validations[0].expression: CEL error at line 1, column 1: no such overload: string + int',
  },
  {
    name: 'bad-pattern',
    spec: { tier: 'platform', priority: 510, labels: { match: { resources: ['Pod'] }, required: [{ key: 'team', pattern: 'a**' }] } },
    problem: '- spec.labels.required[0].pattern: invalid RE2 pattern: error parsing regexp: invalid nested repetition operator: `**`',
  },
];

describeCluster('what users see at kubectl apply', () => {
  let cluster: TestCluster;
  let tierguard: TierguardProcess;
  let policiesApplied: CommandResult;
  let baseline: string;
  /** Denials by tierguard's validating webhook in this file, for the metrics test: requests and Enforce findings, by dry run. */
  const denials = { true: { requests: 0, violations: 0 }, false: { requests: 0, violations: 0 } };

  const kubectl = (args: readonly string[], input?: string) => cluster.kubectl(args, input === undefined ? {} : { input });
  const applyObject = (object: object, extra: readonly string[] = []) => kubectl(['apply', ...extra, '-f', '-'], JSON.stringify(object));
  const expectNotFound = async (args: readonly string[]) => {
    const result = await kubectl(['get', ...args]);
    expect(result.code, result.stdout).toBe(1);
    expect(result.stderr).toMatch(/Error from server \(NotFound\)/);
  };
  /** Asserts kubectl was refused by tierguard with `message`, and counts the denial. */
  const expectRefused = (result: CommandResult, options: { message: string; dryRun: boolean; violations: number }) => {
    expect(result.code, result.stdout).toBe(1);
    expect(result.stderr).toContain(options.message);
    const tally = denials[String(options.dryRun) as 'true' | 'false'];
    tally.requests += 1;
    tally.violations += options.violations;
  };
  const readyOf = async (kind: string, name: string) => (await kubectl(['get', kind, name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])).stdout;

  beforeAll(async () => {
    cluster = await startCluster();
    tierguard = await startWebhook(cluster);

    policiesApplied = await kubectl(['apply', '-f', POLICIES]);
    for (const kind of ['tiers', 'guardrails']) {
      const ready = await kubectl(['wait', '--for=condition=Ready', '--timeout=60s', kind, '--all']);
      if (ready.code !== 0) throw new Error(`${kind} not Ready: ${ready.stderr}\n${policiesApplied.stderr}\n${tierguard.logs()}`);
    }
    const namespaces = await kubectl(['apply', '-f', manifest('namespaces.yaml')]);
    if (namespaces.code !== 0) throw new Error(`namespaces not created: ${namespaces.stderr}`);
    baseline = await tierguard.metrics();
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('is ready once synced, and every Tier and Guardrail applied from examples/policies/ is Ready=True', async () => {
    expect((await fetch(`http://127.0.0.1:${tierguard.metricsPort}/readyz`)).status).toBe(200);
    // kubectl applies network-tiers.yaml before the Tiers: those Guardrails wait for their Tier, with a warning.
    expect(policiesApplied.code, policiesApplied.stderr).toBe(0);
    expect(policiesApplied.stderr).toContain('Warning: tier "security" does not exist yet: this Guardrail is not in force until it is');
    expect(policiesApplied.stdout.trim().split('\n')).toHaveLength(7);

    const table = await kubectl(['get', 'guardrails']);
    const [header, ...rows] = table.stdout.trim().split('\n').map((line) => line.trim().split(/\s+/));
    const readyColumn = header!.indexOf('READY');
    expect(Object.fromEntries(rows.map((row) => [row[0], row[readyColumn]]))).toEqual({
      'data-classification': 'True', 'domain-labels': 'True', 'owner-label': 'True', 'prod-egress': 'True', 'prod-isolation': 'True',
    });
    const conditions = await kubectl(['get', 'guardrails,tiers', '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].reason}/{.status.conditions[?(@.type=="Ready")].observedGeneration}{"\\n"}{end}']);
    expect(conditions.stdout.trim().split('\n')).toEqual(Array(7).fill('Compiled/1'));
  });

  it('refuses a NetworkPolicy that overrides a tier Deny, at apply and at --dry-run=server, and stores a compliant one', async () => {
    for (const dryRun of [true, false]) {
      const result = await kubectl(['apply', ...dryRunFlag(dryRun), '-f', manifest('networkpolicy-too-open.yaml')]);
      expectRefused(result, { message: `Error from server (Forbidden): error when creating "${manifest('networkpolicy-too-open.yaml')}": ${TOO_OPEN_MESSAGE}`, dryRun, violations: 2 });
      await expectNotFound(['networkpolicy', 'allow-everything', '--namespace=payments']);
    }

    const compliant = await kubectl(['apply', '-f', manifest('networkpolicy.yaml')]);
    expect(compliant).toMatchObject({ code: 0, stdout: 'networkpolicy.networking.k8s.io/allow-api-from-frontend created\n', stderr: '' });
    const labels = await kubectl(['get', 'networkpolicy', 'allow-api-from-frontend', '--namespace=payments', '-o', 'jsonpath={.metadata.labels}']);
    expect(JSON.parse(labels.stdout)).toEqual({ 'segment.tierguard.dev/domain': 'payments', 'segment.tierguard.dev/managed': 'true' });
  });

  it('prints a Warn guardrail\'s finding as a kubectl warning and stores the object (Audit stays silent)', async () => {
    const result = await applyObject(teamlessPod('web'));
    expect(result).toMatchObject({ code: 0, stdout: 'pod/web created\n', stderr: 'Warning: owner-label: metadata.labels[team]: missing required label team\n' });
    const labels = await kubectl(['get', 'pod', 'web', '--namespace=payments', '-o', 'jsonpath={.metadata.labels}']);
    expect(JSON.parse(labels.stdout)).toEqual({ app: 'web', 'segment.tierguard.dev/domain': 'payments', 'segment.tierguard.dev/managed': 'true' });
  });

  it('injects defaults into a Deployment\'s pod template and refuses Pods and CronJobs that miss or misuse the required label', async () => {
    const file = manifest('workloads.yaml');
    const result = await kubectl(['apply', '-f', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('deployment.apps/api created\n');
    expect(result.stderr).toContain('Warning: owner-label: spec.template.metadata.labels[team]: missing required label team\n');
    expectRefused(result, { dryRun: false, violations: 1, message: [
      `Error from server (Forbidden): error when creating "${file}": admission webhook "validate.tierguard.dev" denied the request: Pod payments/debug is denied by tierguard (1 violation):`,
      '- metadata.labels[segment.tierguard.dev/domain]: label segment.tierguard.dev/domain="everything" is not one of payments, core, edge (tier security, guardrail domain-labels; PCI-DSS 1.3.1)',
    ].join('\n') });
    expectRefused(result, { dryRun: false, violations: 1, message: [
      `Error from server (Forbidden): error when creating "${file}": admission webhook "validate.tierguard.dev" denied the request: CronJob scratch/cleanup is denied by tierguard (1 violation):`,
      '- spec.jobTemplate.spec.template.metadata.labels[segment.tierguard.dev/domain]: missing required label segment.tierguard.dev/domain (its default comes from namespace label segment.tierguard.dev/domain, and namespace scratch has no such label) (tier security, guardrail domain-labels; PCI-DSS 1.3.1)',
    ].join('\n') });
    expect(result.stderr).not.toContain('data-classification');

    const template = await kubectl(['get', 'deploy', 'api', '--namespace=payments', '-o', 'jsonpath={.spec.template.metadata.labels}']);
    expect(JSON.parse(template.stdout)).toEqual({
      app: 'api', 'app.kubernetes.io/name': 'api', 'segment.tierguard.dev/domain': 'payments', 'segment.tierguard.dev/managed': 'true',
    });
    await expectNotFound(['pod', 'debug', '--namespace=payments']);
    await expectNotFound(['cronjob', 'cleanup', '--namespace=scratch']);
  });

  it('refuses a non-admin relabelling a namespace on a label guardrails select, and lets an admin do it', async () => {
    await cluster.apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ledger', labels: { env: 'prod', 'segment.tierguard.dev/domain': 'payments' } } },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'namespace-labeller' }, rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'patch'] }] },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'developers-label-namespaces' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'namespace-labeller' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'developers' }],
      },
    ]);
    const envOf = async () => (await kubectl(['get', 'namespace', 'ledger', '-o', 'jsonpath={.metadata.labels.env}'])).stdout;
    const ownerWarning = 'Warning: owner-label: namespace ledger would leave the reach of its label rules: env "prod" → "dev"\n';

    for (const dryRun of [true, false]) {
      const result = await kubectl(['label', 'namespace', 'ledger', 'env=dev', '--overwrite', ...dryRunFlag(dryRun), ...AS_JANE]);
      expectRefused(result, { message: `${ownerWarning}Error from server (Forbidden): ${relabelMessage('ledger')}`, dryRun, violations: 3 });
      expect(await envOf()).toBe('prod');
    }
    // A label no guardrail reads is hers to change.
    expect(await kubectl(['label', 'namespace', 'ledger', 'cost-centre=42', ...AS_JANE])).toMatchObject({ code: 0, stderr: '' });

    const admin = await kubectl(['label', 'namespace', 'ledger', 'env=dev', '--overwrite']);
    // Admins change anything: not even owner-label's warning.
    expect(admin).toMatchObject({ code: 0, stdout: 'namespace/ledger labeled\n', stderr: '' });
    expect(await envOf()).toBe('dev');
  });

  it.each(BROKEN_GUARDRAILS)('refuses Guardrail $name through tierguard\'s webhook, at apply and at --dry-run=server, and stores nothing', async ({ name, spec, problem }) => {
    // Validating webhooks run after the CRD's schema validation: tierguard's answer proves the schema accepted the object.
    const guardrail = { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', metadata: { name }, spec };
    for (const dryRun of [true, false]) {
      const result = await applyObject(guardrail, dryRunFlag(dryRun));
      expectRefused(result, {
        message: `The request is invalid: error when creating "STDIN": admission webhook "policies.tierguard.dev" denied the request: Guardrail ${name} is invalid: 1 problem:\n${problem}\n`,
        dryRun, violations: 1,
      });
      await expectNotFound(['guardrail', name]);
    }
  });

  it('admits a Guardrail whose CEL is right for Pods but an error on workloads, with kubectl showing where', async () => {
    const guardrail = {
      apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', metadata: { name: 'pod-images' },
      spec: { tier: 'platform', priority: 520, mode: 'Audit', validations: [{ resources: ['Pod'], expression: "object.spec.containers.all(c, c.image.startsWith('registry.example/'))" }] },
    };
    const result = await applyObject(guardrail, [DRY_RUN]);
    expect(result).toMatchObject({
      code: 0,
      stdout: 'guardrail.tierguard.dev/pod-images created (server dry run)\n',
      stderr: "Warning: Guardrail pod-images spec.validations[0].expression fails on workloads (line 1, column 13: no field 'containers')\n",
    });
    await expectNotFound(['guardrail', 'pod-images']);
  });

  it('refuses what a Guardrail\'s CEL validations refuse, with their messages, for Pods and NetworkPolicies as the API server sends them', async () => {
    // Most of these take the fast path's closures (src/engine/cel/fast-path.ts): `all` and
    // `startsWith`, `matches`, `cidr()`, messages built with `+`; `size()` of a string is left to
    // the library. Objects in scratch (env=dev) carry the domain label domain-labels requires there.
    const applied = await applyObject({
      apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', metadata: { name: 'cel-checks' },
      spec: { tier: 'platform', priority: 530, validations: [
        { resources: ['Pod'], expression: "object.spec.containers.all(c, c.image.startsWith('registry.example/'))", messageExpression: "'pod ' + object.metadata.name + ' runs an image from outside registry.example'" },
        { resources: ['Pod'], expression: 'object.metadata.name.size() <= 20', message: 'pod names are at most 20 characters' },
        { resources: ['NetworkPolicy'], expression: "object.metadata.name.matches('^[a-z]+-(allow|deny)-')", message: 'NetworkPolicy names say allow or deny' },
        {
          resources: ['NetworkPolicy'],
          expression: '!has(object.spec.ingress) || object.spec.ingress.all(r, !has(r.from) || r.from.all(p, !has(p.ipBlock) || cidr(p.ipBlock.cidr).prefixLength() >= 8))',
          messageExpression: "'NetworkPolicy ' + object.metadata.name + ' allows ingress from a block wider than /8'",
        },
      ] },
    });
    // As for pod-images above: Pod validations are also typed against workloads' pod templates.
    expect(applied).toMatchObject({ code: 0, stderr: "Warning: Guardrail cel-checks spec.validations[0].expression fails on workloads (line 1, column 13: no field 'containers')\n" });
    await waitFor(async () => (await readyOf('guardrail', 'cel-checks')) === 'True', { what: 'cel-checks Ready=True', timeoutMs: 30_000, intervalMs: 50 });

    const labels = { app: 'web', 'segment.tierguard.dev/domain': 'core' };
    const pod = (name: string, image: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'scratch', labels }, spec: { containers: [{ name: 'app', image }] } });
    const policy = (name: string, cidr: string) => ({
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: 'scratch', labels },
      spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ ipBlock: { cidr } }], ports: [{ port: 443 }] }] },
    });
    const refused = async (object: object, lines: readonly string[]) => {
      const result = await applyObject(object, [DRY_RUN]);
      const violations = Number(/\((\d+) violations?\)/.exec(result.stderr)?.[1]);
      expectRefused(result, { dryRun: true, violations, message: lines.join('\n') });
      expect(violations).toBe(lines.length - 1);
    };

    await refused(pod('outside-image', 'docker.io/library/nginx:1'), [
      'Pod scratch/outside-image is denied by tierguard (1 violation):',
      '- pod outside-image runs an image from outside registry.example (tier platform, guardrail cel-checks)',
    ]);
    await refused(pod('a-pod-whose-name-is-too-long', 'registry.example/app:1'), [
      'Pod scratch/a-pod-whose-name-is-too-long is denied by tierguard (1 violation):',
      '- pod names are at most 20 characters (tier platform, guardrail cel-checks)',
    ]);
    await refused(policy('open-to-all', '0.0.0.0/0'), [
      'NetworkPolicy scratch/open-to-all is denied by tierguard (2 violations):',
      '- NetworkPolicy names say allow or deny (tier platform, guardrail cel-checks)',
      '- NetworkPolicy open-to-all allows ingress from a block wider than /8 (tier platform, guardrail cel-checks)',
    ]);
    expect(await applyObject(pod('inside-image', 'registry.example/app:1'), [DRY_RUN])).toMatchObject({ code: 0, stdout: 'pod/inside-image created (server dry run)\n' });
    expect(await applyObject(policy('web-allow-office', '10.0.0.0/8'), [DRY_RUN])).toMatchObject({ code: 0, stdout: 'networkpolicy.networking.k8s.io/web-allow-office created (server dry run)\n' });

    expect((await kubectl(['delete', 'guardrail', 'cel-checks'])).code).toBe(0);
    await waitFor(async () => {
      const result = await applyObject(pod('outside-image', 'docker.io/library/nginx:1'), [DRY_RUN]);
      if (result.code !== 0) expectRefused(result, { message: 'guardrail cel-checks', dryRun: true, violations: 1 });
      return result.code === 0;
    }, { what: 'the Pod admitted again once the Guardrail is deleted', timeoutMs: 30_000, intervalMs: 100 });
  });

  it('reads a YAML manifest as kubectl does: check and the cluster agree on an octal mode and on yes', async () => {
    // kubectl reads YAML by YAML 1.1 rules (src/policy/kube-yaml.ts): 0400 is 256 and 0644 is 420,
    // and `pci: yes` is the boolean true, which no label value may be. Read as YAML 1.2, check took
    // the modes for 400 and 644 and the label for the text "yes".
    const guardrail = [
      'apiVersion: tierguard.dev/v1alpha1', 'kind: Guardrail', 'metadata: {name: secret-modes}',
      'spec:', '  tier: platform', '  priority: 540', '  validations:', '  - resources: [Pod]',
      '    expression: "!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.secret) || !has(v.secret.defaultMode) || v.secret.defaultMode <= 384)"',
      '    message: secret volumes are readable by their owner only (defaultMode at most 0600)', '',
    ].join('\n');
    /** A Pod of scratch as YAML text, with one more label line or one more spec line. */
    const pod = (name: string, more: { label?: string; spec?: string }) => [
      'apiVersion: v1', 'kind: Pod', 'metadata:', `  name: ${name}`, '  namespace: scratch', '  labels:', '    app: web', '    segment.tierguard.dev/domain: core',
      ...(more.label ? [`    ${more.label}`] : []), 'spec:', '  containers: [{name: app, image: registry.example/app:1}]', ...(more.spec ? [`  ${more.spec}`] : []),
    ].join('\n');
    const pods = [
      pod('owner-only', { spec: 'volumes: [{name: creds, secret: {secretName: creds, defaultMode: 0400}}]' }),
      pod('group-readable', { spec: 'volumes: [{name: creds, secret: {secretName: creds, defaultMode: 0644}}]' }),
      pod('pci-yes', { label: 'pci: yes' }),
    ].join('\n---\n');
    const dir = mkdtempSync(path.join(tmpdir(), 'tierguard-yaml-'));
    try {
      writeFileSync(path.join(dir, 'secret-modes.yaml'), guardrail);
      writeFileSync(path.join(dir, 'pods.yaml'), `${pods}\n`);
      expect((await kubectl(['apply', '-f', path.join(dir, 'secret-modes.yaml')])).code).toBe(0);
      await waitFor(async () => (await readyOf('guardrail', 'secret-modes')) === 'True', { what: 'secret-modes Ready=True', timeoutMs: 30_000, intervalMs: 50 });

      const applied = await kubectl(['apply', DRY_RUN, '-f', path.join(dir, 'pods.yaml')]);
      expect(applied.code).toBe(1);
      expect(applied.stdout).toBe('pod/owner-only created (server dry run)\n');
      expect(applied.stderr).toContain('admission webhook "validate.tierguard.dev" denied the request: Pod scratch/group-readable is denied by tierguard (1 violation):\n- secret volumes are readable by their owner only (defaultMode at most 0600) (tier platform, guardrail secret-modes)');
      // kubectl itself refuses the third: it never reaches the API server.
      expect(applied.stderr).toContain('json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string');
      denials.true.requests += 1;
      denials.true.violations += 1;

      const checked = await runCheck(['--config', POLICIES, '--config', path.join(dir, 'secret-modes.yaml'), '-f', manifest('namespaces.yaml'), '-f', path.join(dir, 'pods.yaml')]);
      expect(checked.stdout.split('\n').filter((line) => /^(ALLOW|DENY)\s+Pod/.test(line))).toEqual([
        `ALLOW Pod scratch/owner-only (${path.join(dir, 'pods.yaml')}#1)`,
        `DENY  Pod scratch/group-readable (${path.join(dir, 'pods.yaml')}#2)`,
        `DENY  Pod scratch/pci-yes (${path.join(dir, 'pods.yaml')}#3)`,
      ]);
      expect(checked.stdout).toContain('error: invalid Pod: metadata.labels[pci]: expected a string value');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await kubectl(['delete', 'guardrail', 'secret-modes', '--ignore-not-found']);
    }
  });

  it('puts a Guardrail applied while it runs into force once it is Ready=True', async () => {
    const probe = () => applyObject(teamlessPod('probe'), [DRY_RUN]);
    expect((await probe()).code).toBe(0);

    const start = Date.now();
    const applied = await applyObject({
      apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', metadata: { name: 'prod-team-required' },
      spec: { tier: 'security', priority: 20, labels: { match: { resources: ['Pod'], namespaces: { matchLabels: { env: 'prod' } } }, required: [{ key: 'team' }] } },
    });
    expect(applied).toMatchObject({ code: 0, stderr: '' });
    await waitFor(async () => (await readyOf('guardrail', 'prod-team-required')) === 'True', { what: 'prod-team-required Ready=True', timeoutMs: 30_000, intervalMs: 50 });
    const readyAfter = Date.now() - start;
    // Ready=True is written after the new set is in force: the very next request sees it.
    expectRefused(await probe(), { dryRun: true, violations: 1, message: [
      'admission webhook "validate.tierguard.dev" denied the request: Pod payments/probe is denied by tierguard (1 violation):',
      '- metadata.labels[team]: missing required label team (tier security, guardrail prod-team-required)',
    ].join('\n') });
    console.log(`hot reload: Guardrail applied → Ready=True in ${readyAfter} ms, → a Pod refused in ${Date.now() - start} ms`);

    expect((await kubectl(['delete', 'guardrail', 'prod-team-required'])).code).toBe(0);
    await waitFor(async () => {
      const result = await probe();
      if (result.code !== 0) expectRefused(result, { message: 'guardrail prod-team-required', dryRun: true, violations: 1 });
      return result.code === 0;
    }, { what: 'the Pod admitted again once the Guardrail is deleted', timeoutMs: 30_000, intervalMs: 100 });
  });

  it('admits a Guardrail whose Tier does not exist yet with a warning, keeps it out of force until the Tier comes, and keeps the Tier while it is named', async () => {
    const probe = () => applyObject(teamlessPod('probe'), [DRY_RUN]);
    const applied = await applyObject({
      apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', metadata: { name: 'late-team' },
      spec: { tier: 'later', priority: 10, labels: { match: { resources: ['Pod'], namespaces: { matchLabels: { env: 'prod' } } }, required: [{ key: 'team' }] } },
    });
    expect(applied).toMatchObject({ code: 0, stderr: 'Warning: tier "later" does not exist yet: this Guardrail is not in force until it is\n' });
    const waiting = await waitFor(async () => {
      const reason = (await kubectl(['get', 'guardrail', 'late-team', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}'])).stdout;
      return reason !== '/' && reason;
    }, { what: 'a Ready condition on late-team', timeoutMs: 30_000, intervalMs: 100 });
    expect(waiting).toBe('False/TierNotFound');
    expect((await probe()).code).toBe(0);

    expect((await applyObject({ apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name: 'later' }, spec: { priority: 300 } })).code).toBe(0);
    await waitFor(async () => (await readyOf('guardrail', 'late-team')) === 'True', { what: 'late-team Ready=True', timeoutMs: 30_000, intervalMs: 100 });
    expectRefused(await probe(), { dryRun: true, violations: 1, message: '- metadata.labels[team]: missing required label team (tier later, guardrail late-team)' });

    expectRefused(await kubectl(['delete', 'tier', 'later']), { dryRun: false, violations: 1, message: [
      'admission webhook "policies.tierguard.dev" denied the request: Tier later cannot be deleted: 1 Guardrail still names it:',
      '- Guardrail late-team: spec.tier: still names tier "later"; delete or move it first',
    ].join('\n') });
    expect(await readyOf('tier', 'later')).toBe('True');
    expect((await kubectl(['delete', 'guardrail', 'late-team'])).code).toBe(0);
    expect((await kubectl(['delete', 'tier', 'later'])).code).toBe(0);
  });

  it('answers a NetworkPolicy applied again anew once the namespace it lets in is relabelled', async () => {
    // tierguard remembers the override check's answer for a policy it has reviewed
    // (src/engine/network/remembered-overrides.ts); a relabel, seen through its namespace watch, must reach the answer.
    await cluster.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'qa', labels: { env: 'dev' } } }]);
    const policy = {
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'allow-from-qa', namespace: 'payments' },
      spec: {
        podSelector: { matchLabels: { app: 'api' } }, policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'qa' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }],
      },
    };
    const overriding = 'NetworkPolicy payments/allow-from-qa ingress[0] allows TCP 8080 from namespace qa to pods {app=api}; denied by tier security, guardrail prod-isolation, rule deny-from-dev';
    /** Dry runs of the policy until tierguard admits or refuses it as `wanted`, each refusal counted for the metrics test. */
    const dryRunUntil = (wanted: 'admitted' | 'refused') => waitFor(async () => {
      const result = await applyObject(policy, [DRY_RUN]);
      if (result.code !== 0) expectRefused(result, { message: overriding, dryRun: true, violations: 1 });
      return (result.code === 0) === (wanted === 'admitted') ? result : undefined;
    }, { what: `tierguard to have ${wanted} NetworkPolicy payments/allow-from-qa` });

    // qa is env=dev: refused, and the same again (from memory)
    for (let i = 0; i < 2; i++) expectRefused(await applyObject(policy, [DRY_RUN]), { message: overriding, dryRun: true, violations: 1 });
    expect(await kubectl(['label', 'namespace', 'qa', 'env=test', '--overwrite'])).toMatchObject({ code: 0 });
    expect((await dryRunUntil('admitted')).stdout).toBe('networkpolicy.networking.k8s.io/allow-from-qa created (server dry run)\n');
    expect(await kubectl(['label', 'namespace', 'qa', 'env=dev', '--overwrite'])).toMatchObject({ code: 0 });
    await dryRunUntil('refused');
    expectRefused(await applyObject(policy), { message: overriding, dryRun: false, violations: 1 });
    await expectNotFound(['networkpolicy', 'allow-from-qa', '--namespace=payments']);
  });

  it('counts every denial above in its metrics, by dry run', async () => {
    const now = await tierguard.metrics();
    const delta = (name: string, labels: Record<string, string>) => metricSum(now, name, labels) - metricSum(baseline, name, labels);
    for (const dryRun of ['true', 'false'] as const) {
      expect.soft(delta(REQUESTS, { webhook: 'validate', allowed: 'false', dry_run: dryRun }), `denied requests, dry_run=${dryRun}`).toBe(denials[dryRun].requests);
      expect.soft(delta(VIOLATIONS, { mode: 'Enforce', dry_run: dryRun }), `Enforce violations, dry_run=${dryRun}`).toBe(denials[dryRun].violations);
      expect.soft(delta(REQUESTS, { webhook: 'mutate', allowed: 'false', dry_run: dryRun })).toBe(0);
    }
    expect(delta(VIOLATIONS, { kind: 'NetworkPolicy', guardrail: 'prod-egress', rule: 'no-internet', mode: 'Enforce', dry_run: 'true' })).toBe(1);
    expect(delta(VIOLATIONS, { kind: 'Pod', guardrail: 'owner-label', rule: 'label:team', mode: 'Warn', dry_run: 'false' })).toBe(1);
  });
});
