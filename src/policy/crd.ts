/**
 * The CustomResourceDefinitions of `Tier` and `Guardrail` (DESIGN §1, §6), derived from the zod
 * schema in `schema.ts` that the webhook and `tierguard lint` use, so that the API server and
 * tierguard agree on what an object may look like. `scripts/gen-crds.mjs` writes them to
 * `charts/tierguard/crds/`; `test/chart/crds.test.ts` fails when those files drift from this.
 *
 * zod's JSON Schema (OpenAPI 3.0 flavour) becomes a Kubernetes *structural* schema: every node
 * typed, no `additionalProperties: false` (the API server prunes unknown fields, and kubectl's
 * strict field validation, the default since 1.27, rejects them), root `metadata` left to the API
 * server, a precise `status`. What zod checks in `superRefine` has no JSON Schema form: each such
 * check below is either restated as a CEL `x-kubernetes-validations` rule or named as checked by
 * tierguard's validating webhook only. A new refinement in `schema.ts` that is neither stops the
 * generation, so the CRDs cannot silently fall behind the code.
 */
import { z } from 'zod';
import { stringify } from 'yaml';
import { guardrailSchema, labelSelectorRequirementSchema, labelSelectorSchema, POLICY_API_VERSION, tierSchema } from './schema.js';

export const CRD_GROUP = 'tierguard.dev';
export const CRD_VERSION = 'v1alpha1';
/** Where the generated files live, relative to the repository root. */
export const CRD_DIR = 'charts/tierguard/crds';

/** A CEL rule of `x-kubernetes-validations`; `self` is the object the rule is attached to. */
export interface CelRule {
  readonly rule: string;
  readonly message: string;
}

/** A node of a Kubernetes structural schema (`JSONSchemaProps`), as it is written to YAML. */
export interface StructuralSchema {
  description?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  required?: string[];
  properties?: Record<string, StructuralSchema>;
  additionalProperties?: StructuralSchema;
  items?: StructuralSchema;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: CelRule[];
}

export interface PrinterColumn {
  readonly name: string;
  readonly type: 'integer' | 'string' | 'date';
  readonly jsonPath: string;
  readonly description?: string;
  /** 1: shown with `-o wide` only. */
  readonly priority?: number;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    scope: 'Cluster';
    names: { kind: string; listKind: string; plural: string; singular: string; categories: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
      schema: { openAPIV3Schema: StructuralSchema };
    }[];
  };
}

/** One entry of `status.conditions` (the shape of metav1.Condition). tierguard sets `type: Ready`. */
export interface PolicyCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** The `status` of a Tier or Guardrail, written through the status subresource. */
export interface PolicyStatus {
  observedGeneration?: number;
  conditions?: PolicyCondition[];
  /** Guardrails only: what the background audit of `serve` found (issue 12). */
  audit?: GuardrailAuditStatus;
}

/** A Guardrail's findings on what exists, written by the leader after each audit. */
export interface GuardrailAuditStatus {
  /** Objects breaking a rule of the guardrail (an unproven override check counts), by the mode they were found in. */
  violations: number;
  violationsByMode: { Enforce: number; Warn: number; Audit: number };
  /** Objects whose rules of this guardrail could not be evaluated. */
  errors: number;
  /** Namespaces of its subject with pods that no NetworkPolicy isolates in the direction of a Deny rule. */
  namespacesNotIsolated: number;
  /** When the last full audit finished (RFC 3339). */
  lastAuditTime: string;
}

// --- the zod schemas that carry refinements, reached from the exported schemas ---------------
const spec = guardrailSchema.shape.spec;
const ingressRule = spec.shape.ingress.unwrap().element;
const subject = spec.shape.subject.unwrap();
const peer = ingressRule.shape.from.element;
const protocol = ingressRule.shape.protocols.unwrap().element;
const destinationPort = protocol.shape.tcp.unwrap().shape.destinationPort;
const portRange = destinationPort.shape.range.unwrap();
const labelRules = spec.shape.labels.unwrap();
const defaultLabel = labelRules.shape.defaults.unwrap().element;
const labelKey = labelSelectorRequirementSchema.shape.key;
const labelValue = labelSelectorRequirementSchema.shape.values.unwrap().element;
const labelMap = labelSelectorSchema.shape.matchLabels.unwrap();
const cidr = peer.shape.networks.unwrap().element;

/** `keys` is an exactly-one-of group, as `exactlyOne` in schema.ts. */
function exactlyOneOf(what: string, shape: Record<string, unknown>, keys: readonly string[]): CelRule {
  for (const key of keys) if (!(key in shape)) throw new Error(`crd: ${what} has no field ${key}`);
  return { rule: `${keys.map((key) => `(has(self.${key}) ? 1 : 0)`).join(' + ')} == 1`, message: `${what} must have exactly one of ${keys.join(', ')}` };
}

