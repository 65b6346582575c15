/**
 * The real webhook over real HTTPS on 127.0.0.1, fed the AdmissionReview bodies a Kubernetes
 * API server sent (test/fixtures/admission-reviews), with the policy set in
 * test/fixtures/policies/label-guardrails.yaml.
 */
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { decodePatch, fixturePath, review } from '../helpers/fixtures.js';
import { request } from '../helpers/https.js';
import { useTestWebhook } from '../helpers/webhook.js';

const webhook = useTestWebhook({ config: [fixturePath('policies', 'label-guardrails.yaml')] });
const { post, certs, scrape } = webhook;

const domain = '/segment.example.com~1domain';
const managed = '/segment.example.com~1managed';

describe('POST /mutate injects default labels with a JSONPatch', () => {
  it.each([
    { name: 'Pod CREATE', fixture: 'mutate-create-pod', at: '/metadata/labels' },
    { name: 'Pod CREATE by a ReplicaSet (generateName only)', fixture: 'mutate-create-pod-generatename', at: '/metadata/labels' },
    { name: 'Pod CREATE dry run, no labels: map created', fixture: 'mutate-create-pod-dryrun-generatename', at: '/metadata/labels' },
    { name: 'Deployment template', fixture: 'mutate-create-deployment', at: '/spec/template/metadata/labels' },
    { name: 'ReplicaSet template (a ReplicaSet of its own)', fixture: 'mutate-create-replicaset', at: '/spec/template/metadata/labels', standalone: true },
    { name: 'CronJob job template', fixture: 'mutate-create-cronjob', at: '/spec/jobTemplate/spec/template/metadata/labels' },
    { name: 'NetworkPolicy with labels', fixture: 'mutate-create-networkpolicy', at: '/metadata/labels' },
    { name: 'NetworkPolicy without labels: map created', fixture: 'mutate-create-networkpolicy-dryrun', at: '/metadata/labels' },
  ])('$name', async ({ fixture, at, standalone }) => {
    const body = review(fixture);
    if (standalone) delete body.request.object.metadata.ownerReferences;
    const response = await post('/mutate', body);
    expect(response.uid).toBe(body.request.uid);
    expect(response.allowed).toBe(true);
    expect(response.patchType).toBe('JSONPatch');
    const patch = decodePatch(response) as fastJsonPatch.Operation[];
    const patched = fastJsonPatch.applyPatch(structuredClone(body.request.object), patch).newDocument;
    const labelsPath = at.split('/').slice(1);
    const labels = labelsPath.reduce((node: any, key) => node[key], patched);
    // The namespace's domain wins over managed-marker's lower-precedence default `core`.
    expect(labels['segment.example.com/domain']).toBe('payments');
    expect(labels['segment.example.com/managed']).toBe('true');
    const before = labelsPath.reduce((node: any, key) => node?.[key], body.request.object) ?? {};
    for (const [key, value] of Object.entries(before)) expect(labels[key]).toBe(value);
    if (Object.keys(before).length === 0) {
      expect(patch).toEqual([{ op: 'add', path: at, value: { 'segment.example.com/domain': 'payments', 'segment.example.com/managed': 'true' } }]);
    } else {
      expect(patch).toEqual([
        { op: 'add', path: `${at}${domain}`, value: 'payments' },
        { op: 'add', path: `${at}${managed}`, value: 'true' },
      ]);
    }
  });

  it.each(['mutate', 'validate'] as const)('leaves a ReplicaSet its Deployment controls alone on /%s: its template is the Deployment\'s, its Pods are checked', async (webhook) => {
    // Injected here, a label makes the Deployment controller see a hash collision and create ReplicaSets without end.
    const body = review('mutate-create-replicaset');
    expect(body.request.object.metadata.ownerReferences[0]).toMatchObject({ kind: 'Deployment', controller: true });
    delete body.request.object.spec.template.metadata.labels;
    expect(await post(`/${webhook}`, body)).toEqual({ uid: body.request.uid, allowed: true });
    // The same template in a ReplicaSet of its own is patched, or refused.
    delete body.request.object.metadata.ownerReferences;
    const own = await post(`/${webhook}`, body);
    expect(webhook === 'mutate' ? own.patch !== undefined : own.allowed === false).toBe(true);
  });

  it('never overwrites an existing label and sends no patch when nothing changes', async () => {
    const body = review('mutate-create-pod');
    body.request.object.metadata.labels['segment.example.com/domain'] = 'core';
    body.request.object.metadata.labels['segment.example.com/managed'] = 'false';
    const response = await post('/mutate', body);
    expect(response).toEqual({ uid: body.request.uid, allowed: true });
  });

  it.each([
    { name: 'Namespace CREATE (no guardrail targets Namespaces)', fixture: 'mutate-create-namespace' },
    { name: 'Namespace UPDATE dry run', fixture: 'mutate-update-namespace-dryrun' },
  ])('leaves $name untouched', async ({ fixture }) => {
    const body = review(fixture);
    expect(await post('/mutate', body)).toEqual({ uid: body.request.uid, allowed: true });
  });

  it('leaves excluded namespaces untouched, matched by name', async () => {
    const body = review('mutate-create-pod');
    body.request.namespace = 'kube-system';
    body.request.object.metadata.namespace = 'kube-system';
    expect(await post('/mutate', body)).toEqual({ uid: body.request.uid, allowed: true });
  });
});

