import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { evaluate } from '@marcbachmann/cel-js';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CRD_DIR, crdFiles, guardrailCrd, tierCrd, type CustomResourceDefinition, type StructuralSchema } from '../../src/policy/crd.js';
import { guardrailSchema, tierSchema } from '../../src/policy/schema.js';
import { REPO_DIR } from '../helpers/fixtures.js';
import { crdValidator } from './crd-validator.js';

const crds = { Tier: tierCrd(), Guardrail: guardrailCrd() };
const validators = { Tier: crdValidator(crds.Tier), Guardrail: crdValidator(crds.Guardrail) };
const zodSchemas = { Tier: tierSchema, Guardrail: guardrailSchema };
type PolicyKind = keyof typeof crds;

function rootSchema(definition: CustomResourceDefinition): StructuralSchema {
  return definition.spec.versions[0]!.schema.openAPIV3Schema;
}

interface Visit {
  readonly node: StructuralSchema;
  /** `spec.ingress[].from[]` style; map values are `{}`. */
  readonly path: string;
  /** maxItems of every enclosing list (undefined when one is unbounded). */
  readonly enclosing: readonly (number | undefined)[];
}

function walk(node: StructuralSchema, at = '', enclosing: readonly (number | undefined)[] = []): Visit[] {
  const here: Visit = { node, path: at, enclosing };
  const join = (name: string) => (at === '' ? name : `${at}.${name}`);
  return [
    here,
    ...Object.entries(node.properties ?? {}).flatMap(([name, child]) => walk(child, join(name), enclosing)),
    ...(node.additionalProperties ? walk(node.additionalProperties, `${at}{}`, [...enclosing, undefined]) : []),
    ...(node.items ? walk(node.items, `${at}[]`, [...enclosing, node.maxItems]) : []),
  ];
}

function policyDocuments(file: string): { kind: PolicyKind; name: string; doc: unknown }[] {
  return parseAllDocuments(readFileSync(path.join(REPO_DIR, file), 'utf8'))
    .map((document) => document.toJS() as { kind?: string; metadata?: { name?: string } } | null)
    .filter((doc): doc is { kind: PolicyKind; metadata: { name: string } } => doc?.kind === 'Tier' || doc?.kind === 'Guardrail')
    .map((doc) => ({ kind: doc.kind, name: doc.metadata.name, doc }));
}

const yamlIn = (dir: string) => readdirSync(path.join(REPO_DIR, dir)).filter((name) => name.endsWith('.yaml')).map((name) => `${dir}/${name}`);

describe('generated CRD files', () => {
  it.each(crdFiles())('$name is what src/policy/crd.ts generates now', ({ name, content }) => {
    const committed = readFileSync(path.join(REPO_DIR, CRD_DIR, name), 'utf8');
    expect(committed, `${CRD_DIR}/${name} is stale: run npm run build && node scripts/gen-crds.mjs`).toBe(content);
  });

  it('has no other file in the CRD directory', () => {
    expect(readdirSync(path.join(REPO_DIR, CRD_DIR)).sort()).toEqual(crdFiles().map((file) => file.name).sort());
  });

  it.each(Object.entries(crds))('%s: cluster-scoped v1alpha1, served and stored, status subresource, printer columns', (kind, definition) => {
    expect(definition.metadata.name).toBe(`${definition.spec.names.plural}.tierguard.dev`);
    expect(definition.spec.scope).toBe('Cluster');
    expect(definition.spec.versions).toHaveLength(1);
    const version = definition.spec.versions[0]!;
    expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
    const columns = version.additionalPrinterColumns.map((column) => column.name);
    expect(columns).toEqual(kind === 'Tier' ? ['Priority', 'Description', 'Ready', 'Age'] : ['Tier', 'Priority', 'Mode', 'Violations', 'Not-Isolated', 'Ready', 'Age']);
    for (const column of version.additionalPrinterColumns) {
      expect(['integer', 'number', 'string', 'boolean', 'date']).toContain(column.type);
      expect(column.jsonPath.startsWith('.')).toBe(true);
    }
  });
});

