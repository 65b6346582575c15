/**
 * The review layer: one request, one verdict, whoever asks. The webhook's two steps (mutate, then
 * validate the mutated object) and `reviewBoth` (what `tierguard check` reports) agree on the
 * real fixtures; each outcome is encoded once, with the uid set in one place.
 */
import fastJsonPatch from 'fast-json-patch';
import { beforeAll, describe, expect, it } from 'vitest';
import { responseOf } from '../../src/admission/handler.js';
import { reviewOf } from '../../src/admission/review.js';
import type { PolicySet } from '../../src/engine/policy-set.js';
import { loadPolicySet } from '../../src/policy/load.js';
import { staticNamespaceLookup, type NamespaceLookup } from '../../src/policy/namespaces.js';
import { parseManifestText } from '../../src/policy/manifests.js';
import { review, reviewBoth, type ReviewContext } from '../../src/review/review.js';
import type { Verdict } from '../../src/review/verdict.js';
import { fixturePath, review as fixture } from '../helpers/fixtures.js';

let set: PolicySet;
let namespaces: NamespaceLookup;

beforeAll(async () => {
  // Every family of rules: label rules with defaults, the network override check, CEL validations.
  const loaded = await loadPolicySet([fixturePath('policies', 'fuzz-guardrails.yaml')], { generation: 1 });
  if (!loaded.set) throw new Error(loaded.problems.map((problem) => problem.message).join('\n'));
  set = loaded.set;
  namespaces = staticNamespaceLookup(loaded.namespaces);
});

function context(overrides: Partial<ReviewContext> = {}): ReviewContext {
  return { policy: () => set, namespaces, engine: { excludedNamespaces: new Set(['kube-system']) }, failureMode: 'deny', ...overrides };
}

const CREATES = ['pod', 'pod-generatename', 'deployment', 'cronjob', 'replicaset', 'networkpolicy', 'namespace'];

describe('the webhook and check agree', () => {
  it.each(CREATES)('CREATE %s: mutate then validate the patched object gives the verdict reviewBoth gives', async (name) => {
    const { request } = fixture(`mutate-create-${name}`);
    const mutated = await review(context(), 'mutate', request);
    expect(mutated.outcome).toBe('allowed');
    const patched = fastJsonPatch.applyPatch(structuredClone(request.object), structuredClone(mutated.patch as fastJsonPatch.Operation[])).newDocument;
    const validated = await review(context(), 'validate', { ...request, object: patched });
    const both = await reviewBoth(context(), request);
    expect(both.outcome).toBe(validated.outcome);
    expect(both.findings).toEqual(validated.findings);
    expect(both.warnings).toEqual([...mutated.warnings, ...validated.warnings]);
    expect(both.patch).toEqual(mutated.patch);
    if (both.outcome !== 'allowed' && validated.outcome !== 'allowed') expect(both.message).toBe(validated.message);
  });

  it('the fixtures do reach the rules: at least one is denied and one gets a patch', async () => {
    const verdicts = await Promise.all(CREATES.map((name) => reviewBoth(context(), fixture(`mutate-create-${name}`).request)));
    expect(verdicts.some((verdict) => verdict.outcome === 'denied')).toBe(true);
    expect(verdicts.some((verdict) => verdict.patch.length > 0)).toBe(true);
  });
});

describe('outcomes', () => {
  const pod = () => fixture('validate-create-pod').request;

  it('a malformed object is errored 400 (invalid_object), whatever the failure mode', async () => {
    const request = { ...pod(), object: { ...pod().object, metadata: { ...pod().object.metadata, labels: { team: 7 } } } };
    for (const failureMode of ['deny', 'allow'] as const) {
      const verdict = await review(context({ failureMode }), 'validate', request);
      expect(verdict).toMatchObject({ outcome: 'errored', code: 400, failure: { reason: 'invalid_object' } });
      expect((verdict as Extract<Verdict, { outcome: 'errored' }>).message).toMatch(/^invalid Pod: metadata\.labels/);
    }
  });

  it('no policy set yet is errored 500 (no_policy_set)', async () => {
    expect(await review(context({ policy: () => undefined }), 'mutate', pod())).toMatchObject({ outcome: 'errored', code: 500, failure: { reason: 'no_policy_set' } });
  });

  it('a failure outside the rules follows the failure mode: errored 500 with deny, allowed with a warning with allow', async () => {
    const broken: NamespaceLookup = { get: () => { throw new Error('lookup down'); }, list: () => [] };
    expect(await review(context({ namespaces: broken }), 'validate', pod())).toMatchObject({
      outcome: 'errored', code: 500, message: 'tierguard could not evaluate this request (failure mode deny): lookup down', failure: { reason: 'internal', detail: 'lookup down' },
    });
    expect(await review(context({ namespaces: broken, failureMode: 'allow' }), 'validate', pod())).toMatchObject({
      outcome: 'allowed', warnings: ['tierguard could not evaluate this request; allowed by failure mode allow'], failure: { reason: 'internal' },
    });
  });

  it('a request tierguard leaves alone is allowed with the reason', async () => {
    expect(await review(context(), 'validate', fixture('validate-delete-pod').request)).toMatchObject({ outcome: 'allowed', skipped: 'operation DELETE', findings: [], patch: [] });
  });

  it('a violation is denied 403 with its findings', async () => {
    const verdict = await review(context(), 'validate', pod());
    expect(verdict.outcome).toBe('denied');
    expect(verdict).toMatchObject({ code: 403 });
    expect(verdict.findings.length).toBeGreaterThan(0);
  });
});

