/** The built `tierguard` command (dist/cli/main.js), run as a user runs it. */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_DIR } from '../helpers/fixtures.js';

const CLI = path.join(REPO_DIR, 'dist', 'cli', 'main.js');
/** Only turns a hung command into a failure: starting node takes seconds on a busy machine. */
const CLI_KILL_MS = 60_000;

function tierguard(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return tierguardUnder([], ...args);
}

/** `tierguard` run by `node` with `nodeOptions` (`--disallow-code-generation-from-strings`, ...). */
function tierguardUnder(nodeOptions: readonly string[], ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeOptions, CLI, ...args], { cwd: REPO_DIR, timeout: CLI_KILL_MS }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'tierguard-cli-'));
}

describe('tierguard check', { timeout: CLI_KILL_MS * 2 }, () => {
  it('evaluates the example manifests as CREATEs: JSON results, exit 1 when anything is denied', async () => {
    const { code, stdout } = await tierguard('check', '--config', 'examples/policies', '-f', 'examples/manifests', '-o', 'json');
    expect(code).toBe(1);
    const { results } = JSON.parse(stdout);
    const byName = Object.fromEntries(results.map((r: any) => [`${r.kind} ${r.namespace}/${r.name}`, r]));
    expect(Object.keys(byName)).toEqual([
      'Namespace /payments', 'Namespace /scratch', 'NetworkPolicy payments/allow-everything', 'NetworkPolicy payments/allow-api-from-frontend',
      'Deployment payments/api', 'Pod payments/debug', 'CronJob scratch/cleanup',
    ]);
    expect(byName['NetworkPolicy payments/allow-api-from-frontend'].allowed).toBe(true);
    expect(byName['NetworkPolicy payments/allow-everything'].allowed).toBe(false);
    expect(byName['NetworkPolicy payments/allow-everything'].violations).toEqual([
      {
        tier: 'security', guardrail: 'prod-isolation', rule: 'deny-from-dev', mode: 'Enforce', path: 'spec.ingress[0]', compliance: ['PCI-DSS 1.3.1', 'NIST SP 800-53 SC-7'],
        message: 'NetworkPolicy payments/allow-everything ingress[0] allows TCP 1 from namespace scratch; denied by tier security, guardrail prod-isolation, rule deny-from-dev (PCI-DSS 1.3.1, NIST SP 800-53 SC-7)',
      },
      {
        tier: 'security', guardrail: 'prod-egress', rule: 'no-internet', mode: 'Enforce', path: 'spec.egress[0]', compliance: ['PCI-DSS 1.3.4'],
        message: 'NetworkPolicy payments/allow-everything egress[0] allows TCP 443 to 0.0.0.0/5; denied by tier security, guardrail prod-egress, rule no-internet (PCI-DSS 1.3.4)',
      },
    ]);
    expect(byName['Deployment payments/api']).toEqual({
      source: 'examples/manifests/workloads.yaml#1',
      kind: 'Deployment',
      namespace: 'payments',
      name: 'api',
      allowed: true,
      violations: [
        { tier: 'platform', guardrail: 'owner-label', rule: 'label:team', mode: 'Warn', path: 'spec.template.metadata.labels[team]', message: 'missing required label team' },
        { tier: 'platform', guardrail: 'data-classification', rule: 'label:data.tierguard.dev/classification', mode: 'Audit', path: 'spec.template.metadata.labels[data.tierguard.dev/classification]', message: 'missing required label data.tierguard.dev/classification' },
      ],
      warnings: ['owner-label: spec.template.metadata.labels[team]: missing required label team'],
      notes: [],
      patch: [
        { op: 'add', path: '/spec/template/metadata/labels/segment.tierguard.dev~1domain', value: 'payments' },
        { op: 'add', path: '/spec/template/metadata/labels/segment.tierguard.dev~1managed', value: 'true' },
      ],
    });
    expect(byName['Pod payments/debug'].allowed).toBe(false);
    expect(byName['Pod payments/debug'].violations[0]).toEqual({
      tier: 'security', guardrail: 'domain-labels', rule: 'label:segment.tierguard.dev/domain', mode: 'Enforce',
      path: 'metadata.labels[segment.tierguard.dev/domain]', message: 'label segment.tierguard.dev/domain="everything" is not one of payments, core, edge', compliance: ['PCI-DSS 1.3.1'],
    });
    expect(byName['CronJob scratch/cleanup'].allowed).toBe(false);
    expect(byName['CronJob scratch/cleanup'].violations[0].message).toBe('missing required label segment.tierguard.dev/domain (its default comes from namespace label segment.tierguard.dev/domain, and namespace scratch has no such label)');
    expect(byName['NetworkPolicy payments/allow-api-from-frontend'].patch).toEqual([
      { op: 'add', path: '/metadata/labels', value: { 'segment.tierguard.dev/domain': 'payments', 'segment.tierguard.dev/managed': 'true' } },
    ]);
  });

  it('checks the mutated object, as the webhook pipeline does: defaults satisfy requirements, exit 0', async () => {
    const { code, stdout } = await tierguard('check', '--config', 'examples/policies', '-f', 'examples/manifests/namespaces.yaml', '-f', 'examples/manifests/networkpolicy.yaml');
    expect(code).toBe(0);
    expect(stdout).toBe([
      'ALLOW Namespace payments (examples/manifests/namespaces.yaml#1)',
      'ALLOW Namespace scratch (examples/manifests/namespaces.yaml#2)',
      'ALLOW NetworkPolicy payments/allow-api-from-frontend (examples/manifests/networkpolicy.yaml#1)',
      '  patch: add /metadata/labels {"segment.tierguard.dev/domain":"payments","segment.tierguard.dev/managed":"true"}',
      '3 objects: 3 allowed, 0 denied',
      '',
    ].join('\n'));
  });

  it('uses the embedded default guardrails without --config', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'pod.yaml'), `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {segment.tierguard.dev/domain: "Shop_Front"}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec: {containers: [{name: web, image: nginx}]}
`);
    const { code, stdout } = await tierguard('check', '-f', dir);
    expect(code).toBe(1);
    expect(stdout).toContain(`DENY  Pod shop/web (${path.join(dir, 'pod.yaml')}#2)\n  metadata.labels[segment.tierguard.dev/domain]: label segment.tierguard.dev/domain="Shop_Front" does not match pattern`);
    expect(stdout).toContain('[Warn] metadata.labels[app.kubernetes.io/name]: missing required label app.kubernetes.io/name (tier platform, guardrail recommended-app-name)');
  });

  it('says how each kind of rule took a namespace it does not know, beside a NetworkPolicy denied for any labels the namespace may get', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'np.yaml'), 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: from-scratch, namespace: ghost, labels: {segment.tierguard.dev/domain: core}}\nspec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: scratch}}}]}]}\n');
    const { code, stdout } = await tierguard('check', '--config', 'examples/policies', '-f', 'examples/manifests/namespaces.yaml', '-f', dir);
    expect(code).toBe(1);
    expect(stdout).toContain('denied by tier security, guardrail prod-isolation, rule deny-from-dev');
    expect(stdout).toContain('  note: namespace ghost is unknown to tierguard: label guardrails matched it on its name label only\n  note: namespace ghost is unknown to tierguard: the override check took it to have any labels\n');
  });

  it.each([
    { name: 'a broken policy set', args: ['--config', 'test/fixtures/policies/broken.yaml', '-f', 'examples/manifests'], stderr: 'spec.tier: tier "nope" does not exist' },
    { name: 'a missing manifest', args: ['-f', 'no/such/file.yaml'], stderr: 'no/such/file.yaml: cannot read: no such file or directory\n' },
    { name: 'no -f', args: [], stderr: "required option '-f, --filename <path>' not specified" },
    { name: 'an unknown output format', args: ['-f', 'examples/manifests', '-o', 'xml'], stderr: "argument 'xml' is invalid" },
  ])('exits 2 on $name, saying why on stderr', async ({ args, stderr }) => {
    const result = await tierguard('check', ...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(stderr);
    expect(result.stdout).toBe('');
  });

  it('warns when it found no object, and names the files of a directory it did not read', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'README.md'), '# not a manifest\n');
    writeFileSync(path.join(dir, 'empty.yaml'), '# nothing here\n');
    const result = await tierguard('check', '-f', dir);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`tierguard: warning: skipped 1 file that is not .yaml, .yml or .json: ${path.join(dir, 'README.md')}\n`);
    expect(result.stderr).toContain(`tierguard: warning: no objects found in ${dir}\n`);
    expect(result.stdout).toBe('0 objects: 0 allowed, 0 denied\n');
  });

  it('refuses an object whose AdmissionReview is larger than the webhook\'s body limit, as the API server would; one it never sends is allowed', async () => {
    const dir = tmp();
    const big = 'a'.repeat(4096);
    writeFileSync(path.join(dir, 'big.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'big', namespace: 'payments', annotations: { x: big } }, spec: { containers: [{ name: 'a', image: 'b' }] } }));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big', namespace: 'payments' }, data: { x: big } }));
    const result = await tierguard('check', '-f', dir, '--max-body-bytes', '4096', '-o', 'json');
    expect(result.code).toBe(1);
    const { results } = JSON.parse(result.stdout);
    expect(results.map((r: any) => [r.kind, r.allowed])).toEqual([['Pod', false], ['ConfigMap', true]]);
    expect(results[0].error).toMatch(/^its AdmissionReview would be \d+ bytes, more than the webhook's body limit of 4096 \(--max-body-bytes\): the webhook answers 413/);
    const defaults = await tierguard('check', '-f', path.join(dir, 'big.json'), '-o', 'json');
    expect(JSON.parse(defaults.stdout).results[0].error ?? '').not.toContain('body limit');
  });

  it('gives the same answers where node may not make code from text (the CEL fast path is off, the library evaluates)', async () => {
    const dir = tmp();
    // The example Tiers, and a Guardrail with two validations the fast path covers.
    writeFileSync(path.join(dir, 'tiers.yaml'), readFileSync(path.join(REPO_DIR, 'examples/policies/tiers.yaml'), 'utf8'));
    writeFileSync(path.join(dir, 'pods.json'), JSON.stringify({
      apiVersion: 'tierguard.dev/v1alpha1',
      kind: 'Guardrail',
      metadata: { name: 'pods' },
      spec: {
        tier: 'security',
        priority: 1,
        validations: [
          { resources: ['Pod'], expression: "object.spec.containers.all(c, c.image.startsWith('mirror.example/'))", messageExpression: "'pod ' + object.metadata.name + ' pulls from outside the mirror'" },
          { resources: ['Pod'], expression: '!object.?spec.?hostNetwork.orValue(false)', message: 'no host network' },
        ],
      },
    }));
    const manifests = path.join(tmp(), 'pods.yaml');
    writeFileSync(manifests, `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec: {hostNetwork: true, containers: [{name: web, image: docker.io/nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop}
spec: {containers: [{name: api, image: mirror.example/api}]}
`);
    const args = ['check', '--config', dir, '-f', manifests, '-o', 'json'];
    const withCode = await tierguard(...args);
    const withoutCode = await tierguardUnder(['--disallow-code-generation-from-strings'], ...args);
    expect(withCode.code, withCode.stderr).toBe(1);
    expect(withoutCode.code, withoutCode.stderr).toBe(1);
    expect(withoutCode.stderr).toBe(withCode.stderr);
    expect(withoutCode.stdout).toBe(withCode.stdout);
    const [web, api] = JSON.parse(withoutCode.stdout).results;
    expect(web.violations.map((violation: { message: string }) => violation.message)).toEqual(['pod web pulls from outside the mirror', 'no host network']);
    expect(api.allowed).toBe(true);
  });

  it('reports every policy problem, not only the first', async () => {
    const result = await tierguard('check', '--config', 'test/fixtures/policies/broken.yaml', '-f', 'examples/manifests');
    expect(result.stderr).toBe([
      'tierguard: the policy set has 4 problems:',
      'test/fixtures/policies/broken.yaml#2 (Tier platform) spec.priority: priority 100 is already used by tier security (test/fixtures/policies/broken.yaml#1); tier priorities must be unique',
      'test/fixtures/policies/broken.yaml#3 (Guardrail typo) spec.labels.requried: unknown field',
      'test/fixtures/policies/broken.yaml#3 (Guardrail typo) spec.labels: labels needs at least one entry in required or defaults',
      'test/fixtures/policies/broken.yaml#4 (Guardrail orphan) spec.tier: tier "nope" does not exist (known tiers: security)',
      '',
    ].join('\n'));
  });
});

