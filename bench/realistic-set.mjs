// A realistic tierguard policy set, generated reproducibly (issue 11): Tiers, Guardrails with
// network rules, label rules and CEL validations, and Namespaces with labels. Every guardrail
// draws its own selectors, CIDRs and ports from a seeded PRNG (no few shared values), so the set
// looks like what platform teams write, not like one rule copied a hundred times. Label values,
// though, come from one organisation-wide vocabulary per key, as in a real organisation, so that
// all the rules that apply to an object can be met at once. The same seed and options always
// give the same documents and the same files.
//
//   node bench/realistic-set.mjs [DIR] [--seed N] [--guardrails N] [--namespaces N]
//        [--applying-namespace NS] [--applying-network N] [--applying-labels N] [--quiet]
//
// DIR defaults to bench/results/realistic/ (git-ignored). Load it with
// `node dist/cli/main.js lint --config DIR` or `serve --config DIR`.
//
// As a module: generateRealisticSet(options) returns the documents and statistics;
// writeRealisticSet(dir, set) writes them (only the files named in FILES, nothing else).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const API = 'tierguard.dev/v1alpha1';
const NAME_LABEL = 'kubernetes.io/metadata.name';
const DOMAIN_LABEL = 'segment.tierguard.dev/domain';
const PCI_LABEL = 'compliance.tierguard.dev/pci';
const OWNER_REQUIRED_LABEL = 'tierguard.io/require-owner';

/** The files writeRealisticSet writes, in this order (one kind of document each). */
export const FILES = ['tiers.yaml', 'guardrails-network.yaml', 'guardrails-labels.yaml', 'guardrails-cel.yaml', 'namespaces.yaml'];

export const DEFAULTS = Object.freeze({
  seed: 1,
  guardrails: 100,
  namespaces: 1000,
  // shares of network / label / CEL guardrails; CEL guardrails carry celPerGuardrail expressions
  mix: Object.freeze({ network: 0.6, labels: 0.3, cel: 0.1 }),
  celPerGuardrail: 2,
  // { namespace, network?, labels? }: exactly that many network guardrails (subject) and label
  // guardrails (match.namespaces) can apply to objects in `namespace`; unset = drawn freely
  applying: undefined,
});

// ---------------------------------------------------------------- seeded PRNG

/** A string hash (cyrb53-like) to a 32-bit seed. */
function hashSeed(text) {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  return h1 >>> 0;
}

/**
 * A deterministic PRNG (mulberry32) for one stream, named so that each part of the set (each
 * namespace, each guardrail) has its own stream: adding guardrails does not change the others.
 */
export function createRng(seed, stream = '') {
  let a = hashSeed(`${seed}/${stream}`);
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min, max) => min + Math.floor(next() * (max - min + 1));
  const pick = (items) => items[Math.floor(next() * items.length)];
  const chance = (p) => next() < p;
  /** [[value, weight], ...] */
  const weighted = (pairs) => {
    const total = pairs.reduce((s, [, w]) => s + w, 0);
    let x = next() * total;
    for (const [value, w] of pairs) {
      x -= w;
      if (x < 0) return value;
    }
    return pairs[pairs.length - 1][0];
  };
  const shuffle = (items) => {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  };
  /** k distinct items, in a random order */
  const sample = (items, k) => shuffle(items).slice(0, Math.min(k, items.length));
  return { next, int, pick, chance, weighted, shuffle, sample };
}

// ---------------------------------------------------------------- vocabulary

const ENVS = [['prod', 35], ['staging', 25], ['dev', 30], ['test', 10]];
const ENV_NAMES = ENVS.map(([e]) => e);
const DOMAINS = [
  'payments', 'checkout', 'billing', 'ledger', 'fraud', 'identity', 'auth', 'search', 'catalog', 'inventory',
  'shipping', 'orders', 'accounts', 'analytics', 'reporting', 'messaging', 'notifications', 'media', 'content',
  'edge', 'core', 'data', 'ml', 'support',
];
const PCI_DOMAINS = new Set(['payments', 'checkout', 'billing', 'ledger', 'fraud']);
const TEAM_SUFFIXES = ['api', 'web', 'data', 'ops', 'mobile', 'infra', 'core'];
const NS_TIERS = [['frontend', 25], ['backend', 45], ['data', 20], ['batch', 10]];
const NS_TIER_NAMES = [...NS_TIERS.map(([t]) => t), 'platform'];
const COMPONENTS = ['api', 'web', 'worker', 'jobs', 'db', 'cache', 'gateway', 'stream', 'sync', 'admin', 'ui', 'search'];
const WORDS = [
  'atlas', 'beacon', 'cobalt', 'delta', 'ember', 'falcon', 'garnet', 'harbor', 'iris', 'juniper', 'kestrel',
  'lumen', 'meridian', 'nova', 'onyx', 'pioneer', 'quartz', 'raven', 'sierra', 'tundra', 'umbra', 'vertex',
  'willow', 'xenon', 'yarrow', 'zephyr', 'frontend', 'backend', 'api', 'db', 'redis', 'kafka', 'postgres',
];
const ROLES = ['debug', 'admin', 'db', 'cache', 'proxy', 'gateway', 'batch', 'scanner', 'ingress', 'egress-gw', 'bastion'];
const APP_COMPONENTS = ['server', 'database', 'cache', 'queue', 'frontend', 'worker', 'proxy', 'exporter'];
// Kubernetes named ports (IANA_SVC_NAME: lowercase, at most 15 characters, a letter, no "--")
const NAMED_PORTS = [
  'http', 'https', 'metrics', 'grpc', 'admin', 'health', 'dns', 'dns-tcp', 'postgres', 'mysql', 'redis', 'kafka',
  'amqp', 'http-alt', 'prom', 'debug', 'profiler', 'jmx', 'gossip', 'raft', 'ldap', 'smtp', 'web', 'tls',
];
const COMMON_PORTS = [
  22, 25, 53, 80, 88, 123, 389, 443, 445, 636, 1433, 1521, 2049, 2379, 2380, 3000, 3306, 3389, 4222, 5000, 5432,
  5601, 5672, 6379, 6443, 7000, 8000, 8080, 8081, 8443, 8888, 9000, 9090, 9092, 9093, 9100, 9200, 9300, 9418,
  10250, 11211, 15672, 27017,
];
const COMPLIANCE = [
  'PCI-DSS 1.2.1', 'PCI-DSS 1.3.1', 'PCI-DSS 1.3.4', 'PCI-DSS 2.2', 'NIST SP 800-53 SC-7', 'NIST SP 800-53 AC-4',
  'NIST SP 800-53 CM-7', 'SOC 2 CC6.6', 'ISO 27001 A.13.1.3', 'CIS 5.3.2', 'HIPAA 164.312(e)(1)',
];
const PLATFORM_NAMESPACES = ['kube-system', 'monitoring', 'logging', 'ingress-nginx', 'cert-manager'];
const TIER_DEFS = [
  { name: 'security', range: [50, 150], description: 'Non-negotiable controls owned by the security team' },
  { name: 'compliance', range: [200, 300], description: 'Regulatory scope: PCI, SOC 2, HIPAA' },
  { name: 'platform', range: [400, 600], description: 'Segmentation conventions owned by the platform team' },
  { name: 'baseline', range: [800, 950], description: 'Defaults that application NetworkPolicies may refine' },
];

