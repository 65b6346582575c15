// Audit at scale (issue 12 item 6): `tierguard audit`'s evaluation (src/review/audit.ts, from
// dist/) of a generated cluster — AUDIT_NAMESPACES namespaces from bench/realistic-set.mjs, two
// NetworkPolicies (a default deny and one allow rule) and ten Pods in each — against the
// realistic set's 100 guardrails, in-process. Prints the time of the full audit (wall and CPU),
// what it found, and the heap the isolation index keeps (Pod labels, deduplicated per namespace)
// per namespace and per pod. Scale with BENCH_AUDIT_NAMESPACES (default 10,000: 20,000
// NetworkPolicies, 100,000 Pods); bounded by that count, not by time.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { generateRealisticSet } from '../realistic-set.mjs';

export const title = 'audit of a generated cluster (engine, in-process)';

const NAMESPACES = Number(process.env.BENCH_AUDIT_NAMESPACES ?? 10_000);
const PODS_PER_NAMESPACE = 10;
const APPS = ['api', 'web', 'worker', 'db', 'cache'];

export function estimatedSeconds() {
  // about 1 ms per object measured on this machine, plus generating and compiling
  return Math.ceil(NAMESPACES * (PODS_PER_NAMESPACE + 3) / 1000) + 30;
}

/** Ten Pods of five apps (two ReplicaSet hashes each) and two NetworkPolicies per namespace. */
function clusterObjects(namespaces) {
  const objects = [...namespaces];
  for (const ns of namespaces) {
    const name = ns.metadata.name;
    const team = ns.metadata.labels?.team ?? 'unowned';
    for (let i = 0; i < PODS_PER_NAMESPACE; i++) {
      const app = APPS[i % APPS.length];
      objects.push({
        apiVersion: 'v1', kind: 'Pod',
        metadata: { name: `${app}-${i}`, namespace: name, labels: { app, 'pod-template-hash': `h${i % 2}`, team } },
        spec: { containers: [{ name: app, image: `registry.example.com/${app}:1.${i % 2}`, resources: { limits: { cpu: '1' } } }] },
      });
    }
    objects.push({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny', namespace: name }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } });
    objects.push({
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'api-allow-web', namespace: name },
      spec: { podSelector: { matchLabels: { app: 'api' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 8080, protocol: 'TCP' }] }] },
    });
  }
  return objects;
}

/** A full collection before each heap reading, without restarting node with --expose-gc. */
function heapReader() {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  return () => {
    gc();
    return process.memoryUsage().heapUsed;
  };
}

export async function run(ctx) {
  const dist = (p) => import(pathToFileURL(path.join(ctx.repoRoot, 'dist', p)).href);
  const { compilePolicySet } = await dist('policy/compile.js');
  const { auditObjects, podGroups } = await dist('review/audit.js');
  const { boundedRunner } = await dist('review/bounded.js');
  const generated = generateRealisticSet({ seed: 1, guardrails: 100, namespaces: NAMESPACES });
  const documents = [...generated.tiers, ...generated.guardrails].map((value, i) => ({ source: { file: 'realistic', document: i + 1 }, value }));
  const { set, problems } = compilePolicySet({ documents }, { generation: 1, shadows: 'none' });
  if (!set) throw new Error(`the realistic set does not compile: ${problems.map((p) => p.message).join('; ')}`);
  const objects = clusterObjects(generated.namespaces);
  const pods = NAMESPACES * PODS_PER_NAMESPACE;

  const heapAfterGc = heapReader();
  const before = heapAfterGc();
  const index = podGroups(objects);
  const indexBytes = heapAfterGc() - before;

  const engine = { excludedNamespaces: new Set(['kube-system']), runBounded: boundedRunner(100), networkCheckBudget: { timeoutMs: 2000, now: () => performance.now() } };
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const report = await auditObjects({ set, objects, namespaces: [], engine });
  const wallS = (performance.now() - wall0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const unproven = report.results.filter((result) => result.violations.some((violation) => violation.kind === 'unproven')).length;
  const rows = [{
    namespaces: NAMESPACES,
    networkPolicies: NAMESPACES * 2,
    pods,
    objects: objects.length,
    fullAuditS: Number(wallS.toFixed(1)),
    cpuS: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
    usPerObject: Math.round((wallS * 1e6) / objects.length),
    objectsWithFindings: report.results.length,
    unproven,
    isolationGaps: report.isolation.length,
    indexBytesPerNamespace: Math.round(indexBytes / NAMESPACES),
    indexBytesPerPod: Math.round(indexBytes / pods),
  }];
  const summary = [
    `audit: ${objects.length} objects (${NAMESPACES} namespaces, ${NAMESPACES * 2} NetworkPolicies, ${pods} Pods) in ${wallS.toFixed(1)} s (target 30 s), ${report.results.length} with findings, ${report.isolation.length} isolation gaps; the pod-label index holds ${Math.round(indexBytes / NAMESPACES)} B per namespace (${index.size} namespaces with pods)`,
  ];
  return { title, rows, summary };
}