describe('tierguard certs', { timeout: CLI_KILL_MS * 2 }, () => {
  it('writes ca.crt, tls.crt and a private tls.key with the service names as SANs', async () => {
    const out = tmp();
    const result = await tierguard('certs', '--service', 'tierguard', '--namespace', 'security', '--ip', '127.0.0.1', '--dns', 'webhook.example.com', '--out', out, '--days', '30');
    expect(result.code).toBe(0);
    const cert = new X509Certificate(readFileSync(path.join(out, 'tls.crt')));
    const ca = new X509Certificate(readFileSync(path.join(out, 'ca.crt')));
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:tierguard, DNS:tierguard.security, DNS:tierguard.security.svc, DNS:tierguard.security.svc.cluster.local, DNS:webhook.example.com, IP Address:127.0.0.1');
    expect(statSync(path.join(out, 'tls.key')).mode & 0o777).toBe(0o600);
  });

  it('refuses to overwrite existing files without --force', async () => {
    const out = tmp();
    writeFileSync(path.join(out, 'tls.key'), 'precious');
    const result = await tierguard('certs', '--service', 's', '--namespace', 'n', '--out', out);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('refusing to overwrite');
    expect(readFileSync(path.join(out, 'tls.key'), 'utf8')).toBe('precious');
  });

  it('rejects a malformed --ip', async () => {
    const result = await tierguard('certs', '--service', 's', '--namespace', 'n', '--ip', '10.0.0');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('"10.0.0" is not an IPv4 or IPv6 address');
  });
});

