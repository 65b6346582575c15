/** The strict policy schema and the compiler's cross-object checks, with their exact messages. */
import { describe, expect, it } from 'vitest';
import { compilePolicySet } from '../../src/policy/compile.js';
import { parseManifestText } from '../../src/policy/manifests.js';
import { formatProblem } from '../../src/policy/problems.js';

const tier = (name: string, priority: number) => `apiVersion: tierguard.dev/v1alpha1
kind: Tier
metadata: {name: ${name}}
spec: {priority: ${priority}}
`;

/** A valid guardrail whose spec lines can be replaced by `spec` (YAML, indented two spaces). */
const guardrail = (spec: string, name = 'g') => `apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: ${name}}
spec:
  tier: security
  priority: 10
${spec}`;

const labels = `  labels:
    match: {resources: [Pod]}
    required: [{key: team}]
`;

const network = (rule: string) => `  subject: {namespaces: {matchLabels: {env: prod}}}
  ingress:
${rule}`;

function compile(...docs: string[]) {
  const text = docs.join('---\n');
  const parsed = parseManifestText(text, 'policies.yaml');
  const result = compilePolicySet(parsed, { generation: 1 });
  return { ...result, messages: result.problems.map(formatProblem) };
}

describe('a valid policy set', () => {
  it('compiles into tiers and guardrails in precedence order, frozen', () => {
    const result = compile(
      tier('platform', 200), tier('security', 100),
      guardrail(labels, 'zeta'),
      guardrail(labels, 'alpha'),
      guardrail(labels, 'first').replace('priority: 10', 'priority: 1'),
      guardrail(labels, 'late').replace('tier: security', 'tier: platform').replace('priority: 10', 'priority: 0'),
    );
    expect(result.messages).toEqual([]);
    expect(result.set?.tiers.map((t) => t.name)).toEqual(['security', 'platform']);
    expect(result.set?.guardrails.map((g) => g.name)).toEqual(['first', 'alpha', 'zeta', 'late']);
    expect(result.set?.guardrails[0]?.mode).toBe('Enforce');
    expect(Object.isFrozen(result.set)).toBe(true);
    expect(Object.isFrozen(result.set?.guardrails)).toBe(true);
  });

  it('compiles network rules and CEL validations', () => {
    const result = compile(tier('security', 100), guardrail(`${network(`    - name: deny-dev
      action: Deny
      from:
        - namespaces: {matchLabels: {env: dev}}
        - pods: {namespaceSelector: {}, podSelector: {matchLabels: {role: debug}}}
        - networks: ["10.0.0.0/8", "fd00::/8"]
      protocols:
        - tcp: {destinationPort: {number: 5432}}
        - udp: {destinationPort: {range: {start: 8000, end: 9000}}}
        - destinationNamedPort: metrics
`)}  egress:
    - {name: no-internet, action: Deny, to: [{networks: ["0.0.0.0/0", "::/0"]}]}
  validations:
    - resources: [Pod]
      expression: "!has(object.spec.hostNetwork)"
      message: no host network
`));
    expect(result.messages).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.set?.guardrails[0]?.validations?.map((v) => v.id)).toEqual(['validations[0]']);
    expect(result.set?.validationGuardrails.Pod.map((g) => g.name)).toEqual(['g']);
    const [rule] = result.set?.network.ingress[0]?.guardrails[0]?.network.ingress ?? [];
    expect(rule?.id).toBe('deny-dev');
    expect(rule?.peers.map((p) => p.kind)).toEqual(['namespaces', 'pods', 'networks']);
    expect(rule?.namedPorts).toEqual(['metrics']);
    expect(result.set?.network.egress[0]?.guardrails[0]?.network.egress[0]?.id).toBe('no-internet');
  });

  it('takes namespace labels from Namespace objects, always with kubernetes.io/metadata.name', () => {
    const result = compile(tier('security', 100), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: payments, labels: {env: prod}}\n');
    expect(result.namespaces).toEqual([{ name: 'payments', labels: { env: 'prod', 'kubernetes.io/metadata.name': 'payments' }, annotations: {} }]);
  });
});