describe('Tier and Guardrail changes', () => {
  const tierDelete = { kind: { group: 'tierguard.dev', version: 'v1alpha1', kind: 'Tier' }, name: 'security', operation: 'DELETE' as const, userInfo: {}, object: null, oldObject: { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name: 'security' }, spec: { priority: 100 } } };
  const guardrail = parseManifestText('apiVersion: tierguard.dev/v1alpha1\nkind: Guardrail\nmetadata: {name: g}\nspec: {tier: security, priority: 1, labels: {match: {resources: [Pod]}, required: [{key: team}]}}\n', 'stored');

  it('a Tier still named by a Guardrail is denied 422', async () => {
    const verdict = await review(context({ policyDocuments: () => guardrail.documents }), 'validate', tierDelete);
    expect(verdict).toMatchObject({ outcome: 'denied', code: 422 });
    expect((verdict as Extract<Verdict, { outcome: 'denied' }>).message).toBe('Tier security cannot be deleted: 1 Guardrail still names it:\n- Guardrail g: spec.tier: still names tier "security"; delete or move it first');
  });

  it('documents that cannot be read: errored 500 (policy_read), even with --failure-mode allow', async () => {
    const verdict = await review(context({ failureMode: 'allow', policyDocuments: () => Promise.reject(new Error('etcd away')) }), 'validate', tierDelete);
    expect(verdict).toMatchObject({ outcome: 'errored', code: 500, failure: { reason: 'policy_read', detail: 'etcd away' } });
  });

  it('without the documents (check), a Tier is left alone', async () => {
    expect(await reviewBoth(context(), { ...tierDelete, operation: 'CREATE', object: tierDelete.oldObject, oldObject: null })).toMatchObject({ outcome: 'allowed', skipped: 'kind Tier is not checked' });
  });
});

describe('encoding a verdict', () => {
  const base = { subject: 'Pod a/b', warnings: ['w'], notes: [], findings: [], errors: [], patch: [], applied: [] };

  it.each([
    { verdict: { ...base, outcome: 'allowed' } as Verdict, response: { allowed: true, warnings: ['w'] } },
    { verdict: { ...base, outcome: 'allowed', patch: [{ op: 'add', path: '/x', value: 1 }] } as Verdict, response: { allowed: true, patchType: 'JSONPatch', patch: Buffer.from('[{"op":"add","path":"/x","value":1}]').toString('base64'), warnings: ['w'] } },
    { verdict: { ...base, outcome: 'denied', code: 403, message: 'm' } as Verdict, response: { allowed: false, status: { metadata: {}, status: 'Failure', message: 'm', reason: 'Forbidden', code: 403 }, warnings: ['w'] } },
    { verdict: { ...base, outcome: 'denied', code: 422, message: 'm' } as Verdict, response: { allowed: false, status: { metadata: {}, status: 'Failure', message: 'm', reason: 'Invalid', code: 422 }, warnings: ['w'] } },
    { verdict: { ...base, outcome: 'errored', code: 500, message: 'm', warnings: [] } as Verdict, response: { allowed: false, status: { metadata: {}, status: 'Failure', message: 'm', reason: 'InternalError', code: 500 } } },
    { verdict: { ...base, outcome: 'errored', code: 400, message: 'm', warnings: [] } as Verdict, response: { allowed: false, status: { metadata: {}, status: 'Failure', message: 'm', reason: 'BadRequest', code: 400 } } },
  ])('$verdict.outcome $verdict.code: the uid is set by reviewOf alone', ({ verdict, response }) => {
    expect(responseOf(verdict)).toStrictEqual(response);
    expect(reviewOf('uid-1', responseOf(verdict))).toStrictEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'uid-1', ...response } });
  });
});