describe('structural schema rules the API server enforces', () => {
  const allowed = new Set([
    'description', 'type', 'format', 'enum', 'default', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern',
    'minItems', 'maxItems', 'required', 'properties', 'additionalProperties', 'items',
    'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-validations', 'x-kubernetes-preserve-unknown-fields',
  ]);
  const visits = Object.entries(crds).flatMap(([kind, definition]) => walk(rootSchema(definition)).map((visit) => ({ kind, ...visit })));

  it('gives every node a type, uses only structural keywords (no $ref, anyOf, oneOf, allOf, not, const)', () => {
    const problems = visits.flatMap(({ kind, path: at, node }) => [
      ...Object.keys(node).filter((key) => !allowed.has(key)).map((key) => `${kind} ${at}: ${key}`),
      ...(node.type === undefined && !(node as Record<string, unknown>)['x-kubernetes-preserve-unknown-fields'] ? [`${kind} ${at}: no type`] : []),
      ...(node.type !== undefined && !['object', 'array', 'string', 'integer', 'number', 'boolean'].includes(node.type) ? [`${kind} ${at}: type ${node.type}`] : []),
      ...(node.properties && node.additionalProperties ? [`${kind} ${at}: properties and additionalProperties`] : []),
      ...(typeof node.additionalProperties === 'boolean' ? [`${kind} ${at}: additionalProperties is a boolean`] : []),
      ...(node.type === 'array' && !node.items ? [`${kind} ${at}: array without items`] : []),
      ...(node.enum?.some((value) => typeof value !== (node.type === 'integer' ? 'number' : node.type)) ? [`${kind} ${at}: enum value of the wrong type`] : []),
      ...(node.required?.filter((name) => !node.properties?.[name]).map((name) => `${kind} ${at}: required ${name} is not a property`) ?? []),
    ]);
    expect(problems).toEqual([]);
  });

  it('keeps root metadata to the API server and uses only root-level keywords at the root', () => {
    for (const definition of Object.values(crds)) {
      const root = rootSchema(definition);
      expect(Object.keys(root).every((key) => ['description', 'type', 'required', 'properties', 'x-kubernetes-validations'].includes(key))).toBe(true);
      expect(root.type).toBe('object');
      expect(root.properties?.metadata).toEqual({ type: 'object' });
      expect(root.properties?.apiVersion).toEqual({ type: 'string' });
      expect(root.properties?.kind).toEqual({ type: 'string' });
    }
  });

  it('makes list-map keys required scalar properties, and rule messages single lines', () => {
    for (const { node, path: at } of visits) {
      for (const key of node['x-kubernetes-list-map-keys'] ?? []) {
        expect(node['x-kubernetes-list-type'], at).toBe('map');
        expect(node.items?.required, at).toContain(key);
        expect(['string', 'integer', 'boolean'], at).toContain(node.items?.properties?.[key]?.type);
      }
      for (const rule of node['x-kubernetes-validations'] ?? []) {
        expect(rule.rule.trim(), at).not.toBe('');
        expect(rule.message, at).not.toMatch(/[\r\n]/);
      }
    }
  });

  it('bounds every list around a CEL rule so that the estimated cost stays under the API server limits', () => {
    // The API server multiplies a rule's estimated cost by the largest number of times it can run
    // and refuses more than 10^7 per rule and 10^8 per CRD. 32 is a generous bound for one run of
    // these rules (a few has(), size() and comparisons of enum strings with maxLength).
    const perRun = 32;
    for (const definition of Object.values(crds)) {
      let total = 0;
      for (const { node, path: at, enclosing } of walk(rootSchema(definition))) {
        for (const _rule of node['x-kubernetes-validations'] ?? []) {
          expect(enclosing.every((bound) => bound !== undefined), `${at}: a list or map around this rule is unbounded`).toBe(true);
          const cost = perRun * enclosing.reduce<number>((product, bound) => product * (bound ?? Infinity), 1);
          expect(cost, at).toBeLessThanOrEqual(1e7);
          total += cost;
        }
      }
      expect(total, definition.metadata.name).toBeLessThanOrEqual(1e8);
    }
  });
});