describe('POST /validate decides on label guardrails', () => {
  it('denies a Pod without the required domain label, reporting every violation, with Warn findings as warnings', async () => {
    const body = review('validate-create-pod');
    const response = await post('/validate', body);
    expect(response).toEqual({
      uid: body.request.uid,
      allowed: false,
      status: {
        metadata: {},
        status: 'Failure',
        reason: 'Forbidden',
        code: 403,
        message: 'Pod payments/api-0 is denied by tierguard (1 violation):\n'
          + '- metadata.labels[segment.example.com/domain]: missing required label segment.example.com/domain (tier security, guardrail domain; PCI-DSS 1.3.1)',
      },
      warnings: ['team-label: metadata.labels[team]: missing required label team'],
    });
  });

  it('gives a dry run exactly the same decision and message', async () => {
    const body = review('validate-create-pod-dryrun');
    expect(body.request.dryRun).toBe(true);
    const response = await post('/validate', body);
    expect(response.allowed).toBe(false);
    expect(response.status.code).toBe(403);
    expect(response.status.message).toBe('Pod payments/worker-fn9qw is denied by tierguard (1 violation):\n'
      + '- metadata.labels[segment.example.com/domain]: missing required label segment.example.com/domain (tier security, guardrail domain; PCI-DSS 1.3.1)');
  });

  it('allows what the mutating webhook produced: mutate, apply the patch, validate', async () => {
    const body = review('mutate-create-pod');
    const mutated = await post('/mutate', body);
    const object = fastJsonPatch.applyPatch(structuredClone(body.request.object), decodePatch(mutated) as fastJsonPatch.Operation[]).newDocument;
    const response = await post('/validate', { ...body, request: { ...body.request, object } });
    expect(response).toEqual({ uid: body.request.uid, allowed: true, warnings: ['team-label: metadata.labels[team]: missing required label team'] });
  });

  it('reports all violations of a workload template together, at the template path', async () => {
    const body = review('validate-create-deployment');
    body.request.object.spec.template.metadata.labels = { 'segment.example.com/domain': 'edge' };
    const response = await post('/validate', body);
    expect(response.allowed).toBe(false);
    expect(response.status.message).toBe('Deployment payments/web is denied by tierguard (1 violation):\n'
      + '- spec.template.metadata.labels[segment.example.com/domain]: label segment.example.com/domain="edge" is not one of payments, core (tier security, guardrail domain; PCI-DSS 1.3.1)');
  });

  it('denies changing an immutable label on UPDATE', async () => {
    const body = review('validate-update-pod');
    body.request.oldObject.metadata.labels['segment.example.com/domain'] = 'payments';
    body.request.object.metadata.labels['segment.example.com/domain'] = 'core';
    body.request.object.metadata.labels.team = 'api';
    const response = await post('/validate', body);
    expect(response.allowed).toBe(false);
    expect(response.status.message).toContain('metadata.labels[segment.example.com/domain]: label segment.example.com/domain is immutable: it is "payments" and would change to "core"');
  });

  it.each([
    {
      name: 'a Deployment\'s pod template',
      fixture: 'validate-create-deployment',
      labels: (object: any) => { object.spec.template.metadata.labels ??= {}; return object.spec.template.metadata.labels; },
      path: 'spec.template.metadata.labels',
    },
    { name: 'a NetworkPolicy', fixture: 'validate-create-networkpolicy', labels: (object: any) => { object.metadata.labels ??= {}; return object.metadata.labels; }, path: 'metadata.labels' },
  ])('denies changing or removing an immutable label of $name on UPDATE, and allows keeping it', async ({ fixture, labels, path }) => {
    const update = (now: string | undefined) => {
      const body = review(fixture);
      body.request.operation = 'UPDATE';
      body.request.oldObject = structuredClone(body.request.object);
      Object.assign(labels(body.request.oldObject), { 'segment.example.com/domain': 'payments', team: 'api' });
      Object.assign(labels(body.request.object), { team: 'api' });
      if (now !== undefined) labels(body.request.object)['segment.example.com/domain'] = now;
      return body;
    };
    const changed = await post('/validate', update('core'));
    expect(changed.allowed).toBe(false);
    expect(changed.status.message).toContain(`${path}[segment.example.com/domain]: label segment.example.com/domain is immutable: it is "payments" and would change to "core"`);
    const removed = await post('/validate', update(undefined));
    expect(removed.allowed).toBe(false);
    expect(removed.status.message).toContain(`${path}[segment.example.com/domain]: label segment.example.com/domain is immutable: it is "payments" and would be removed`);
    const kept = await post('/validate', update('payments'));
    expect(kept.allowed).toBe(true);
  });

  it.each([
    { name: 'DELETE', fixture: 'validate-delete-pod' },
    { name: 'DELETE dry run', fixture: 'validate-delete-networkpolicy-dryrun' },
    { name: 'Namespace CREATE', fixture: 'validate-create-namespace' },
  ])('allows $name untouched', async ({ fixture }) => {
    const body = review(fixture);
    expect(await post('/validate', body)).toEqual({ uid: body.request.uid, allowed: true });
  });
});