// ---------------------------------------------------------------- label selectors

/** Kubernetes LabelSelector semantics (all terms ANDed; NotIn and DoesNotExist admit a missing key). */
export function selectorMatches(selector, labels) {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const { key, operator, values } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    if (operator === 'In' && !(has && values.includes(labels[key]))) return false;
    if (operator === 'NotIn' && has && values.includes(labels[key])) return false;
    if (operator === 'Exists' && !has) return false;
    if (operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

function teamsOf(domain) {
  return TEAM_SUFFIXES.map((s) => `${domain}-${s}`);
}
const ALL_TEAMS = DOMAINS.flatMap(teamsOf);

/**
 * A namespace selector as platform teams write them, drawn anew for each use: the keys and the
 * values (and how many values) are independent draws, so two guardrails rarely share one.
 */
function drawNamespaceSelector(r, ctx, { peer = false } = {}) {
  const form = r.weighted([
    ['env', 12], ['env-tier', 8], ['domain', 10], ['domain-in', 8], ['team', 10], ['team-in', 6], ['env-domain-in', 8],
    ['env-notin', 5], ['pci', 5], ['name', peer ? 8 : 3], ['tier-in-env', 6], ['env-no-pci', 3], ['all', peer ? 6 : 1],
    ['platform', peer ? 8 : 1],
  ]);
  const env = () => r.weighted(ENVS);
  switch (form) {
    case 'env': return { matchLabels: { env: env() } };
    case 'env-tier': return { matchLabels: { env: env(), tier: r.weighted(NS_TIERS) } };
    case 'domain': return { matchLabels: { [DOMAIN_LABEL]: r.pick(DOMAINS) } };
    case 'domain-in': return { matchExpressions: [{ key: DOMAIN_LABEL, operator: 'In', values: r.sample(DOMAINS, r.int(2, 5)).sort() }] };
    case 'team': return { matchLabels: { team: r.pick(ALL_TEAMS) } };
    case 'team-in': return { matchExpressions: [{ key: 'team', operator: 'In', values: r.sample(ALL_TEAMS, r.int(2, 6)).sort() }] };
    case 'env-domain-in':
      return {
        matchLabels: { env: env() },
        matchExpressions: [{ key: DOMAIN_LABEL, operator: 'In', values: r.sample(DOMAINS, r.int(2, 6)).sort() }],
      };
    case 'env-notin': return { matchExpressions: [{ key: 'env', operator: 'NotIn', values: r.sample(ENV_NAMES, r.int(1, 2)).sort() }] };
    case 'pci':
      return r.chance(0.5)
        ? { matchLabels: { [PCI_LABEL]: 'true' } }
        : { matchLabels: { env: env() }, matchExpressions: [{ key: PCI_LABEL, operator: 'Exists' }] };
    case 'name': return { matchLabels: { [NAME_LABEL]: r.pick(ctx.namespaceNames) } };
    case 'tier-in-env':
      return {
        matchLabels: { env: env() },
        matchExpressions: [{ key: 'tier', operator: 'In', values: r.sample(NS_TIER_NAMES, r.int(1, 3)).sort() }],
      };
    case 'env-no-pci': return { matchLabels: { env: env() }, matchExpressions: [{ key: PCI_LABEL, operator: 'DoesNotExist' }] };
    case 'platform':
      return r.chance(0.5)
        ? { matchLabels: { [NAME_LABEL]: r.pick(PLATFORM_NAMESPACES) } }
        : { matchExpressions: [{ key: NAME_LABEL, operator: 'In', values: r.sample(PLATFORM_NAMESPACES, r.int(2, 3)).sort() }] };
    default: return {};
  }
}

function drawAppName(r) {
  return `${r.pick(WORDS)}-${r.pick(COMPONENTS)}`;
}

function drawPodSelector(r) {
  const form = r.weighted([['app', 30], ['app-in', 10], ['role', 15], ['component-in', 12], ['name', 10], ['not-exempt', 5], ['all', 10], ['role-app', 8]]);
  switch (form) {
    case 'app': return { matchLabels: { app: drawAppName(r) } };
    case 'app-in': return { matchExpressions: [{ key: 'app', operator: 'In', values: [...new Set(Array.from({ length: r.int(2, 4) }, () => drawAppName(r)))].sort() }] };
    case 'role': return { matchLabels: { role: r.pick(ROLES) } };
    case 'component-in': return { matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: r.sample(APP_COMPONENTS, r.int(1, 3)).sort() }] };
    case 'name': return { matchLabels: { 'app.kubernetes.io/name': drawAppName(r) } };
    case 'not-exempt': return { matchExpressions: [{ key: 'security.tierguard.dev/exempt', operator: 'DoesNotExist' }] };
    case 'role-app': return { matchLabels: { role: r.pick(ROLES), app: drawAppName(r) } };
    default: return {};
  }
}

// ---------------------------------------------------------------- CIDRs and ports