describe('CEL rules for what the zod schema refines', () => {
  const guardrail = walk(rootSchema(crds.Guardrail));
  const at = (wanted: string) => {
    const visit = guardrail.find((candidate) => candidate.path === wanted);
    if (!visit) throw new Error(`no schema node at ${wanted}`);
    return visit.node['x-kubernetes-validations'] ?? [];
  };
  const peerKeys = ['namespaces', 'pods', 'networks', 'nodes'];
  const exactlyOneOf = [
    { path: 'spec.subject', keys: ['namespaces', 'pods'] },
    { path: 'spec.ingress[].from[]', keys: peerKeys },
    { path: 'spec.egress[].to[]', keys: peerKeys },
    { path: 'spec.ingress[].protocols[]', keys: ['tcp', 'udp', 'sctp', 'destinationNamedPort'] },
    { path: 'spec.egress[].protocols[]', keys: ['tcp', 'udp', 'sctp', 'destinationNamedPort'] },
    ...['ingress', 'egress'].flatMap((direction) => ['tcp', 'udp', 'sctp'].map((protocol) => ({ path: `spec.${direction}[].protocols[].${protocol}.destinationPort`, keys: ['number', 'range'] }))),
    { path: 'spec.labels.defaults[]', keys: ['value', 'fromNamespaceLabel'] },
  ];

  it.each(exactlyOneOf)('$path: exactly one of $keys', ({ path: wanted, keys }) => {
    const rules = at(wanted);
    const rule = rules.find((candidate) => keys.every((key) => candidate.rule.includes(`has(self.${key})`)));
    expect(rule, `no exactly-one-of rule at ${wanted}`).toBeDefined();
    // Every combination of present keys: the rule holds exactly when one is present.
    for (let mask = 0; mask < 1 << keys.length; mask++) {
      const self = Object.fromEntries(keys.filter((_, bit) => mask & (1 << bit)).map((key) => [key, {}]));
      expect(evaluate(rule!.rule, { self }), `${wanted} with ${Object.keys(self).join(',') || 'nothing'}`).toBe(Object.keys(self).length === 1);
    }
  });

  it.each(['ingress', 'egress'].flatMap((direction) => ['tcp', 'udp', 'sctp'].map((protocol) => `spec.${direction}[].protocols[].${protocol}.destinationPort.range`)))('%s: start < end', (wanted) => {
    const [rule] = at(wanted);
    expect(evaluate(rule!.rule, { self: { start: 80, end: 81 } })).toBe(true);
    expect(evaluate(rule!.rule, { self: { start: 81, end: 81 } })).toBe(false);
    expect(evaluate(rule!.rule, { self: { start: 82, end: 81 } })).toBe(false);
  });

  it('every label selector requirement (In/NotIn need values, Exists/DoesNotExist take none)', () => {
    const requirements = guardrail.filter(({ path: where }) => where.endsWith('.matchExpressions[]'));
    expect(requirements.length).toBe(12);
    for (const { node, path: where } of requirements) {
      const [rule] = node['x-kubernetes-validations'] ?? [];
      expect(rule, where).toBeDefined();
      const holds = (self: object) => evaluate(rule!.rule, { self });
      expect(holds({ key: 'k', operator: 'In', values: ['a'] })).toBe(true);
      expect(holds({ key: 'k', operator: 'NotIn', values: ['a'] })).toBe(true);
      expect(holds({ key: 'k', operator: 'Exists' })).toBe(true);
      expect(holds({ key: 'k', operator: 'In' })).toBe(false);
      expect(holds({ key: 'k', operator: 'NotIn', values: [] })).toBe(false);
      expect(holds({ key: 'k', operator: 'DoesNotExist', values: ['a'] })).toBe(false);
    }
  });
});

