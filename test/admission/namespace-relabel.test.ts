/**
 * Namespace CREATE and UPDATE through the real webhook over HTTPS on 127.0.0.1, starting from the
 * AdmissionReviews a Kubernetes API server sent for `kubectl label namespace payments env=dev
 * --overwrite --dry-run=server` and for creating the namespace, with the policy set in
 * test/fixtures/policies/namespace-guardrails.yaml and admins system:masters (group) and
 * alice@example.com (user).
 */
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { decodePatch, fixturePath, review } from '../helpers/fixtures.js';
import { useTestWebhook } from '../helpers/webhook.js';

const webhook = useTestWebhook({ config: [fixturePath('policies', 'namespace-guardrails.yaml')], adminUsers: ['alice@example.com'] });
const { post, scrape } = webhook;

const developer = { username: 'bob@example.com', uid: 'bob-uid', groups: ['team-payments', 'system:authenticated'] };

interface Relabel {
  /** Labels set (a string) or removed (null) on the updated namespace. */
  readonly change: Record<string, string | null>;
  readonly userInfo?: unknown;
  readonly dryRun?: boolean;
  readonly subResource?: string;
  readonly name?: string;
}

/**
 * The captured UPDATE, with the stored namespace as captured plus an owner (so that it meets the
 * Namespace label rules) and the updated one = the stored one with `change` applied.
 */
function relabel({ change, userInfo = developer, dryRun, subResource, name }: Relabel): any {
  const body = review('validate-update-namespace-dryrun');
  const { request: req } = body;
  const before = { ...req.oldObject.metadata.labels, owner: 'team-payments' };
  const after: Record<string, string> = { ...before };
  for (const [key, value] of Object.entries(change)) {
    if (value === null) delete after[key];
    else after[key] = value;
  }
  req.oldObject.metadata.labels = before;
  req.object.metadata.labels = after;
  req.userInfo = userInfo;
  if (dryRun !== undefined) req.dryRun = dryRun;
  if (subResource) req.subResource = subResource;
  if (name) {
    req.name = name;
    req.namespace = name;
    for (const object of [req.object, req.oldObject]) {
      object.metadata.name = name;
      object.metadata.labels['kubernetes.io/metadata.name'] = name;
    }
  }
  return body;
}

const hint = 'Namespace labels that guardrails select on can be changed only by a tierguard admin (a member of system:masters or an admin user): ask one to make this change.';
const prodToDev = 'Namespace payments is denied by tierguard (2 violations):\n'
  + '- metadata.labels[env]: namespace payments would leave the subject, and enter the peers of ingress rule deny-from-dev: env "prod" → "dev" (tier security, guardrail prod-isolation; PCI-DSS 1.3.1)\n'
  + '- metadata.labels[env]: namespace payments would leave the reach of its label rules: env "prod" → "dev" (tier platform, guardrail namespace-owner)\n'
  + hint;