function ipv4Text(n) {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** A canonical IPv4 prefix (host bits cleared), mostly in private space. */
function drawIPv4Cidr(r) {
  const bits = r.weighted([[8, 2], [12, 4], [14, 3], [16, 14], [18, 6], [20, 10], [22, 10], [24, 22], [26, 8], [27, 5], [28, 6], [29, 4], [30, 2], [32, 4]]);
  const space = r.weighted([['10', 40], ['172', 12], ['192', 12], ['100', 4], ['public', 32]]);
  let base;
  if (space === '10') base = (10 << 24) | r.int(0, 0xffffff);
  else if (space === '172') base = (172 << 24) | ((16 + r.int(0, 15)) << 16) | r.int(0, 0xffff);
  else if (space === '192') base = (192 << 24) | (168 << 16) | r.int(0, 0xffff);
  else if (space === '100') base = (100 << 24) | ((64 + r.int(0, 63)) << 16) | r.int(0, 0xffff);
  else base = (r.weighted([[r.int(1, 9), 1], [r.int(11, 99), 3], [r.int(101, 126), 1], [r.int(128, 171), 2], [r.int(173, 191), 1], [r.int(193, 223), 2]]) << 24) | r.int(0, 0xffffff);
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  return `${ipv4Text((base & mask) >>> 0)}/${bits}`;
}

/** RFC 5952 text of eight 16-bit groups. */
function ipv6Text(groups) {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** A canonical IPv6 prefix in unique-local (fd00::/8) or documentation-style global space. */
function drawIPv6Cidr(r) {
  const bits = r.weighted([[32, 2], [40, 2], [48, 8], [56, 5], [64, 8], [96, 1], [128, 1]]);
  const groups = r.chance(0.7)
    ? [0xfd00 | r.int(0, 255), r.int(0, 0xffff), r.int(0, 0xffff), r.int(0, 0xffff), r.int(0, 0xffff), r.int(0, 0xffff), r.int(0, 0xffff), r.int(0, 0xffff)]
    : [0x2001, 0x0db8, r.int(0, 0xffff), r.int(0, 0xffff), r.int(0, 0xffff), r.int(0, 0xffff), r.int(0, 0xffff), r.int(0, 0xffff)];
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, bits - i * 16));
    groups[i] &= keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
  }
  return `${ipv6Text(groups)}/${bits}`;
}

function drawNetworks(r, direction, action) {
  if (direction === 'egress' && action === 'Deny' && r.chance(0.12)) return ['0.0.0.0/0', '::/0'];
  const count = r.weighted([[1, 45], [2, 30], [3, 15], [4, 10]]);
  const out = new Set();
  for (let i = 0; i < count; i++) out.add(r.chance(0.15) ? drawIPv6Cidr(r) : drawIPv4Cidr(r));
  return [...out];
}

function drawPort(r) {
  return r.chance(0.55) ? r.pick(COMMON_PORTS) : r.int(1024, 65535);
}

function drawRange(r) {
  const start = r.chance(0.3) ? r.pick(COMMON_PORTS) : r.int(1, 64000);
  const width = r.weighted([[r.int(1, 10), 3], [r.int(11, 100), 3], [r.int(101, 1000), 3], [r.int(1001, 20000), 1]]);
  const end = Math.min(65535, start + width);
  return end > start ? { start, end } : { start: start - width, end: start };
}

function drawProtocols(r) {
  const count = r.weighted([[1, 50], [2, 30], [3, 20]]);
  const out = [];
  const seen = new Set();
  for (let i = 0; i < count; i++) {
    const kind = r.weighted([['tcp', 40], ['tcp-range', 15], ['udp', 15], ['udp-range', 5], ['sctp', 3], ['named', 22]]);
    let p;
    if (kind === 'named') p = { destinationNamedPort: r.pick(NAMED_PORTS) };
    else if (kind.endsWith('-range')) p = { [kind.slice(0, 3)]: { destinationPort: { range: drawRange(r) } } };
    else p = { [kind]: { destinationPort: { number: drawPort(r) } } };
    const key = JSON.stringify(p);
    if (!seen.has(key)) out.push(p);
    seen.add(key);
  }
  return out;
}

// ---------------------------------------------------------------- network guardrails

function drawPeer(r, ctx, direction, action) {
  const kind = r.weighted(direction === 'egress' ? [['namespaces', 35], ['pods', 30], ['networks', 35]] : [['namespaces', 45], ['pods', 35], ['networks', 20]]);
  if (kind === 'namespaces') return { namespaces: drawNamespaceSelector(r, ctx, { peer: true }) };
  if (kind === 'pods') {
    return { pods: { namespaceSelector: r.chance(0.3) ? {} : drawNamespaceSelector(r, ctx, { peer: true }), podSelector: drawPodSelector(r) } };
  }
  return { networks: drawNetworks(r, direction, action) };
}

function drawRules(r, ctx, direction) {
  const count = direction === 'ingress' ? r.weighted([[1, 35], [2, 35], [3, 20], [4, 10]]) : r.weighted([[1, 45], [2, 35], [3, 20]]);
  const actions = Array.from({ length: count }, () => r.weighted([['Deny', 45], ['Accept', 35], ['Pass', 20]]));
  // carve-outs (Accept, Pass) usually come before the Deny they carve out of
  if (r.chance(0.8)) actions.sort((a, b) => Number(a === 'Deny') - Number(b === 'Deny'));
  const peerKey = direction === 'ingress' ? 'from' : 'to';
  return actions.map((action, i) => {
    const rule = {};
    if (r.chance(0.75)) rule.name = `${action.toLowerCase()}-${r.pick(['app', 'ns', 'net', 'db', 'ops', 'mon', 'ext', 'dev', 'pci', 'mesh'])}-${i}`;
    rule.action = action;
    rule[peerKey] = Array.from({ length: r.weighted([[1, 55], [2, 30], [3, 15]]) }, () => drawPeer(r, ctx, direction, action));
    if (r.chance(0.65)) rule.protocols = drawProtocols(r);
    return rule;
  });
}

/**
 * `want`: true / false = the subject must / must not be able to select pods of ctx.applying's
 * namespace (redrawn until it does, with a fallback), undefined = drawn freely.
 */
function drawSubject(r, ctx, want) {
  const target = ctx.applyingLabels;
  for (let attempt = 0; attempt < 200; attempt++) {
    const subject = r.chance(0.7)
      ? { namespaces: drawNamespaceSelector(r, ctx) }
      : { pods: { namespaceSelector: drawNamespaceSelector(r, ctx), podSelector: drawPodSelector(r) } };
    if (want === undefined || selectorMatches(subjectNamespaces(subject), target) === want) return subject;
  }
  // rare: a selector on the namespace's own name (or another one's)
  const name = want ? target[NAME_LABEL] : ctx.namespaceNames.find((n) => n !== target[NAME_LABEL]);
  return { namespaces: { matchLabels: { [NAME_LABEL]: name } } };
}

