/** Namespace objects in the pure engine: relabelling, admins, label rules on Namespaces. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NAMESPACE_NAME_LABEL } from '../../src/api/kube.js';
import { decide, MAX_WARNING_LENGTH } from '../../src/engine/decision.js';
import { mutate, skipReason, validate, type EngineOptions, type EngineRequest } from '../../src/engine/evaluate.js';
import { namespaceObjectContext } from '../../src/engine/namespace-object.js';
import { adminHint, describeChange, isAdmin, labelChanges, namespaceLabelKeys, type Requester } from '../../src/engine/namespace-relabel.js';
import type { PolicySet } from '../../src/engine/policy-set.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { parseManifestText } from '../../src/policy/manifests.js';
import { loadPolicySet } from '../../src/policy/load.js';
import { fixturePath, REPO_DIR } from '../helpers/fixtures.js';

const path = fixturePath('policies', 'namespace-guardrails.yaml');
const compiled = compilePolicySet(parseManifestText(readFileSync(path, 'utf8'), path), { generation: 1 });
const set = compiled.set as PolicySet;

const options: EngineOptions = {
  excludedNamespaces: new Set(['kube-system', 'tierguard']),
  admins: { groups: new Set(['system:masters', 'platform-admins']), users: new Set(['alice@example.com']) },
};
const developer: Requester = { username: 'bob@example.com', groups: ['system:authenticated', 'team-payments'] };

/** A production namespace that satisfies the Namespace label rules. */
const base = { env: 'prod', 'segment.example.com/domain': 'payments', owner: 'team-payments' };

function namespaceObject(name: string, labels: Record<string, string>) {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { ...labels, [NAMESPACE_NAME_LABEL]: name } }, spec: {} };
}

function update(before: Record<string, string>, after: Record<string, string>, extra: Partial<EngineRequest> = {}): EngineRequest {
  const name = 'payments';
  const object = namespaceObject(name, after);
  return {
    operation: 'UPDATE',
    kind: { group: '', kind: 'Namespace' },
    namespace: namespaceObjectContext(object, name),
    object,
    oldObject: namespaceObject(name, before),
    userInfo: developer,
    ...extra,
  };
}

function create(labels: Record<string, string>): EngineRequest {
  const object = namespaceObject('shop', labels);
  return { operation: 'CREATE', kind: { group: '', kind: 'Namespace' }, namespace: namespaceObjectContext(object, 'shop'), object, oldObject: null, userInfo: developer };
}

function relabelFindings(request: EngineRequest) {
  return validate(set, request, options).findings.filter((finding) => finding.rule === 'namespace-labels')
    .map(({ guardrail, mode, path: at, message }) => ({ guardrail, mode, path: at, message }));
}

describe('the namespace label keys guardrails read', () => {
  it('collects subject and peer selectors (Accept carve-outs too), label-rule selectors and fromNamespaceLabel sources', () => {
    expect(compiled.problems).toEqual([]);
    expect(namespaceLabelKeys(set)).toEqual(['cost-center', 'env', 'quarantine', 'sandbox', 'segment.example.com/domain', 'team']);
  });
});

type Labels = Record<string, string>;

