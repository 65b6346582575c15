/**
 * Brute-force reference for the NetworkPolicy "override" check (DESIGN §2), written from the
 * contract alone and independent of src/engine/network: it enumerates a finite universe of
 * concrete connections that is complete for one case (every label value, address and port a
 * selector, CIDR or port of the case can tell apart, plus one fresh value of each), decides each
 * connection with the tier chain and collects the guardrail rules that deny something the
 * NetworkPolicy allows.
 *
 * Completeness: every predicate the evaluation reads is a boolean combination of
 * - label tests `key = v`, `key in {..}`, `key exists` for keys and values named in the case
 *   (a value named nowhere behaves like the fresh one, a key named nowhere is never read),
 * - CIDR membership (piecewise constant between the first address and last+1 of every CIDR),
 * - port tests (piecewise constant between p and p+1 of every number, start and end),
 * so one representative of each class decides the same as every member.
 *
 * `dedupe` (default on) only skips endpoints and ports whose vector of predicate results equals
 * one already seen; `dedupe: false` evaluates every point of the universe (for small cases).
 */

export const NAME_LABEL = 'kubernetes.io/metadata.name';
/** Values no generated or hand-written case mentions. */
export const FRESH_VALUE = 'zz-fresh-value';
export const FRESH_NAMESPACE = 'zz-fresh-namespace';

export type Labels = Record<string, string>;
export type Direction = 'ingress' | 'egress';
export type Mode = 'Enforce' | 'Warn' | 'Audit';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

export interface Requirement { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }
export interface Selector { matchLabels?: Record<string, string>; matchExpressions?: Requirement[] }

export interface NamespaceDef { name: string; labels: Labels }

/** One differential case: policy objects, the namespaces that exist, and the NetworkPolicy. */
export interface DiffCase {
  /** Tier and Guardrail objects as a user writes them. */
  objects: Record<string, any>[];
  /** Namespaces that exist, with their labels (`kubernetes.io/metadata.name` is added if missing). */
  knownNamespaces: NamespaceDef[];
  /** The NetworkPolicy (networking.k8s.io/v1); its namespace is `metadata.namespace`. */
  policy: Record<string, any>;
}

export interface Finding {
  direction: Direction;
  ruleIndex: number;
  tier: string;
  guardrail: string;
  rule: string;
  mode: Mode;
}

export function findingKey(f: Pick<Finding, 'direction' | 'ruleIndex' | 'tier' | 'guardrail' | 'rule' | 'mode'>): string {
  return `${f.direction}[${f.ruleIndex}] -> tier ${f.tier}, guardrail ${f.guardrail}, rule ${f.rule} (${f.mode})`;
}

// ---------------------------------------------------------------------------------------------
// Endpoints, addresses, selectors

export type Endpoint =
  | { kind: 'pod'; namespace: string; nsLabels: Labels; podLabels: Labels }
  | { kind: 'address'; family: 4 | 6; value: bigint };

interface Cidr { family: 4 | 6; base: bigint; prefix: number }

const BITS = { 4: 32, 6: 128 } as const;

export function parseAddress(text: string): { family: 4 | 6; value: bigint } {
  if (text.includes(':')) return { family: 6, value: parseIPv6(text) };
  const parts = text.split('.').map((part) => Number(part));
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) throw new Error(`bad IPv4 address ${text}`);
  return { family: 4, value: parts.reduce((acc, part) => (acc << 8n) | BigInt(part), 0n) };
}

function parseIPv6(text: string): bigint {
  const [head = '', tail, extra] = text.split('::');
  if (extra !== undefined) throw new Error(`bad IPv6 address ${text}`);
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headGroups.length - tailGroups.length;
  if (tail === undefined ? missing !== 0 : missing < 1) throw new Error(`bad IPv6 address ${text}`);
  const groups = [...headGroups, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailGroups];
  return groups.reduce((acc, group) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) throw new Error(`bad IPv6 address ${text}`);
    return (acc << 16n) | BigInt(parseInt(group, 16));
  }, 0n);
}