function subjectNamespaces(subject) {
  return subject.namespaces ?? subject.pods.namespaceSelector;
}

function drawMode(r, weights = [['Enforce', 70], ['Warn', 20], ['Audit', 10]]) {
  return r.weighted(weights);
}

function meta(r, spec) {
  if (r.chance(0.6)) spec.compliance = r.sample(COMPLIANCE, r.int(1, 2));
  return spec;
}

function networkGuardrail(seed, index, ctx, want) {
  const r = createRng(seed, `guardrail/${index}`);
  const subject = drawSubject(r, ctx, want);
  const shape = r.weighted([['ingress', 40], ['egress', 30], ['both', 30]]);
  const spec = {
    tier: r.weighted([['security', 35], ['compliance', 20], ['platform', 30], ['baseline', 15]]),
    priority: r.int(0, 1000),
    mode: drawMode(r),
    description: `Network guardrail ${index}: ${shape} rules for ${Object.keys(subject)[0]}`,
  };
  meta(r, spec);
  spec.subject = subject;
  if (shape !== 'egress') spec.ingress = drawRules(r, ctx, 'ingress');
  if (shape !== 'ingress') spec.egress = drawRules(r, ctx, 'egress');
  return { apiVersion: API, kind: 'Guardrail', metadata: { name: `net-${shape}-${pad(index)}` }, spec };
}

// ---------------------------------------------------------------- the organisation

// payments' cost centre, and the catch-all that objects nobody booked go to.
const PAYMENTS_COST_CENTRE = 'cc-4410';
const UNALLOCATED_COST_CENTRE = 'cc-10000';
const PLATFORM_TEAM = 'platform-ops';
const PLATFORM_DOMAIN = 'platform';

/**
 * What the whole organisation agrees on, drawn once per seed from its own stream (so adding
 * guardrails or namespaces changes none of it): the vocabulary of every label key whose values
 * guardrails list, and the value objects get when nobody says otherwise. One team's guardrails
 * do not invent their own cost centres or environments: they list the organisation's, so that
 * the rules of every guardrail that applies to an object can be met together, and a namespace's
 * own labels (what `fromNamespaceLabel` injects) are always among the allowed values.
 */
function drawOrganisation(seed) {
  const r = createRng(seed, 'organisation');
  const costCentres = new Set([PAYMENTS_COST_CENTRE]);
  // 4 or 5 digits: what every cost-center pattern below accepts
  while (costCentres.size < 40) costCentres.add(`cc-${r.int(1000, 99999)}`);
  return {
    /** The values namespaces carry (env, team, domain, cost-center) and guardrails list in full. */
    vocabulary: {
      env: ENV_NAMES,
      team: [...ALL_TEAMS, PLATFORM_TEAM].sort(),
      [DOMAIN_LABEL]: [...DOMAINS, PLATFORM_DOMAIN].sort(),
      'cost-center': [...costCentres, UNALLOCATED_COST_CENTRE].sort(),
      'data.tierguard.dev/classification': ['public', 'internal', 'confidential', 'restricted'],
      'security.tierguard.dev/zone': ['dmz', 'internal', 'restricted', 'management'],
      'backup.tierguard.dev/policy': ['none', 'daily', 'hourly', 'weekly'],
      'pci.tierguard.dev/scope': ['in', 'out', 'connected'],
    },
    /** Fixed defaults: each is allowed by every value list and matches every pattern of its key. */
    defaults: {
      'data.tierguard.dev/classification': 'internal', 'security.tierguard.dev/zone': 'internal', 'backup.tierguard.dev/policy': 'daily',
      'pci.tierguard.dev/scope': 'out', 'app.kubernetes.io/part-of': 'unassigned', owner: 'platform.team', 'cost-center': UNALLOCATED_COST_CENTRE,
    },
    /** The cost centres a namespace may be booked to (not the catch-all). */
    costCentres: [...costCentres].sort(),
  };
}

// ---------------------------------------------------------------- label guardrails

/**
 * Label keys platform teams require, with how values are constrained. A value list is the
 * organisation's vocabulary of the key: in full for the keys namespaces carry (every namespace's
 * own value must pass), or a part that always holds the organisation's default. The patterns a
 * key may be given all accept its conventional values (`1.4.2`, `payments.team`, `cc-4410`), so
 * two guardrails never ask for values no label can have at once.
 */
const REQUIRED_KEYS = [
  { key: 'app.kubernetes.io/name', pattern: () => '[a-z0-9]([-a-z0-9]*[a-z0-9])?' },
  { key: 'app.kubernetes.io/part-of', pattern: (r) => `[a-z][-a-z0-9]{1,${r.int(20, 62)}}` },
  { key: 'app.kubernetes.io/version', pattern: (r) => r.pick(['v?[0-9]+\\.[0-9]+\\.[0-9]+', '[0-9]+(\\.[0-9]+){1,2}(-[a-z0-9.]+)?', 'v?[0-9]+(\\.[0-9]+)*']) },
  { key: 'team', values: 'all', pattern: () => '[a-z][a-z0-9-]*' },
  { key: 'owner', pattern: (r) => r.pick(['[a-z][a-z0-9.-]*', '[a-z]+\\.[a-z]+', '[a-z][a-z0-9-]*(\\.[a-z][a-z0-9-]*)+']) },
  { key: 'cost-center', values: 'all', pattern: (r) => `cc-[0-9]{${r.int(3, 4)},${r.int(5, 6)}}` },
  { key: 'data.tierguard.dev/classification', values: 'some' },
  { key: DOMAIN_LABEL, values: 'all', pattern: () => '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?' },
  { key: 'env', values: 'all' },
  { key: 'security.tierguard.dev/zone', values: 'some' },
  { key: 'backup.tierguard.dev/policy', values: 'some' },
  { key: 'pci.tierguard.dev/scope', values: 'all' },
];