describe('sample objects against the CRD schemas (and the zod schema, which must agree)', () => {
  const good = [...yamlIn('examples/policies'), ...yamlIn('policies/default'), 'test/fixtures/policies/label-guardrails.yaml', 'test/fixtures/policies/cel-guardrails.yaml']
    .flatMap((file) => policyDocuments(file).map((entry) => ({ ...entry, file })));

  it('finds samples of both kinds', () => {
    expect(good.filter((entry) => entry.kind === 'Tier').length).toBeGreaterThan(2);
    expect(good.filter((entry) => entry.kind === 'Guardrail').length).toBeGreaterThan(8);
  });

  it.each(good)('$file: $kind $name is accepted', ({ kind, doc }) => {
    expect(validators[kind](doc)).toEqual([]);
    expect(zodSchemas[kind].safeParse(doc).success).toBe(true);
  });

  it('broken.yaml: the CRD catches the typo; duplicate priorities and missing tiers are the webhook\'s to find', () => {
    const results = policyDocuments('test/fixtures/policies/broken.yaml').map(({ kind, name, doc }) => [name, validators[kind](doc).sort()]);
    expect(results).toEqual([
      ['security', []],
      ['platform', []],
      ['typo', ['/spec/labels: labels needs at least one entry in required or defaults', '/spec/labels: unknown field "requried"']],
      ['orphan', []],
    ]);
  });

  const baseGuardrail = () => ({
    apiVersion: 'tierguard.dev/v1alpha1',
    kind: 'Guardrail',
    metadata: { name: 'prod-isolation' },
    spec: {
      tier: 'security',
      priority: 10,
      subject: { namespaces: { matchLabels: { env: 'prod' } } } as Record<string, unknown>,
      ingress: [{
        name: 'deny-from-dev',
        action: 'Deny',
        from: [{ namespaces: { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }] } }] as Record<string, any>[],
        protocols: [{ tcp: { destinationPort: { number: 5432 } } }, { udp: { destinationPort: { range: { start: 8000, end: 9000 } } } }] as Record<string, any>[],
      }] as Record<string, any>[] | undefined,
      labels: { match: { resources: ['Pod'] }, defaults: [{ key: 'team', value: 'core' }] as Record<string, unknown>[] } as Record<string, any> | undefined,
    } as Record<string, any>,
  });

  it('the base of the bad cases is accepted', () => {
    expect(validators.Guardrail(baseGuardrail())).toEqual([]);
    expect(guardrailSchema.safeParse(baseGuardrail()).success).toBe(true);
  });

  it('defaults mode to Enforce, as zod does', () => {
    expect(rootSchema(crds.Guardrail).properties?.spec?.properties?.mode?.default).toBe('Enforce');
  });

  type Spec = ReturnType<typeof baseGuardrail>['spec'];
  const bad: { name: string; change: (spec: Spec) => void; problem: string }[] = [
    { name: 'unknown field in spec', change: (spec) => { spec.lables = {}; }, problem: '/spec: unknown field "lables"' },
    { name: 'unknown field in a rule', change: (spec) => { spec.ingress![0]!.acton = 'Deny'; }, problem: '/spec/ingress/0: unknown field "acton"' },
    { name: 'missing required tier', change: (spec) => { delete spec.tier; }, problem: "/spec: must have required property 'tier'" },
    { name: 'missing required from', change: (spec) => { delete spec.ingress![0]!.from; }, problem: "/spec/ingress/0: must have required property 'from'" },
    { name: 'bad mode enum', change: (spec) => { spec.mode = 'Block'; }, problem: '/spec/mode: must be equal to one of the allowed values' },
    { name: 'bad action enum', change: (spec) => { spec.ingress![0]!.action = 'Allow'; }, problem: '/spec/ingress/0/action: must be equal to one of the allowed values' },
    { name: 'bad operator enum', change: (spec) => { spec.ingress![0]!.from[0].namespaces.matchExpressions[0].operator = 'Equals'; }, problem: '/spec/ingress/0/from/0/namespaces/matchExpressions/0/operator: must be equal to one of the allowed values' },
    { name: 'priority above 1000', change: (spec) => { spec.priority = 1001; }, problem: '/spec/priority: must be <= 1000' },
    { name: 'priority as a string', change: (spec) => { spec.priority = '10'; }, problem: '/spec/priority: must be integer' },
    { name: 'port above 65535', change: (spec) => { spec.ingress![0]!.protocols[0].tcp.destinationPort.number = 70000; }, problem: '/spec/ingress/0/protocols/0/tcp/destinationPort/number: must be <= 65535' },
    { name: 'rule name not a DNS label', change: (spec) => { spec.ingress![0]!.name = 'Deny_Dev'; }, problem: '/spec/ingress/0/name: must match pattern' },
    { name: 'empty networks', change: (spec) => { spec.ingress![0]!.from = [{ networks: [] }]; }, problem: '/spec/ingress/0/from/0/networks: must NOT have fewer than 1 items' },
    { name: 'subject with namespaces and pods', change: (spec) => { spec.subject.pods = { namespaceSelector: {}, podSelector: {} }; }, problem: '/spec/subject: subject must have exactly one of namespaces, pods' },
    { name: 'empty subject', change: (spec) => { spec.subject = {}; }, problem: '/spec/subject: subject must have exactly one of namespaces, pods' },
    { name: 'peer with two keys', change: (spec) => { spec.ingress![0]!.from[0].networks = ['10.0.0.0/8']; }, problem: '/spec/ingress/0/from/0: peer must have exactly one of namespaces, pods, networks, nodes' },
    { name: 'protocol with none', change: (spec) => { spec.ingress![0]!.protocols[0] = {}; }, problem: '/spec/ingress/0/protocols/0: protocol must have exactly one of tcp, udp, sctp, destinationNamedPort' },
    { name: 'protocol with tcp and a named port', change: (spec) => { spec.ingress![0]!.protocols[0].destinationNamedPort = 'http'; }, problem: '/spec/ingress/0/protocols/0: protocol must have exactly one of' },
    { name: 'destinationPort with number and range', change: (spec) => { spec.ingress![0]!.protocols[0].tcp.destinationPort.range = { start: 1, end: 2 }; }, problem: '/spec/ingress/0/protocols/0/tcp/destinationPort: destinationPort must have exactly one of number, range' },
    { name: 'range start after end', change: (spec) => { spec.ingress![0]!.protocols[1].udp.destinationPort.range = { start: 9000, end: 8000 }; }, problem: '/spec/ingress/0/protocols/1/udp/destinationPort/range: range start must be less than end' },
    { name: 'range start equal to end', change: (spec) => { spec.ingress![0]!.protocols[1].udp.destinationPort.range = { start: 9000, end: 9000 }; }, problem: 'range start must be less than end' },
    { name: 'In without values', change: (spec) => { delete spec.ingress![0]!.from[0].namespaces.matchExpressions[0].values; }, problem: '/spec/ingress/0/from/0/namespaces/matchExpressions/0: operators In and NotIn need a non-empty values list' },
    { name: 'NotIn with empty values', change: (spec) => { spec.subject = { namespaces: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: [] }] } }; }, problem: '/spec/subject/namespaces/matchExpressions/0: operators In and NotIn' },
    { name: 'Exists with values', change: (spec) => { spec.labels!.match.namespaces = { matchExpressions: [{ key: 'env', operator: 'Exists', values: ['x'] }] }; }, problem: '/spec/labels/match/namespaces/matchExpressions/0: operators In and NotIn need a non-empty values list; Exists and DoesNotExist take no values' },
    { name: 'default with value and fromNamespaceLabel', change: (spec) => { spec.labels!.defaults[0].fromNamespaceLabel = 'team'; }, problem: '/spec/labels/defaults/0: default must have exactly one of value, fromNamespaceLabel' },
    { name: 'default with neither', change: (spec) => { delete spec.labels!.defaults[0].value; }, problem: '/spec/labels/defaults/0: default must have exactly one of value, fromNamespaceLabel' },
    { name: 'labels without required or defaults', change: (spec) => { spec.labels!.defaults = []; }, problem: '/spec/labels: labels needs at least one entry in required or defaults' },
    { name: 'network rules without a subject', change: (spec) => { delete spec.subject; }, problem: '/spec: ingress and egress rules need a subject' },
    { name: 'a guardrail with no rules at all', change: (spec) => { delete spec.ingress; delete spec.labels; delete spec.subject; }, problem: '/spec: a guardrail needs network rules (ingress/egress), labels or validations' },
  ];

  it.each(bad)('refuses $name, as zod does', ({ change, problem }) => {
    const doc = baseGuardrail();
    change(doc.spec);
    expect(validators.Guardrail(doc).join('\n')).toContain(problem);
    expect(guardrailSchema.safeParse(doc).success).toBe(false);
  });

  it.each([
    { name: 'a Tier without priority', doc: { spec: {} }, problem: "/spec: must have required property 'priority'" },
    { name: 'a Tier with an unknown field', doc: { spec: { priority: 1, owner: 'sec' } }, problem: '/spec: unknown field "owner"' },
    { name: 'a Tier with a negative priority', doc: { spec: { priority: -1 } }, problem: '/spec/priority: must be >= 0' },
  ])('refuses $name, as zod does', ({ doc, problem }) => {
    const tier = { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name: 'security' }, ...doc };
    expect(validators.Tier(tier).join('\n')).toContain(problem);
    expect(tierSchema.safeParse(tier).success).toBe(false);
  });

  const ready = { type: 'Ready', status: 'True', reason: 'Compiled', message: 'in force', lastTransitionTime: '2026-01-02T03:04:05Z', observedGeneration: 3 };
  it.each([
    { name: 'a Ready condition', status: { observedGeneration: 3, conditions: [ready] }, problem: undefined },
    { name: 'a status that is not True/False/Unknown', status: { conditions: [{ ...ready, status: 'Maybe' }] }, problem: '/status/conditions/0/status: must be equal to one of the allowed values' },
    { name: 'a condition without reason', status: { conditions: [{ ...ready, reason: undefined }] }, problem: "must have required property 'reason'" },
    { name: 'two Ready conditions', status: { conditions: [ready, ready] }, problem: 'duplicate entries for key type' },
    { name: 'an unknown status field', status: { problems: [] }, problem: '/status: unknown field "problems"' },
  ])('status: $name', ({ status, problem }) => {
    const tier = { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name: 'security' }, spec: { priority: 1 }, status: JSON.parse(JSON.stringify(status)) };
    const problems = validators.Tier(tier);
    if (problem === undefined) expect(problems).toEqual([]);
    else expect(problems.join('\n')).toContain(problem);
  });
});
