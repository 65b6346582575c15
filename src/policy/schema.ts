/**
 * The strict schema of tierguard's resources (DESIGN §1): `Tier` and `Guardrail` in
 * `tierguard.dev/v1alpha1`, plus plain `v1` Namespaces given for standalone namespace labels.
 * Unknown fields are errors, so a typo never silently weakens a guardrail.
 */
import { z } from 'zod';
import { formatAddress, formatPrefix, isIPv4Mapped, parseKubeCidr, readPrefix } from '../engine/network/kube-cidr.js';
import { actions, modes, ruleResources } from '../api/policy.js';

export const POLICY_API_VERSION = 'tierguard.dev/v1alpha1';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `key` is not a valid Kubernetes label key (qualified name with optional DNS prefix), or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `label key ${JSON.stringify(key)}: prefix must be a lowercase DNS subdomain of at most 253 characters`;
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return `label key ${JSON.stringify(key)}: name part must be 1-63 characters of [A-Za-z0-9-_.], starting and ending with an alphanumeric`;
  }
  return undefined;
}

/** Why `value` is not a valid Kubernetes label value, or undefined. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !QUALIFIED_NAME.test(value)) {
    return `label value ${JSON.stringify(value)}: must be at most 63 characters of [A-Za-z0-9-_.], starting and ending with an alphanumeric`;
  }
  return undefined;
}

/**
 * Why `cidr` is not a canonical IPv4 or IPv6 CIDR for a guardrail, or undefined. Guardrail
 * `networks` are read as ClusterNetworkPolicy's are (CEL `isCIDR()` = `netip.ParsePrefix`, see
 * engine/network/kube-cidr.ts), strictly: a spelling Kubernetes NetworkPolicy reads one way and
 * other tools another (leading zeros: decimal or octal) is refused with the reason, never guessed.
 * An IPv4-mapped IPv6 prefix (`::ffff:10.0.0.0/104`) is refused too, naming the IPv4 prefix to
 * write: the CEL library refuses it, and either reading guesses the author's intent (as IPv4 it
 * widens an `Accept` or `Pass` carve-out, as IPv6 a `Deny` matches no traffic). Host bits are
 * refused with the network meant.
 */
export function cidrProblem(cidr: string): string | undefined {
  const read = readPrefix(cidr, 'strict');
  if (!read.ok) {
    // Said why, and what to write, when a NetworkPolicy would take the spelling (leading zeros,
    // long IPv6 groups): its reading is the one the guardrail's author most likely meant.
    const kube = parseKubeCidr(cidr);
    const detail = kube.ok ? `: ${read.reason}; write ${formatPrefix(kube.value)} for what a NetworkPolicy reads` : '';
    return `${JSON.stringify(cidr)} is not a valid IPv4 or IPv6 CIDR${detail}`;
  }
  const { family, network, bits, written } = read.value;
  if (isIPv4Mapped(written)) {
    const ipv4 = family === 4 ? `the IPv4 prefix ${formatPrefix(read.value)}` : 'an IPv4 prefix';
    return `${JSON.stringify(cidr)} is an IPv4-mapped IPv6 address, which guardrails do not accept; write ${ipv4}`;
  }
  if (network !== written.value) {
    return `${JSON.stringify(cidr)} has host bits set; did you mean ${formatAddress(family, network)}/${bits}?`;
  }
  return undefined;
}

