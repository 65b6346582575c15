// Audit at scale (issue 12 item 6): the background audit's ledger (src/review/audit-ledger.ts,
// from dist/) fed a generated cluster — AUDIT_NAMESPACES namespaces from bench/realistic-set.mjs,
// two NetworkPolicies (a default deny and one allow rule) and ten Pods in each — as serve's
// watches feed it, against the realistic set's 100 guardrails, in-process. Prints the time of the
// full audit (wall and CPU), what it found, the heap the ledger holds afterwards (results, counts,
// Pod labels deduplicated per namespace) against the budget of 1 KB per namespace + 100 B per
// pod, and the time to re-audit after one change. Scale with BENCH_AUDIT_NAMESPACES (default 10,000: 20,000
// NetworkPolicies, 100,000 Pods); bounded by that count, not by time.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { generateRealisticSet } from '../realistic-set.mjs';

export const title = 'audit of a generated cluster (engine, in-process)';
/** Run in a process of its own (bench/section-process.mjs): it reads only `ctx.repoRoot` and `ctx.settings`. */
export const ownProcess = true;

const NAMESPACES = Number(process.env.BENCH_AUDIT_NAMESPACES ?? 10_000);
const PODS_PER_NAMESPACE = 10;
const APPS = ['api', 'web', 'worker', 'db', 'cache'];

export function estimatedSeconds() {
  // about 1 ms per object measured on this machine, plus generating and compiling
  return Math.ceil(NAMESPACES * (PODS_PER_NAMESPACE + 3) / 1000) + 30;
}

/**
 * Per namespace: two replicas of each of five Deployments (the replicas of one ReplicaSet carry the
 * same labels, as in a cluster) and two NetworkPolicies.
 */
