/**
 * fast-check generators for the differential test of the override check: small Tier/Guardrail
 * sets, known namespaces and one NetworkPolicy, drawn from tiny pools of keys, values, CIDRs and
 * ports so that selectors, CIDRs and port ranges overlap often. Named ports are never generated
 * (their symbolic reading is a deliberate over-approximation).
 */
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { formatAddress, NAME_LABEL, parseAddress, type DiffCase, type NamespaceDef, type Requirement, type Selector } from './brute-force.js';

const API = 'tierguard.dev/v1alpha1';
const VALUES = ['a', 'b'];
/** Namespace names selectors may mention; ns-a and ns-b may exist, ns-x never does. */
const NAMES = ['ns-a', 'ns-b', 'ns-x'];
const NS_KEYS = [{ key: 'env', values: VALUES }, { key: 'team', values: VALUES }, { key: NAME_LABEL, values: NAMES }];
/** `env` is both a namespace and a pod key: the two label spaces must never be confused. */
const POD_KEYS = [{ key: 'app', values: VALUES }, { key: 'env', values: VALUES }];
const PORTS = [1, 53, 80, 443, 5432, 8000, 8080, 9000, 65535];
const CIDR_POOLS = {
  4: { bases: ['10.0.0.0', '10.1.0.0', '10.1.2.0', '10.1.2.128', '192.168.0.0', '0.0.0.0'], prefixes: [0, 8, 16, 24, 25, 32] },
  6: { bases: ['fd00::', 'fd00:1::', 'fd00:1::8000', '2001:db8::', '::'], prefixes: [0, 8, 32, 64, 112, 128] },
} as const;

/** Drops keys whose value is undefined, so objects look as they would in YAML. */
function clean<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

const optional = <T>(arb: fc.Arbitrary<T>, freq = 1) => fc.option(arb, { nil: undefined, freq });

function selectorArb(specs: ReadonlyArray<{ key: string; values: readonly string[] }>): fc.Arbitrary<Selector> {
  const spec = fc.constantFrom(...specs);
  const requirement: fc.Arbitrary<Requirement> = spec.chain(({ key, values }) => fc.oneof(
    fc.record({ key: fc.constant(key), operator: fc.constantFrom('In' as const, 'NotIn' as const), values: fc.subarray([...values], { minLength: 1 }) }),
    fc.record({ key: fc.constant(key), operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const) }),
  ));
  const label = spec.chain(({ key, values }) => fc.tuple(fc.constant(key), fc.constantFrom(...values)));
  const term = fc.oneof(label.map((entry) => ({ entry })), requirement.map((expression) => ({ expression })));
  const count = fc.oneof(
    { arbitrary: fc.constant(0), weight: 3 },
    { arbitrary: fc.constant(1), weight: 4 },
    { arbitrary: fc.constant(2), weight: 2 },
    { arbitrary: fc.constant(3), weight: 1 },
  );
  const empty = fc.constantFrom<Selector>({}, {}, { matchLabels: {} }, { matchExpressions: [] });
  return count.chain((n) => (n === 0 ? empty : fc.array(term, { minLength: n, maxLength: n }).map((terms) => {
    const labels = terms.flatMap((t) => ('entry' in t ? [t.entry] : []));
    const expressions = terms.flatMap((t) => ('expression' in t ? [t.expression] : []));
    return clean({
      matchLabels: labels.length ? Object.fromEntries(labels) : undefined,
      matchExpressions: expressions.length ? expressions : undefined,
    });
  })));
}

export const namespaceSelectorArb = selectorArb(NS_KEYS);
export const podSelectorArb = selectorArb(POD_KEYS);

function cidrOf(family: 4 | 6, base: string, prefix: number): string {
  const { value } = parseAddress(base);
  const host = BigInt((family === 4 ? 32 : 128) - prefix);
  const network = formatAddress(family, (value >> host) << host);
  return `${ipaddr.parse(network).toString()}/${prefix}`;
}

function cidrArb(family: 4 | 6): fc.Arbitrary<string> {
  const pool = CIDR_POOLS[family];
  return fc.tuple(fc.constantFrom(...pool.bases), fc.constantFrom(...pool.prefixes)).map(([base, prefix]) => cidrOf(family, base, prefix));
}

const familyArb = fc.constantFrom<4 | 6>(4, 6);
const anyCidrArb = familyArb.chain(cidrArb);

function strictlyInside(inner: string, outer: string): boolean {
  const [a, b] = [ipaddr.parseCIDR(inner), ipaddr.parseCIDR(outer)];
  return a[0].kind() === b[0].kind() && a[1] > b[1] && a[0].match(b);
}