describe('malformed input gets an AdmissionReview with allowed: false, never HTML', () => {
  const uid = '0b7e0a7e-5e43-4a0f-9a0e-000000000001';
  const valid = () => review('validate-create-pod');
  it.each([
    { name: 'empty body', body: '', code: 400, message: 'request body is empty', uid: '' },
    { name: 'not JSON', body: '{"apiVersion": ', code: 400, message: 'request body is not valid JSON: Unexpected end of JSON input', uid: '' },
    // V8 quotes the body's first characters in this one: the answer (and the log line) must not.
    { name: 'not JSON, from the first character', body: 'password=hunter2', code: 400, message: 'request body is not valid JSON: unexpected token', uid: '' },
    { name: 'a JSON array', body: '[]', code: 400, message: 'not an admission.k8s.io/v1 AdmissionReview request', uid: '' },
    { name: 'wrong apiVersion', body: JSON.stringify({ ...valid(), apiVersion: 'admission.k8s.io/v1beta1' }), code: 400, message: 'apiVersion', uid: valid().request.uid },
    { name: 'wrong kind', body: JSON.stringify({ ...valid(), kind: 'Pod' }), code: 400, message: 'kind', uid: valid().request.uid },
    { name: 'no request', body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), code: 400, message: 'request', uid: '' },
    { name: 'no uid', body: JSON.stringify({ ...valid(), request: { ...valid().request, uid: undefined } }), code: 400, message: 'request.uid', uid: '' },
    { name: 'operation of the wrong type', body: JSON.stringify({ ...valid(), request: { ...valid().request, uid, operation: 7 } }), code: 400, message: 'request.operation', uid },
    { name: 'labels that are not a map', body: JSON.stringify({ ...valid(), request: { ...valid().request, uid, object: { metadata: { labels: ['a'] } } } }), code: 400, message: 'invalid Pod: metadata.labels: expected a map of strings', uid },
  ])('$name → $code', async ({ body, code, message, uid: expectedUid }) => {
    const answer = await request({ port: webhook.server.port, ca: certs.caCert, path: '/validate', body });
    expect(answer.status).toBe(200);
    const response = answer.json().response;
    expect(response.uid).toBe(expectedUid);
    expect(response.allowed).toBe(false);
    expect(response.status.code).toBe(code);
    expect(response.status.message).toContain(message);
  });

  it('a body that is not JSON is not quoted back', async () => {
    const answer = await request({ port: webhook.server.port, ca: certs.caCert, path: '/validate', body: 'password=hunter2' });
    expect(answer.json().response.status.message).toBe('request body is not valid JSON: unexpected token');
  });

  it('wrong Content-Type → 400, uid echoed', async () => {
    const body = valid();
    const answer = await request({ port: webhook.server.port, ca: certs.caCert, path: '/validate', body: JSON.stringify(body), headers: { 'content-type': 'text/plain' } });
    expect(answer.json().response).toEqual({
      uid: body.request.uid,
      allowed: false,
      status: { metadata: {}, status: 'Failure', reason: 'BadRequest', code: 400, message: 'Content-Type is "text/plain", expected application/json' },
    });
  });

  it('a body over the limit → 413', async () => {
    const big = JSON.stringify({ ...valid(), padding: 'x'.repeat(7 * 1024 * 1024) });
    const answer = await request({ port: webhook.server.port, ca: certs.caCert, path: '/validate', body: big });
    const response = answer.json().response;
    expect(response.allowed).toBe(false);
    expect(response.status.code).toBe(413);
    expect(response.status.message).toContain('larger than the limit of 7340032 bytes');
  });

  it.each([
    { name: 'GET /validate', method: 'GET', path: '/validate', status: 405, body: { error: 'use POST with an admission.k8s.io/v1 AdmissionReview' } },
    { name: 'PUT /mutate/', method: 'PUT', path: '/mutate/', status: 405, body: { error: 'use POST with an admission.k8s.io/v1 AdmissionReview' } },
    { name: 'unknown path', method: 'POST', path: '/nope', status: 404, body: { error: 'not found' } },
    { name: 'POST /healthz', method: 'POST', path: '/healthz', status: 404, body: { error: 'not found' } },
    { name: 'GET /healthz/ in any case, with a query', method: 'GET', path: '/HealthZ/?x=1', status: 200, body: { status: 'ok' } },
  ])('$name → $status JSON', async ({ method, path, status, body }) => {
    const answer = await request({ port: webhook.server.port, ca: certs.caCert, method, path });
    expect(answer.status).toBe(status);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer.json()).toEqual(body);
    if (status === 405) expect(answer.headers.allow).toBe('POST');
  });

  it('HEAD /readyz answers the probe with headers only', async () => {
    const answer = await request({ port: webhook.server.port, ca: certs.caCert, method: 'HEAD', path: '/readyz' });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('');
  });

  it('serves the path the API server calls, with its ?timeout= query', async () => {
    const body = review('validate-create-pod');
    const answer = await request({ port: webhook.server.port, ca: certs.caCert, path: '/validate?timeout=10s', body: JSON.stringify(body) });
    expect(answer.json().response.uid).toBe(body.request.uid);
    expect(answer.json().response.status.code).toBe(403);
  });

  it('still answers a valid request correctly afterwards', async () => {
    const body = review('mutate-create-pod');
    const response = await post('/mutate', body);
    expect(response.uid).toBe(body.request.uid);
    expect(decodePatch(response)).toHaveLength(2);
  });
});