describe('Namespace UPDATE that changes a label guardrails read', () => {
  it.each<{ name: string; before: Labels; after: Labels; findings: ReturnType<typeof relabelFindings> }>([
    {
      name: 'prod → dev leaves the subject and enters the peers of the Deny',
      before: base, after: { ...base, env: 'dev' },
      findings: [
        { guardrail: 'prod-isolation', mode: 'Enforce', path: 'metadata.labels[env]', message: 'namespace payments would leave the subject, and enter the peers of ingress rule deny-from-dev: env "prod" → "dev"' },
        { guardrail: 'namespace-owner', mode: 'Enforce', path: 'metadata.labels[env]', message: 'namespace payments would leave the reach of its label rules: env "prod" → "dev"' },
      ],
    },
    {
      name: 'removing env leaves the subject',
      before: base, after: { 'segment.example.com/domain': 'payments', owner: 'team-payments' },
      findings: [
        { guardrail: 'prod-isolation', mode: 'Enforce', path: 'metadata.labels[env]', message: 'namespace payments would leave the subject: env "prod" removed' },
        { guardrail: 'namespace-owner', mode: 'Enforce', path: 'metadata.labels[env]', message: 'namespace payments would leave the reach of its label rules: env "prod" removed' },
      ],
    },
    {
      name: 'adding quarantine enters a guardrail',
      before: base, after: { ...base, quarantine: 'incident-42' },
      findings: [{ guardrail: 'quarantine', mode: 'Enforce', path: 'metadata.labels[quarantine]', message: 'namespace payments would enter the subject: quarantine added as "incident-42"' }],
    },
    {
      name: 'adding team=monitoring enters an Accept carve-out (out of a Deny\'s reach)',
      before: { env: 'dev' }, after: { env: 'dev', team: 'monitoring' },
      findings: [{ guardrail: 'prod-isolation', mode: 'Enforce', path: 'metadata.labels[team]', message: 'namespace payments would enter the peers of ingress rule allow-monitoring: team added as "monitoring"' }],
    },
    {
      name: 'staging → test changes a read key although no rule gains or loses the namespace (strict)',
      before: { env: 'staging' }, after: { env: 'test' },
      findings: [
        { guardrail: 'prod-isolation', mode: 'Enforce', path: 'metadata.labels[env]', message: 'namespace payments would change a label this guardrail selects namespaces on (no rule gains or loses it): env "staging" → "test"' },
        { guardrail: 'namespace-owner', mode: 'Enforce', path: 'metadata.labels[env]', message: 'namespace payments would change a label this guardrail selects namespaces on (no rule gains or loses it): env "staging" → "test"' },
      ],
    },
    {
      name: 'a new value for a label defaults copy into pods',
      before: base, after: { ...base, 'segment.example.com/domain': 'core' },
      findings: [{ guardrail: 'domain', mode: 'Enforce', path: 'metadata.labels[segment.example.com/domain]', message: 'namespace payments would change the value its default for segment.example.com/domain copies from the namespace: segment.example.com/domain "payments" → "core"' }],
    },
    {
      name: 'two keys at once: one finding per guardrail, each with its own keys',
      before: base, after: { ...base, env: 'dev', quarantine: 'yes' },
      findings: [
        { guardrail: 'prod-isolation', mode: 'Enforce', path: 'metadata.labels[env]', message: 'namespace payments would leave the subject, and enter the peers of ingress rule deny-from-dev: env "prod" → "dev"' },
        { guardrail: 'quarantine', mode: 'Enforce', path: 'metadata.labels[quarantine]', message: 'namespace payments would enter the subject: quarantine added as "yes"' },
        { guardrail: 'namespace-owner', mode: 'Enforce', path: 'metadata.labels[env]', message: 'namespace payments would leave the reach of its label rules: env "prod" → "dev"' },
      ],
    },
    {
      name: 'a key read by a Warn guardrail only',
      before: base, after: { ...base, sandbox: 'true' },
      findings: [{ guardrail: 'sandbox-expiry', mode: 'Warn', path: 'metadata.labels[sandbox]', message: 'namespace payments would enter the reach of its label rules: sandbox added as "true"' }],
    },
    {
      name: 'a key read by an Audit guardrail only',
      before: { ...base, 'cost-center': 'cc-1' }, after: { ...base, 'cost-center': 'shared' },
      findings: [{ guardrail: 'cost-center', mode: 'Audit', path: 'metadata.labels[cost-center]', message: 'namespace payments would leave the reach of its label rules: cost-center "cc-1" → "shared"' }],
    },
    { name: 'a label no guardrail reads beside one a guardrail reads', before: base, after: { ...base, 'tierguard.dev/ignore': 'true', team: 'payments' }, findings: [{ guardrail: 'prod-isolation', mode: 'Enforce', path: 'metadata.labels[team]', message: 'namespace payments would change a label this guardrail selects namespaces on (no rule gains or loses it): team added as "payments"' }] },
    { name: 'only labels no guardrail reads', before: base, after: { ...base, 'tierguard.dev/ignore': 'true', 'app.kubernetes.io/part-of': 'shop' }, findings: [] },
    { name: 'no label change at all', before: base, after: base, findings: [] },
  ])('$name', ({ before, after, findings }) => {
    expect(relabelFindings(update(before, after))).toEqual(findings);
  });

  it('denies with every Enforce finding and ends the message with who may make the change', () => {
    const decision = decide(validate(set, update(base, { ...base, env: 'dev', sandbox: 'true' }), options), { failureMode: 'deny', subject: 'Namespace payments' });
    expect(decision.allowed).toBe(false);
    expect(decision.code).toBe(403);
    expect(decision.message).toBe('Namespace payments is denied by tierguard (2 violations):\n'
      + '- metadata.labels[env]: namespace payments would leave the subject, and enter the peers of ingress rule deny-from-dev: env "prod" → "dev" (tier security, guardrail prod-isolation; PCI-DSS 1.3.1)\n'
      + '- metadata.labels[env]: namespace payments would leave the reach of its label rules: env "prod" → "dev" (tier platform, guardrail namespace-owner)\n'
      + 'Namespace labels that guardrails select on can be changed only by a tierguard admin (a member of system:masters, platform-admins or an admin user): ask one to make this change.');
    expect(decision.warnings).toEqual(['sandbox-expiry: namespace payments would enter the reach of its label rules: sandbox added as "true"']);
  });

  it('allows a change that only Warn and Audit guardrails read, with a warning for Warn (under the length kubectl shows)', () => {
    const decision = decide(validate(set, update({ ...base, 'cost-center': 'a' }, { ...base, 'cost-center': 'b', sandbox: 'true' }), options), { failureMode: 'deny', subject: 'Namespace payments' });
    expect(decision.allowed).toBe(true);
    expect(decision.findings.map((finding) => `${finding.guardrail}/${finding.mode}`)).toEqual(['sandbox-expiry/Warn', 'cost-center/Audit']);
    expect(decision.warnings).toHaveLength(1);
    expect(decision.warnings[0]!.length).toBeLessThanOrEqual(MAX_WARNING_LENGTH);
  });

  it.each([
    { name: 'a member of an admin group', userInfo: { username: 'carol', groups: ['system:authenticated', 'platform-admins'] }, denied: false },
    { name: 'system:masters', userInfo: { username: 'kubernetes-admin', groups: ['system:masters'] }, denied: false },
    { name: 'an admin user', userInfo: { username: 'alice@example.com', groups: [] }, denied: false },
    { name: 'a user whose name differs only in case', userInfo: { username: 'Alice@example.com' }, denied: true },
    { name: 'a group that merely contains an admin group\'s name', userInfo: { username: 'eve', groups: ['system:masters-not'] }, denied: true },
    { name: 'a request without userInfo', userInfo: undefined, denied: true },
  ])('admins may relabel, nobody else: $name', ({ userInfo, denied }) => {
    const request = { ...update(base, { ...base, env: 'dev' }), userInfo };
    expect(relabelFindings(request).map((finding) => finding.guardrail)).toEqual(denied ? ['prod-isolation', 'namespace-owner'] : []);
  });

  it('has no admins when none are configured, and says so', () => {
    const result = validate(set, update(base, { ...base, env: 'dev' }, { userInfo: { username: 'root', groups: ['system:masters'] } }), { excludedNamespaces: new Set() });
    expect(result.findings.map((finding) => finding.guardrail)).toEqual(['prod-isolation', 'namespace-owner']);
    expect(result.hints).toEqual([adminHint(undefined)]);
    expect(adminHint(undefined)).toContain('none is configured');
  });

  it('checks relabelling through the status and finalize subresources, and nothing else there', () => {
    const withoutOwner = { env: 'prod', 'segment.example.com/domain': 'payments' };
    for (const subResource of ['status', 'finalize']) {
      const request = update(withoutOwner, { ...withoutOwner, env: 'dev' }, { subResource });
      expect(skipReason(request, options)).toBeUndefined();
      expect(validate(set, request, options).findings.map((finding) => `${finding.guardrail} ${finding.rule}`)).toEqual(['prod-isolation namespace-labels', 'namespace-owner namespace-labels']);
      // The namespace controller's status updates during deletion change no label: nothing to say,
      // even though this namespace lacks the owner label a CREATE would need.
      expect(validate(set, update(withoutOwner, withoutOwner, { subResource }), options).findings).toEqual([]);
    }
  });

  it('leaves excluded namespaces alone entirely, by name', () => {
    const request = update({ env: 'prod' }, { env: 'dev' });
    const kubeSystem = { ...request, namespace: { ...request.namespace, name: 'kube-system' } };
    expect(skipReason(kubeSystem, options)).toBe('namespace kube-system is excluded');
    expect(validate(set, kubeSystem, options).findings).toEqual([]);
  });

  it('does not check Namespace DELETE', () => {
    const request: EngineRequest = { ...update(base, base), operation: 'DELETE', object: null };
    expect(skipReason(request, options)).toBe('operation DELETE');
  });
});

