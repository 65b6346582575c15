/** The counts a Guardrail's `status.audit` and the audit gauges show, from one audit state. */
import { describe, expect, it } from 'vitest';
import { guardrailCounts, violationSeries } from '../../src/review/audit-counts.js';
import type { AuditResult, AuditState, AuditViolation } from '../../src/review/audit.js';
import type { IsolationGap } from '../../src/engine/network/isolation.js';
import { createMetrics, recordAudit } from '../../src/telemetry/metrics.js';

const violation = (guardrail: string, rule: string, mode: AuditViolation['mode'] = 'Enforce'): AuditViolation => ({ tier: 'security', guardrail, rule, mode, path: 'spec', message: 'm', compliance: [] });
const result = (kind: string, name: string, violations: AuditViolation[], errors?: string[]): AuditResult => ({ apiVersion: 'v1', kind, namespace: 'shop', name, violations, lines: [], ...(errors ? { errors } : {}) });
const gap = (guardrail: string, namespace: string, direction: 'Ingress' | 'Egress'): IsolationGap => ({ tier: 'security', guardrail, mode: 'Enforce', namespace, direction, pods: 2, example: {} });

const state: AuditState = {
  results: [
    // One object breaking two rules of one guardrail counts once for it.
    result('NetworkPolicy', 'np', [violation('net', 'deny-dev'), violation('net', 'deny-internet')]),
    result('Pod', 'a', [violation('labels', 'label:team', 'Warn')]),
    result('Pod', 'b', [violation('labels', 'label:team', 'Warn')], ['cel/validations[0]: no such key: x']),
  ],
  isolation: [gap('net', 'shop', 'Ingress'), gap('net', 'shop', 'Egress'), gap('net', 'ledger', 'Ingress')],
  evaluated: new Map([['shop', 3]]),
  time: new Date('2026-12-05T21:00:00Z'),
};

describe('audit counts', () => {
  it('per guardrail: objects in violation by mode, objects with errors, namespaces not isolated', () => {
    const counts = guardrailCounts(state);
    expect(counts.get('net')).toEqual({ tier: 'security', violations: 1, violationsByMode: { Enforce: 1, Warn: 0, Audit: 0 }, errors: 0, namespacesNotIsolated: 2 });
    expect(counts.get('labels')).toEqual({ tier: 'security', violations: 2, violationsByMode: { Enforce: 0, Warn: 2, Audit: 0 }, errors: 0, namespacesNotIsolated: 0 });
    expect(counts.get('cel')).toMatchObject({ violations: 0, errors: 1 });
  });

  it('per gauge series: objects by tier, guardrail, mode and kind; gaps by direction; all cleared when leadership goes', async () => {
    expect(violationSeries(state)).toEqual([
      { tier: 'security', guardrail: 'net', mode: 'Enforce', kind: 'NetworkPolicy', count: 1 },
      { tier: 'security', guardrail: 'labels', mode: 'Warn', kind: 'Pod', count: 2 },
    ]);
    const metrics = createMetrics();
    recordAudit(metrics, { violations: violationSeries(state), isolation: state.isolation, time: state.time });
    const text = await metrics.registry.metrics();
    expect(text).toContain('tierguard_audit_violations{tier="security",guardrail="labels",mode="Warn",kind="Pod"} 2');
    expect(text).toContain('tierguard_audit_namespaces_not_isolated{tier="security",guardrail="net",direction="Ingress"} 2');
    expect(text).toContain('tierguard_audit_namespaces_not_isolated{tier="security",guardrail="net",direction="Egress"} 1');
    expect(text).toContain(`tierguard_audit_last_completed_timestamp_seconds ${state.time.getTime() / 1000}`);
    recordAudit(metrics, undefined);
    expect(await metrics.registry.metrics()).not.toMatch(/^tierguard_audit_violations\{/m);
  });
});
