// The symbolic override check at scale (issue 11 item 2): 1,000 network guardrails drawn
// independently by bench/realistic-set.mjs, exactly 50 of them able to apply to the namespace
// payments, against NetworkPolicies drawn at random (seeded) in realistic shapes, most in payments
// and some in other known namespaces, plus a few in a namespace tierguard does not know (where
// every guardrail may apply). Each policy is checked as the webhook checks it — the engine from
// dist/, the webhook's default time bound (--network-check-timeout) as `expired`, the same list of
// known namespaces every time — and the section shows p50/p99/max per NetworkPolicy (wall, and
// CPU, steadier on a shared machine), checks per second, how many had findings and how often a
// bound stopped the check (unproven, time or size: the webhook then denies). The set's load time
// is printed too: as serve loads it, and compiled again with the can-never-apply analysis.
// It calls the check itself, not the answers the webhook remembers for a policy reviewed before
// (src/engine/network/remembered-overrides.ts): every check is what a new policy costs.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { createRng, generateRealisticSet } from '../realistic-set.mjs';

export const title = 'override check at 1,000 independent guardrails (engine, in-process)';
/** Run in a process of its own (bench/section-process.mjs): it reads only `ctx.repoRoot` and `ctx.settings`. */
export const ownProcess = true;

const GUARDRAILS = 1000;
const APPLYING = { namespace: 'payments', network: 50 };
/** NetworkPolicies drawn; each is checked once to warm up, then round-robin while time is left. */
const POLICIES = 400;
/** Share of the policies in APPLYING.namespace; the rest go to other known namespaces. */
const APPLYING_SHARE = 0.8;
/** Policies checked in a namespace tierguard does not know (each may take up to the time bound). */
const UNKNOWN_POLICIES = 8;

export function estimatedSeconds(settings) {
  // compile (~10 s on a busy 2-core machine), warm-up, the timed checks, then the unknown namespace (<= 8 x 2 s)
  return 25 + Math.min(10, settings.seconds * 2) + 2 * UNKNOWN_POLICIES;
}

// ---------------------------------------------------------------- NetworkPolicies

const NAME_LABEL = 'kubernetes.io/metadata.name';
const DOMAIN_LABEL = 'segment.tierguard.dev/domain';
const WORDS = ['atlas', 'beacon', 'cobalt', 'delta', 'ember', 'falcon', 'harbor', 'kestrel', 'nova', 'quartz', 'raven', 'frontend', 'backend', 'api', 'postgres', 'redis'];
const COMPONENTS = ['api', 'web', 'worker', 'db', 'cache', 'gateway', 'stream', 'admin'];
const APP_COMPONENTS = ['server', 'database', 'cache', 'queue', 'frontend', 'worker', 'proxy', 'exporter'];
const ROLES = ['debug', 'admin', 'db', 'cache', 'proxy', 'gateway', 'batch', 'scanner'];
const PORTS = [53, 80, 443, 2379, 3000, 3306, 5000, 5432, 5672, 6379, 8000, 8080, 8443, 9000, 9090, 9092, 9100, 9200, 11211, 27017];
const NAMED_PORTS = ['http', 'https', 'metrics', 'grpc', 'postgres', 'redis'];
const ENVS = ['prod', 'staging', 'dev', 'test'];
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

const appName = (r) => `${r.pick(WORDS)}-${r.pick(COMPONENTS)}`;

function drawPodSelector(r, { empty = 0.1 } = {}) {
  if (r.chance(empty)) return {};
  const form = r.weighted([['app', 55], ['app-in', 10], ['component', 15], ['role', 10], ['app-role', 10]]);
  if (form === 'app') return { matchLabels: { app: appName(r) } };
  if (form === 'app-in') return { matchExpressions: [{ key: 'app', operator: 'In', values: [...new Set([appName(r), appName(r), appName(r)])].sort() }] };
  if (form === 'component') return { matchLabels: { 'app.kubernetes.io/component': r.pick(APP_COMPONENTS) } };
  if (form === 'role') return { matchLabels: { role: r.pick(ROLES) } };
  return { matchLabels: { app: appName(r), role: r.pick(ROLES) } };
}

