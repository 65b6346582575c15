// Engine-level cost of the symbolic override check (issue 3): one NetworkPolicy (the captured
// fixture, namespace payments) against 10, 100 and 1,000 network guardrails, p50/p99 per check.
// Most guardrails guard other namespaces (subject team=team-N); about 5% guard env=prod and so
// can apply to payments. The check should grow with the guardrails that can apply, not all.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { timeCalls } from './_timing.mjs';

export const title = 'network override check (engine, in-process)';
/** Run in a process of its own (bench/section-process.mjs): it reads only `ctx.repoRoot` and `ctx.settings`. */
export const ownProcess = true;

const SIZES = [10, 100, 1000];
// A last row keeps 1,000 guardrails but only 5 that can apply: the cost should follow those 5.
const SPARSE = { size: 1000, applying: 5 };

function guardrail(i, applies) {
  return {
    apiVersion: 'tierguard.dev/v1alpha1',
    kind: 'Guardrail',
    metadata: { name: `g-${String(i).padStart(4, '0')}` },
    spec: {
      tier: i % 2 === 0 ? 'security' : 'platform',
      priority: i % 997,
      subject: { namespaces: { matchLabels: applies ? { env: 'prod' } : { team: `team-${i}` } } },
      ingress: [
        { name: 'allow-monitoring', action: 'Accept', from: [{ namespaces: { matchLabels: { team: 'monitoring' } } }] },
        { name: 'deny-dev', action: 'Deny', from: [{ namespaces: { matchLabels: { env: 'dev' } } }], protocols: [{ tcp: { destinationPort: { number: 5000 + (i % 1000) } } }] },
      ],
      egress: [{ name: 'deny-range', action: 'Deny', to: [{ networks: [`203.0.${i % 256}.0/24`] }] }],
    },
  };
}

export async function run(ctx) {
  const dist = (p) => import(pathToFileURL(path.join(ctx.repoRoot, 'dist', p)).href);
  const { compilePolicySet } = await dist('policy/compile.js');
  const { validate } = await dist('engine/evaluate.js');
  const review = JSON.parse(readFileSync(path.join(ctx.repoRoot, 'test', 'fixtures', 'admission-reviews', 'validate-create-networkpolicy.json'), 'utf8'));
  const namespaces = [
    { name: 'payments', labels: { env: 'prod', 'kubernetes.io/metadata.name': 'payments' }, annotations: {} },
    { name: 'kube-system', labels: { 'kubernetes.io/metadata.name': 'kube-system' }, annotations: {} },
  ];
  const rows = [];
  const runs = [...SIZES.map((size) => ({ size, applying: Math.max(2, Math.round(size * 0.05)) })), SPARSE];
  for (const { size, applying } of runs) {
    const docs = [
      { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name: 'security' }, spec: { priority: 100 } },
      { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name: 'platform' }, spec: { priority: 200 } },
      ...Array.from({ length: size }, (_, i) => guardrail(i, i % Math.round(size / applying) === 0)),
    ];
    const { set, problems } = compilePolicySet({ documents: docs.map((value, i) => ({ source: { file: 'bench', document: i + 1 }, value })) }, { generation: 1 });
    if (!set) throw new Error(`bench policy set did not compile: ${JSON.stringify(problems.slice(0, 3))}`);
    const request = {
      operation: 'CREATE',
      kind: { group: 'networking.k8s.io', kind: 'NetworkPolicy' },
      namespace: { name: 'payments', labels: namespaces[0].labels, known: true },
      object: review.request.object,
      knownNamespaces: namespaces,
    };
    const options = { excludedNamespaces: new Set() };
    const { calls, p50us, p99us, last } = timeCalls(() => validate(set, request, options), ctx.settings.seconds);
    rows.push({ guardrails: size, canApply: applying, checks: calls, findings: last.findings.length, p50us, p99us });
  }
  return rows;
}