const ipBlockArb = familyArb.chain((family) => fc.record({ cidr: cidrArb(family), except: fc.array(cidrArb(family), { maxLength: 2 }) }))
  .map(({ cidr, except }) => {
    const inside = [...new Set(except)].filter((e) => strictlyInside(e, cidr));
    return clean({ cidr, except: inside.length ? inside : undefined });
  });

// ---------------------------------------------------------------------------------------------
// NetworkPolicy

const policyPeerArb = fc.oneof(
  podSelectorArb.map((podSelector) => ({ podSelector })),
  namespaceSelectorArb.map((namespaceSelector) => ({ namespaceSelector })),
  fc.record({ namespaceSelector: namespaceSelectorArb, podSelector: podSelectorArb }),
  ipBlockArb.map((ipBlock) => ({ ipBlock })),
);

/** endPort: a pool port at or above `port` (ranges meet guardrail ports exactly) or port + delta. */
const policyPortArb = fc.record({
  protocol: optional(fc.constantFrom('TCP', 'UDP', 'SCTP')),
  port: optional(fc.constantFrom(...PORTS), 4),
  end: optional(fc.oneof(fc.constantFrom(...PORTS).map((to) => ({ to })), fc.constantFrom(0, 1, 100, 70000).map((delta) => ({ delta }))), 2),
}).map(({ protocol, port, end }) => {
  const endPort = port === undefined || end === undefined ? undefined : 'to' in end ? Math.max(port, end.to) : Math.min(65535, port + end.delta);
  return clean({ protocol, port, endPort });
});

/** `undefined` (absent), `[]` (present but empty) or 1..2 entries. */
function listArb<T>(item: fc.Arbitrary<T>): fc.Arbitrary<T[] | undefined> {
  return fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 1 },
    { arbitrary: fc.constant([] as T[]), weight: 1 },
    { arbitrary: fc.array(item, { minLength: 1, maxLength: 2 }), weight: 4 },
  );
}

const ingressRuleArb = fc.record({ from: listArb(policyPeerArb), ports: listArb(policyPortArb) }).map(clean);
const egressRuleArb = fc.record({ to: listArb(policyPeerArb), ports: listArb(policyPortArb) }).map(clean);

/** Rule lists: mostly 1..2 rules in all; sometimes an explicitly empty list. */
type RuleLists = [Record<string, unknown>[] | undefined, Record<string, unknown>[] | undefined];
const ruleListsArb: fc.Arbitrary<RuleLists> = fc.oneof<fc.WeightedArbitrary<RuleLists>[]>(
  { arbitrary: fc.tuple(fc.array(ingressRuleArb, { minLength: 1, maxLength: 2 }), fc.constant(undefined)) as fc.Arbitrary<RuleLists>, weight: 4 },
  { arbitrary: fc.tuple(fc.constant(undefined), fc.array(egressRuleArb, { minLength: 1, maxLength: 2 })) as fc.Arbitrary<RuleLists>, weight: 3 },
  { arbitrary: fc.tuple(fc.array(ingressRuleArb, { minLength: 1, maxLength: 1 }), fc.array(egressRuleArb, { minLength: 1, maxLength: 1 })) as fc.Arbitrary<RuleLists>, weight: 3 },
  { arbitrary: fc.tuple(fc.array(ingressRuleArb, { maxLength: 1 }), fc.constant([] as Record<string, unknown>[])) as fc.Arbitrary<RuleLists>, weight: 1 },
);

const policyTypesArb = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 6 },
  { arbitrary: fc.constantFrom(['Ingress'], ['Egress'], ['Ingress', 'Egress']), weight: 3 },
);

function networkPolicyArb(namespace: string) {
  return fc.record({ podSelector: podSelectorArb, policyTypes: policyTypesArb, rules: ruleListsArb }).map(({ podSelector, policyTypes, rules: [ingress, egress] }) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'np', namespace },
    spec: clean({ podSelector, policyTypes, ingress, egress }),
  }));
}

// ---------------------------------------------------------------------------------------------
// Tiers and guardrails

const guardrailPeerArb = fc.oneof(
  { arbitrary: namespaceSelectorArb.map((namespaces) => ({ namespaces })), weight: 3 },
  { arbitrary: fc.record({ namespaceSelector: namespaceSelectorArb, podSelector: podSelectorArb }).map((pods) => ({ pods })), weight: 3 },
  { arbitrary: fc.array(anyCidrArb, { minLength: 1, maxLength: 2 }).map((networks) => ({ networks: [...new Set(networks)] })), weight: 3 },
  { arbitrary: fc.constant({ nodes: {} }), weight: 1 },
);

const destinationPortArb = fc.oneof(
  fc.constantFrom(...PORTS).map((number) => ({ number })),
  fc.uniqueArray(fc.constantFrom(...PORTS), { minLength: 2, maxLength: 2 }).map(([a = 1, b = 2]) => ({ range: { start: Math.min(a, b), end: Math.max(a, b) } })),
);