export function formatAddress(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join('.');
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16));
  return groups.join(':');
}

function parseCidr(text: string): Cidr {
  const [address = '', prefixText] = text.split('/');
  const { family, value } = parseAddress(address);
  const prefix = prefixText === undefined ? BITS[family] : Number(prefixText);
  const hostBits = BigInt(BITS[family] - prefix);
  return { family, base: (value >> hostBits) << hostBits, prefix };
}

function cidrRange(cidr: Cidr): { first: bigint; last: bigint } {
  const size = 1n << BigInt(BITS[cidr.family] - cidr.prefix);
  return { first: cidr.base, last: cidr.base + size - 1n };
}

const cidrCache = new Map<string, Cidr>();

function inCidr(endpoint: Endpoint, text: string): boolean {
  if (endpoint.kind !== 'address') return false;
  let cidr = cidrCache.get(text);
  if (!cidr) {
    cidr = parseCidr(text);
    cidrCache.set(text, cidr);
  }
  if (cidr.family !== endpoint.family) return false;
  const { first, last } = cidrRange(cidr);
  return endpoint.value >= first && endpoint.value <= last;
}

/** metav1.LabelSelector semantics; an absent or empty selector matches everything. */
export function selectorMatches(selector: Selector | undefined, labels: Labels): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((req) => requirementMatches(req, labels));
}

function requirementMatches(req: Requirement, labels: Labels): boolean {
  const has = Object.hasOwn(labels, req.key);
  const value = labels[req.key];
  switch (req.operator) {
    case 'In': return has && (req.values ?? []).includes(value as string);
    case 'NotIn': return !has || !(req.values ?? []).includes(value as string);
    case 'Exists': return has;
    case 'DoesNotExist': return !has;
  }
}

// ---------------------------------------------------------------------------------------------
// The NetworkPolicy under Kubernetes semantics

export interface PolicyRule { direction: Direction; index: number; peers: any[] | undefined; ports: any[] | undefined }

/** The rules of the policy that take effect (policyTypes, with the Kubernetes default). */
export function effectiveRules(policy: Record<string, any>): PolicyRule[] {
  const spec = policy.spec ?? {};
  const types: string[] = spec.policyTypes ?? ['Ingress', ...((spec.egress?.length ?? 0) > 0 ? ['Egress'] : [])];
  const rules: PolicyRule[] = [];
  if (types.includes('Ingress')) {
    (spec.ingress ?? []).forEach((rule: any, index: number) => rules.push({ direction: 'ingress', index, peers: rule?.from, ports: rule?.ports }));
  }
  if (types.includes('Egress')) {
    (spec.egress ?? []).forEach((rule: any, index: number) => rules.push({ direction: 'egress', index, peers: rule?.to, ports: rule?.ports }));
  }
  return rules;
}

