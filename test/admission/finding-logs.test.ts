/**
 * Every Enforce and Audit finding of a request is logged as a line of its own (Warn findings go
 * to `response.warnings` only), in the order the findings were made, with the request's uid and
 * object. The lines of one request are written at once.
 */
import { describe, expect, it } from 'vitest';
import { createAdmissionHandler } from '../../src/admission/handler.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { parseManifestText } from '../../src/policy/manifests.js';
import { staticNamespaceLookup } from '../../src/policy/namespaces.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { review } from '../helpers/fixtures.js';

const POLICIES = `
apiVersion: tierguard.dev/v1alpha1
kind: Tier
metadata: {name: security}
spec: {priority: 100}
${['Enforce', 'Warn', 'Audit'].map((mode, i) => `---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: need-${mode.toLowerCase()}}
spec:
  tier: security
  priority: ${i + 1}
  mode: ${mode}
  compliance: ["C-${i}"]
  labels:
    match: {resources: [Pod]}
    required: [{key: ${mode.toLowerCase()}-a}, {key: ${mode.toLowerCase()}-b}]
`).join('')}`;

function handlerWithLog() {
  const { set, problems } = compilePolicySet(parseManifestText(POLICIES, 'policies.yaml'), { generation: 1 });
  if (!set) throw new Error(JSON.stringify(problems));
  const writes: string[] = [];
  const handler = createAdmissionHandler({
    policy: () => set,
    policyDocuments: () => [],
    namespaces: staticNamespaceLookup([{ name: 'payments', labels: { 'kubernetes.io/metadata.name': 'payments' }, annotations: {} }]),
    engine: { excludedNamespaces: new Set() },
    failureMode: 'deny',
    metrics: createMetrics(),
    logger: createLogger({ level: 'info', write: (lines) => writes.push(lines), now: () => new Date(0) }),
  });
  return { handler, writes };
}

describe('finding logs', () => {
  it('logs each Enforce and Audit finding, in order, in one write', async () => {
    const { handler, writes } = handlerWithLog();
    const body = review('validate-create-pod');
    const { review: answer } = await handler('validate', JSON.stringify(body));
    expect(answer.response?.allowed).toBe(false);
    expect(answer.response?.warnings).toEqual(['need-warn: metadata.labels[warn-a]: missing required label warn-a', 'need-warn: metadata.labels[warn-b]: missing required label warn-b']);
    const line = (mode: string, key: string, i: number) => JSON.stringify({
      time: '1970-01-01T00:00:00.000Z', level: 'info', msg: mode === 'Audit' ? 'audit finding' : 'violation', uid: body.request.uid, object: 'Pod payments/api-0', dryRun: false,
      tier: 'security', guardrail: `need-${mode.toLowerCase()}`, rule: `label:${key}`, mode, path: `metadata.labels[${key}]`, message: `missing required label ${key}`, compliance: [`C-${i}`],
    });
    expect(writes).toEqual([[line('Enforce', 'enforce-a', 0), line('Enforce', 'enforce-b', 0), line('Audit', 'audit-a', 2), line('Audit', 'audit-b', 2), ''].join('\n')]);
  });

  it('logs the uid, object and dry run of each request beside findings kept from earlier ones', async () => {
    // A missing label's finding, and so its logged fields, are shared from request to request.
    const { handler, writes } = handlerWithLog();
    const first = review('validate-create-pod');
    const second = review('validate-create-pod');
    Object.assign(second.request, { uid: 'second-uid', dryRun: true });
    second.request.object.metadata.name = 'api-1';
    await handler('validate', JSON.stringify(first));
    await handler('validate', JSON.stringify(second));
    const lines = writes.map((text) => text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>));
    expect(lines.map((request) => request.map(({ uid, object, dryRun, rule }) => ({ uid, object, dryRun, rule })))).toEqual([first, second].map((body, i) => ['enforce-a', 'enforce-b', 'audit-a', 'audit-b'].map((key) => ({
      uid: body.request.uid, object: `Pod payments/api-${i}`, dryRun: i === 1, rule: `label:${key}`,
    }))));
  });

  it('writes nothing for a request without findings to log', async () => {
    const { handler, writes } = handlerWithLog();
    const body = review('validate-create-pod');
    Object.assign(body.request.object.metadata.labels, { 'enforce-a': 'x', 'enforce-b': 'x', 'audit-a': 'x', 'audit-b': 'x' });
    const { review: answer } = await handler('validate', JSON.stringify(body));
    expect(answer.response?.allowed).toBe(true);
    expect(writes).toEqual([]);
  });
});