function clusterObjects(namespaces) {
  const objects = [...namespaces];
  for (const ns of namespaces) {
    const name = ns.metadata.name;
    const team = ns.metadata.labels?.team ?? 'unowned';
    for (let i = 0; i < PODS_PER_NAMESPACE; i++) {
      const app = APPS[i % APPS.length];
      objects.push({
        apiVersion: 'v1', kind: 'Pod',
        metadata: { name: `${app}-${i}`, namespace: name, labels: { app, 'pod-template-hash': `h${app.length}`, team } },
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

/** Some kinds of the generated objects (a function of its own, so that no async frame keeps the rest alive). */
function objectsOf(namespaces, wanted) {
  return clusterObjects(namespaces).filter((object) => wanted(object.kind));
}

/** A full collection before each heap reading, without restarting node with --expose-gc. */
function heapReader() {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  return () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
}

export async function run(ctx) {
  const dist = (p) => import(pathToFileURL(path.join(ctx.repoRoot, 'dist', p)).href);
  const { compilePolicySet } = await dist('policy/compile.js');
  const { createAuditLedger } = await dist('review/audit-ledger.js');
  const { boundedRunner } = await dist('review/bounded.js');
  const { staticNamespaceLookup } = await dist('policy/namespaces.js');
  const { compactNamespace } = await dist('cluster/namespace-cache.js');
  const { buildReports } = await dist('cluster/reports.js');
  const { guardrailCounts } = await dist('review/audit-counts.js');
  const generated = generateRealisticSet({ seed: 1, guardrails: 100, namespaces: NAMESPACES });
  const documents = [...generated.tiers, ...generated.guardrails].map((value, i) => ({ source: { file: 'realistic', document: i + 1 }, value }));
  const { set, problems } = compilePolicySet({ documents }, { generation: 1, shadows: 'none' });
  if (!set) throw new Error(`the realistic set does not compile: ${problems.map((p) => p.message).join('; ')}`);
  const pods = NAMESPACES * PODS_PER_NAMESPACE;

  // The background audit's ledger (src/review/audit-ledger.ts), fed as serve's watches feed it:
  // one full list per kind, then isolation coverage everywhere, then the state reports are made of.
  const engine = { excludedNamespaces: new Set(['kube-system']), runBounded: boundedRunner(100), networkCheckBudget: { timeoutMs: 2000, now: () => performance.now() } };
  const namespaces = staticNamespaceLookup(generated.namespaces.map((object) => compactNamespace(object)));
  const heapAfterGc = heapReader();
  // What the index alone holds (evaluated objects, Pod labels grouped per namespace, what each
  // NetworkPolicy isolates): the same cluster against a set without guardrails, so no results.
  const noGuardrails = compilePolicySet({ documents: documents.filter((doc) => doc.value.kind === 'Tier') }, { generation: 1, shadows: 'none' }).set;
  // The Pods are made inside and dropped before the reading, as serve drops each listed Pod once
  // judged: what stays is the ledger's (Pod names and label sets). The NetworkPolicies are kept
  // outside, as the runtime's cache keeps them in serve whether or not the audit runs.
  const cached = objectsOf(generated.namespaces, (kind) => kind === 'NetworkPolicy');
  const indexBefore = heapAfterGc();
  const indexOnly = await (async () => {
    const objects = objectsOf(generated.namespaces, (kind) => kind !== 'NetworkPolicy').concat(cached);
    const book = createAuditLedger({ policy: () => noGuardrails, namespaces, engine });
    for (const kind of ['Namespace', 'NetworkPolicy', 'Pod']) await book.replaceKind(kind, objects.filter((object) => object.kind === kind));
    book.refreshIsolation('all');
    const expectedPods = objects.filter((object) => object.kind === 'Pod' && !engine.excludedNamespaces.has(object.metadata.namespace)).length;
    if (book.size().pods !== expectedPods) throw new Error(`the index holds ${book.size().pods} pods, not ${expectedPods}`);
    return book;
  })();
  const indexBytes = heapAfterGc() - indexBefore;
  const objects = clusterObjects(generated.namespaces);
  const byKind = (kind) => objects.filter((object) => object.kind === kind);

  const before = heapAfterGc();
  const ledger = createAuditLedger({ policy: () => set, namespaces, engine });
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (const kind of ['Namespace', 'NetworkPolicy', 'Pod']) await ledger.replaceKind(kind, byKind(kind));
  ledger.refreshIsolation('all');
  const state = ledger.state(new Date());
  const wallS = (performance.now() - wall0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const heldBytes = heapAfterGc() - before;
  const budget = NAMESPACES * 1024 + pods * 100;
  // What the report writer then builds for a leader's first write (in steps, the event loop
  // running between them): every namespace's PolicyReport.
  const build0 = performance.now();
  const reports = buildReports(state, 'policyreport', {});
  const reportBuildS = (performance.now() - build0) / 1000;
  const unproven = state.results.filter((result) => result.violations.some((violation) => violation.kind === 'unproven')).length;

  // One change, as a watch event brings it: judge the object, recompute its namespace's
  // isolation coverage, make the state, the changed namespace's PolicyReport and the Guardrail
  // status counts (what serve does before writing). Median and max of 50 each.
  ledger.state(new Date());
  const middle = generated.namespaces[Math.floor(NAMESPACES / 2)].metadata.name;
  const samplePod = byKind('Pod').find((object) => object.metadata.namespace === middle);
  const samplePolicy = byKind('NetworkPolicy').find((object) => object.metadata.namespace === middle && object.metadata.name === 'api-allow-web');
  const oneChange = async (change) => {
    const times = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      await change(i);
      ledger.refreshIsolation('changed');
      const changedState = ledger.state(new Date());
      buildReports(changedState, 'policyreport', { namespaces: changedState.changed });
      if (!changedState.counts) guardrailCounts(changedState);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { medianMs: Number(times[25].toFixed(2)), maxMs: Number(times[49].toFixed(2)) };
  };
  const podChange = await oneChange((i) => ledger.put({ ...samplePod, metadata: { ...samplePod.metadata, labels: { ...samplePod.metadata.labels, rev: String(i) } } }));
  const policyChange = await oneChange((i) => ledger.put({ ...samplePolicy, spec: { ...samplePolicy.spec, ingress: [{ ...samplePolicy.spec.ingress[0], ports: [{ port: 8000 + i, protocol: 'TCP' }] }] } }));
  const podDelete = await oneChange((i) => (i % 2 === 0 ? ledger.remove(samplePod) : ledger.put(samplePod)));

  const rows = [{
    namespaces: NAMESPACES,
    indexPods: indexOnly.size().pods,
    networkPolicies: NAMESPACES * 2,
    pods,
    objects: objects.length,
    fullAuditS: Number(wallS.toFixed(1)),
    cpuS: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
    usPerObject: Math.round((wallS * 1e6) / objects.length),
    objectsWithFindings: state.results.length,
    reportBuildS: Number(reportBuildS.toFixed(1)),
    reports: reports.namespaced.size + (reports.cluster ? 1 : 0),
    unproven,
    isolationGaps: state.isolation.length,
    indexBytesPerNamespace: Math.round(indexBytes / NAMESPACES),
    indexOfBudget: Number((indexBytes / budget).toFixed(2)),
    heldMB: Number((heldBytes / 1e6).toFixed(1)),
    bytesPerResult: Math.round((heldBytes - indexBytes) / Math.max(1, state.results.length)),
    podChangeMs: podChange.medianMs,
    podChangeMaxMs: podChange.maxMs,
    policyChangeMs: policyChange.medianMs,
    policyChangeMaxMs: policyChange.maxMs,
    podDeleteMs: podDelete.medianMs,
  }];
  const summary = [
    `audit: ${objects.length} objects (${NAMESPACES} namespaces, ${NAMESPACES * 2} NetworkPolicies, ${pods} Pods) in ${wallS.toFixed(1)} s (target 30 s), ${state.results.length} with findings, ${state.isolation.length} isolation gaps`,
    `audit: then every PolicyReport built (${reports.namespaced.size + (reports.cluster ? 1 : 0)} reports) in ${reportBuildS.toFixed(1)} s of CPU, in steps of 20 namespaces`,
    `audit: the index (evaluated objects, Pod labels per namespace, what NetworkPolicies isolate) holds ${(indexBytes / 1e6).toFixed(1)} MB, ${(indexBytes / budget).toFixed(2)} of the budget of 1 KB per namespace + 100 B per pod (${(budget / 1e6).toFixed(1)} MB); with the ${state.results.length} results, ${(heldBytes / 1e6).toFixed(1)} MB (${Math.round((heldBytes - indexBytes) / Math.max(1, state.results.length))} B per object with findings)`,
    `audit: one change re-audited (judged, isolation of its namespace, state, its namespace's report and the status counts made): Pod relabelled median ${podChange.medianMs} ms (max ${podChange.maxMs}), NetworkPolicy changed ${policyChange.medianMs} ms (max ${policyChange.maxMs}), Pod deleted/re-added ${podDelete.medianMs} ms (target 100 ms)`,
  ];
  return { title, rows, summary };
}
