/**
 * The result entries of a policy report, one per finding: the mapping tables of `reports.ts`
 * (result, severity, category, properties) applied to one audited object or one isolation gap.
 * Entries are built without their timestamp, which `reports.ts` adds from the time each entry
 * was first seen. The shape is the one `wgpolicyk8s.io/v1alpha2` and `openreports.io/v1alpha1`
 * share for a result (their CRDs in ../shared/kube/crds/ differ only outside it).
 */
import type { Mode } from '../api/policy.js';
import type { IsolationGap } from '../engine/network/isolation.js';
import type { AuditResult, AuditViolation } from '../review/audit.js';

/** `source` of every entry: the engine that wrote it, as Policy Reporter filters by. */
export const REPORT_SOURCE = 'tierguard';

export type ResultStatus = 'pass' | 'fail' | 'warn' | 'error' | 'skip';
/** The severities both CRDs allow (v1alpha2's enum also has `critical` and `info`). */
export type Severity = 'high' | 'medium' | 'low';

/** A result's `resources` item: a core ObjectReference with empty fields left out. */
export interface ObjectReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
}

export interface ReportResult {
  readonly source: string;
  readonly policy: string;
  readonly rule: string;
  readonly result: ResultStatus;
  readonly severity?: Severity;
  readonly category: string;
  readonly message: string;
  /** String values only (the CRDs' `additionalProperties: {type: string}`). */
  readonly properties?: Readonly<Record<string, string>>;
  readonly resources: readonly ObjectReference[];
  /** A protobuf Timestamp, as both CRDs define it. */
  readonly timestamp: { readonly seconds: number; readonly nanos: number };
  readonly scored: boolean;
}

/** An entry before it gets the time it was first seen. */
export type UntimedResult = Omit<ReportResult, 'timestamp'>;

export const RESULT_OF_MODE: Readonly<Record<Mode, ResultStatus>> = { Enforce: 'fail', Audit: 'fail', Warn: 'warn' };
export const SEVERITY_OF_MODE: Readonly<Record<Mode, Severity>> = { Enforce: 'high', Warn: 'medium', Audit: 'low' };

/** Longest `message` kept (characters); the report as a whole is bounded in `reports.ts`. */
export const MAX_MESSAGE = 1024;
/** Longest property value kept (characters). */
export const MAX_PROPERTY = 512;

/** Every entry of one audited object: its violations, then its errors. */
export function objectResults(object: AuditResult): UntimedResult[] {
  const resource = objectReference(object);
  return [
    ...object.violations.map((violation) => violationResult(violation, resource)),
    ...(object.errors ?? []).map((error) => errorResult(error, resource)),
  ];
}

function violationResult(violation: AuditViolation, resource: ObjectReference): UntimedResult {
  return {
    source: REPORT_SOURCE,
    policy: violation.guardrail,
    rule: violation.rule,
    result: violation.kind === 'unproven' ? 'error' : RESULT_OF_MODE[violation.mode],
    severity: SEVERITY_OF_MODE[violation.mode],
    category: categoryOf(violation),
    message: bounded(violation.message, MAX_MESSAGE),
    properties: properties({
      tier: violation.tier,
      mode: violation.mode,
      compliance: violation.compliance.join(', '),
      connection: violation.connection,
      path: violation.path,
    }),
    resources: [resource],
    scored: true,
  };
}

/** `guardrail/rule: message`, as `review/audit.ts` writes a rule error. */
const GUARDRAIL_ERROR = /^([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)\/(\S+?): ([\s\S]+)$/;
/** `family: message`, an error about a whole family of rules (e.g. `validations`). */
const FAMILY_ERROR = /^([a-z][a-z-]*): ([\s\S]+)$/;

/** An error: a rule that could not be evaluated, or an object tierguard could not read. No mode is known, so no severity. */
function errorResult(text: string, resource: ObjectReference): UntimedResult {
  const guardrail = GUARDRAIL_ERROR.exec(text);
  const family = guardrail ? undefined : FAMILY_ERROR.exec(text);
  const [policy, rule, message] = guardrail
    ? [guardrail[1]!, guardrail[2]!, guardrail[3]!]
    : [REPORT_SOURCE, family?.[1] ?? 'evaluation', family?.[2] ?? text];
  return { source: REPORT_SOURCE, policy, rule, result: 'error', category: categoryOf({ rule, path: '' }), message: bounded(message, MAX_MESSAGE), resources: [resource], scored: true };
}

/** An isolation gap, reported against its Namespace. */
export function isolationResult(gap: IsolationGap): UntimedResult {
  const pods = `${gap.pods} pod${gap.pods === 1 ? ' is' : 's are'}`;
  return {
    source: REPORT_SOURCE,
    policy: gap.guardrail,
    rule: `isolation:${gap.direction}`,
    result: RESULT_OF_MODE[gap.mode],
    severity: SEVERITY_OF_MODE[gap.mode],
    category: 'Isolation',
    message: `${pods} selected by no NetworkPolicy for ${gap.direction}, so the Deny rules of guardrail ${gap.guardrail} for ${gap.direction} are not enforced there (admission checks them, the network does not)`,
    properties: properties({
      tier: gap.tier,
      mode: gap.mode,
      direction: gap.direction,
      pods: String(gap.pods),
      example: Object.keys(gap.example).sort().map((key) => `${key}=${gap.example[key]}`).join(','),
    }),
    resources: [{ apiVersion: 'v1', kind: 'Namespace', name: gap.namespace }],
    scored: true,
  };
}

/** Network for the override check, Labels and CEL by rule id; anything else is Guardrail. */
function categoryOf(finding: { readonly rule: string; readonly path: string; readonly connection?: string }): string {
  if (/^label(-immutable)?:|^labels\./.test(finding.rule)) return 'Labels';
  if (finding.rule.startsWith('validations')) return 'CEL';
  if (finding.connection || /^spec\.(ingress|egress)\b/.test(finding.path) || finding.rule === 'network-override') return 'Network';
  return 'Guardrail';
}

function objectReference(object: AuditResult): ObjectReference {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.name,
    ...(object.namespace ? { namespace: object.namespace } : {}),
    ...(object.uid ? { uid: object.uid } : {}),
  };
}

/** The non-empty values, bounded; undefined when none is left. */
function properties(values: Readonly<Record<string, string | undefined>>): Record<string, string> | undefined {
  const kept = Object.entries(values).filter((entry): entry is [string, string] => Boolean(entry[1]));
  return kept.length > 0 ? Object.fromEntries(kept.map(([key, value]) => [key, bounded(value, MAX_PROPERTY)])) : undefined;
}

function bounded(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * What makes an entry the same finding in two audits (its timestamp stays): the report's
 * namespace, the object (uid included: a recreated object is a new finding), policy, rule,
 * result, field path, and for errors the text. Computed from an entry alone, so entries read
 * back from the cluster (another replica's, an earlier process's) keep their timestamps too.
 */
export function resultIdentity(namespace: string, entry: Pick<ReportResult, 'policy' | 'rule' | 'result' | 'message' | 'properties' | 'resources'>): string {
  const resource = entry.resources[0];
  return JSON.stringify([
    namespace, resource?.apiVersion ?? '', resource?.kind ?? '', resource?.name ?? '', resource?.uid ?? '',
    entry.policy, entry.rule ?? '', entry.result ?? '', entry.properties?.path ?? '', entry.result === 'error' ? entry.message ?? '' : '',
  ]);
}