describe('--help', { timeout: CLI_KILL_MS * 2 }, () => {
  it.each(['serve', 'check', 'certs'])('%s --help exits 0 and lists its options', async (command) => {
    const result = await tierguard(command, '--help');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: tierguard ${command}`);
  });
});

describe('tierguard serve', { timeout: CLI_KILL_MS * 2 }, () => {
  it('exits 2 with every problem when the policy set does not compile', async () => {
    const result = await tierguard('serve', '--config', 'test/fixtures/policies/broken.yaml', '--port', '0', '--metrics-port', '0', '--address', '127.0.0.1', '--metrics-address', '127.0.0.1');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('the policy set has 4 problems');
  });
});

describe('tierguard lint', { timeout: CLI_KILL_MS * 2 }, () => {
  it('exits 1 with every problem of an invalid policy set, in the webhook\'s words', async () => {
    const result = await tierguard('lint', '--config', 'test/fixtures/policies/broken.yaml');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe([
      'test/fixtures/policies/broken.yaml#2 (Tier platform) spec.priority: priority 100 is already used by tier security (test/fixtures/policies/broken.yaml#1); tier priorities must be unique',
      'test/fixtures/policies/broken.yaml#3 (Guardrail typo) spec.labels.requried: unknown field',
      'test/fixtures/policies/broken.yaml#3 (Guardrail typo) spec.labels: labels needs at least one entry in required or defaults',
      'test/fixtures/policies/broken.yaml#4 (Guardrail orphan) spec.tier: tier "nope" does not exist (known tiers: security)',
      '4 problems',
      '',
    ].join('\n'));
  });

  it('exits 1 on CEL that does not type-check against the Kubernetes schemas, naming the validation, line and column', async () => {
    const dir = tmp();
    // The two expressions of issue 13: accepted by the untyped check, then a runtime error on every Pod.
    writeFileSync(path.join(dir, 'policies.yaml'), `apiVersion: tierguard.dev/v1alpha1
kind: Tier
metadata: {name: security}
spec: {priority: 100}
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: images}
spec:
  tier: security
  priority: 1
  validations:
    - {resources: [Pod], expression: "object.spec.containers.all(c, c.image.startsWith(1))", message: m}
    - {resources: [Pod], expression: "object.metadata.name + 1 == 2", message: m2}
    - {resources: [Pod], expression: "!has(object.spec.hostNetwork) || !object.spec.hostNetwork", message: fine}
`);
    const result = await tierguard('lint', '--config', dir);
    expect(result.code).toBe(1);
    const file = path.join(dir, 'policies.yaml');
    expect(result.stdout).toBe([
      `${file}#2 (Guardrail images) spec.validations[0].expression: CEL error at line 1, column 31: found no matching overload for 'string.startsWith(int)' (when object is a Pod); no field 'containers' in DeploymentSpec, StatefulSetSpec, DaemonSetSpec, ReplicaSetSpec, JobSpec or CronJobSpec (when object is a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob) at line 1, column 13 (to read fields that only some kinds have, select them optionally, object.?spec.?template, or under dyn(object))`,
      `${file}#2 (Guardrail images) spec.validations[1].expression: CEL error at line 1, column 1: no such overload: string + int`,
      '2 problems',
      '',
    ].join('\n'));
  });

  it('exits 0 on a valid set and prints its warnings', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'policies.yaml'), `apiVersion: tierguard.dev/v1alpha1
kind: Tier
metadata: {name: security}
spec: {priority: 100}
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: deny-all}
spec: {tier: security, priority: 1, subject: {namespaces: {}}, ingress: [{name: all, action: Deny, from: [{namespaces: {}}]}]}
---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: too-late}
spec: {tier: security, priority: 2, subject: {namespaces: {}}, ingress: [{name: dev, action: Accept, from: [{namespaces: {matchLabels: {env: dev}}}]}]}
`);
    const result = await tierguard('lint', '--config', dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`warning: Guardrail too-late can never apply: earlier rules (deny-all) decide everything it matches\n${dir}: 1 tiers, 2 guardrails, valid\n`);
  });

  it('exits 2 without --config', async () => {
    const result = await tierguard('lint');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("error: required option '--config <path>' not specified");
  });

  it('exits 2 on a path that does not exist, as check does', async () => {
    const missing = path.join(tmp(), 'nope');
    for (const args of [['lint', '--config', missing], ['check', '-f', missing]]) {
      const result = await tierguard(...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toContain(missing);
    }
  });

  it('checks the Tiers and Guardrails of a GitOps folder and says how many objects of other kinds it skipped', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'policies.yaml'), readFileSync(path.join(REPO_DIR, 'examples/policies/tiers.yaml'), 'utf8'));
    writeFileSync(path.join(dir, 'apps.yaml'), readFileSync(path.join(REPO_DIR, 'examples/manifests/workloads.yaml'), 'utf8'));
    writeFileSync(path.join(dir, 'calico.yaml'), 'apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\nspec: {order: 100}\n');
    writeFileSync(path.join(dir, 'tierguard-test.yaml'), readFileSync(path.join(REPO_DIR, 'examples/tests/tierguard-test.yaml'), 'utf8'));
    const result = await tierguard('lint', '--config', dir);
    expect(result.stdout).toMatch(/^skipped 5 objects of other kinds: Deployment \(apps\/v1\) 1, Pod \(v1\) 1, CronJob \(batch\/v1\) 1, Tier \(projectcalico.org\/v3\) 1, Test \(tierguard.dev\/v1alpha1\) 1\n/);
    expect(result.stdout).toContain(`${dir}: `);
    expect(result.stdout).toContain(', valid\n');
    expect(result.code).toBe(0);
  });

  it('still refuses a Tier without an apiVersion rather than skipping it', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'tier.yaml'), 'kind: Tier\nmetadata: {name: security}\nspec: {priority: 100}\n');
    const result = await tierguard('lint', '--config', dir);
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain('skipped');
    expect(result.stdout).toContain('apiVersion');
  });

  it('refuses a misspelt kind of the tierguard.dev group rather than skipping it: only test files are skipped', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'guardrail.yaml'), 'apiVersion: tierguard.dev/v1alpha1\nkind: Guardrial\nmetadata: {name: g}\nspec: {}\n');
    const result = await tierguard('lint', '--config', dir);
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain('skipped');
    expect(result.stdout).toContain(`${path.join(dir, 'guardrail.yaml')}#1 kind: expected Tier, Guardrail (tierguard.dev/v1alpha1) or Namespace (v1), got "Guardrial"`);
  });

  it('reports a YAML syntax error once, at the line and column where it is', async () => {
    const dir = tmp();
    // line 5 is indented too far: a key under `name`'s value
    writeFileSync(path.join(dir, 'tier.yaml'), 'apiVersion: tierguard.dev/v1alpha1\nkind: Tier\nmetadata:\n  name: security\n   bad: x\nspec: {priority: 100}\n');
    const result = await tierguard('lint', '--config', dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(`${path.join(dir, 'tier.yaml')}#1: invalid YAML at line 5, column 7: Implicit keys need to be on a single line\n1 problem\n`);
  });
});

describe('the command line as a user meets it', { timeout: CLI_KILL_MS * 2 }, () => {
  it('names an unknown option instead of asking for a required one', async () => {
    const result = await tierguard('check', '--fiel', 'x.yaml');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("error: unknown option '--fiel'");
    expect(result.stderr).not.toContain('required option');
  });

  it('still asks for a missing required option, with exit 2', async () => {
    const result = await tierguard('check', '-o', 'json');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("error: required option '-f, --filename <path>' not specified");
  });

  it('prints the version of package.json with `version` and `--version`', async () => {
    const { version } = JSON.parse(readFileSync(path.join(REPO_DIR, 'package.json'), 'utf8'));
    for (const args of [['version'], ['--version']]) {
      const result = await tierguard(...args);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout, args.join(' ')).toBe(`${version}\n`);
    }
  });

  it('shows durations in --help as users type them', async () => {
    const result = await tierguard('serve', '--help');
    expect(result.stdout).toMatch(/--cert-validity <duration>[^]*\(default: 90d\)/);
    expect(result.stdout).not.toContain('7776000000');
  });
});