describe('Namespace UPDATE: relabelling that moves a namespace between guardrails', () => {
  it('allows the captured prod → dev relabel: its user is in system:masters', async () => {
    const body = review('validate-update-namespace-dryrun');
    expect(body.request.userInfo.groups).toContain('system:masters');
    expect(await post('/validate', body)).toEqual({ uid: body.request.uid, allowed: true });
  });

  it.each([
    { name: 'a dry run', dryRun: true },
    { name: 'a real request', dryRun: false },
  ])('denies prod → dev by a normal user, naming the guardrails left and entered: $name', async ({ dryRun }) => {
    const body = relabel({ change: { env: 'dev' }, dryRun });
    expect(await post('/validate', body)).toEqual({
      uid: body.request.uid,
      allowed: false,
      status: { metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403, message: prodToDev },
    });
  });

  it.each([
    { name: 'a user listed in --admin-users', userInfo: { username: 'alice@example.com', groups: ['system:authenticated'] } },
    { name: 'a member of system:masters (the default --admin-groups)', userInfo: { username: 'ops', groups: ['system:masters'] } },
  ])('allows prod → dev by $name', async ({ userInfo }) => {
    const body = relabel({ change: { env: 'dev' }, userInfo });
    expect(await post('/validate', body)).toEqual({ uid: body.request.uid, allowed: true });
  });

  it.each<{ name: string; change: Record<string, string> }>([
    { name: 'changing a label no guardrail reads', change: { 'webhook-test/mutated': 'pod' } },
    { name: 'adding labels that claim an exemption (they are not read)', change: { 'tierguard.dev/ignore': 'true', 'admission.tierguard.dev/skip': 'true' } },
  ])('allows $name', async ({ change }) => {
    const body = relabel({ change });
    expect(await post('/validate', body)).toEqual({ uid: body.request.uid, allowed: true });
  });

  it('denies adding a label a guardrail selects on, naming the guardrail entered', async () => {
    const body = relabel({ change: { quarantine: 'incident-42' } });
    const response = await post('/validate', body);
    expect(response.allowed).toBe(false);
    expect(response.status.message).toBe('Namespace payments is denied by tierguard (1 violation):\n'
      + '- metadata.labels[quarantine]: namespace payments would enter the subject: quarantine added as "incident-42" (tier security, guardrail quarantine)\n'
      + hint);
  });

  it('denies removing a label a guardrail selects on', async () => {
    const response = await post('/validate', relabel({ change: { 'segment.example.com/domain': null } }));
    expect(response.allowed).toBe(false);
    expect(response.status.message).toContain('- metadata.labels[segment.example.com/domain]: namespace payments would leave the reach of its label rules: segment.example.com/domain "payments" removed (tier security, guardrail domain; PCI-DSS 1.3.1)');
  });

  it('allows, with a warning, a relabel that only a Warn guardrail reads', async () => {
    const body = relabel({ change: { sandbox: 'true' } });
    expect(await post('/validate', body)).toEqual({
      uid: body.request.uid,
      allowed: true,
      warnings: ['sandbox-expiry: namespace payments would enter the reach of its label rules: sandbox added as "true"'],
    });
  });

  it('checks relabelling through the status subresource too', async () => {
    const response = await post('/validate', relabel({ change: { env: 'dev' }, subResource: 'status' }));
    expect(response.allowed).toBe(false);
    expect(response.status.message).toBe(prodToDev);
  });

  it('leaves an excluded namespace alone (matched by name)', async () => {
    const body = relabel({ change: { env: 'dev' }, name: 'kube-system' });
    expect(await post('/validate', body)).toEqual({ uid: body.request.uid, allowed: true });
  });

  it('never mutates a Namespace UPDATE', async () => {
    const body = review('mutate-update-namespace-dryrun');
    expect(await post('/mutate', body)).toEqual({ uid: body.request.uid, allowed: true });
  });

  it('counts a denial like any other: the guardrail, rule namespace-labels, mode and dry run', async () => {
    const before = await scrape();
    await post('/validate', relabel({ change: { env: 'dev' }, dryRun: true }));
    await post('/validate', relabel({ change: { sandbox: 'true' }, dryRun: false }));
    const after = await scrape();
    const delta = (series: string) => (after.get(series) ?? 0) - (before.get(series) ?? 0);
    expect(delta('tierguard_admission_violations_total{webhook="validate",kind="Namespace",tier="security",guardrail="prod-isolation",rule="namespace-labels",mode="Enforce",dry_run="true"}')).toBe(1);
    expect(delta('tierguard_admission_violations_total{webhook="validate",kind="Namespace",tier="platform",guardrail="namespace-owner",rule="namespace-labels",mode="Enforce",dry_run="true"}')).toBe(1);
    expect(delta('tierguard_admission_violations_total{webhook="validate",kind="Namespace",tier="platform",guardrail="sandbox-expiry",rule="namespace-labels",mode="Warn",dry_run="false"}')).toBe(1);
    expect(delta('tierguard_admission_requests_total{webhook="validate",kind="Namespace",operation="UPDATE",allowed="false",dry_run="true"}')).toBe(1);
    expect(delta('tierguard_admission_requests_total{webhook="validate",kind="Namespace",operation="UPDATE",allowed="true",dry_run="false"}')).toBe(1);
  });
});

describe('Namespace CREATE against label guardrails that target Namespaces', () => {
  const denial = 'Namespace payments is denied by tierguard (1 violation):\n'
    + '- metadata.labels[owner]: missing required label owner (tier platform, guardrail namespace-owner)';

  it.each(['validate-create-namespace', 'validate-create-namespace-dryrun'])('denies %s: a prod namespace without an owner, even for system:masters', async (fixture) => {
    const body = review(fixture);
    expect(body.request.userInfo.groups).toContain('system:masters');
    expect(await post('/validate', body)).toEqual({
      uid: body.request.uid,
      allowed: false,
      status: { metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403, message: denial },
    });
  });

  it('allows it with the owner label', async () => {
    const body = review('validate-create-namespace');
    body.request.object.metadata.labels.owner = 'team-payments';
    expect(await post('/validate', body)).toEqual({ uid: body.request.uid, allowed: true });
  });

  it('injects the Namespace defaults on CREATE', async () => {
    const body = review('mutate-create-namespace');
    const response = await post('/mutate', body);
    expect(response.allowed).toBe(true);
    const patch = decodePatch(response) as fastJsonPatch.Operation[];
    expect(patch).toEqual([{ op: 'add', path: '/metadata/labels/network.example.com~1managed', value: 'true' }]);
    const patched = fastJsonPatch.applyPatch(structuredClone(body.request.object), patch).newDocument;
    expect(patched.metadata.labels).toEqual({ ...body.request.object.metadata.labels, 'network.example.com/managed': 'true' });
  });
});

