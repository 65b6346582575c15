/**
 * The policy set in force when objects arrive one by one and some do not compile: every unit keeps
 * its last good version, a broken or orphaned object never holds back the others, and the older of
 * two conflicting objects keeps its place.
 */
import { describe, expect, it } from 'vitest';
import type { ManifestDocument } from '../../src/policy/manifests.js';
import { resolvePolicySet, type PolicyUnit } from '../../src/policy/resolve.js';

const tier = (name: string, priority: number): ManifestDocument => ({
  source: { file: `cluster:Tier/${name}`, document: 1 },
  value: { apiVersion: 'tierguard.dev/v1alpha1', kind: 'Tier', metadata: { name }, spec: { priority } },
});
const guardrail = (name: string, options: { tier?: string; key?: string; generation?: number } = {}): ManifestDocument => ({
  source: { file: `cluster:Guardrail/${name}`, document: 1 },
  value: {
    apiVersion: 'tierguard.dev/v1alpha1',
    kind: 'Guardrail',
    metadata: { name, generation: options.generation ?? 1 },
    spec: { tier: options.tier ?? 'security', priority: 10, labels: { match: { resources: ['Pod'] }, required: [{ key: options.key ?? 'team' }] } },
  },
});
const unit = (latest: ManifestDocument, lastGood?: ManifestDocument): PolicyUnit => ({ key: latest.source.file, latest: { documents: [latest] }, ...(lastGood ? { lastGood: [lastGood] } : {}) });

const resolve = (units: PolicyUnit[]) => resolvePolicySet(units, { generation: 1 });
const names = (units: PolicyUnit[]) => {
  const { result } = resolve(units);
  return { tiers: result.set?.tiers.map((t) => t.name), guardrails: result.set?.guardrails.map((g) => g.name) };
};

describe('resolvePolicySet', () => {
  it.each([
    {
      name: 'everything compiles: every latest version in force',
      units: [unit(tier('security', 100)), unit(guardrail('a')), unit(guardrail('b'))],
      inForce: { tiers: ['security'], guardrails: ['a', 'b'] },
      outcomes: { 'cluster:Guardrail/a': { state: 'latest' }, 'cluster:Guardrail/b': { state: 'latest' } },
      complete: true,
    },
    {
      name: 'a new broken guardrail is out; the others are in force',
      units: [unit(tier('security', 100)), unit(guardrail('a')), unit(guardrail('b', { key: '-bad' }))],
      inForce: { tiers: ['security'], guardrails: ['a'] },
      outcomes: { 'cluster:Guardrail/a': { state: 'latest' }, 'cluster:Guardrail/b': { state: 'out', reason: 'Invalid' } },
      complete: false,
    },
    {
      name: 'an edit that breaks a guardrail leaves its last good version in force',
      units: [unit(tier('security', 100)), unit(guardrail('a', { key: '-bad', generation: 2 }), guardrail('a', { key: 'owner' }))],
      inForce: { tiers: ['security'], guardrails: ['a'] },
      outcomes: { 'cluster:Guardrail/a': { state: 'lastGood' } },
      complete: false,
    },
    {
      name: 'a guardrail whose tier does not exist waits: TierNotFound',
      units: [unit(tier('security', 100)), unit(guardrail('a', { tier: 'compliance' }))],
      inForce: { tiers: ['security'], guardrails: [] },
      outcomes: { 'cluster:Guardrail/a': { state: 'out', reason: 'TierNotFound', tier: 'compliance' } },
      complete: false,
    },
    {
      name: 'of two tiers with one priority the later one is out, and so are its guardrails: TierNotReady',
      units: [unit(tier('security', 100)), unit(tier('platform', 100)), unit(guardrail('a', { tier: 'platform' })), unit(guardrail('b'))],
      inForce: { tiers: ['security'], guardrails: ['b'] },
      outcomes: { 'cluster:Tier/security': { state: 'latest' }, 'cluster:Tier/platform': { state: 'out', reason: 'Invalid' }, 'cluster:Guardrail/a': { state: 'out', reason: 'TierNotReady', tier: 'platform' } },
      complete: false,
    },
    {
      name: 'a tier edit that breaks it keeps its last good version, and its guardrails stay in force',
      units: [unit(tier('security', 5000), tier('security', 100)), unit(guardrail('a'))],
      inForce: { tiers: ['security'], guardrails: ['a'] },
      outcomes: { 'cluster:Tier/security': { state: 'lastGood' }, 'cluster:Guardrail/a': { state: 'latest' } },
      complete: false,
    },
  ])('$name', ({ units, inForce, outcomes, complete }) => {
    const resolution = resolve(units);
    expect(names(units)).toEqual(inForce);
    for (const [key, expected] of Object.entries(outcomes)) expect(resolution.outcomes.get(key)).toMatchObject(expected);
    expect(resolution.complete).toBe(complete);
  });

  it('keeps the problems of the latest version, and the documents of the version in force', () => {
    const resolution = resolve([unit(tier('security', 100)), unit(guardrail('a', { key: '-bad', generation: 2 }), guardrail('a'))]);
    const outcome = resolution.outcomes.get('cluster:Guardrail/a');
    expect(outcome?.state).toBe('lastGood');
    if (outcome?.state !== 'lastGood') return;
    expect(outcome.problems.map((problem) => problem.path)).toEqual(['spec.labels.required[0].key']);
    expect((outcome.inForce[0]?.value as { metadata: { generation: number } }).metadata.generation).toBe(1);
  });

  it('gives no set when a required unit (the --config files) cannot be used, and says which units were only blocked', () => {
    const files: PolicyUnit = { key: 'files', required: true, latest: { documents: [], problems: [{ source: { file: 'policies.yaml', document: 1 }, path: '', message: 'bad YAML' }] } };
    const resolution = resolve([files, unit(tier('security', 100))]);
    expect(resolution.result.set).toBeUndefined();
    expect(resolution.outcomes.get('files')).toMatchObject({ state: 'out', reason: 'Invalid' });
    expect(resolution.outcomes.get('cluster:Tier/security')).toEqual({ state: 'blocked' });
  });

  it('falls back to the last good --config files', () => {
    const good = { source: { file: 'policies.yaml', document: 1 }, value: tier('files-tier', 300).value };
    const files: PolicyUnit = { key: 'files', required: true, latest: { documents: [], problems: [{ source: { file: 'policies.yaml', document: 1 }, path: '', message: 'bad YAML' }] }, lastGood: [good] };
    const resolution = resolve([files, unit(tier('security', 100))]);
    expect(resolution.result.set?.tiers.map((t) => t.name)).toEqual(['security', 'files-tier']);
    expect(resolution.outcomes.get('files')?.state).toBe('lastGood');
  });
});