describe('Namespace CREATE against label guardrails that target Namespaces', () => {
  it('denies a prod namespace without the required owner label', () => {
    const result = validate(set, create({ env: 'prod' }), options);
    expect(result.findings).toEqual([expect.objectContaining({ guardrail: 'namespace-owner', rule: 'label:owner', path: 'metadata.labels[owner]', message: 'missing required label owner', mode: 'Enforce' })]);
    expect(result.hints).toEqual([]);
  });

  it.each<{ name: string; labels: Labels }>([
    { name: 'with the owner label', labels: { env: 'prod', owner: 'team-shop' } },
    { name: 'outside the guardrail\'s namespace selector', labels: { env: 'dev' } },
  ])('allows one $name', ({ labels }) => {
    expect(validate(set, create(labels), options).findings).toEqual([]);
  });

  it('injects defaults into a Namespace on CREATE, never on UPDATE', () => {
    const created = mutate(set, create({ env: 'prod', owner: 'x' }), options);
    expect(created.applied).toEqual([{ guardrail: 'namespace-owner', key: 'network.example.com/managed', value: 'true', path: 'metadata.labels[network.example.com/managed]' }]);
    expect(mutate(set, update(base, base), options)).toEqual({ object: undefined, applied: [], notes: [], errors: [] });
  });
});