/** A NetworkPolicy peer: ipBlock, or podSelector / namespaceSelector / both. */
export function policyPeerMatches(peer: any, endpoint: Endpoint, namespace: string): boolean {
  if (peer.ipBlock) {
    return inCidr(endpoint, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((except: string) => inCidr(endpoint, except));
  }
  if (endpoint.kind !== 'pod') return false;
  const namespaceOk = peer.namespaceSelector ? selectorMatches(peer.namespaceSelector, endpoint.nsLabels) : endpoint.namespace === namespace;
  return namespaceOk && selectorMatches(peer.podSelector, endpoint.podLabels);
}

export function policyPortMatches(entry: any, protocol: Protocol, port: number): boolean {
  if ((entry.protocol ?? 'TCP') !== protocol) return false;
  if (entry.port === undefined) return true;
  if (typeof entry.port !== 'number') throw new Error('named ports are out of scope for the brute force');
  return entry.endPort === undefined ? port === entry.port : port >= entry.port && port <= entry.endPort;
}

function policyRuleAllows(rule: PolicyRule, peer: Endpoint, protocol: Protocol, port: number, namespace: string): boolean {
  const peerOk = !rule.peers?.length || rule.peers.some((p) => policyPeerMatches(p, peer, namespace));
  return peerOk && (!rule.ports?.length || rule.ports.some((entry) => policyPortMatches(entry, protocol, port)));
}

// ---------------------------------------------------------------------------------------------
// Guardrails and the tier chain

export interface Guardrail {
  name: string;
  tier: string;
  tierPriority: number;
  priority: number;
  mode: Mode;
  subject: any;
  ingress: any[];
  egress: any[];
}

export function guardrailsInPrecedence(objects: Record<string, any>[]): Guardrail[] {
  const tiers = new Map<string, number>();
  for (const object of objects) if (object.kind === 'Tier') tiers.set(object.metadata.name, object.spec.priority);
  const guardrails = objects.filter((object) => object.kind === 'Guardrail').map((object): Guardrail => {
    const tierPriority = tiers.get(object.spec.tier);
    if (tierPriority === undefined) throw new Error(`unknown tier ${object.spec.tier}`);
    return {
      name: object.metadata.name,
      tier: object.spec.tier,
      tierPriority,
      priority: object.spec.priority,
      mode: object.spec.mode ?? 'Enforce',
      subject: object.spec.subject,
      ingress: object.spec.ingress ?? [],
      egress: object.spec.egress ?? [],
    };
  });
  return guardrails.sort((a, b) => a.tierPriority - b.tierPriority || a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function subjectMatches(subject: any, endpoint: Endpoint): boolean {
  if (!subject || endpoint.kind !== 'pod') return false;
  if (subject.namespaces) return selectorMatches(subject.namespaces, endpoint.nsLabels);
  return selectorMatches(subject.pods.namespaceSelector, endpoint.nsLabels) && selectorMatches(subject.pods.podSelector, endpoint.podLabels);
}

export function guardrailPeerMatches(peer: any, endpoint: Endpoint): boolean {
  if (peer.networks) return peer.networks.some((cidr: string) => inCidr(endpoint, cidr));
  if (peer.nodes || endpoint.kind !== 'pod') return false;
  if (peer.namespaces) return selectorMatches(peer.namespaces, endpoint.nsLabels);
  return selectorMatches(peer.pods.namespaceSelector, endpoint.nsLabels) && selectorMatches(peer.pods.podSelector, endpoint.podLabels);
}

export function guardrailProtocolMatches(entry: any, protocol: Protocol, port: number): boolean {
  const key = protocol.toLowerCase();
  const spec = entry[key];
  if (!spec) return false;
  const { number, range } = spec.destinationPort;
  return number !== undefined ? port === number : port >= range.start && port <= range.end;
}

function guardrailRuleApplies(rule: any, direction: Direction, peer: Endpoint, protocol: Protocol, port: number): boolean {
  const peers: any[] = direction === 'ingress' ? rule.from : rule.to;
  if (!peers.some((p) => guardrailPeerMatches(p, peer))) return false;
  return !rule.protocols || rule.protocols.some((entry: any) => guardrailProtocolMatches(entry, protocol, port));
}

export interface Decision { guardrail: Guardrail; rule: string; action: 'Accept' | 'Deny' }

/**
 * Walks `chain` (guardrails in precedence order): the first applicable Accept or Deny decides,
 * Pass skips the rest of its tier. Undefined when nothing decides.
 */
export function decide(chain: readonly Guardrail[], direction: Direction, guarded: Endpoint, peer: Endpoint, protocol: Protocol, port: number): Decision | undefined {
  let passedTier: string | undefined;
  for (const guardrail of chain) {
    if (guardrail.tier === passedTier || !subjectMatches(guardrail.subject, guarded)) continue;
    const rules = guardrail[direction];
    for (let k = 0; k < rules.length; k++) {
      const rule = rules[k];
      if (!guardrailRuleApplies(rule, direction, peer, protocol, port)) continue;
      if (rule.action === 'Pass') {
        passedTier = guardrail.tier;
        break;
      }
      return { guardrail, rule: rule.name ?? `${direction}[${k}]`, action: rule.action };
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The universe

interface KeyValues { key: string; values: string[] }

function addSelector(into: Map<string, Set<string>>, selector: Selector | undefined): void {
  if (!selector) return;
  const add = (key: string, values: readonly string[]) => {
    const set = into.get(key) ?? new Set<string>();
    for (const value of values) set.add(value);
    into.set(key, set);
  };
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) add(key, [value]);
  for (const req of selector.matchExpressions ?? []) add(req.key, req.values ?? []);
}

/** Every namespace and pod selector of the case, split by what it selects on. */
function collectSelectors(testCase: DiffCase, guardrails: readonly Guardrail[]): { ns: Map<string, Set<string>>; pod: Map<string, Set<string>> } {
  const ns = new Map<string, Set<string>>();
  const pod = new Map<string, Set<string>>();
  const podsPeer = (value: any) => {
    addSelector(ns, value?.namespaceSelector);
    addSelector(pod, value?.podSelector);
  };
  addSelector(pod, testCase.policy.spec?.podSelector);
  for (const rule of effectiveRules(testCase.policy)) for (const peer of rule.peers ?? []) podsPeer(peer);
  for (const guardrail of guardrails) {
    addSelector(ns, guardrail.subject?.namespaces);
    podsPeer(guardrail.subject?.pods);
    for (const rule of [...guardrail.ingress, ...guardrail.egress]) {
      for (const peer of rule.from ?? rule.to ?? []) {
        addSelector(ns, peer.namespaces);
        podsPeer(peer.pods);
      }
    }
  }
  return { ns, pod };
}

/** Every assignment of the keys: one of the named values, the fresh value, or absent. */
function assignments(keys: readonly KeyValues[]): Labels[] {
  let result: Labels[] = [{}];
  for (const { key, values } of keys) {
    const next: Labels[] = [];
    for (const labels of result) {
      next.push(labels);
      for (const value of [...values, FRESH_VALUE]) next.push({ ...labels, [key]: value });
    }
    result = next;
  }
  return result;
}

function addresses(testCase: DiffCase, guardrails: readonly Guardrail[]): Endpoint[] {
  const cidrs: string[] = [];
  for (const rule of effectiveRules(testCase.policy)) {
    for (const peer of rule.peers ?? []) if (peer.ipBlock) cidrs.push(peer.ipBlock.cidr, ...(peer.ipBlock.except ?? []));
  }
  for (const guardrail of guardrails) {
    for (const rule of [...guardrail.ingress, ...guardrail.egress]) {
      for (const peer of rule.from ?? rule.to ?? []) if (peer.networks) cidrs.push(...peer.networks);
    }
  }
  const points = new Map<string, Endpoint>();
  const add = (family: 4 | 6, value: bigint) => {
    if (value >= 0n && value < 1n << BigInt(BITS[family])) points.set(`${family}:${value}`, { kind: 'address', family, value });
  };
  add(4, 0n);
  add(6, 0n);
  for (const text of cidrs) {
    const cidr = parseCidr(text);
    const { first, last } = cidrRange(cidr);
    for (const value of [first - 1n, first, last, last + 1n]) add(cidr.family, value);
  }
  return [...points.values()];
}

function ports(testCase: DiffCase, guardrails: readonly Guardrail[]): Array<{ protocol: Protocol; port: number }> {
  const numbers = new Set<number>([1, 65535]);
  const mention = (n: unknown) => {
    if (typeof n !== 'number') return;
    for (const p of [n - 1, n, n + 1]) if (p >= 1 && p <= 65535) numbers.add(p);
  };
  for (const rule of effectiveRules(testCase.policy)) {
    for (const entry of rule.ports ?? []) {
      mention(entry.port);
      mention(entry.endPort);
    }
  }
  for (const guardrail of guardrails) {
    for (const rule of [...guardrail.ingress, ...guardrail.egress]) {
      for (const entry of rule.protocols ?? []) {
        const dp = (entry.tcp ?? entry.udp ?? entry.sctp)?.destinationPort;
        mention(dp?.number);
        mention(dp?.range?.start);
        mention(dp?.range?.end);
      }
    }
  }
  const sorted = [...numbers].sort((a, b) => a - b);
  return PROTOCOLS.flatMap((protocol) => sorted.map((port) => ({ protocol, port })));
}

export interface Universe {
  /** P's namespace. */
  namespace: string;
  /** Label sets P's namespace may have (one when it is known, every assignment when not). */
  worlds: Labels[];
  /** Namespaces other than P's: known ones exactly, unknown names with every assignment. */
  otherNamespaces: NamespaceDef[];
  podLabels: Labels[];
  addresses: Endpoint[];
  ports: Array<{ protocol: Protocol; port: number }>;
}

export function buildUniverse(testCase: DiffCase, guardrails: readonly Guardrail[]): Universe {
  const namespace: string = testCase.policy.metadata?.namespace ?? 'default';
  const { ns, pod } = collectSelectors(testCase, guardrails);
  const names = new Set<string>(ns.get(NAME_LABEL) ?? []);
  ns.delete(NAME_LABEL);
  const nsKeys = [...ns].map(([key, values]) => ({ key, values: [...values] }));
  const podKeys = [...pod].map(([key, values]) => ({ key, values: [...values] }));
  const nsAssignments = assignments(nsKeys);
  const known = new Map(testCase.knownNamespaces.map((n) => [n.name, { ...n.labels, [NAME_LABEL]: n.name }]));
  const own = known.get(namespace);
  const worlds = own ? [own] : nsAssignments.map((labels) => ({ ...labels, [NAME_LABEL]: namespace }));
  const otherNamespaces: NamespaceDef[] = [...known].filter(([name]) => name !== namespace).map(([name, labels]) => ({ name, labels }));
  for (const name of [...names, FRESH_NAMESPACE]) {
    if (known.has(name) || name === namespace) continue;
    for (const labels of nsAssignments) otherNamespaces.push({ name, labels: { ...labels, [NAME_LABEL]: name } });
  }
  return {
    namespace,
    worlds,
    otherNamespaces,
    podLabels: assignments(podKeys),
    addresses: addresses(testCase, guardrails),
    ports: ports(testCase, guardrails),
  };
}

// ---------------------------------------------------------------------------------------------
// Enumeration

/** Keeps the first of each group of items with equal signatures (all items when `on` is false). */
function dedupeBy<T>(items: readonly T[], signature: (item: T) => string, on: boolean): T[] {
  if (!on) return [...items];
  const seen = new Map<string, T>();
  for (const item of items) {
    const key = signature(item);
    if (!seen.has(key)) seen.set(key, item);
  }
  return [...seen.values()];
}

const bits = (values: readonly boolean[]) => values.map((v) => (v ? '1' : '0')).join('');

interface Signatures {
  world(labels: Labels): string;
  guarded(endpoint: Endpoint): string;
  peer(endpoint: Endpoint): string;
  port(p: { protocol: Protocol; port: number }): string;
}

/** The vector of every predicate the evaluation reads, per kind of point. */
function signatures(rules: readonly PolicyRule[], guardrails: readonly Guardrail[], namespace: string, podSelector: Selector | undefined): Signatures {
  const policyPeers = rules.flatMap((rule) => rule.peers ?? []);
  const policyPorts = rules.flatMap((rule) => rule.ports ?? []);
  const guardrailRules = guardrails.flatMap((g) => [...g.ingress, ...g.egress]);
  const guardrailPeers = guardrailRules.flatMap((rule) => rule.from ?? rule.to ?? []);
  const guardrailProtocols = guardrailRules.flatMap((rule) => rule.protocols ?? []);
  const namespaceSelectors: Selector[] = [
    ...guardrails.map((g) => g.subject?.namespaces ?? g.subject?.pods?.namespaceSelector),
    ...guardrailPeers.map((p) => p.namespaces ?? p.pods?.namespaceSelector),
    ...policyPeers.map((p) => p.namespaceSelector),
  ].filter((selector): selector is Selector => selector !== undefined);
  const peer = (endpoint: Endpoint) => endpoint.kind + bits([
    ...policyPeers.map((p) => policyPeerMatches(p, endpoint, namespace)),
    ...guardrailPeers.map((p) => guardrailPeerMatches(p, endpoint)),
  ]);
  const guarded = (endpoint: Endpoint) => bits([
    endpoint.kind === 'pod' && selectorMatches(podSelector, endpoint.podLabels),
    ...guardrails.map((g) => subjectMatches(g.subject, endpoint)),
  ]);
  return {
    // A world (labels of P's namespace) is read only through namespace selectors.
    world: (labels) => bits(namespaceSelectors.map((selector) => selectorMatches(selector, labels))),
    guarded,
    peer,
    port: ({ protocol, port }) => bits([
      ...policyPorts.map((entry) => policyPortMatches(entry, protocol, port)),
      ...guardrailProtocols.map((entry) => guardrailProtocolMatches(entry, protocol, port)),
    ]),
  };
}

export interface BruteForceOptions { dedupe?: boolean }

export interface BruteForceResult {
  findings: Finding[];
  /** Connections (guarded × peer × protocol/port, per world and P rule) evaluated. */
  connections: number;
  /** One example connection per finding key. */
  examples: Map<string, string>;
}

/** Every override finding of the case, by enumeration. */
export function bruteForce(testCase: DiffCase, options: BruteForceOptions = {}): BruteForceResult {
  const dedupe = options.dedupe ?? true;
  const guardrails = guardrailsInPrecedence(testCase.objects);
  const enforce = guardrails.filter((g) => g.mode === 'Enforce');
  const staged = guardrails.filter((g) => g.mode !== 'Enforce').map((g) => ({ guardrail: g, chain: guardrails.filter((h) => h.mode === 'Enforce' || h === g) }));
  const universe = buildUniverse(testCase, guardrails);
  const rules = effectiveRules(testCase.policy);
  const podSelector: Selector | undefined = testCase.policy.spec?.podSelector ?? {};
  const sig = signatures(rules, guardrails, universe.namespace, podSelector);
  const findings = new Map<string, Finding>();
  const examples = new Map<string, string>();
  let connections = 0;

  const otherPeers: Endpoint[] = dedupeBy([
    ...universe.otherNamespaces.flatMap((ns) => universe.podLabels.map((podLabels): Endpoint => ({ kind: 'pod', namespace: ns.name, nsLabels: ns.labels, podLabels }))),
    ...universe.addresses,
  ], sig.peer, dedupe);
  const portPoints = dedupeBy(universe.ports, sig.port, dedupe);
  const record = (finding: Finding, example: () => string) => {
    const key = findingKey(finding);
    if (findings.has(key)) return;
    findings.set(key, finding);
    examples.set(key, example());
  };

  for (const world of dedupeBy(universe.worlds, sig.world, dedupe)) {
    const ownPods = universe.podLabels.map((podLabels): Endpoint => ({ kind: 'pod', namespace: universe.namespace, nsLabels: world, podLabels }));
    const guarded = dedupeBy(ownPods.filter((pod) => pod.kind === 'pod' && selectorMatches(podSelector, pod.podLabels)), sig.guarded, dedupe);
    const peers = dedupeBy([...ownPods, ...otherPeers], sig.peer, dedupe);
    for (const rule of rules) {
      connections += evaluateRule({ rule, guarded, peers, ports: portPoints, namespace: universe.namespace, enforce, staged, record });
    }
  }
  const order = (f: Finding) => findingKey(f);
  return { findings: [...findings.values()].sort((a, b) => (order(a) < order(b) ? -1 : 1)), connections, examples };
}

interface RuleJob {
  rule: PolicyRule;
  guarded: readonly Endpoint[];
  peers: readonly Endpoint[];
  ports: ReadonlyArray<{ protocol: Protocol; port: number }>;
  namespace: string;
  enforce: readonly Guardrail[];
  staged: ReadonlyArray<{ guardrail: Guardrail; chain: readonly Guardrail[] }>;
  record: (finding: Finding, example: () => string) => void;
}

function evaluateRule(job: RuleJob): number {
  const { rule, namespace } = job;
  let count = 0;
  for (const peer of job.peers) {
    const allowedPorts = job.ports.filter(({ protocol, port }) => policyRuleAllows(rule, peer, protocol, port, namespace));
    for (const guarded of job.guarded) {
      for (const { protocol, port } of allowedPorts) {
        count++;
        evaluateConnection(job, guarded, peer, protocol, port);
      }
    }
  }
  return count;
}

function evaluateConnection(job: RuleJob, guarded: Endpoint, peer: Endpoint, protocol: Protocol, port: number): void {
  const { rule } = job;
  const example = () => describeConnection(rule.direction, guarded, peer, protocol, port);
  const base = { direction: rule.direction, ruleIndex: rule.index };
  const decision = decide(job.enforce, rule.direction, guarded, peer, protocol, port);
  if (decision?.action === 'Deny') {
    job.record({ ...base, tier: decision.guardrail.tier, guardrail: decision.guardrail.name, rule: decision.rule, mode: 'Enforce' }, example);
  }
  for (const { guardrail, chain } of job.staged) {
    const staged = decide(chain, rule.direction, guarded, peer, protocol, port);
    if (staged?.guardrail === guardrail && staged.action === 'Deny') {
      job.record({ ...base, tier: guardrail.tier, guardrail: guardrail.name, rule: staged.rule, mode: guardrail.mode }, example);
    }
  }
}

export function describeEndpoint(endpoint: Endpoint): string {
  if (endpoint.kind === 'address') return formatAddress(endpoint.family, endpoint.value);
  const labels = (l: Labels) => `{${Object.entries(l).map(([k, v]) => `${k}=${v}`).join(',')}}`;
  return `pod ${labels(endpoint.podLabels)} in namespace ${endpoint.namespace} ${labels(endpoint.nsLabels)}`;
}

export function describeConnection(direction: Direction, guarded: Endpoint, peer: Endpoint, protocol: Protocol, port: number): string {
  const [from, to] = direction === 'ingress' ? [peer, guarded] : [guarded, peer];
  return `${protocol} ${port} from ${describeEndpoint(from)} to ${describeEndpoint(to)}`;
}

// ---------------------------------------------------------------------------------------------
// Guardrails that can never apply (src/engine/network/shadow.ts), by enumeration

/** A rule that was the first match of its tier for a connection: `guardrail[direction][index]`. */
export interface ReachedRule { guardrail: Guardrail; index: number }

/**
 * The walk of `decide`, keeping every rule that is the first match of its tier: a Pass rule is
 * reached too and sends the connection on to the next tier; an Accept or Deny ends the walk.
 */
export function reachedRules(chain: readonly Guardrail[], direction: Direction, guarded: Endpoint, peer: Endpoint, protocol: Protocol, port: number): ReachedRule[] {
  const reached: ReachedRule[] = [];
  let passedTier: string | undefined;
  for (const guardrail of chain) {
    if (guardrail.tier === passedTier || !subjectMatches(guardrail.subject, guarded)) continue;
    const rules = guardrail[direction];
    const index = rules.findIndex((rule) => guardrailRuleApplies(rule, direction, peer, protocol, port));
    if (index < 0) continue;
    reached.push({ guardrail, index });
    if (rules[index].action !== 'Pass') return reached;
    passedTier = guardrail.tier;
  }
  return reached;
}

/**
 * The guardrails with network rules that no connection can reach (shadow.ts: "can never apply"):
 * a guardrail applies when one of its rules is the first match of its tier for some connection in
 * the chain of Enforce guardrails with it in its place (a Warn or Audit guardrail as if enforced,
 * changing nothing for the others). Every namespace is hypothetical, as in shadow.ts: each name a
 * selector mentions, and a fresh one, with every label assignment.
 *
 * The universe is the override check's (`buildUniverse`) reduced to one representative per class:
 * namespaces by name and the namespace selectors they match, pod labels by the pod selectors they
 * match, addresses by the peers they match, ports by the protocol entries they match. A pod's
 * namespace is one of those classes, and two pods of one namespace name are in one class (they
 * share its labels); two names no selector mentions give the two ends of a connection room.
 * `maxConnections` bounds the work (undefined is returned past it).
 */
export function neverApplying(objects: Record<string, any>[], maxConnections = 400_000): string[] | undefined {
  const guardrails = guardrailsInPrecedence(objects).filter((g) => g.ingress.length + g.egress.length > 0);
  // A policy without rules in a second unmentioned namespace: with FRESH_NAMESPACE, the two ends of a
  // connection can be in two namespaces that no selector names.
  const policy = { metadata: { namespace: `${FRESH_NAMESPACE}-2` }, spec: {} };
  const universe = buildUniverse({ objects, knownNamespaces: [], policy }, guardrails);
  const rules = guardrails.flatMap((g) => [...g.ingress, ...g.egress]);
  const peers = rules.flatMap((rule) => rule.from ?? rule.to ?? []);
  const nsSelectors: Selector[] = [
    ...guardrails.map((g) => g.subject?.namespaces ?? g.subject?.pods?.namespaceSelector),
    ...peers.map((p) => p.namespaces ?? p.pods?.namespaceSelector),
  ].filter((s): s is Selector => s !== undefined);
  const podSelectors: Selector[] = [
    ...guardrails.map((g) => g.subject?.pods?.podSelector),
    ...peers.map((p) => p.pods?.podSelector),
  ].filter((s): s is Selector => s !== undefined);
  const namespaces = dedupeBy(
    [...universe.worlds.map((labels) => ({ name: universe.namespace, labels })), ...universe.otherNamespaces],
    (ns) => `${ns.name} ${bits(nsSelectors.map((s) => selectorMatches(s, ns.labels)))}`,
    true,
  );
  const podLabels = dedupeBy(universe.podLabels, (labels) => bits(podSelectors.map((s) => selectorMatches(s, labels))), true);
  const pods: Array<Endpoint & { kind: 'pod' }> = namespaces.flatMap((ns) => podLabels.map((labels) => ({ kind: 'pod' as const, namespace: ns.name, nsLabels: ns.labels, podLabels: labels })));
  const addresses = dedupeBy(universe.addresses, (a) => bits(peers.map((p) => guardrailPeerMatches(p, a))), true);
  const protocolEntries = rules.flatMap((rule) => rule.protocols ?? []);
  const ports = dedupeBy(universe.ports, ({ protocol, port }) => bits(protocolEntries.map((entry) => guardrailProtocolMatches(entry, protocol, port))), true);
  if (pods.length * (pods.length + addresses.length) * ports.length * 2 > maxConnections) return undefined;

  const enforce = guardrails.filter((g) => g.mode === 'Enforce');
  const chains = new Map(guardrails.map((g) => [g, g.mode === 'Enforce' ? enforce : guardrails.filter((h) => h.mode === 'Enforce' || h === g)]));
  const live = new Set<Guardrail>();
  const visit = (direction: Direction, guarded: Endpoint, peer: Endpoint, { protocol, port }: { protocol: Protocol; port: number }) => {
    for (const [guardrail, chain] of chains) {
      if (live.has(guardrail) || guardrail[direction].length === 0) continue;
      if (reachedRules(chain, direction, guarded, peer, protocol, port).some((r) => r.guardrail === guardrail)) live.add(guardrail);
    }
  };
  for (const direction of ['ingress', 'egress'] as const) {
    for (const guarded of pods) {
      // A pod peer in the guarded pod's namespace name must be in that very namespace (one label set).
      const candidates = [...pods.filter((p) => p.namespace !== guarded.namespace || p.nsLabels === guarded.nsLabels), ...addresses];
      for (const peer of candidates) {
        for (const port of ports) visit(direction, guarded, peer, port);
        if (live.size === guardrails.length) return [];
      }
    }
  }
  return guardrails.filter((g) => !live.has(g)).map((g) => g.name).sort();
}