/** `all`: the key's whole vocabulary; `some`: its default and at least one more, in vocabulary order. */
function drawValues(r, org, key, how) {
  const vocabulary = org.vocabulary[key];
  if (how === 'all') return [...vocabulary];
  const fallback = org.defaults[key];
  const more = r.sample(vocabulary.filter((v) => v !== fallback), r.int(1, vocabulary.length - 1));
  return vocabulary.filter((v) => v === fallback || more.includes(v));
}

function drawRequired(r, org, key) {
  const def = REQUIRED_KEYS.find((k) => k.key === key);
  const entry = { key };
  const how = r.weighted([['values', def.values ? 45 : 0], ['pattern', def.pattern ? 35 : 0], ['present', 20]]);
  if (how === 'values') entry.values = drawValues(r, org, key, def.values);
  if (how === 'pattern') entry.pattern = def.pattern(r);
  if (r.chance(0.2)) entry.immutable = true;
  return entry;
}

const FROM_NAMESPACE = { env: 'env', team: 'team', [DOMAIN_LABEL]: DOMAIN_LABEL, 'cost-center': 'cost-center' };

/**
 * A default for `key`: the namespace's own label (for the keys namespaces carry), or the
 * organisation's fixed default, or undefined. Never a value only this guardrail allows.
 */
function drawDefault(r, org, key) {
  const source = FROM_NAMESPACE[key];
  const fixed = org.defaults[key];
  if (source && (fixed === undefined || r.chance(0.8))) return { key, fromNamespaceLabel: source };
  if (fixed !== undefined) return { key, value: fixed };
  return undefined;
}

function labelGuardrail(seed, index, ctx, want) {
  const r = createRng(seed, `guardrail/${index}`);
  const spec = {
    tier: r.weighted([['security', 20], ['compliance', 30], ['platform', 50]]),
    priority: r.int(0, 1000),
    mode: drawMode(r, [['Enforce', 50], ['Warn', 30], ['Audit', 20]]),
  };
  meta(r, spec);
  const match = { resources: r.weighted([[['Pod'], 45], [['Pod', 'NetworkPolicy'], 35], [['NetworkPolicy'], 20]]) };
  let namespaces;
  for (let attempt = 0; attempt < 200; attempt++) {
    namespaces = r.chance(0.2) ? undefined : drawNamespaceSelector(r, ctx);
    if (want === undefined || selectorMatches(namespaces, ctx.applyingLabels) === want) break;
  }
  if (want !== undefined && selectorMatches(namespaces, ctx.applyingLabels) !== want) {
    namespaces = { matchLabels: { [NAME_LABEL]: want ? ctx.applyingLabels[NAME_LABEL] : ctx.namespaceNames.find((n) => n !== ctx.applyingLabels[NAME_LABEL]) } };
  }
  if (namespaces) match.namespaces = namespaces;
  const keys = r.sample(REQUIRED_KEYS.map((k) => k.key), r.int(1, 4));
  const required = keys.slice(0, r.int(keys.length > 1 ? 1 : 0, Math.min(3, keys.length))).map((key) => drawRequired(r, ctx.org, key));
  const defaults = [];
  for (const key of keys) {
    const req = required.find((q) => q.key === key);
    if (r.chance(req ? 0.35 : 1) && (req || !required.length || r.chance(0.5))) {
      const d = drawDefault(r, ctx.org, key);
      if (d) defaults.push(d);
    }
  }
  if (!required.length && !defaults.length) defaults.push({ key: 'segment.tierguard.dev/managed', value: 'true' });
  const labels = { match };
  if (required.length) labels.required = required;
  if (defaults.length) labels.defaults = defaults;
  spec.description = `Label guardrail ${index}: ${[...required.map((q) => q.key), ...defaults.map((d) => `default ${d.key}`)].join(', ')}`;
  spec.labels = labels;
  return { apiVersion: API, kind: 'Guardrail', metadata: { name: `labels-${required[0]?.key.replace(/[^a-z0-9]+/g, '-') ?? 'defaults'}-${pad(index)}` }, spec };
}

// ---------------------------------------------------------------- CEL guardrails

// The pod spec of a Pod or of a workload's template, for rules where a missing field is a
// finding (a Deployment's own spec has no containers): chosen by kind. Under dyn(), because
// each branch reads fields only some kinds have, which the typed check refuses otherwise.
const POD_SPEC =
  "(object.kind == 'Pod' ? dyn(object).spec : object.kind == 'CronJob' ? dyn(object).spec.jobTemplate.spec.template.spec : dyn(object).spec.template.spec)";
// Every place a pod spec can be, for rules where a missing field is fine (the README's form).
const SPEC_PLACES = ['object.?spec', 'object.?spec.?template.?spec', 'object.?spec.?jobTemplate.?spec.?template.?spec'];
const everySpec = (f) => SPEC_PLACES.map((s) => `(${f(s)})`).join(' && ');
const everyContainer = (f) => everySpec((s) => `${s}.?containers.orValue([]).all(c, ${f('c')}) && ${s}.?initContainers.orValue([]).all(c, ${f('c')})`);
const prodOnly = (env, body) => `namespaceObject.?metadata.?labels[?'env'].orValue('') != '${env}' || (${body})`;
const npRules = (dir, peers, f) => `!has(object.spec.${dir}) || object.spec.${dir}.all(r, !has(r.${peers}) || r.${peers}.all(p, !has(p.ipBlock) || (${f('p.ipBlock')})))`;

// The organisation's own registry comes first: every allow-list holds it, so that two guardrails'
// lists always leave an image that both accept.
const ORG_REGISTRY = 'registry.example.com/';
const REGISTRIES = [
  ORG_REGISTRY, 'ghcr.io/example-org/', 'quay.io/example/', 'harbor.internal.example.net/',
  'europe-docker.pkg.dev/example-prod/', 'mirror.gcr.io/', 'docker.io/library/',
];
// NetworkPolicy naming conventions, stricter or looser, all met by `<app>-allow-<peer>` names
// (`api-allow-web`): two guardrails never ask for names no policy can have at once.
const NP_NAME_PREFIXES = ['[a-z]+-(allow|deny)-', '[a-z][a-z0-9]*-(allow|deny|default)-', '[a-z][-a-z0-9]*-(allow|deny)-', '[a-z0-9]'];