const nonEmpty = (field: string): string => `(has(self.${field}) && size(self.${field}) > 0)`;

interface Refinement {
  readonly schema: z.core.$ZodType;
  readonly rules: readonly CelRule[];
  /** What the zod refinement checks that no rule here restates; tierguard's webhook checks it. */
  readonly webhookOnly?: string;
}

/** Every zod schema with a `superRefine`, and how the CRD expresses it. */
const refinements: readonly Refinement[] = [
  { schema: subject, rules: [exactlyOneOf('subject', subject.shape, ['namespaces', 'pods'])] },
  { schema: peer, rules: [exactlyOneOf('peer', peer.shape, ['namespaces', 'pods', 'networks', 'nodes'])] },
  { schema: protocol, rules: [exactlyOneOf('protocol', protocol.shape, ['tcp', 'udp', 'sctp', 'destinationNamedPort'])] },
  { schema: destinationPort, rules: [exactlyOneOf('destinationPort', destinationPort.shape, ['number', 'range'])] },
  { schema: defaultLabel, rules: [exactlyOneOf('default', defaultLabel.shape, ['value', 'fromNamespaceLabel'])] },
  { schema: portRange, rules: [{ rule: 'self.start < self.end', message: 'range start must be less than end' }] },
  {
    schema: labelSelectorRequirementSchema,
    rules: [{
      rule: "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
      message: 'operators In and NotIn need a non-empty values list; Exists and DoesNotExist take no values',
    }],
  },
  {
    schema: labelRules,
    rules: [{ rule: `${nonEmpty('required')} || ${nonEmpty('defaults')}`, message: 'labels needs at least one entry in required or defaults' }],
    webhookOnly: 'a label key listed twice in required or in defaults',
  },
  {
    schema: spec,
    rules: [
      { rule: `!(${nonEmpty('ingress')} || ${nonEmpty('egress')}) || has(self.subject)`, message: 'ingress and egress rules need a subject' },
      { rule: `${nonEmpty('ingress')} || ${nonEmpty('egress')} || has(self.labels) || ${nonEmpty('validations')}`, message: 'a guardrail needs network rules (ingress/egress), labels or validations' },
    ],
    webhookOnly: 'a rule name used twice in ingress or in egress',
  },
  { schema: labelKey, rules: [], webhookOnly: 'label key syntax (DNS subdomain prefix, 63-character name)' },
  { schema: labelValue, rules: [], webhookOnly: 'label value syntax' },
  { schema: labelMap, rules: [], webhookOnly: 'the keys of matchLabels and metadata.labels' },
  { schema: cidr, rules: [], webhookOnly: 'CIDR syntax and canonical form (no host bits)' },
];

// Every list that holds CEL-validated items is bounded in schema.ts (`.max()`): the API server
// multiplies a rule's cost by the enclosing lists' maxItems and refuses a CRD over 10^7 per rule.


/** `kubectl explain` text, by field path (`[]` marks list items). */
const descriptions: Readonly<Record<string, string>> = {
  'Tier': 'A tier of guardrails. Tiers are evaluated by ascending priority, before the NetworkPolicies of namespaces.',
  'Tier.spec.priority': 'Unique among tiers, 0..1000; lower is evaluated first (higher precedence).',
  'Tier.spec.description': 'Free text shown in messages and reports.',
  'Guardrail': 'A guardrail of a tier: network rules (ClusterNetworkPolicy shape), required and default labels, and CEL validations.',
  'Guardrail.spec.tier': 'Name of the Tier this guardrail belongs to.',
  'Guardrail.spec.priority': '0..1000 within the tier, lower first; ties are ordered by metadata.name.',
  'Guardrail.spec.mode': 'Enforce denies; Warn allows with a kubectl warning; Audit allows and only counts and logs.',
  'Guardrail.spec.compliance': 'Control references (free text), shown in messages and reports.',
  'Guardrail.spec.subject': 'The pods the network rules guard: exactly one of namespaces or pods.',
  'Guardrail.spec.ingress': 'Ordered ingress rules; the first that matches decides within this guardrail.',
  'Guardrail.spec.egress': 'Ordered egress rules; the first that matches decides within this guardrail.',
  'Guardrail.spec.labels': 'Required labels (validating webhook) and default labels (mutating webhook).',
  'Guardrail.spec.validations': 'CEL rules in the style of ValidatingAdmissionPolicy.',
};

