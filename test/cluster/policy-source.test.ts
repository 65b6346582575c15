/**
 * What the policy source says when the policy set does not compile: that no policy set is in force
 * when there is none yet (not that a last good set stays), and that the last good version stays
 * when an edit breaks what was in force.
 */
import { describe, expect, it } from 'vitest';
import { createPolicySource, FILES_INPUT } from '../../src/cluster/policy-source.js';
import { parseManifestText } from '../../src/policy/manifests.js';
import type { Logger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';

const TIER = 'apiVersion: tierguard.dev/v1alpha1\nkind: Tier\nmetadata: {name: security}\nspec: {priority: 100}\n';
const BROKEN = 'apiVersion: tierguard.dev/v1alpha1\nkind: Tier\nmetadata: {name: security}\nspec: {priority: "high"}\n';

function sourceWithWarnings() {
  const warnings: string[] = [];
  const fields: Record<string, unknown>[] = [];
  const logger: Logger = { debug() {}, info() {}, error() {}, warn: (message, logged = {}) => { warnings.push(message); fields.push(logged); } };
  const source = createPolicySource({ inputs: [FILES_INPUT], metrics: createMetrics(), logger, debounceMs: 0 });
  return { source, warnings, fields };
}

/** Two problems in two documents: two Tiers whose priority is not a number. */
const TWO_PROBLEMS = `${BROKEN}---\n${BROKEN.replace('name: security', 'name: platform')}`;

describe('policy source', () => {
  it('says no policy set is in force when the first set does not compile', async () => {
    const { source, warnings } = sourceWithWarnings();
    source.update(FILES_INPUT, parseManifestText(BROKEN, 'policies.yaml'));
    const result = await source.firstCompile;
    source.stop();
    expect(result.set).toBeUndefined();
    expect(warnings).toContain('the policy set does not compile; no policy set is in force');
    expect(warnings.join('\n')).not.toContain('last good');
  });

  it('lists each problem once, and counts it once, when no set could be made', async () => {
    const { source, warnings, fields } = sourceWithWarnings();
    source.update(FILES_INPUT, parseManifestText(TWO_PROBLEMS, 'policies.yaml'));
    const result = await source.firstCompile;
    source.stop();
    expect(result.set).toBeUndefined();
    expect(result.problems).toHaveLength(2);
    expect(warnings).toEqual(['the policy set does not compile; no policy set is in force']);
    const logged = fields[0] as { problemCount: number; problems: string[] };
    expect(logged.problemCount).toBe(2);
    expect(logged.problems).toHaveLength(2);
    expect(logged.problems[0]).toMatch(/^policies\.yaml#1 /);
    expect(logged.problems[1]).toMatch(/^policies\.yaml#2 /);
  });

  it('says the last good version stays in force when an edit breaks what was in force', async () => {
    const { source, warnings } = sourceWithWarnings();
    source.update(FILES_INPUT, parseManifestText(TIER, 'policies.yaml'));
    await source.firstSet;
    source.update(FILES_INPUT, parseManifestText(BROKEN, 'policies.yaml'));
    await expect.poll(() => warnings).toHaveLength(1);
    expect(warnings).toEqual(['some policies do not compile: each keeps its last good version in force, if it had one']);
    expect(source.policy()?.tiers.map((tier) => tier.name)).toEqual(['security']);
    source.stop();
  });
});