/** 22 validation templates, each drawing its own parameters. */
const CEL_TEMPLATES = [
  () => ({ resources: ['Pod'], expression: everySpec((s) => `!${s}.?hostNetwork.orValue(false)`), message: 'host-network pods bypass NetworkPolicy' }),
  () => ({ resources: ['Pod'], expression: everySpec((s) => `!${s}.?hostPID.orValue(false) && !${s}.?hostIPC.orValue(false)`), message: 'hostPID and hostIPC are forbidden' }),
  (r) => {
    const allowed = r.shuffle([ORG_REGISTRY, ...r.sample(REGISTRIES.slice(1), r.int(0, 2))]);
    return {
      resources: ['Pod'],
      expression: everyContainer((c) => allowed.map((p) => `${c}.image.startsWith('${p}')`).join(' || ')),
      message: `images must come from ${allowed.join(', ')}`,
    };
  },
  () => ({ resources: ['Pod'], expression: everyContainer((c) => `${c}.image.contains('@sha256:') || (${c}.image.contains(':') && !${c}.image.endsWith(':latest'))`), message: 'images are pinned by tag or digest, never :latest' }),
  (r) => ({
    resources: ['Pod'],
    expression: prodOnly(r.pick(['prod', 'staging']), `${POD_SPEC}.?securityContext.?runAsNonRoot.orValue(false) || ${POD_SPEC}.containers.all(c, c.?securityContext.?runAsNonRoot.orValue(false))`),
    messageExpression: "'pod ' + object.metadata.name + ' must set runAsNonRoot'",
  }),
  () => ({ resources: ['Pod'], expression: everyContainer((c) => `!${c}.?securityContext.?privileged.orValue(false)`), message: 'privileged containers are forbidden' }),
  () => ({ resources: ['Pod'], expression: `${POD_SPEC}.containers.all(c, c.?securityContext.?allowPrivilegeEscalation.orValue(true) == false)`, message: 'containers must set allowPrivilegeEscalation: false' }),
  (r) => {
    const resource = r.pick(['memory', 'cpu']);
    return { resources: ['Pod'], expression: `${POD_SPEC}.containers.all(c, c.?resources.?limits[?'${resource}'].orValue('') != '')`, message: `containers must set a ${resource} limit` };
  },
  () => ({ resources: ['Pod'], expression: everySpec((s) => `${s}.?volumes.orValue([]).all(v, !has(v.hostPath))`), message: 'hostPath volumes are forbidden' }),
  () => ({ resources: ['Pod'], expression: everyContainer((c) => `${c}.?ports.orValue([]).all(p, p.?hostPort.orValue(0) == 0)`), message: 'hostPort bypasses NetworkPolicy' }),
  (r) => {
    const caps = r.sample(['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SYS_PTRACE', 'SYS_MODULE', 'BPF'], r.int(2, 4));
    return {
      resources: ['Pod'],
      expression: everyContainer((c) => `${c}.?securityContext.?capabilities.?add.orValue([]).all(cap, !(cap in [${caps.map((x) => `'${x}'`).join(', ')}]))`),
      message: `capabilities ${caps.join(', ')} are forbidden`,
    };
  },
  (r) => {
    const key = r.pick(['app.kubernetes.io/version', 'app.kubernetes.io/name', 'owner', 'team']);
    return { resources: ['Pod'], expression: prodOnly('prod', `object.?metadata.?labels[?'${key}'].orValue('') != ''`), messageExpression: `'prod objects need a ${key} label: ' + object.metadata.name` };
  },
  (r) => ({ resources: ['Pod'], expression: prodOnly(r.pick(['prod', 'staging']), `${POD_SPEC}.?serviceAccountName.orValue('default') != 'default'`), message: 'prod pods use their own service account' }),
  (r) => {
    const n = r.int(8, 20);
    return { resources: ['Pod'], expression: `size(${POD_SPEC}.containers) <= ${n}`, message: `at most ${n} containers per pod` };
  },
  // NetworkPolicies
  () => ({ resources: ['NetworkPolicy'], expression: npRules('ingress', 'from', (b) => `cidr(${b}.cidr).prefixLength() > 0`), messageExpression: "'NetworkPolicy ' + object.metadata.name + ' allows ingress from a /0 block'" }),
  (r) => {
    const min = r.int(8, 16);
    return { resources: ['NetworkPolicy'], expression: npRules('egress', 'to', (b) => `cidr(${b}.cidr).prefixLength() >= ${min}`), message: `egress ipBlocks are /${min} or narrower` };
  },
  (r) => {
    const addr = r.pick(['169.254.169.254', '169.254.170.2', '100.100.100.200']);
    return {
      resources: ['NetworkPolicy'],
      expression: npRules('egress', 'to', (b) => `!cidr(${b}.cidr).containsIP('${addr}') || (has(${b}.except) && ${b}.except.exists(e, cidr(e).containsIP('${addr}')))`),
      message: `egress to the metadata endpoint ${addr} is forbidden`,
    };
  },
  () => ({
    resources: ['NetworkPolicy'],
    expression: `namespaceObject.?metadata.?labels[?'${OWNER_REQUIRED_LABEL}'].orValue('') != 'true' || object.?metadata.?labels[?'owner'].orValue('') != ''`,
    messageExpression: "'NetworkPolicy ' + object.metadata.name + ' has no owner label'",
  }),
  (r) => ({
    resources: ['NetworkPolicy'],
    expression: prodOnly(r.pick(['prod', 'staging']), "object.spec.podSelector.?matchLabels.orValue({}).size() > 0 || object.spec.podSelector.?matchExpressions.orValue([]).size() > 0"),
    message: 'prod NetworkPolicies select pods, not the whole namespace',
  }),
  (r) => {
    const dir = r.pick(['ingress', 'egress']);
    return { resources: ['NetworkPolicy'], expression: `!has(object.spec.${dir}) || object.spec.${dir}.all(r, has(r.ports) && size(r.ports) > 0)`, message: `${dir} rules name their ports` };
  },
  (r) => {
    const width = r.pick([100, 256, 500, 1000, 2000]);
    return {
      resources: ['NetworkPolicy'],
      expression: `!has(object.spec.ingress) || object.spec.ingress.all(r, !has(r.ports) || r.ports.all(p, !has(p.endPort) || p.endPort - p.port <= ${width}))`,
      message: `port ranges span at most ${width} ports`,
    };
  },
  (r) => {
    const family = r.pick([4, 4, 4, 6]); // IPv4-only clusters are the common case
    const [dir, peers] = r.pick([['ingress', 'from'], ['egress', 'to']]);
    return { resources: ['NetworkPolicy'], expression: npRules(dir, peers, (b) => `cidr(${b}.cidr).ip().family() == ${family}`), message: `${dir} ipBlocks are IPv${family} only` };
  },
  (r) => ({ resources: ['NetworkPolicy'], expression: `object.metadata.name.matches('^${r.pick(NP_NAME_PREFIXES)}[-a-z0-9]*$')`, message: 'NetworkPolicy names follow the naming convention' }),
];

