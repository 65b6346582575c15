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
  const logger: Logger = { debug() {}, info() {}, error() {}, warn: (message) => warnings.push(message) };
  const source = createPolicySource({ inputs: [FILES_INPUT], metrics: createMetrics(), logger, debounceMs: 0 });
  return { source, warnings };
}

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