describe('health and metrics', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await request({ port: webhook.server.port, ca: certs.caCert, method: 'GET', path: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await request({ port: webhook.server.port, ca: certs.caCert, method: 'GET', path: '/readyz' });
    expect(ready.status).toBe(200);
  });

  it('counts requests, violations by mode, dry runs and errors on the plain-HTTP metrics port', async () => {
    const before = await scrape();
    await post('/validate', review('validate-create-pod'));
    await post('/validate', review('validate-create-pod-dryrun'));
    await request({ port: webhook.server.port, ca: certs.caCert, path: '/validate', body: '{' });
    await request({ port: webhook.server.port, ca: certs.caCert, path: '/mutate', body: JSON.stringify(review('validate-create-pod')), headers: { 'content-type': 'text/plain' } });
    await request({ port: webhook.server.port, ca: certs.caCert, path: '/mutate', body: 'x'.repeat(7 * 1024 * 1024 + 1) });
    const after = await scrape();
    const delta = (series: string) => (after.get(series) ?? 0) - (before.get(series) ?? 0);
    expect(delta('tierguard_admission_requests_total{webhook="validate",kind="Pod",operation="CREATE",allowed="false",dry_run="false"}')).toBe(1);
    expect(delta('tierguard_admission_requests_total{webhook="validate",kind="Pod",operation="CREATE",allowed="false",dry_run="true"}')).toBe(1);
    expect(delta('tierguard_admission_violations_total{webhook="validate",kind="Pod",tier="security",guardrail="domain",rule="label:segment.example.com/domain",mode="Enforce",dry_run="true"}')).toBe(1);
    expect(delta('tierguard_admission_violations_total{webhook="validate",kind="Pod",tier="platform",guardrail="team-label",rule="label:team",mode="Warn",dry_run="false"}')).toBe(1);
    expect(delta('tierguard_admission_violations_total{webhook="validate",kind="Pod",tier="platform",guardrail="classification",rule="label:data.example.com/classification",mode="Audit",dry_run="false"}')).toBe(1);
    expect(delta('tierguard_admission_errors_total{webhook="validate",reason="bad_request"}')).toBe(1);
    expect(delta('tierguard_admission_errors_total{webhook="mutate",reason="bad_request"}')).toBe(1);
    expect(delta('tierguard_admission_errors_total{webhook="mutate",reason="too_large"}')).toBe(1);
    // Answered without being read, denied: requests too, so that errors over requests is a share.
    expect(delta('tierguard_admission_requests_total{webhook="validate",kind="unknown",operation="unknown",allowed="false",dry_run="false"}')).toBe(1);
    expect(delta('tierguard_admission_requests_total{webhook="mutate",kind="unknown",operation="unknown",allowed="false",dry_run="false"}')).toBe(2);
    expect(after.get('tierguard_policy_set_info{generation="1"}')).toBe(1);
    expect(after.get('tierguard_guardrails{tier="platform",mode="Warn"}')).toBe(1);
    expect(after.get('tierguard_policy_reloads_total{result="success"}')).toBe(1);
    expect(after.get('tierguard_tls_certificate_expiry_timestamp_seconds')).toBe(Math.floor(certs.notAfter.getTime() / 1000));
    expect(delta('tierguard_admission_duration_seconds_count{webhook="validate",kind="Pod"}')).toBe(2);
    expect([...after.keys()].some((series) => series.startsWith('process_cpu_user_seconds_total'))).toBe(true);
  });
});

