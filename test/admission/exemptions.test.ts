/**
 * Exemptions cannot be self-granted: excluded namespaces are matched by the namespace's name only,
 * so no label or annotation an application team can set — on its namespace or on its objects —
 * turns tierguard off. Namespace `self-exempt` in test/fixtures/policies/namespace-guardrails.yaml
 * carries every such label and annotation (a `kubernetes.io/metadata.name: kube-system` label too,
 * which Kubernetes itself would never allow).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createAdmissionHandler } from '../../src/admission/handler.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { parseManifestText } from '../../src/policy/manifests.js';
import { staticNamespaceLookup } from '../../src/policy/namespaces.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { decodePatch, fixturePath, review } from '../helpers/fixtures.js';
import { useTestWebhook } from '../helpers/webhook.js';

const policyFile = fixturePath('policies', 'namespace-guardrails.yaml');
const webhook = useTestWebhook({ config: [policyFile] });
const { post } = webhook;

/** Labels and annotations an application team could put on its own objects to look exempt. */
const claims = {
  'tierguard.dev/ignore': 'true',
  'tierguard.dev/exclude': 'true',
  'admission.tierguard.dev/skip': 'true',
  'admission.webhook.tierguard.dev/enabled': 'false',
  'control-plane': 'true',
};

/** A captured review moved into namespace `namespace`, optionally with exemption claims on the object itself. */
function inNamespace(fixture: string, namespace: string, claimOnObject = false): any {
  const body = review(fixture);
  body.request.namespace = namespace;
  const { metadata } = body.request.object;
  metadata.namespace = namespace;
  if (claimOnObject) {
    metadata.labels = { ...metadata.labels, ...claims };
    metadata.annotations = { ...metadata.annotations, ...claims };
  }
  return body;
}

const missingDomain = (path: string) => `${path}[segment.example.com/domain]: missing required label segment.example.com/domain (tier security, guardrail domain; PCI-DSS 1.3.1)`;

describe('a namespace cannot exempt itself with labels or annotations', () => {
  it.each([
    { name: 'a Pod', fixture: 'validate-create-pod', subject: 'Pod self-exempt/api-0', path: 'metadata.labels' },
    { name: 'a Deployment\'s template', fixture: 'validate-create-deployment', subject: 'Deployment self-exempt/web', path: 'spec.template.metadata.labels' },
  ])('$name in namespace self-exempt is still validated', async ({ fixture, subject, path }) => {
    const response = await post('/validate', inNamespace(fixture, 'self-exempt'));
    expect(response.allowed).toBe(false);
    expect(response.status.message).toBe(`${subject} is denied by tierguard (1 violation):\n- ${missingDomain(path)}`);
  });

  it('a Pod that claims an exemption in its own labels and annotations is still validated', async () => {
    const response = await post('/validate', inNamespace('validate-create-pod', 'self-exempt', true));
    expect(response.allowed).toBe(false);
    expect(response.status.message).toContain(missingDomain('metadata.labels'));
  });

  it('a Pod in namespace self-exempt still gets the default labels', async () => {
    const response = await post('/mutate', inNamespace('mutate-create-pod', 'self-exempt', true));
    expect(decodePatch(response)).toEqual([{ op: 'add', path: '/metadata/labels/segment.example.com~1domain', value: 'payments' }]);
  });

  it('the same Pod in kube-system, excluded by name, is left alone (the exclusion itself works)', async () => {
    for (const [path, fixture] of [['/validate', 'validate-create-pod'], ['/mutate', 'mutate-create-pod']] as const) {
      const body = inNamespace(fixture, 'kube-system');
      expect(await post(path, body)).toEqual({ uid: body.request.uid, allowed: true });
    }
  });

  it('relabelling namespace self-exempt is checked, whatever name its labels claim', async () => {
    const body = review('validate-update-namespace-dryrun');
    const { request: req } = body;
    req.name = 'self-exempt';
    req.namespace = 'self-exempt';
    req.userInfo = { username: 'bob@example.com', groups: ['system:authenticated'] };
    const labels = { env: 'prod', owner: 'team', 'kubernetes.io/metadata.name': 'kube-system', ...claims };
    req.oldObject.metadata = { ...req.oldObject.metadata, name: 'self-exempt', labels, annotations: claims };
    req.object.metadata = { ...req.object.metadata, name: 'self-exempt', labels: { ...labels, env: 'dev' }, annotations: claims };
    const response = await post('/validate', body);
    expect(response.allowed).toBe(false);
    expect(response.status.message).toContain('- metadata.labels[env]: namespace self-exempt would leave the subject, and enter the peers of ingress rule deny-from-dev: env "prod" → "dev" (tier security, guardrail prod-isolation; PCI-DSS 1.3.1)');
  });
});

describe('exclusion never reads the labels a namespace lookup returns', () => {
  it('a lookup that reports kubernetes.io/metadata.name=kube-system for another namespace does not exclude it', async () => {
    const { set } = compilePolicySet(parseManifestText(readFileSync(policyFile, 'utf8'), policyFile), { generation: 1 });
    const forged = { name: 'self-exempt', labels: { 'kubernetes.io/metadata.name': 'kube-system', 'segment.example.com/domain': 'payments', ...claims }, annotations: claims };
    const handler = createAdmissionHandler({
      policy: () => set,
      policyDocuments: () => [],
      namespaces: staticNamespaceLookup([forged]),
      engine: { excludedNamespaces: new Set(['kube-system']) },
      failureMode: 'deny',
      metrics: createMetrics(),
      logger: silentLogger,
    });
    const { review: answer } = await handler('validate', JSON.stringify(inNamespace('validate-create-pod', 'self-exempt')));
    expect(answer.response?.allowed).toBe(false);
    expect(answer.response?.status?.message).toContain(missingDomain('metadata.labels'));
  });
});