const STRUCTURAL_KEYWORDS = [
  'description', 'type', 'format', 'enum', 'default', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern',
  'minItems', 'maxItems', 'required', 'properties', 'additionalProperties', 'items',
  'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-validations',
] as const;

type JsonNode = Record<string, unknown>;

function hasCustomCheck(schema: z.core.$ZodType): boolean {
  return (schema._zod.def.checks ?? []).some((check) => check._zod.def.check === 'custom');
}

/** zod's JSON Schema of `schema`, with the CEL rules attached by zod identity. */
function annotatedJsonSchema(schema: z.ZodType): JsonNode {
  const uncovered: string[] = [];
  const json = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io: 'input',
    override: ({ zodSchema: visited, jsonSchema, path }) => {
      const zodSchema: z.core.$ZodType = visited;
      const node = jsonSchema as JsonNode;
      const refinement = refinements.find((entry) => entry.schema === zodSchema);
      if (refinement && refinement.rules.length > 0) node['x-kubernetes-validations'] = [...refinement.rules];
      if (!refinement && hasCustomCheck(zodSchema)) uncovered.push(path.join('.'));
    },
  });
  if (uncovered.length > 0) {
    throw new Error(`crd: schema.ts refines ${uncovered.join(', ')} in a way the CRD does not know; add CEL rules or a webhookOnly note to refinements in src/policy/crd.ts`);
  }
  return structuredClone(json) as JsonNode;
}

/** Turns one zod JSON Schema node into a structural one, keyword order fixed for stable YAML. */
function structural(node: JsonNode, path: string, used: Set<string>): StructuralSchema {
  const unknown = Object.keys(node).filter((key) => !(STRUCTURAL_KEYWORDS as readonly string[]).includes(key));
  if (unknown.length > 0) throw new Error(`crd: ${path}: ${unknown.join(', ')} has no structural-schema form; teach src/policy/crd.ts`);
  if (typeof node.type !== 'string') throw new Error(`crd: ${path}: a structural schema needs a type`);
  const out: JsonNode = {};
  if (descriptions[path] !== undefined) {
    out.description = descriptions[path];
    used.add(path);
  }
  for (const key of STRUCTURAL_KEYWORDS) {
    const value = node[key];
    if (value === undefined || key === 'description') continue;
    if (key === 'properties') {
      out.properties = Object.fromEntries(Object.entries(value as Record<string, JsonNode>).map(([name, child]) => [name, structural(child, `${path}.${name}`, used)]));
    } else if (key === 'additionalProperties') {
      if (value === false) continue; // pruning and strict field validation do this job
      if (typeof value !== 'object' || value === null || !('type' in value)) throw new Error(`crd: ${path}: open objects need x-kubernetes-preserve-unknown-fields; decide it in src/policy/crd.ts`);
      out.additionalProperties = structural(value as JsonNode, `${path}{}`, used);
    } else if (key === 'items') {
      out.items = structural(value as JsonNode, `${path}[]`, used);
    } else {
      out[key] = value;
    }
  }
  // A string enum's length is known; saying so keeps CEL cost estimates that compare it small.
  if (node.type === 'string' && Array.isArray(node.enum) && node.maxLength === undefined) {
    out.maxLength = Math.max(...node.enum.map((value) => String(value).length));
  }
  return out as StructuralSchema;
}

const conditionSchema: StructuralSchema = {
  type: 'object',
  required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
  properties: {
    type: { description: 'Condition type; tierguard sets Ready.', type: 'string', maxLength: 316, pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$' },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'], maxLength: 7 },
    reason: { description: 'CamelCase reason, e.g. Compiled or InvalidSpec.', type: 'string', minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' },
    message: { description: 'Human-readable detail: every problem with its field path.', type: 'string', maxLength: 32768 },
    lastTransitionTime: { type: 'string', format: 'date-time' },
    observedGeneration: { description: 'metadata.generation the condition was set for.', type: 'integer', format: 'int64', minimum: 0 },
  },
};

const count = (description: string): StructuralSchema => ({ description, type: 'integer', format: 'int64', minimum: 0 });

const auditStatusSchema: StructuralSchema = {
  description: 'Written by the tierguard replica holding the Lease: what the background audit found among existing objects.',
  type: 'object',
  properties: {
    violations: count('Objects breaking a rule of this guardrail (unproven override checks included).'),
    violationsByMode: {
      description: 'The violations by the mode they were found in.',
      type: 'object',
      properties: { Enforce: count('In Enforce mode.'), Warn: count('In Warn mode.'), Audit: count('In Audit mode.') },
    },
    errors: count('Objects whose rules of this guardrail could not be evaluated.'),
    namespacesNotIsolated: count('Namespaces of the subject with pods no NetworkPolicy isolates in the direction of a Deny rule.'),
    lastAuditTime: { description: 'When the last full audit finished.', type: 'string', format: 'date-time' },
  },
};