const guardrailProtocolArb = fc.tuple(fc.constantFrom('tcp', 'udp', 'sctp'), destinationPortArb)
  .map(([protocol, destinationPort]) => ({ [protocol]: { destinationPort } }));

function guardrailRuleArb(peersKey: 'from' | 'to') {
  return fc.record({
    name: optional(fc.constantFrom('alpha', 'beta', 'gamma'), 2),
    action: fc.constantFrom('Deny', 'Deny', 'Deny', 'Deny', 'Accept', 'Accept', 'Pass', 'Pass'),
    peers: fc.array(guardrailPeerArb, { minLength: 1, maxLength: 2 }),
    protocols: optional(fc.array(guardrailProtocolArb, { minLength: 1, maxLength: 2 }), 2),
  }).map(({ name, action, peers, protocols }) => clean({ name, action, [peersKey]: peers, protocols }));
}

/** Names used twice in one direction are dropped (the later rule is then named by position). */
function uniqueNames<T extends { name?: string }>(rules: T[]): T[] {
  const seen = new Set<string>();
  return rules.map((rule) => {
    if (rule.name === undefined) return rule;
    if (seen.has(rule.name)) return clean({ ...rule, name: undefined });
    seen.add(rule.name);
    return rule;
  });
}

const subjectArb = fc.oneof(
  namespaceSelectorArb.map((namespaces) => ({ namespaces })),
  fc.record({ namespaceSelector: namespaceSelectorArb, podSelector: podSelectorArb }).map((pods) => ({ pods })),
);

const guardrailSpecArb = fc.record({
  priority: fc.constantFrom(0, 5, 10),
  mode: fc.constantFrom(undefined, undefined, undefined, 'Enforce', 'Warn', 'Audit'),
  subject: subjectArb,
  ingress: fc.array(guardrailRuleArb('from'), { maxLength: 3 }),
  egress: fc.array(guardrailRuleArb('to'), { maxLength: 2 }),
}).filter((spec) => spec.ingress.length + spec.egress.length > 0 && spec.ingress.length + spec.egress.length <= 4);

const tiersArb = fc.tuple(
  fc.shuffledSubarray([10, 20, 100], { minLength: 2, maxLength: 2 }),
  fc.constantFrom(1, 2, 2),
).map(([priorities, count]) => ['t-a', 't-b'].slice(0, count).map((name, i) => ({
  apiVersion: API,
  kind: 'Tier',
  metadata: { name },
  spec: { priority: priorities[i] },
})));

function guardrailsArb(tiers: readonly string[]) {
  return fc.tuple(
    fc.constantFrom(1, 2, 2, 3, 3, 3, 4, 4).chain((n) => fc.array(fc.tuple(fc.constantFrom(...tiers), guardrailSpecArb), { minLength: n, maxLength: n })),
    fc.shuffledSubarray(['g-a', 'g-b', 'g-c', 'g-d'], { minLength: 4, maxLength: 4 }),
  ).map(([specs, names]) => specs.map(([tier, spec], i) => ({
    apiVersion: API,
    kind: 'Guardrail',
    metadata: { name: names[i] },
    spec: clean({
      tier,
      priority: spec.priority,
      mode: spec.mode,
      subject: spec.subject,
      ingress: spec.ingress.length ? uniqueNames(spec.ingress) : undefined,
      egress: spec.egress.length ? uniqueNames(spec.egress) : undefined,
    }),
  })));
}

// ---------------------------------------------------------------------------------------------
// Namespaces and the whole case

/** env/team: a value selectors name, one they never name ('c'), or absent. */
const namespaceLabelsArb = fc.record({
  env: optional(fc.constantFrom('a', 'b', 'c'), 3),
  team: optional(fc.constantFrom('a', 'b', 'c'), 3),
}).map((labels) => clean(labels) as Record<string, string>);

const knownNamespacesArb: fc.Arbitrary<NamespaceDef[]> = fc.record({
  nsA: optional(namespaceLabelsArb, 2),
  nsB: optional(namespaceLabelsArb, 2),
}).map(({ nsA, nsB }) => [
  ...(nsA ? [{ name: 'ns-a', labels: nsA }] : []),
  ...(nsB ? [{ name: 'ns-b', labels: nsB }] : []),
]);

export const diffCaseArb: fc.Arbitrary<DiffCase> = tiersArb
  .chain((tiers) => fc.record({
    tiers: fc.constant(tiers),
    guardrails: guardrailsArb(tiers.map((t) => t.metadata.name)),
    knownNamespaces: knownNamespacesArb,
    policy: fc.constantFrom(...NAMES).chain(networkPolicyArb),
  }))
  .map(({ tiers, guardrails, knownNamespaces, policy }) => ({ objects: [...tiers, ...guardrails], knownNamespaces, policy }));