/** A namespace selector naming what real namespaces carry: a name, env, team, domain, or any. */
function drawNamespaceSelector(r, namespaces) {
  const target = r.pick(namespaces).metadata.labels;
  const form = r.weighted([['name', 35], ['env', 15], ['team', 15], ['domain', 10], ['env-domain', 10], ['not-env', 5], ['any', 10]]);
  if (form === 'name') return { matchLabels: { [NAME_LABEL]: target[NAME_LABEL] } };
  if (form === 'env') return { matchLabels: { env: target.env ?? r.pick(ENVS) } };
  if (form === 'team') return { matchLabels: { team: target.team } };
  if (form === 'domain') return { matchLabels: { [DOMAIN_LABEL]: target[DOMAIN_LABEL] } };
  if (form === 'env-domain') return { matchLabels: { env: target.env ?? r.pick(ENVS), [DOMAIN_LABEL]: target[DOMAIN_LABEL] } };
  if (form === 'not-env') return { matchExpressions: [{ key: 'env', operator: 'NotIn', values: [r.pick(ENVS)] }] };
  return {};
}

function ipv4(r, bits) {
  const base = r.weighted([[() => (10 << 24) | r.int(0, 0xffffff), 50], [() => (192 << 24) | (168 << 16) | r.int(0, 0xffff), 20], [() => r.int(11, 223) << 24 | r.int(0, 0xffffff), 30]])();
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const n = (base & mask) >>> 0;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${bits}`;
}

function drawIpBlock(r, direction) {
  if (direction === 'egress' && r.chance(0.3)) return { cidr: '0.0.0.0/0', except: r.sample(PRIVATE, r.int(0, 3)) };
  if (r.chance(0.1)) return { cidr: `fd00:${r.int(0, 0xffff).toString(16)}::/48` };
  const bits = r.pick([16, 20, 24, 24, 28, 32]);
  const cidr = ipv4(r, bits);
  if (bits > 24 || !r.chance(0.25)) return { cidr };
  // an except strictly inside the block: the block's first address with a longer prefix
  return { cidr, except: [`${cidr.split('/')[0]}/${bits + r.int(2, 8)}`] };
}

function drawPeer(r, ctx, direction) {
  const kind = r.weighted([['pods', 30], ['namespaces', 25], ['both', 25], ['ipBlock', direction === 'egress' ? 30 : 15]]);
  if (kind === 'pods') return { podSelector: drawPodSelector(r) };
  if (kind === 'namespaces') return { namespaceSelector: drawNamespaceSelector(r, ctx.namespaces) };
  if (kind === 'both') return { namespaceSelector: drawNamespaceSelector(r, ctx.namespaces), podSelector: drawPodSelector(r, { empty: 0.3 }) };
  return { ipBlock: drawIpBlock(r, direction) };
}

function drawPorts(r) {
  return Array.from({ length: r.weighted([[1, 55], [2, 30], [3, 15]]) }, () => {
    const form = r.weighted([['tcp', 60], ['udp', 10], ['range', 12], ['named', 15], ['sctp', 3]]);
    if (form === 'tcp') return { protocol: 'TCP', port: r.pick(PORTS) };
    if (form === 'udp') return { protocol: 'UDP', port: r.pick([53, 123, 514, 8125]) };
    if (form === 'sctp') return { protocol: 'SCTP', port: r.int(1024, 65535) };
    if (form === 'named') return { port: r.pick(NAMED_PORTS) };
    const port = r.chance(0.5) ? r.pick(PORTS) : r.int(1024, 60000);
    return { protocol: 'TCP', port, endPort: Math.min(65535, port + r.pick([9, 99, 999, 4999])) };
  });
}

function drawRule(r, ctx, direction) {
  const rule = {};
  if (!r.chance(0.1)) rule[direction === 'ingress' ? 'from' : 'to'] = Array.from({ length: r.weighted([[1, 60], [2, 30], [3, 10]]) }, () => drawPeer(r, ctx, direction));
  if (!r.chance(0.25)) rule.ports = drawPorts(r);
  return rule;
}

const DNS_RULE = {
  to: [{ namespaceSelector: { matchLabels: { [NAME_LABEL]: 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
  ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
};

/**
 * A NetworkPolicy as application teams write them: a pod selector (rarely the whole namespace),
 * ingress and/or egress rules with podSelector, namespaceSelector, both or ipBlock peers, and
 * numbered, ranged or named ports; egress policies often allow DNS first.
 * `ctx`: { namespace, namespaces (Namespace objects peers may select) }.
 */
export function drawNetworkPolicy(r, ctx, name) {
  const shape = r.weighted([['ingress', 45], ['egress', 20], ['both', 35]]);
  const spec = { podSelector: drawPodSelector(r, { empty: 0.15 }) };
  const types = [];
  if (shape !== 'egress') {
    types.push('Ingress');
    if (!r.chance(0.05)) spec.ingress = Array.from({ length: r.weighted([[1, 50], [2, 30], [3, 20]]) }, () => drawRule(r, ctx, 'ingress'));
  }
  if (shape !== 'ingress') {
    types.push('Egress');
    const rules = Array.from({ length: r.weighted([[1, 50], [2, 35], [3, 15]]) }, () => drawRule(r, ctx, 'egress'));
    spec.egress = r.chance(0.5) ? [DNS_RULE, ...rules] : rules;
  }
  spec.policyTypes = types;
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ctx.namespace }, spec };
}

/** `count` NetworkPolicies, `applyingShare` of them in `applying`, the others in other namespaces of `namespaces`. */
export function drawNetworkPolicies({ seed, count, applying, applyingShare, namespaces }) {
  const others = namespaces.filter((ns) => ns.metadata.name !== applying);
  return Array.from({ length: count }, (_, i) => {
    const r = createRng(seed, `networkpolicy/${i}`);
    const namespace = r.chance(applyingShare) ? applying : r.pick(others).metadata.name;
    return drawNetworkPolicy(r, { namespace, namespaces }, `np-${String(i).padStart(4, '0')}`);
  });
}

// ---------------------------------------------------------------- the run

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** One row: wall time per check (what a request waits), CPU per check (steadier on a shared machine), answers. */
function row(name, samples, answers) {
  const wall = samples.map((s) => s.wallUs).sort((a, b) => a - b);
  const cpu = samples.map((s) => s.cpuUs).sort((a, b) => a - b);
  const totalUs = wall.reduce((a, b) => a + b, 0);
  return {
    policies: name,
    count: answers.length,
    checks: wall.length,
    p50us: Math.round(quantile(wall, 0.5)),
    p99us: Math.round(quantile(wall, 0.99)),
    maxUs: Math.round(wall.at(-1) ?? 0),
    cpuP50us: Math.round(quantile(cpu, 0.5)),
    cpuP99us: Math.round(quantile(cpu, 0.99)),
    checksPerS: totalUs > 0 ? Math.round((wall.length * 1e6) / totalUs) : null,
    withFindings: answers.filter((a) => a.findings > 0).length,
    unprovenTime: answers.filter((a) => a.unproven === 'time').length,
    unprovenSize: answers.filter((a) => a.unproven === 'size').length,
  };
}

const ms = (us) => (us / 1000).toFixed(2);

export async function run(ctx) {
  const dist = (p) => import(pathToFileURL(path.join(ctx.repoRoot, 'dist', p)).href);
  const { compilePolicySet } = await dist('policy/compile.js');
  const { checkOverrides } = await dist('engine/network/override.js');
  const { serveOptionsSchema } = await dist('config/options.js');
  const timeoutMs = serveOptionsSchema.parse({}).networkCheckTimeoutMs;
  const seed = ctx.settings.realistic?.seed ?? 1;

  const generated = generateRealisticSet({ seed, guardrails: GUARDRAILS, mix: { network: 1, labels: 0, cel: 0 }, applying: APPLYING });
  const documents = [...generated.tiers, ...generated.guardrails, ...generated.namespaces].map((value, i) => ({ source: { file: 'realistic', document: i + 1 }, value }));
  // As serve loads it (the can-never-apply analysis runs afterwards, in the background), then
  // the same documents again with that analysis, as lint runs it (their readings are kept by now).
  const loadStart = performance.now();
  compilePolicySet({ documents }, { generation: 1, shadows: 'none' });
  const loadMs = performance.now() - loadStart;
  const compileStart = performance.now();
  const compiled = compilePolicySet({ documents }, { generation: 1 });
  const compileMs = performance.now() - compileStart;
  if (!compiled.set) throw new Error(`the realistic set did not compile: ${JSON.stringify(compiled.problems.slice(0, 3))}`);
  const { set, namespaces } = compiled;
  const known = new Map(namespaces.map((ns) => [ns.name, ns]));

  /** One check as the webhook runs it: the same known-namespace list every time, its time bound as `expired`. */
  const check = (policy, namespace) => {
    const wall = performance.now();
    const cpu = process.cpuUsage();
    const deadline = wall + timeoutMs;
    const out = checkOverrides(set, { policy, namespace, knownNamespaces: namespaces, expired: () => performance.now() >= deadline });
    const used = process.cpuUsage(cpu);
    return { wallUs: (performance.now() - wall) * 1000, cpuUs: used.user + used.system, findings: out.findings.length, unproven: out.unproven?.bound.kind };
  };
  const inKnown = (policy) => {
    const own = known.get(policy.metadata.namespace);
    return { name: own.name, labels: own.labels, known: true };
  };

  const policies = drawNetworkPolicies({ seed, count: POLICIES, applying: APPLYING.namespace, applyingShare: APPLYING_SHARE, namespaces: generated.namespaces });
  // warm-up: every policy once (JIT, and the memo of guardrail regions a running server keeps); its answers are the rows'
  const answers = policies.map((policy) => ({ namespace: policy.metadata.namespace, ...check(policy, inKnown(policy)) }));
  const samples = [];
  const until = performance.now() + Math.min(10, ctx.settings.seconds * 2) * 1000;
  for (let i = 0; i < policies.length || performance.now() < until; i++) {
    const policy = policies[i % policies.length];
    samples.push({ namespace: policy.metadata.namespace, ...check(policy, inKnown(policy)) });
  }
  // A namespace tierguard has no record of may carry any labels: every guardrail may apply.
  const unknownPolicies = drawNetworkPolicies({ seed: `${seed}/unknown`, count: UNKNOWN_POLICIES, applying: APPLYING.namespace, applyingShare: 1, namespaces: generated.namespaces });
  const unknown = unknownPolicies.map((policy) => {
    const name = 'not-yet-known';
    policy.metadata.namespace = name;
    return { namespace: name, ...check(policy, { name, labels: { [NAME_LABEL]: name }, known: false }) };
  });

  const inApplying = (s) => s.namespace === APPLYING.namespace;
  const inOther = (s) => !inApplying(s);
  // A policy the check passes is one the webhook can admit (the common case); one with findings is
  // denied, and its time grows with its findings (an example is searched for each).
  const passed = (s) => inApplying(s) && s.findings === 0;
  const found = (s) => inApplying(s) && s.findings > 0;
  const rows = [
    row(`in ${APPLYING.namespace} (${APPLYING.network} can apply)`, samples.filter(inApplying), answers.filter(inApplying)),
    row(`— of which no finding`, samples.filter(passed), answers.filter(passed)),
    row(`— of which findings`, samples.filter(found), answers.filter(found)),
    row('in other known namespaces', samples.filter(inOther), answers.filter(inOther)),
    row('all in known namespaces', samples, answers),
    row('in an unknown namespace (all may apply)', unknown, unknown),
  ];
  const stats = generated.stats;
  console.log(
    `  set: seed ${seed}, ${stats.network} network guardrails (${stats.rules} rules), ${stats.namespaces} namespaces; ` +
      `${stats.applying.network} can apply in ${APPLYING.namespace}; time bound ${timeoutMs} ms (--network-check-timeout default); ` +
      `loaded as serve loads it in ${(loadMs / 1000).toFixed(2)} s; compiled again with the can-never-apply analysis (lint; serve runs it in the background) ` +
      `in ${(compileMs / 1000).toFixed(2)} s (${compiled.warnings.length} warnings)`,
  );
  const [applying, noFinding, withFinding, , all, outside] = rows;
  const stopped = (r) => r.unprovenTime + r.unprovenSize;
  const summary = [
    `override check, ${GUARDRAILS} independent guardrails, ${APPLYING.network} can apply: p50 ${ms(applying.p50us)} ms, p99 ${ms(applying.p99us)} ms ` +
      `(CPU p99 ${ms(applying.cpuP99us)} ms) per NetworkPolicy in ${APPLYING.namespace} (p99 ${ms(noFinding.p99us)} ms for the ${noFinding.count} with no finding, ` +
      `${ms(withFinding.p99us)} ms for the ${withFinding.count} with findings); all ${all.count} in known namespaces p99 ${ms(all.p99us)} ms, ` +
      `${all.checksPerS} checks/s, bound stopped ${stopped(all)}; unknown namespace: bound stopped ${stopped(outside)} of ${outside.count}; ` +
      `load ${(loadMs / 1000).toFixed(2)} s (with the can-never-apply analysis ${(compileMs / 1000).toFixed(2)} s)`,
  ];
  return { title, rows, summary, loadMs: Math.round(loadMs), compileMs: Math.round(compileMs), timeoutMs };
}