function celGuardrail(seed, index, templates) {
  const r = createRng(seed, `guardrail/${index}`);
  const spec = {
    tier: r.weighted([['security', 50], ['compliance', 30], ['platform', 20]]),
    priority: r.int(0, 1000),
    mode: drawMode(r, [['Enforce', 40], ['Warn', 35], ['Audit', 25]]),
    description: `CEL guardrail ${index}`,
  };
  meta(r, spec);
  spec.validations = templates.map((t) => CEL_TEMPLATES[t](r));
  return { apiVersion: API, kind: 'Guardrail', metadata: { name: `cel-${pad(index)}` }, spec };
}

// ---------------------------------------------------------------- namespaces

function namespaceDoc(name, labels) {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { [NAME_LABEL]: name, ...labels } } };
}

/**
 * `count` namespaces: the fixtures' `payments` (a PCI prod namespace), a few platform ones, and
 * application namespaces `<domain>-<team suffix>-<component>-<env>` with env, team, domain and
 * tier labels (and PCI scope, owner requirement, one of the organisation's cost centres for some).
 */
function drawNamespaces(seed, count, org) {
  const fixed = [
    namespaceDoc('payments', { env: 'prod', team: 'payments-api', [DOMAIN_LABEL]: 'payments', tier: 'backend', [PCI_LABEL]: 'true', [OWNER_REQUIRED_LABEL]: 'true', 'cost-center': PAYMENTS_COST_CENTRE }),
    ...PLATFORM_NAMESPACES.map((name) => namespaceDoc(name, { team: PLATFORM_TEAM, [DOMAIN_LABEL]: PLATFORM_DOMAIN, tier: 'platform' })),
  ];
  const out = fixed.slice(0, count);
  const used = new Set(out.map((n) => n.metadata.name));
  for (let i = 0; out.length < count; i++) {
    const r = createRng(seed, `namespace/${i}`);
    const domain = r.pick(DOMAINS);
    const team = r.pick(teamsOf(domain));
    const env = r.weighted(ENVS);
    let name = `${team}-${r.pick(COMPONENTS)}-${env}`;
    for (let n = 2; used.has(name); n++) name = `${team}-${r.pick(COMPONENTS)}-${env}-${n}`;
    used.add(name);
    const labels = { env, team, [DOMAIN_LABEL]: domain, tier: r.weighted(NS_TIERS) };
    if (PCI_DOMAINS.has(domain) && r.chance(env === 'prod' ? 0.8 : 0.2)) labels[PCI_LABEL] = 'true';
    if (r.chance(0.2)) labels[OWNER_REQUIRED_LABEL] = 'true';
    if (r.chance(0.5)) labels['cost-center'] = r.pick(org.costCentres);
    out.push(namespaceDoc(name, labels));
  }
  return out;
}

// ---------------------------------------------------------------- the set

function pad(i) {
  return String(i).padStart(4, '0');
}

function split(total, mix) {
  const sum = (mix.network ?? 0) + (mix.labels ?? 0) + (mix.cel ?? 0);
  if (!(sum > 0)) throw new Error('mix: at least one share must be positive');
  const network = Math.round((total * (mix.network ?? 0)) / sum);
  const labels = Math.min(total - network, Math.round((total * (mix.labels ?? 0)) / sum));
  return { network, labels, cel: total - network - labels };
}