const statusSchema: StructuralSchema = {
  description: 'Written by tierguard: whether the object compiled into the policy set in force.',
  type: 'object',
  properties: {
    observedGeneration: { description: 'The metadata.generation tierguard last compiled.', type: 'integer', format: 'int64', minimum: 0 },
    conditions: {
      type: 'array',
      maxItems: 8,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      items: conditionSchema,
    },
  },
};

/** The whole `openAPIV3Schema` of a kind: apiVersion, kind, metadata, the derived spec, status. */
function openApiSchema(kind: 'Tier' | 'Guardrail', schema: z.ZodType): StructuralSchema {
  const json = annotatedJsonSchema(schema);
  const properties = json.properties as Record<string, JsonNode>;
  if (!(json.required as string[]).includes('spec')) throw new Error(`crd: ${kind}.spec is expected to be required`);
  const used = new Set<string>();
  const specSchema = structural(properties.spec as JsonNode, `${kind}.spec`, used);
  const missing = Object.keys(descriptions).filter((path) => path.startsWith(`${kind}.`) && !used.has(path));
  if (missing.length > 0) throw new Error(`crd: described fields no longer exist: ${missing.join(', ')}`);
  return {
    description: descriptions[kind],
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: specSchema,
      status: kind === 'Guardrail' ? { ...statusSchema, properties: { ...statusSchema.properties, audit: auditStatusSchema } } : statusSchema,
    },
  };
}

const readyColumn: PrinterColumn = { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' };
const ageColumn: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

function crd(options: { kind: 'Tier' | 'Guardrail'; plural: string; schema: z.ZodType; columns: PrinterColumn[] }): CustomResourceDefinition {
  if (POLICY_API_VERSION !== `${CRD_GROUP}/${CRD_VERSION}`) throw new Error(`crd: schema.ts speaks ${POLICY_API_VERSION}`);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${options.plural}.${CRD_GROUP}`, labels: { 'app.kubernetes.io/name': 'tierguard', 'app.kubernetes.io/part-of': 'tierguard' } },
    spec: {
      group: CRD_GROUP,
      scope: 'Cluster',
      names: { kind: options.kind, listKind: `${options.kind}List`, plural: options.plural, singular: options.kind.toLowerCase(), categories: ['tierguard'] },
      versions: [{
        name: CRD_VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [...options.columns, readyColumn, ageColumn],
        schema: { openAPIV3Schema: openApiSchema(options.kind, options.schema) },
      }],
    },
  };
}

export function tierCrd(): CustomResourceDefinition {
  return crd({
    kind: 'Tier',
    plural: 'tiers',
    schema: tierSchema,
    columns: [
      { name: 'Priority', type: 'integer', jsonPath: '.spec.priority' },
      { name: 'Description', type: 'string', jsonPath: '.spec.description' },
    ],
  });
}

export function guardrailCrd(): CustomResourceDefinition {
  return crd({
    kind: 'Guardrail',
    plural: 'guardrails',
    schema: guardrailSchema,
    columns: [
      { name: 'Tier', type: 'string', jsonPath: '.spec.tier' },
      { name: 'Priority', type: 'integer', jsonPath: '.spec.priority' },
      { name: 'Mode', type: 'string', jsonPath: '.spec.mode' },
      { name: 'Violations', type: 'integer', jsonPath: '.status.audit.violations' },
      { name: 'Not-Isolated', type: 'integer', jsonPath: '.status.audit.namespacesNotIsolated', priority: 1 },
    ],
  });
}

const HEADER = [
  '# Generated from the zod schema in src/policy/schema.ts by src/policy/crd.ts. Do not edit:',
  '# run `npm run build && node scripts/gen-crds.mjs`. test/chart/crds.test.ts fails when this',
  '# file and the code disagree.',
].join('\n');

/**
 * The CRD files as they are committed under {@link CRD_DIR}, e.g. `tierguard.dev_tiers.yaml`.
 * @example
 * for (const file of crdFiles()) await writeFile(path.join(CRD_DIR, file.name), file.content);
 */
export function crdFiles(): { name: string; content: string }[] {
  return [tierCrd(), guardrailCrd()].map((definition) => ({
    name: `${definition.spec.group}_${definition.spec.names.plural}.yaml`,
    content: `${HEADER}\n${stringify(definition, { lineWidth: 0, aliasDuplicateObjects: false })}`,
  }));
}