const labelKey = z.string().superRefine((key, ctx) => {
  const problem = labelKeyProblem(key);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const labelValue = z.string().superRefine((value, ctx) => {
  const problem = labelValueProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const cidr = z.string().superRefine((value, ctx) => {
  const problem = cidrProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const priority = z.int().min(0).max(1000);
const port = z.int().min(1, 'port must be between 1 and 65535').max(65535, 'port must be between 1 and 65535');
const ruleName = z.string().regex(DNS_LABEL, 'must be a lowercase RFC 1123 label (a-z, 0-9, -)').max(63);

/** A label record keyed by valid label keys; keys are validated one by one so each bad key gets its own path. */
const labelMap = z.record(z.string(), labelValue).superRefine((map, ctx) => {
  for (const key of Object.keys(map)) {
    const problem = labelKeyProblem(key);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [key] });
  }
});

export const labelSelectorRequirementSchema = z.strictObject({
  key: labelKey,
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
  values: z.array(labelValue).optional(),
}).superRefine((req, ctx) => {
  const count = req.values?.length ?? 0;
  if ((req.operator === 'In' || req.operator === 'NotIn') && count === 0) {
    ctx.addIssue({ code: 'custom', message: `operator ${req.operator} needs a non-empty values list`, path: ['values'] });
  }
  if ((req.operator === 'Exists' || req.operator === 'DoesNotExist') && count > 0) {
    ctx.addIssue({ code: 'custom', message: `operator ${req.operator} takes no values`, path: ['values'] });
  }
});

export const labelSelectorSchema = z.strictObject({
  matchLabels: labelMap.optional(),
  matchExpressions: z.array(labelSelectorRequirementSchema).max(20).optional(),
});

/** Adds an issue unless exactly one of `keys` is present on `value`. */
function exactlyOne(keys: readonly string[], what: string) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const present = keys.filter((key) => value[key] !== undefined);
    if (present.length !== 1) {
      const found = present.length === 0 ? 'none' : present.join(', ');
      ctx.addIssue({ code: 'custom', message: `${what} must have exactly one of ${keys.join(', ')}; found ${found}` });
    }
  };
}

const podsSelectorSchema = z.strictObject({
  namespaceSelector: labelSelectorSchema,
  podSelector: labelSelectorSchema,
});

const subjectSchema = z.strictObject({
  namespaces: labelSelectorSchema.optional(),
  pods: podsSelectorSchema.optional(),
}).superRefine(exactlyOne(['namespaces', 'pods'], 'subject'));

const peerSchema = z.strictObject({
  namespaces: labelSelectorSchema.optional(),
  pods: podsSelectorSchema.optional(),
  networks: z.array(cidr).min(1).max(25).optional(),
  nodes: labelSelectorSchema.optional(),
}).superRefine(exactlyOne(['namespaces', 'pods', 'networks', 'nodes'], 'peer'));

const portRangeSchema = z.strictObject({ start: port, end: port }).superRefine((range, ctx) => {
  if (range.start >= range.end) {
    ctx.addIssue({ code: 'custom', message: `range start (${range.start}) must be less than end (${range.end})`, path: ['start'] });
  }
});

const destinationPortSchema = z.strictObject({
  number: port.optional(),
  range: portRangeSchema.optional(),
}).superRefine(exactlyOne(['number', 'range'], 'destinationPort'));

const protocolPortSchema = z.strictObject({ destinationPort: destinationPortSchema });

const protocolSchema = z.strictObject({
  tcp: protocolPortSchema.optional(),
  udp: protocolPortSchema.optional(),
  sctp: protocolPortSchema.optional(),
  destinationNamedPort: z.string().min(1).max(15).optional(),
}).superRefine(exactlyOne(['tcp', 'udp', 'sctp', 'destinationNamedPort'], 'protocol'));

const action = z.enum(actions);

const ingressRuleSchema = z.strictObject({
  /** Optional; messages and metrics then name the rule by position, e.g. `ingress[0]`. */
  name: ruleName.optional(),
  action,
  from: z.array(peerSchema).min(1).max(100),
  protocols: z.array(protocolSchema).min(1).max(100).optional(),
});

const egressRuleSchema = z.strictObject({
  name: ruleName.optional(),
  action,
  to: z.array(peerSchema).min(1).max(100),
  protocols: z.array(protocolSchema).min(1).max(100).optional(),
});

const requiredLabelSchema = z.strictObject({
  key: labelKey,
  values: z.array(labelValue).min(1).optional(),
  pattern: z.string().min(1).optional(),
  immutable: z.boolean().optional(),
});

const defaultLabelSchema = z.strictObject({
  key: labelKey,
  value: labelValue.optional(),
  fromNamespaceLabel: labelKey.optional(),
}).superRefine(exactlyOne(['value', 'fromNamespaceLabel'], 'default'));

const labelRulesSchema = z.strictObject({
  match: z.strictObject({
    resources: z.array(z.enum(ruleResources)).min(1),
    namespaces: labelSelectorSchema.optional(),
  }),
  required: z.array(requiredLabelSchema).optional(),
  defaults: z.array(defaultLabelSchema).max(100).optional(),
}).superRefine((rules, ctx) => {
  if (!rules.required?.length && !rules.defaults?.length) {
    ctx.addIssue({ code: 'custom', message: 'labels needs at least one entry in required or defaults' });
  }
  duplicateKeys(rules.required ?? [], 'required', ctx);
  duplicateKeys(rules.defaults ?? [], 'defaults', ctx);
});

function duplicateKeys(entries: readonly { key: string }[], field: string, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  entries.forEach((entry, index) => {
    if (seen.has(entry.key)) {
      ctx.addIssue({ code: 'custom', message: `label key ${JSON.stringify(entry.key)} is listed twice`, path: [field, index, 'key'] });
    }
    seen.add(entry.key);
  });
}

const validationSchema = z.strictObject({
  resources: z.array(z.enum(ruleResources)).min(1),
  expression: z.string().min(1),
  message: z.string().optional(),
  messageExpression: z.string().optional(),
});

const metadataSchema = z.looseObject({
  name: z.string().regex(DNS_SUBDOMAIN, 'must be a lowercase RFC 1123 subdomain').max(253),
  labels: labelMap.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export const tierSchema = z.strictObject({
  apiVersion: z.literal(POLICY_API_VERSION),
  kind: z.literal('Tier'),
  metadata: metadataSchema,
  spec: z.strictObject({
    priority,
    description: z.string().optional(),
  }),
  status: z.unknown().optional(),
});

export const guardrailSchema = z.strictObject({
  apiVersion: z.literal(POLICY_API_VERSION),
  kind: z.literal('Guardrail'),
  metadata: metadataSchema,
  spec: z.strictObject({
    tier: z.string().min(1),
    priority,
    mode: z.enum(modes).default('Enforce'),
    description: z.string().optional(),
    compliance: z.array(z.string()).optional(),
    subject: subjectSchema.optional(),
    ingress: z.array(ingressRuleSchema).max(100).optional(),
    egress: z.array(egressRuleSchema).max(100).optional(),
    labels: labelRulesSchema.optional(),
    validations: z.array(validationSchema).optional(),
  }).superRefine((spec, ctx) => {
    const hasRules = (spec.ingress?.length ?? 0) + (spec.egress?.length ?? 0) > 0;
    if (hasRules && !spec.subject) {
      ctx.addIssue({ code: 'custom', message: 'ingress and egress rules need a subject', path: ['subject'] });
    }
    for (const direction of ['ingress', 'egress'] as const) {
      duplicateNames(spec[direction] ?? [], direction, ctx);
    }
    if (!hasRules && !spec.labels && !spec.validations?.length) {
      ctx.addIssue({ code: 'custom', message: 'a guardrail needs network rules (ingress/egress), labels or validations' });
    }
  }),
  status: z.unknown().optional(),
});

function duplicateNames(rules: readonly { name?: string }[], field: string, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  rules.forEach((rule, index) => {
    if (rule.name === undefined) return;
    if (seen.has(rule.name)) {
      ctx.addIssue({ code: 'custom', message: `rule name ${JSON.stringify(rule.name)} is used twice`, path: [field, index, 'name'] });
    }
    seen.add(rule.name);
  });
}

export const namespaceSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Namespace'),
  metadata: z.looseObject({
    name: z.string().regex(DNS_LABEL, 'must be a lowercase RFC 1123 label').max(63),
    labels: labelMap.optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
});

export type TierDoc = z.infer<typeof tierSchema>;
export type GuardrailDoc = z.infer<typeof guardrailSchema>;
export type GuardrailSpec = GuardrailDoc['spec'];
export type NamespaceDoc = z.infer<typeof namespaceSchema>;
