// Engine-level cost of CEL validations (issue 4): one Pod (the captured fixture) against 10 and
// 100 validations, evaluated as the webhook does — converted once, under the vm time bound.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { timeCalls } from './_timing.mjs';

export const title = 'CEL validations (engine, in-process, with the time bound)';
/** Run in a process of its own (bench/section-process.mjs): it reads only `ctx.repoRoot` and `ctx.settings`. */
export const ownProcess = true;

const EXPRESSIONS = [
  "!object.?spec.?hostNetwork.orValue(false)",
  "object.spec.containers.all(c, c.image.contains(':'))",
  "object.metadata.?labels[?'app'].orValue('') != 'forbidden'",
  "!has(object.spec.securityContext) || !object.spec.?securityContext.?runAsUser.hasValue() || object.spec.securityContext.runAsUser != 0",
  "object.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
  "object.spec.containers.all(c, !has(c.ports) || c.ports.all(p, p.containerPort + 1 > 1))",
  "request.operation in ['CREATE', 'UPDATE']",
  "namespaceObject.metadata.name == request.namespace",
  "size(object.spec.containers) < 50",
  "object.spec.containers.exists(c, c.name != '')",
];

export async function run(ctx) {
  const dist = (p) => import(pathToFileURL(path.join(ctx.repoRoot, 'dist', p)).href);
  const { compilePolicySet } = await dist('policy/compile.js');
  const { validate } = await dist('engine/evaluate.js');
  const { boundedRunner } = await dist('review/bounded.js');
  const review = JSON.parse(readFileSync(path.join(ctx.repoRoot, 'test', 'fixtures', 'admission-reviews', 'validate-create-pod.json'), 'utf8'));
  const rows = [];
  for (const count of [10, 100]) {
    const validations = Array.from({ length: count }, (_, i) => ({ resources: ['Pod'], expression: EXPRESSIONS[i % EXPRESSIONS.length], message: `v${i}` }));
    const docs = [
      { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name: 'security' }, spec: { priority: 100 } },
      { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Guardrail', metadata: { name: 'cel' }, spec: { tier: 'security', priority: 1, validations } },
    ];
    const { set, problems } = compilePolicySet({ documents: docs.map((value, i) => ({ source: { file: 'bench', document: i + 1 }, value })) }, { generation: 1 });
    if (!set) throw new Error(`bench policy set did not compile: ${JSON.stringify(problems.slice(0, 3))}`);
    const request = {
      operation: 'CREATE',
      kind: { group: '', kind: 'Pod' },
      namespace: { name: 'payments', labels: { 'kubernetes.io/metadata.name': 'payments' }, known: true },
      object: review.request.object,
      celRequest: () => ({ operation: 'CREATE', namespace: 'payments', name: 'api-0', dryRun: false, userInfo: review.request.userInfo, kind: review.request.kind }),
    };
    const options = { excludedNamespaces: new Set(), runBounded: boundedRunner(100) };
    const { calls, p50us, p99us, last } = timeCalls(() => validate(set, request, options), ctx.settings.seconds);
    rows.push({ validations: count, requests: calls, findings: last.findings.length, errors: last.errors.length, p50us, p99us });
  }
  return rows;
}
