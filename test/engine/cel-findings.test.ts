/**
 * A failed CEL validation's finding: with a fixed `message`, the same finding for every request
 * (what is derived from it, its log line, is kept with it: issue 11); with `messageExpression`, a
 * finding of the request's own, whose message is evaluated against it.
 */
import { describe, expect, it } from 'vitest';
import { isSharedFinding } from '../../src/engine/findings.js';
import type { CompiledGuardrail } from '../../src/engine/policy-set.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { podValidationFindings } from '../cel/cel-helpers.js';

const API = 'tierguard.dev/v1alpha1';

function podGuardrails(edit: { mode?: string; compliance?: readonly string[] } = {}): readonly CompiledGuardrail[] {
  const documents = [
    { apiVersion: API, kind: 'Tier', metadata: { name: 'security' }, spec: { priority: 10 } },
    {
      apiVersion: API, kind: 'Guardrail', metadata: { name: 'cel' },
      spec: {
        tier: 'security', priority: 1, compliance: ['CIS 5.2.1'], ...edit,
        validations: [
          { resources: ['Pod'], expression: "object.metadata.name.startsWith('ok-')", message: 'names start with ok-' },
          { resources: ['Pod'], expression: "object.metadata.name.startsWith('ok-')", messageExpression: "'name ' + object.metadata.name + ' does not start with ok-'" },
        ],
      },
    },
  ].map((value, i) => ({ source: { file: 'test', document: i + 1 }, value }));
  const { set, problems } = compilePolicySet({ documents }, { generation: 1, shadows: 'none' });
  if (!set) throw new Error(problems.map((p) => p.message).join('; '));
  return set.validationGuardrails.Pod;
}

describe('the findings of failed validations', () => {
  it('shares the finding of a fixed message and makes one per request from a messageExpression', () => {
    const guardrails = podGuardrails();
    const [fixedA, ownA] = podValidationFindings(guardrails, 'api-0');
    const [fixedB, ownB] = podValidationFindings(guardrails, 'api-1');
    expect(fixedA).toEqual({ tier: 'security', guardrail: 'cel', rule: 'validations[0]', mode: 'Enforce', path: '', message: 'names start with ok-', compliance: ['CIS 5.2.1'] });
    expect(fixedB).toBe(fixedA);
    expect([fixedA, ownA].map((finding) => finding && isSharedFinding(finding))).toEqual([true, false]);
    expect([ownA?.message, ownB?.message]).toEqual(['name api-0 does not start with ok-', 'name api-1 does not start with ok-']);
    expect(podValidationFindings(guardrails, 'ok-api')).toEqual([]);
  });

  it('keeps the finding through a reload that leaves the Guardrail as it was, and not through one that changes it', () => {
    // A compiled validation comes from its Guardrail document's reading, kept by content
    // (src/policy/read-document.ts): every field of the finding comes from that document.
    const [before] = podValidationFindings(podGuardrails(), 'api-0');
    expect(podValidationFindings(podGuardrails(), 'api-0')[0]).toBe(before);
    for (const [change, expected] of [['Warn', { mode: 'Warn' }], [['PCI-DSS 2.2'], { compliance: ['PCI-DSS 2.2'] }]] as const) {
      const edited = podGuardrails(typeof change === 'string' ? { mode: change } : { compliance: change });
      expect(podValidationFindings(edited, 'api-0')[0]).toEqual({ ...before, ...expected });
    }
  });
});
