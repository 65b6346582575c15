/**
 * `tierguard audit`: the objects of manifests (e.g. `kubectl get namespaces,networkpolicies,pods,
 * deployments,statefulsets,daemonsets,cronjobs -A -o yaml`) judged as admission would judge their
 * creation, and the isolation coverage of guardrails with Deny rules (../review/audit.ts).
 */
import type { AuditReport } from '../review/audit.js';

/** `{"results": [...], "isolation": [...]}`. */
export function auditJson(report: AuditReport): string {
  return `${JSON.stringify({ results: report.results.map(({ lines: _lines, ...result }) => result), isolation: report.isolation }, null, 2)}\n`;
}

/** Exit 1 when an Enforce guardrail fails: a violation (or an unproven check), or pods its Deny does not reach. */
export function auditFails(report: AuditReport): boolean {
  return report.results.some((result) => result.violations.some((violation) => violation.mode === 'Enforce')) || report.isolation.some((gap) => gap.mode === 'Enforce');
}

/** One block per object with findings, one line per isolation gap, then the counts. */
export function formatAuditText(report: AuditReport): string {
  const lines: string[] = [];
  for (const result of report.results) {
    const enforced = result.violations.some((violation) => violation.mode === 'Enforce');
    lines.push(`${enforced ? 'FAIL' : result.violations.length > 0 ? 'WARN' : 'ERROR'} ${result.kind} ${result.namespace ? `${result.namespace}/` : ''}${result.name}`);
    for (const line of result.lines) lines.push(`  - ${line}`);
    for (const error of result.errors ?? []) lines.push(`  error: ${error}`);
  }
  for (const gap of report.isolation) {
    const mode = gap.mode === 'Enforce' ? '' : ` [${gap.mode}]`;
    const example = Object.entries(gap.example).map(([key, value]) => `${key}=${value}`).join(',') || '(no labels)';
    lines.push(`NOT ISOLATED${mode} namespace ${gap.namespace}, ${gap.direction}: ${gap.pods} pod${gap.pods === 1 ? '' : 's'} of guardrail ${gap.guardrail} (tier ${gap.tier}) selected by no NetworkPolicy for ${gap.direction}, so its Deny rules are not enforced there (e.g. ${example})`);
  }
  const failing = report.results.filter((result) => result.violations.some((violation) => violation.mode === 'Enforce')).length;
  lines.push(`${report.evaluated} object${report.evaluated === 1 ? '' : 's'} evaluated (${report.skipped} left alone): ${failing} failing an Enforce guardrail, ${report.results.length - failing} with other findings or errors; ${report.isolation.length} isolation gap${report.isolation.length === 1 ? '' : 's'}`);
  return `${lines.join('\n')}\n`;
}
