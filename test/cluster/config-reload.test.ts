/**
 * Hot reload of `--config` files without a cluster: a change on disk recompiles and swaps the
 * set, a broken edit keeps the last good one, and Namespace objects in the files follow along.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startPolicyRuntime, type PolicyRuntime } from '../../src/cluster/policy-runtime.js';
import { createMetrics, type Metrics } from '../../src/telemetry/metrics.js';
import { waitFor } from '../helpers/wait-for.js';
import { recordingLogger } from './support.js';

const TIER = 'apiVersion: tierguard.dev/v1alpha1\nkind: Tier\nmetadata: {name: security}\nspec: {priority: 100}\n';
const guardrail = (name: string, key = 'team') => `---
apiVersion: tierguard.dev/v1alpha1
kind: Guardrail
metadata: {name: ${name}}
spec:
  tier: security
  priority: 10
  labels:
    match: {resources: [Pod]}
    required: [{key: ${key}}]
`;
const namespace = (env: string) => `---\napiVersion: v1\nkind: Namespace\nmetadata: {name: payments, labels: {env: ${env}}}\n`;

let runtime: PolicyRuntime | undefined;
let dir: string;

afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function reloads(metrics: Metrics, result: 'success' | 'failure'): Promise<number> {
  return (await metrics.reloads.get()).values.find((value) => value.labels.result === result)?.value ?? 0;
}

describe('--config hot reload', () => {
  it('reloads a file changed on disk, keeps the last good set when an edit breaks it, and recovers', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-reload-'));
    const file = path.join(dir, 'policies.yaml');
    writeFileSync(file, TIER + guardrail('team-label') + namespace('prod'));
    const metrics = createMetrics();
    const logger = recordingLogger();
    runtime = startPolicyRuntime({ configPaths: [dir], metrics, logger, pollIntervalMs: 20, debounceMs: 5 });
    const first = await runtime.firstCompile;
    expect(first.problems).toEqual([]);
    expect(runtime.ready()).toBe(true);
    expect((await runtime.namespaces.get('payments'))?.labels.env).toBe('prod');
    const namespaces = runtime.namespaces.list();

    writeFileSync(file, TIER + guardrail('team-label') + guardrail('owner-label', 'owner') + namespace('dev'));
    await waitFor(() => runtime?.policy()?.generation === 2, { what: 'the reload' });
    expect(runtime.policy()?.guardrails.map((g) => g.name)).toEqual(['owner-label', 'team-label']); // equal priorities: by name
    expect((await runtime.namespaces.get('payments'))?.labels.env).toBe('dev');
    expect(runtime.namespaces.list()).not.toBe(namespaces);

    const good = runtime.policy();
    writeFileSync(file, `${TIER + guardrail('team-label')}  bad: [unclosed\n`);
    await waitFor(() => runtime?.source.latest()?.complete === false, { what: 'the failed reload' });
    expect(runtime.policy()).toBe(good);
    expect(runtime.ready()).toBe(true);
    expect(await reloads(metrics, 'failure')).toBe(1);
    expect(logger.lines.some((line) => line.level === 'warn' && line.message.includes('keeps its last good version in force'))).toBe(true);

    writeFileSync(path.join(dir, 'policies.yaml'), TIER + guardrail('fixed'));
    await waitFor(() => runtime?.policy()?.guardrails[0]?.name === 'fixed', { what: 'the recovery' });
    expect(await reloads(metrics, 'success')).toBe(3);
  });

  it('picks up a file added to a watched directory and one removed from it', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-reload-'));
    writeFileSync(path.join(dir, 'tiers.yaml'), TIER);
    runtime = startPolicyRuntime({ configPaths: [dir], metrics: createMetrics(), logger: recordingLogger(), pollIntervalMs: 20, debounceMs: 5 });
    await runtime.firstCompile;
    writeFileSync(path.join(dir, 'more.yml'), guardrail('added'));
    await waitFor(() => runtime?.policy()?.guardrails.length === 1, { what: 'the added file' });
    rmSync(path.join(dir, 'more.yml'));
    await waitFor(() => runtime?.policy()?.guardrails.length === 0, { what: 'the removed file' });
  });

  it('refuses to start with neither files nor a cluster', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tierguard-reload-'));
    expect(() => startPolicyRuntime({ configPaths: [], metrics: createMetrics(), logger: recordingLogger() })).toThrow(/nothing to load policies from/);
  });
});