describe('label changes', () => {
  it.each<{ name: string; before: Labels; after: Labels; text: string[] }>([
    { name: 'changed', before: { a: '1' }, after: { a: '2' }, text: ['a "1" → "2"'] },
    { name: 'added', before: {}, after: { a: '' }, text: ['a added as ""'] },
    { name: 'removed', before: { a: '1' }, after: {}, text: ['a "1" removed'] },
    { name: 'unchanged, in key order', before: { b: '1', a: '1' }, after: { a: '1', b: '2', c: '3' }, text: ['b "1" → "2"', 'c added as "3"'] },
    { name: 'an inherited property name is a label like any other', before: {}, after: { constructor: 'x' }, text: ['constructor added as "x"'] },
  ])('$name', ({ before, after, text }) => {
    expect(labelChanges(before, after).map(describeChange)).toEqual(text);
  });

  it.each([
    { admins: undefined, requester: { username: 'a' }, admin: false },
    { admins: { groups: new Set<string>(), users: new Set(['a']) }, requester: undefined, admin: false },
    { admins: { groups: new Set(['g']), users: new Set<string>() }, requester: { groups: ['x', 'g'] }, admin: true },
  ])('isAdmin($requester) = $admin', ({ admins, requester, admin }) => {
    expect(isAdmin(admins, requester)).toBe(admin);
  });
});

describe('docs/admission.md', () => {
  it('shows the denial and the warning that examples/policies give for `kubectl label namespace payments env=dev`', async () => {
    const loaded = await loadPolicySet([join(REPO_DIR, 'examples', 'policies')], { generation: 1 });
    const payments = { env: 'prod', 'segment.tierguard.dev/domain': 'payments' };
    const request = update(payments, { ...payments, env: 'dev' });
    const decision = decide(validate(loaded.set as PolicySet, request, { excludedNamespaces: new Set(), admins: { groups: new Set(['system:masters']), users: new Set() } }), { failureMode: 'deny', subject: 'Namespace payments' });
    const readme = readFileSync(join(REPO_DIR, 'docs', 'admission.md'), 'utf8');
    const shown = /by\na non-admin gets:\n\n```\n([\s\S]*?)\n```/.exec(readme)?.[1];
    expect(shown).toBe(decision.message);
    expect(decision.warnings).toEqual(['owner-label: namespace payments would leave the reach of its label rules: env "prod" → "dev"']);
    expect(readme).toContain(`adds\n  \`${decision.warnings[0]}\``);
  });
});