function checkCount(name, value, min, max) {
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name}: expected an integer in [${min}, ${max}], got ${value}`);
}

/**
 * Generates the set. Options (all optional, see DEFAULTS): seed, guardrails, namespaces, mix
 * {network, labels, cel}, celPerGuardrail, applying {namespace, network?, labels?}.
 * Returns { options, organisation, tiers, guardrails, namespaces, files: {name: documents}, stats }.
 */
export function generateRealisticSet(options = {}) {
  const o = { ...DEFAULTS, ...options, mix: { ...DEFAULTS.mix, ...options.mix } };
  checkCount('guardrails', o.guardrails, 1, 100_000);
  checkCount('namespaces', o.namespaces, 1, 1_000_000);
  checkCount('celPerGuardrail', o.celPerGuardrail, 1, CEL_TEMPLATES.length);
  const counts = split(o.guardrails, o.mix);

  const org = drawOrganisation(o.seed);
  const namespaces = drawNamespaces(o.seed, o.namespaces, org);
  const applyingName = o.applying?.namespace ?? 'payments';
  const applyingNs = namespaces.find((n) => n.metadata.name === applyingName);
  if (!applyingNs) throw new Error(`applying.namespace: ${applyingName} is not one of the generated namespaces`);
  const ctx = { org, namespaceNames: namespaces.map((n) => n.metadata.name), applyingLabels: applyingNs.metadata.labels };

  // which network / label guardrails must (not) apply to the namespace, when asked
  const plan = (kind, count) => {
    const wanted = o.applying?.[kind];
    if (wanted === undefined) return () => undefined;
    checkCount(`applying.${kind}`, wanted, 0, count);
    const chosen = new Set(createRng(o.seed, `applying/${kind}`).sample([...Array(count).keys()], wanted));
    return (i) => chosen.has(i);
  };
  const wantNetwork = plan('network', counts.network);
  const wantLabels = plan('labels', counts.labels);

  const r = createRng(o.seed, 'tiers');
  const tiers = TIER_DEFS.map((t) => ({ apiVersion: API, kind: 'Tier', metadata: { name: t.name }, spec: { priority: r.int(...t.range), description: t.description } }));

  const network = Array.from({ length: counts.network }, (_, i) => networkGuardrail(o.seed, i, ctx, wantNetwork(i)));
  const labels = Array.from({ length: counts.labels }, (_, i) => labelGuardrail(o.seed, counts.network + i, ctx, wantLabels(i)));
  // deal the templates out so that every one is used before any repeats (none twice in a guardrail)
  const deck = [];
  let round = 0;
  const cel = Array.from({ length: counts.cel }, (_, i) => {
    const hand = [];
    for (let k = 0; hand.length < o.celPerGuardrail; k++) {
      while (k >= deck.length) deck.push(...createRng(o.seed, `cel-deck/${round++}`).shuffle([...CEL_TEMPLATES.keys()]));
      if (!hand.includes(deck[k])) hand.push(...deck.splice(k--, 1));
    }
    return celGuardrail(o.seed, counts.network + counts.labels + i, hand);
  });

  const guardrails = [...network, ...labels, ...cel];
  return {
    options: o,
    organisation: org,
    tiers,
    guardrails,
    namespaces,
    files: {
      'tiers.yaml': tiers,
      'guardrails-network.yaml': network,
      'guardrails-labels.yaml': labels,
      'guardrails-cel.yaml': cel,
      'namespaces.yaml': namespaces,
    },
    stats: statistics({ network, labels, cel, namespaces, applyingNs }),
  };
}

function statistics({ network, labels, cel, namespaces, applyingNs }) {
  const nsLabels = namespaces.map((n) => n.metadata.labels);
  const share = (selector) => nsLabels.filter((l) => selectorMatches(selector, l)).length / nsLabels.length;
  const subjectShares = network.map((g) => share(subjectNamespaces(g.spec.subject))).sort((a, b) => a - b);
  const labelShares = labels.map((g) => share(g.spec.labels.match.namespaces)).sort((a, b) => a - b);
  const rules = network.flatMap((g) => [...(g.spec.ingress ?? []), ...(g.spec.egress ?? [])]);
  const peers = rules.flatMap((rule) => rule.from ?? rule.to);
  const protocols = rules.flatMap((rule) => rule.protocols ?? []);
  const selectors = new Set([
    ...network.map((g) => JSON.stringify(g.spec.subject)),
    ...peers.filter((p) => !p.networks).map((p) => JSON.stringify(p)),
  ]);
  const median = (v) => (v.length ? v[Math.floor(v.length / 2)] : null);
  const target = applyingNs.metadata.labels;
  return {
    tiers: TIER_DEFS.length,
    guardrails: network.length + labels.length + cel.length,
    network: network.length,
    labels: labels.length,
    cel: cel.length,
    celExpressions: cel.reduce((s, g) => s + g.spec.validations.length, 0),
    namespaces: namespaces.length,
    rules: rules.length,
    actions: Object.fromEntries(['Accept', 'Deny', 'Pass'].map((a) => [a, rules.filter((x) => x.action === a).length])),
    peers: { namespaces: peers.filter((p) => p.namespaces).length, pods: peers.filter((p) => p.pods).length, networks: peers.filter((p) => p.networks).length },
    distinctSelectors: selectors.size,
    cidrs: peers.flatMap((p) => p.networks ?? []).length,
    distinctCidrs: new Set(peers.flatMap((p) => p.networks ?? [])).size,
    protocols: protocols.length,
    distinctProtocols: new Set(protocols.map((p) => JSON.stringify(p))).size,
    // the share of namespaces each guardrail's namespace selector matches
    subjectNamespaceShare: { median: median(subjectShares), max: subjectShares.at(-1) ?? null },
    labelNamespaceShare: { median: median(labelShares), max: labelShares.at(-1) ?? null },
    applying: {
      namespace: applyingNs.metadata.name,
      network: network.filter((g) => selectorMatches(subjectNamespaces(g.spec.subject), target)).length,
      labels: labels.filter((g) => selectorMatches(g.spec.labels.match.namespaces, target)).length,
      // CEL validations have no namespace selector: they run on every object of their resources
      cel: cel.length,
    },
  };
}

/** Writes the set's files into `dir` (created if needed), overwriting only the files in FILES. */
export function writeRealisticSet(dir, set) {
  mkdirSync(dir, { recursive: true });
  const o = set.options;
  const header =
    `# Generated by bench/realistic-set.mjs (seed ${o.seed}, ${o.guardrails} guardrails, ${o.namespaces} namespaces` +
    `${o.applying ? `, applying ${JSON.stringify(o.applying)}` : ''}): do not edit, regenerate.\n`;
  for (const name of FILES) {
    const docs = set.files[name];
    const body = docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
    writeFileSync(path.join(dir, name), header + (body || '# (none)\n'));
  }
  return FILES.map((f) => path.join(dir, f));
}

// ---------------------------------------------------------------- CLI

function parseArgs(argv) {
  const out = { dir: undefined, options: {}, quiet: false };
  const int = (flag, v) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n)) throw new Error(`${flag}: expected an integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--seed') out.options.seed = next();
    else if (a === '--guardrails') out.options.guardrails = int(a, next());
    else if (a === '--namespaces') out.options.namespaces = int(a, next());
    else if (a === '--applying-namespace') out.options.applying = { ...out.options.applying, namespace: next() };
    else if (a === '--applying-network') out.options.applying = { ...out.options.applying, network: int(a, next()) };
    else if (a === '--applying-labels') out.options.applying = { ...out.options.applying, labels: int(a, next()) };
    else if (a === '--quiet') out.quiet = true;
    else if (a === '--help' || a === '-h') out.help = true;
    else if (a.startsWith('-')) throw new Error(`unknown flag ${a}`);
    else if (out.dir === undefined) out.dir = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  // seeds are strings or integers; an integer string stays the same seed as the integer
  if (out.options.seed !== undefined && /^-?\d+$/.test(out.options.seed)) out.options.seed = Number(out.options.seed);
  return out;
}

function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`realistic-set: ${err.message}`);
    process.exit(2);
  }
  if (args.help) {
    console.log('usage: node bench/realistic-set.mjs [DIR] [--seed N] [--guardrails N] [--namespaces N] [--applying-namespace NS] [--applying-network N] [--applying-labels N] [--quiet]');
    return;
  }
  const dir = path.resolve(args.dir ?? path.join(path.dirname(fileURLToPath(import.meta.url)), 'results', 'realistic'));
  const set = generateRealisticSet(args.options);
  writeRealisticSet(dir, set);
  if (!args.quiet) {
    console.log(`wrote ${FILES.length} files to ${path.relative(process.cwd(), dir) || '.'}`);
    console.log(JSON.stringify(set.stats, null, 2));
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