describe('every problem is reported with file, document, object, field path and reason', () => {
  it.each([
    {
      name: 'unknown field',
      docs: [tier('security', 100), guardrail(`${labels}  labelz: {}\n`)],
      expected: ['policies.yaml#2 (Guardrail g) spec.labelz: unknown field'],
    },
    {
      name: 'unknown field deep inside',
      docs: [tier('security', 100), guardrail(labels.replace('required: [{key: team}]', 'required: [{key: team, valeus: [a]}]'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.labels.required[0].valeus: unknown field'],
    },
    {
      name: 'a Guardrail naming a missing Tier',
      docs: [tier('security', 100), guardrail(labels).replace('tier: security', 'tier: secrity')],
      expected: ['policies.yaml#2 (Guardrail g) spec.tier: tier "secrity" does not exist (known tiers: security)'],
    },
    {
      name: 'equal Tier priorities',
      docs: [tier('security', 100), tier('platform', 100)],
      expected: ['policies.yaml#2 (Tier platform) spec.priority: priority 100 is already used by tier security (policies.yaml#1); tier priorities must be unique'],
    },
    {
      name: 'In without values',
      docs: [tier('security', 100), guardrail(labels.replace('match: {resources: [Pod]}', 'match: {resources: [Pod], namespaces: {matchExpressions: [{key: env, operator: In}]}}'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.labels.match.namespaces.matchExpressions[0].values: operator In needs a non-empty values list'],
    },
    {
      name: 'Exists with values',
      docs: [tier('security', 100), guardrail(labels.replace('match: {resources: [Pod]}', 'match: {resources: [Pod], namespaces: {matchExpressions: [{key: env, operator: Exists, values: [x]}]}}'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.labels.match.namespaces.matchExpressions[0].values: operator Exists takes no values'],
    },
    {
      name: 'an unknown operator',
      docs: [tier('security', 100), guardrail(labels.replace('match: {resources: [Pod]}', 'match: {resources: [Pod], namespaces: {matchExpressions: [{key: env, operator: Equals, values: [x]}]}}'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.labels.match.namespaces.matchExpressions[0].operator: Invalid option: expected one of "In"|"NotIn"|"Exists"|"DoesNotExist"'],
    },
    {
      name: 'invalid label key',
      docs: [tier('security', 100), guardrail(labels.replace('{key: team}', '{key: "-team"}'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.labels.required[0].key: label key "-team": name part must be 1-63 characters of [A-Za-z0-9-_.], starting and ending with an alphanumeric'],
    },
    {
      name: 'invalid label key prefix',
      docs: [tier('security', 100), guardrail(labels.replace('{key: team}', '{key: "Example.com/team"}'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.labels.required[0].key: label key "Example.com/team": prefix must be a lowercase DNS subdomain of at most 253 characters'],
    },
    {
      name: 'invalid label value in matchLabels',
      docs: [tier('security', 100), guardrail(labels.replace('match: {resources: [Pod]}', 'match: {resources: [Pod], namespaces: {matchLabels: {env: "prod!"}}}'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.labels.match.namespaces.matchLabels.env: label value "prod!": must be at most 63 characters of [A-Za-z0-9-_.], starting and ending with an alphanumeric'],
    },
    {
      name: 'invalid label key in matchLabels',
      docs: [tier('security', 100), guardrail(labels.replace('match: {resources: [Pod]}', 'match: {resources: [Pod], namespaces: {matchLabels: {"a b": x}}}'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.labels.match.namespaces.matchLabels[a b]: label key "a b": name part must be 1-63 characters of [A-Za-z0-9-_.], starting and ending with an alphanumeric'],
    },
    {
      name: 'a bad CIDR',
      docs: [tier('security', 100), guardrail(network('    - {name: r, action: Deny, from: [{networks: ["10.0.0.0/33"]}]}\n'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.ingress[0].from[0].networks[0]: "10.0.0.0/33" is not a valid IPv4 or IPv6 CIDR'],
    },
    {
      name: 'a CIDR with host bits set',
      docs: [tier('security', 100), guardrail(network('    - {name: r, action: Deny, from: [{networks: ["10.1.2.3/8", "2001:db8::1/32"]}]}\n'))],
      expected: [
        'policies.yaml#2 (Guardrail g) spec.ingress[0].from[0].networks[0]: "10.1.2.3/8" has host bits set; did you mean 10.0.0.0/8?',
        'policies.yaml#2 (Guardrail g) spec.ingress[0].from[0].networks[1]: "2001:db8::1/32" has host bits set; did you mean 2001:db8::/32?',
      ],
    },
    {
      name: 'an ambiguous CIDR: a leading zero, octal to some tools and decimal to NetworkPolicy',
      docs: [tier('security', 100), guardrail(network('    - {name: r, action: Deny, from: [{networks: ["010.0.0.0/8"]}]}\n'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.ingress[0].from[0].networks[0]: "010.0.0.0/8" is not a valid IPv4 or IPv6 CIDR: IPv4 field "010" has a leading zero (NetworkPolicy reads it as decimal 10, inet_aton as octal 8); write 10.0.0.0/8 for what a NetworkPolicy reads'],
    },
    {
      name: 'an IPv4-mapped IPv6 CIDR',
      docs: [tier('security', 100), guardrail(network('    - {name: r, action: Deny, from: [{networks: ["::ffff:10.0.0.0/104"]}]}\n'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.ingress[0].from[0].networks[0]: "::ffff:10.0.0.0/104" is an IPv4-mapped IPv6 address, which guardrails do not accept; write the IPv4 prefix 10.0.0.0/8'],
    },
    {
      name: 'ports outside 1-65535',
      docs: [tier('security', 100), guardrail(network('    - {name: r, action: Deny, from: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {number: 0}}}, {udp: {destinationPort: {number: 70000}}}]}\n'))],
      expected: [
        'policies.yaml#2 (Guardrail g) spec.ingress[0].protocols[0].tcp.destinationPort.number: port must be between 1 and 65535',
        'policies.yaml#2 (Guardrail g) spec.ingress[0].protocols[1].udp.destinationPort.number: port must be between 1 and 65535',
      ],
    },
    {
      name: 'a range with start >= end',
      docs: [tier('security', 100), guardrail(network('    - {name: r, action: Deny, from: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {range: {start: 9000, end: 9000}}}}]}\n'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.ingress[0].protocols[0].tcp.destinationPort.range.start: range start (9000) must be less than end (9000)'],
    },
    {
      name: 'more than one key in a peer',
      docs: [tier('security', 100), guardrail(network('    - {name: r, action: Deny, from: [{namespaces: {}, networks: ["10.0.0.0/8"]}]}\n'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.ingress[0].from[0]: peer must have exactly one of namespaces, pods, networks, nodes; found namespaces, networks'],
    },
    {
      name: 'a subject with no key',
      docs: [tier('security', 100), guardrail('  subject: {}\n  ingress: [{name: r, action: Deny, from: [{namespaces: {}}]}]\n')],
      expected: ['policies.yaml#2 (Guardrail g) spec.subject: subject must have exactly one of namespaces, pods; found none'],
    },
    {
      name: 'rules without a subject',
      docs: [tier('security', 100), guardrail('  ingress: [{name: r, action: Deny, from: [{namespaces: {}}]}]\n')],
      expected: ['policies.yaml#2 (Guardrail g) spec.subject: ingress and egress rules need a subject'],
    },
    {
      name: 'an unknown action',
      docs: [tier('security', 100), guardrail(network('    - {name: r, action: Allow, from: [{namespaces: {}}]}\n'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.ingress[0].action: Invalid option: expected one of "Accept"|"Deny"|"Pass"'],
    },
    {
      name: 'a default with both value and fromNamespaceLabel',
      docs: [tier('security', 100), guardrail('  labels:\n    match: {resources: [Pod]}\n    defaults: [{key: team, value: a, fromNamespaceLabel: team}]\n')],
      expected: ['policies.yaml#2 (Guardrail g) spec.labels.defaults[0]: default must have exactly one of value, fromNamespaceLabel; found value, fromNamespaceLabel'],
    },
    {
      name: 'an invalid RE2 pattern',
      docs: [tier('security', 100), guardrail(labels.replace('{key: team}', '{key: team, pattern: "(a"}'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.labels.required[0].pattern: invalid RE2 pattern: error parsing regexp: missing closing ): `(a`'],
    },
    {
      name: 'a backreference (not RE2)',
      docs: [tier('security', 100), guardrail(labels.replace('{key: team}', '{key: team, pattern: "(a)\\\\1"}'))],
      expected: ['policies.yaml#2 (Guardrail g) spec.labels.required[0].pattern: invalid RE2 pattern: error parsing regexp: invalid escape sequence: `\\1`'],
    },
    {
      name: 'a CEL syntax error, with its position',
      docs: [tier('security', 100), guardrail('  validations:\n    - {resources: [Pod], expression: "object.spec.hostNetwork ==", message: m}\n')],
      expected: [expect.stringMatching(/^policies\.yaml#2 \(Guardrail g\) spec\.validations\[0\]\.expression: CEL error at line 1, column \d+: /)],
    },
    {
      name: 'a CEL expression that does not return bool',
      docs: [tier('security', 100), guardrail('  validations:\n    - {resources: [Pod], expression: "1 + 2", message: m}\n')],
      expected: ['policies.yaml#2 (Guardrail g) spec.validations[0].expression: CEL error at line 1, column 1: expression must return bool, but returns int'],
    },
    {
      name: 'an unknown CEL variable, in a messageExpression',
      docs: [tier('security', 100), guardrail('  validations:\n    - {resources: [Pod], expression: "true", messageExpression: "params.x"}\n')],
      expected: [expect.stringMatching(/^policies\.yaml#2 \(Guardrail g\) spec\.validations\[0\]\.messageExpression: CEL error at line 1, column 1: Unknown variable: params/)],
    },
    {
      name: 'a missing required field',
      docs: [tier('security', 100), guardrail(labels).replace('  priority: 10\n', '')],
      expected: ['policies.yaml#2 (Guardrail g) spec.priority: required field is missing'],
    },
    {
      name: 'a missing priority does not hide the errors of the CEL expressions and patterns',
      docs: [tier('security', 100), guardrail('  validations:\n    - {resources: [Pod], expression: "object.metadata.name ==", message: m}\n    - {resources: [Pod], expression: "true", messageExpression: 1}\n  labels:\n    match: {resources: [Pod]}\n    required: [{key: team, pattern: "a(b"}]\n').replace('  priority: 10\n', '')],
      expected: [
        'policies.yaml#2 (Guardrail g) spec.priority: required field is missing',
        'policies.yaml#2 (Guardrail g) spec.validations[1].messageExpression: expected string, received number',
        'policies.yaml#2 (Guardrail g) spec.validations[0].expression: CEL error at line 1, column 24: Unexpected token: EOF',
        'policies.yaml#2 (Guardrail g) spec.labels.required[0].pattern: invalid RE2 pattern: error parsing regexp: missing closing ): `a(b`',
      ],
    },
    {
      name: 'a priority out of range',
      docs: [tier('security', 1001)],
      expected: ['policies.yaml#1 (Tier security) spec.priority: Too big: expected number to be <=1000'],
    },
    {
      name: 'a guardrail with nothing in it',
      docs: [tier('security', 100), guardrail('')],
      expected: ['policies.yaml#2 (Guardrail g) spec: a guardrail needs network rules (ingress/egress), labels or validations'],
    },
    {
      name: 'a duplicate guardrail',
      docs: [tier('security', 100), guardrail(labels), guardrail(labels)],
      expected: ['policies.yaml#3 (Guardrail g) metadata.name: guardrail g is defined twice (first at policies.yaml#2)'],
    },
    {
      name: 'a foreign kind',
      docs: [tier('security', 100), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n'],
      expected: ['policies.yaml#2 kind: expected Tier, Guardrail (tierguard.dev/v1alpha1) or Namespace (v1), got "ConfigMap"'],
    },
    {
      name: 'a wrong apiVersion',
      docs: [tier('security', 100).replace('v1alpha1', 'v1')],
      expected: ['policies.yaml#1 (Tier security) apiVersion: expected "tierguard.dev/v1alpha1"'],
    },
    {
      name: 'broken YAML',
      docs: [tier('security', 100), 'kind: Guardrail\nmetadata: {name: [\n'],
      // once, where the parser gave up: the end of the text, after the document's two lines
      expected: ['policies.yaml#2: invalid YAML at line 8, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    },
  ])('$name', ({ docs, expected }) => {
    const result = compile(...docs);
    expect(result.messages).toEqual(expected);
    expect(result.set).toBeUndefined();
  });

  it('reports problems from several documents all at once', () => {
    const result = compile(
      tier('security', 100),
      tier('platform', 100),
      guardrail(labels.replace('{key: team}', '{key: "-bad"}'), 'one'),
      guardrail(labels, 'two').replace('tier: security', 'tier: nope'),
    );
    expect(result.messages).toHaveLength(3);
    expect(result.messages.map((m) => m.slice(0, m.indexOf(')') + 1))).toEqual([
      'policies.yaml#2 (Tier platform)',
      'policies.yaml#3 (Guardrail one)',
      'policies.yaml#4 (Guardrail two)',
    ]);
  });
});

describe('shadowed guardrails', () => {
  it('warns about a guardrail that earlier rules leave nothing to decide, and only that one', () => {
    const net = (name: string, priority: number, from: string, action = 'Deny') => guardrail(`  subject: {namespaces: {}}
  ingress:
    - {name: r, action: ${action}, from: [${from}]}
`, name).replace('priority: 10', `priority: ${priority}`);
    const result = compile(tier('security', 100), tier('platform', 200),
      net('wide', 1, '{networks: ["10.0.0.0/8"]}'),
      net('narrow', 2, '{networks: ["10.1.0.0/16"]}'),
      net('other', 3, '{networks: ["192.168.0.0/16"]}'),
      net('passing', 4, '{namespaces: {}}', 'Pass'),
      net('after-pass', 5, '{namespaces: {matchLabels: {env: dev}}}'),
      net('next-tier', 1, '{namespaces: {matchLabels: {env: dev}}}').replace('tier: security', 'tier: platform'));
    expect(result.messages).toEqual([]);
    expect(result.warnings).toEqual([
      'Guardrail narrow can never apply: earlier rules (wide) decide everything it matches',
      'Guardrail after-pass can never apply: earlier rules (passing) decide everything it matches',
    ]);
  });
});

describe('equal-priority guardrails', () => {
  const netGuardrail = (name: string, from: string, priority = 10) => guardrail(`  subject: {namespaces: {}}
  ingress:
    - {name: r, action: Deny, from: [${from}]}
`, name).replace('priority: 10', `priority: ${priority}`);

  it.each([
    { name: 'overlapping rules warn', a: '{namespaces: {matchLabels: {env: dev}}}', b: '{namespaces: {matchLabels: {team: x}}}', priority: 10, warns: true },
    { name: 'disjoint selectors do not', a: '{namespaces: {matchLabels: {env: dev}}}', b: '{namespaces: {matchLabels: {env: prod}}}', priority: 10, warns: false },
    { name: 'disjoint networks do not', a: '{networks: ["10.0.0.0/8"]}', b: '{networks: ["192.168.0.0/16"]}', priority: 10, warns: false },
    { name: 'overlapping networks warn', a: '{networks: ["10.0.0.0/8"]}', b: '{networks: ["10.1.0.0/16"]}', priority: 10, warns: true },
    { name: 'different priorities do not', a: '{namespaces: {}}', b: '{namespaces: {}}', priority: 11, warns: false },
  ])('$name', ({ a, b, priority, warns }) => {
    const result = compile(tier('security', 100), netGuardrail('alpha', a), netGuardrail('beta', b, priority));
    expect(result.messages).toEqual([]);
    expect(result.warnings.filter((w) => w.startsWith('Guardrails '))).toEqual(warns
      ? ['Guardrails alpha and beta tie at priority 10 in tier security: name order decides between overlapping rules alpha/r and beta/r']
      : []);
  });
});
